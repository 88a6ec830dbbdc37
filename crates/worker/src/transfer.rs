//! File transfers, one block per round trip: `upload_file` and `upload_directory` send blocks
//! to the master, `download_file` asks the master for them. Waiting for each answer is the
//! protocol's only flow control.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use oebb_protocol::{
    Compression, DownloadFileArgs, Request, Update, UploadDirectoryArgs, UploadFileArgs, Value,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::command::Context;
use crate::output::Output;

/// The largest block read or asked for at once, whatever `blocksize` the master sends: each
/// block is held in memory.
const MAX_BLOCK: u64 = 16 << 20;

/// Ends a transfer with an error line on stderr and rc 1, as the stock worker does.
fn fail(output: &mut Output, message: &str) {
    output.push(Update::Stderr(oebb_protocol::LogChunk::from_lines(
        &format!("{message}\n"),
        crate::output::unix_now(),
    )));
    output.push(Update::Rc(1));
}

/// Reads up to `want` bytes, fewer only at the end of the file; memory grows with what is read.
async fn read_block<R: AsyncRead + Unpin>(reader: &mut R, want: usize) -> std::io::Result<Vec<u8>> {
    let mut block = Vec::with_capacity(want.min(1 << 20));
    reader.take(want as u64).read_to_end(&mut block).await?;
    Ok(block)
}

/// How a block-sending loop ended.
enum Sent {
    All,
    /// An error already reported on the output.
    Failed,
}

/// Sends `reader` block by block with `write`, stopping at `maxsize`.
async fn send_blocks<R: AsyncRead + Unpin>(
    ctx: &Context,
    output: &mut Output,
    mut reader: R,
    path: &Path,
    blocksize: u64,
    maxsize: Option<u64>,
    write: impl Fn(Vec<u8>) -> Request,
) -> Sent {
    let blocksize = usize::try_from(blocksize.clamp(1, MAX_BLOCK)).unwrap_or(1 << 20);
    let mut remaining = maxsize;
    loop {
        if let Some(why) = ctx.interrupted() {
            fail(
                output,
                &format!("upload of {} interrupted: {why}", path.display()),
            );
            return Sent::Failed;
        }
        let want = match remaining {
            // One byte more says whether the file is longer than allowed.
            Some(0) => 1,
            Some(r) => blocksize.min(usize::try_from(r).unwrap_or(usize::MAX)),
            None => blocksize,
        };
        let block = match read_block(&mut reader, want).await {
            Ok(block) => block,
            Err(e) => {
                fail(output, &format!("cannot read {}: {e}", path.display()));
                return Sent::Failed;
            }
        };
        if block.is_empty() {
            return Sent::All;
        }
        if remaining == Some(0) {
            let message = format!(
                "Maximum filesize reached, truncating file '{}'",
                path.display()
            );
            fail(output, &message);
            return Sent::Failed;
        }
        if let Some(r) = remaining.as_mut() {
            *r -= block.len() as u64;
        }
        if let Err(e) = output.outbox().call(write(block)).await {
            fail(output, &format!("upload of {} failed: {e}", path.display()));
            return Sent::Failed;
        }
    }
}

/// `upload_file`: the worker's file to the master, then close and, with `keepstamp`, its times.
pub(crate) async fn upload_file(ctx: &Context, output: &mut Output, args: UploadFileArgs) {
    let path = ctx.resolve(&args.path);
    let file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) => {
            return fail(
                output,
                &format!("Cannot open file '{}' for upload: {e}", path.display()),
            )
        }
    };
    let times = file.metadata().await.ok().map(|m| {
        let t = |secs: i64, nanos: i64| secs as f64 + nanos as f64 / 1e9;
        (t(m.atime(), m.atime_nsec()), t(m.mtime(), m.mtime_nsec()))
    });
    output.header(&format!("sending {}\n", path.display()));
    // The header goes before the blocks, which bypass the update buffer.
    output.flush();
    let id = output.outbox().id().clone();
    let write = |data| Request::UploadFileWrite {
        command_id: id.clone(),
        data,
    };
    let sent = send_blocks(
        ctx,
        output,
        file,
        &path,
        args.blocksize,
        args.maxsize,
        write,
    )
    .await;
    let close = Request::UploadFileClose {
        command_id: id.clone(),
    };
    if let Err(e) = output.outbox().call(close).await {
        if matches!(sent, Sent::All) {
            return fail(output, &format!("upload of {} failed: {e}", path.display()));
        }
    }
    if let (true, Sent::All, Some((access_time, modified_time))) = (args.keepstamp, &sent, times) {
        let utime = Request::UploadFileUtime {
            command_id: id,
            access_time,
            modified_time,
        };
        if let Err(e) = output.outbox().call(utime).await {
            return fail(
                output,
                &format!("setting the times of {} failed: {e}", path.display()),
            );
        }
    }
    if matches!(sent, Sent::All) {
        output.push(Update::Rc(0));
    }
}

/// Writes a tar stream of `dir`'s contents (entries relative to it, links kept as links).
fn write_tar(dir: &Path, compress: Option<Compression>) -> std::io::Result<std::fs::File> {
    let mut spool = tempfile::tempfile()?;
    {
        let sink: Box<dyn std::io::Write> = match compress {
            None => Box::new(&mut spool),
            Some(Compression::Gz) => Box::new(flate2::write::GzEncoder::new(
                &mut spool,
                flate2::Compression::default(),
            )),
            Some(Compression::Bz2) => Box::new(bzip2::write::BzEncoder::new(
                &mut spool,
                bzip2::Compression::default(),
            )),
        };
        let mut tar = tar::Builder::new(sink);
        tar.follow_symlinks(false);
        tar.append_dir_all(".", dir)?;
        // into_inner writes the tar trailer; dropping the encoder finishes the compression.
        let mut sink = tar.into_inner()?;
        sink.flush()?;
    }
    use std::io::{Seek, Write};
    spool.flush()?;
    spool.rewind()?;
    Ok(spool)
}

/// `upload_directory`: a tar stream of the directory, then `unpack`.
pub(crate) async fn upload_directory(
    ctx: &Context,
    output: &mut Output,
    args: UploadDirectoryArgs,
) {
    let path = ctx.resolve(&args.path);
    let dir = path.clone();
    let compress = args.compress;
    let spooled = tokio::task::spawn_blocking(move || write_tar(&dir, compress)).await;
    let spool = match spooled {
        Ok(Ok(spool)) => tokio::fs::File::from_std(spool),
        Ok(Err(e)) => return fail(output, &format!("cannot archive {}: {e}", path.display())),
        Err(e) => return fail(output, &format!("cannot archive {}: {e}", path.display())),
    };
    output.header(&format!("sending {}\n", path.display()));
    output.flush();
    let id = output.outbox().id().clone();
    let write = |data| Request::UploadDirectoryWrite {
        command_id: id.clone(),
        data,
    };
    let sent = send_blocks(
        ctx,
        output,
        spool,
        &path,
        args.blocksize,
        args.maxsize,
        write,
    )
    .await;
    if let Sent::Failed = sent {
        return;
    }
    let unpack = Request::UploadDirectoryUnpack { command_id: id };
    match output.outbox().call(unpack).await {
        Ok(_) => output.push(Update::Rc(0)),
        Err(e) => fail(output, &format!("unpacking {} failed: {e}", path.display())),
    }
}

/// `download_file`: asks the master for blocks until an empty one and writes them to `path`.
pub(crate) async fn download_file(ctx: &Context, output: &mut Output, args: DownloadFileArgs) {
    let path = ctx.resolve(&args.path);
    let id = output.outbox().id().clone();
    let opened = async {
        if let Some(parent) = path.parent() {
            crate::owner::create_dir_all(parent, ctx.run_as.as_ref())?;
        }
        let file = tokio::fs::File::create(&path).await?;
        if let Some(user) = &ctx.run_as {
            user.give(&path)?;
        }
        if let Some(mode) = args.mode {
            let permissions = std::fs::Permissions::from_mode(mode);
            tokio::fs::set_permissions(&path, permissions).await?;
        }
        Ok::<_, std::io::Error>(file)
    }
    .await;
    let result = match opened {
        Ok(file) => receive_blocks(ctx, output, file, &path, &args).await,
        Err(e) => Err(format!(
            "Cannot open file '{}' for download: {e}",
            path.display()
        )),
    };
    let close = Request::ReadFileClose { command_id: id };
    let closed = output.outbox().call(close).await;
    match (result, closed) {
        (Err(message), _) => fail(output, &message),
        (Ok(()), Err(e)) => fail(
            output,
            &format!("download of {} failed: {e}", path.display()),
        ),
        (Ok(()), Ok(_)) => output.push(Update::Rc(0)),
    }
}

async fn receive_blocks(
    ctx: &Context,
    output: &Output,
    mut file: tokio::fs::File,
    path: &Path,
    args: &DownloadFileArgs,
) -> Result<(), String> {
    let mut remaining = args.maxsize;
    loop {
        if let Some(why) = ctx.interrupted() {
            return Err(format!("download of {} interrupted: {why}", path.display()));
        }
        let length = match remaining {
            // One byte more says whether the master has more than allowed.
            Some(0) => 1,
            Some(r) => args.blocksize.min(MAX_BLOCK).min(r),
            None => args.blocksize.min(MAX_BLOCK),
        }
        .max(1);
        let request = Request::ReadFile {
            command_id: output.outbox().id().clone(),
            length,
        };
        let data = match output.outbox().call(request).await {
            Ok(Value::Binary(data)) => data,
            Ok(Value::Nil) => Vec::new(),
            Ok(Value::String(s)) => s.into_bytes(),
            Ok(other) => return Err(format!("the master sent {other} instead of file data")),
            Err(e) => return Err(format!("download of {} failed: {e}", path.display())),
        };
        if data.is_empty() {
            break;
        }
        if remaining == Some(0) {
            return Err(format!(
                "Maximum filesize reached, truncating file '{}'",
                path.display()
            ));
        }
        if let Some(r) = remaining.as_mut() {
            *r = r.saturating_sub(data.len() as u64);
        }
        file.write_all(&data)
            .await
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    // Written to disk before the master hears rc 0 and reads the file.
    file.flush()
        .await
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
