//! The master's side of a step's file transfer: blocks of a master file sent to the worker, or
//! blocks from the worker written to a master file or unpacked into a master directory.
//!
//! What a worker sends is bounded (bytes received, bytes and entries unpacked) and written
//! beside its destination first: the destination is replaced only once the whole transfer
//! arrived within the bounds, so a refused or broken transfer leaves the previous file or
//! directory as it was.

use std::path::{Path, PathBuf};

use oebb_config::paths::RootedPath;
use oebb_protocol::{Request, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The most bytes a worker may send for one file or one directory's tar stream.
pub const MAX_RECEIVED: u64 = 2 << 30;
/// The most bytes a received directory may hold once unpacked.
pub const MAX_UNPACKED: u64 = 4 << 30;
/// The most files and directories a received directory may hold.
pub const MAX_ENTRIES: u64 = 100_000;

/// The master's side of a transfer.
pub enum Transfer {
    /// No transfer.
    None,
    /// Blocks of this master file are sent to the worker.
    Send(PathBuf),
    /// Blocks from the worker are written to this master file.
    Receive(PathBuf),
    /// A gzipped tar stream from the worker replaces this master directory: one checked to
    /// be strictly below its root ([`oebb_config::paths::master_upload_dir`]).
    ReceiveDirectory(RootedPath),
}

impl Transfer {
    /// The most bytes the worker is asked to send (it stops there; the master refuses more).
    pub fn max_size() -> Option<u64> {
        Some(MAX_RECEIVED)
    }
}

/// A transfer under way.
pub struct TransferState {
    reader: Option<tokio::fs::File>,
    receiving: Option<Receiving>,
    directory: Option<RootedPath>,
}

/// A file being received: written to `part`, renamed to `path` when complete.
struct Receiving {
    path: PathBuf,
    part: PathBuf,
    writer: Option<tokio::fs::File>,
    received: u64,
    limit: u64,
}

impl Receiving {
    fn new(path: PathBuf) -> Receiving {
        Receiving {
            part: sibling(&path, ".part"),
            path,
            writer: None,
            received: 0,
            limit: MAX_RECEIVED,
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), String> {
        self.received += data.len() as u64;
        if self.received > self.limit {
            self.abandon().await;
            return Err(format!(
                "the worker sent more than {} for {}: refused, the previous file is kept",
                bytes(self.limit),
                self.path.display()
            ));
        }
        if self.writer.is_none() {
            if let Some(parent) = self.part.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            let file = tokio::fs::File::create(&self.part)
                .await
                .map_err(|e| format!("cannot write {}: {e}", self.part.display()))?;
            self.writer = Some(file);
        }
        let writer = self.writer.as_mut().expect("opened above");
        writer
            .write_all(data)
            .await
            .map_err(|e| format!("cannot write {}: {e}", self.part.display()))
    }

    /// Everything arrived: flushed and, unless `keep_part`, moved into place.
    async fn finish(&mut self, keep_part: bool) -> Result<(), String> {
        match self.writer.take() {
            Some(mut writer) => writer.flush().await.map_err(|e| e.to_string())?,
            // An empty file sends no block at all.
            None => tokio::fs::write(&self.part, b"")
                .await
                .map_err(|e| format!("cannot write {}: {e}", self.part.display()))?,
        }
        if !keep_part {
            tokio::fs::rename(&self.part, &self.path)
                .await
                .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        }
        Ok(())
    }

    async fn abandon(&mut self) {
        self.writer = None;
        let _ = tokio::fs::remove_file(&self.part).await;
    }
}

impl TransferState {
    /// Opens the master's side of `transfer`.
    pub async fn open(transfer: Transfer) -> Result<TransferState, String> {
        let mut state = TransferState {
            reader: None,
            receiving: None,
            directory: None,
        };
        match transfer {
            Transfer::None => {}
            Transfer::Send(path) => {
                let file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                state.reader = Some(file);
            }
            Transfer::Receive(path) => state.receiving = Some(Receiving::new(path)),
            Transfer::ReceiveDirectory(dir) => {
                // The stream is spooled beside the directory; the directory is replaced only
                // once the whole stream unpacked within the bounds.
                state.receiving = Some(Receiving::new(sibling(dir.path(), ".upload.tar.gz")));
                state.directory = Some(dir);
            }
        }
        Ok(state)
    }

    /// The answer to a transfer request of the worker.
    pub async fn answer(&mut self, request: &Request) -> Result<Value, String> {
        match request {
            Request::ReadFile { length, .. } => {
                let reader = self.reader.as_mut().ok_or("no file to send")?;
                read_block(reader, (*length).min(1 << 20) as usize).await
            }
            Request::ReadFileClose { .. } => {
                self.reader = None;
                Ok(Value::Nil)
            }
            Request::UploadFileWrite { data, .. } | Request::UploadDirectoryWrite { data, .. } => {
                let receiving = self.receiving.as_mut().ok_or("no file to receive")?;
                receiving.write(data).await?;
                Ok(Value::Nil)
            }
            Request::UploadFileClose { .. } => {
                let receiving = self.receiving.as_mut().ok_or("no file to receive")?;
                receiving.finish(self.directory.is_some()).await?;
                Ok(Value::Nil)
            }
            Request::UploadFileUtime { .. } => Ok(Value::Nil),
            Request::UploadDirectoryUnpack { .. } => {
                let dir = self.directory.clone().ok_or("no directory to receive")?;
                let receiving = self.receiving.as_mut().ok_or("no directory to receive")?;
                receiving.finish(true).await?;
                let spool = receiving.part.clone();
                tokio::task::spawn_blocking(move || unpack(&spool, &dir))
                    .await
                    .map_err(|e| e.to_string())??;
                Ok(Value::Nil)
            }
            other => Err(format!(
                "{} is not expected during this command",
                other.op()
            )),
        }
    }

    /// Removes what an unfinished transfer left beside its destination.
    pub async fn abandon(&mut self) {
        if let Some(receiving) = &mut self.receiving {
            receiving.abandon().await;
        }
    }
}

async fn read_block(reader: &mut tokio::fs::File, length: usize) -> Result<Value, String> {
    let mut block = vec![0u8; length];
    let mut filled = 0;
    while filled < block.len() {
        let n = reader
            .read(&mut block[filled..])
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    block.truncate(filled);
    Ok(Value::Binary(block))
}

/// `path` with `suffix` added to its file name: a file beside it, under the same root.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// Replaces `dir` by the contents of the gzipped tar `spool`, then removes the spool. The
/// stream is unpacked beside `dir` first, within [`MAX_UNPACKED`] and [`MAX_ENTRIES`], with
/// only files and directories whose paths stay inside; the old `dir` is removed only then.
fn unpack(spool: &Path, dir: &RootedPath) -> Result<(), String> {
    let staging = sibling(dir.path(), ".unpacking");
    let result = (|| {
        // The only directory the master ever deletes: one a step names strictly below its
        // root (never the root, the master directory or one of its parents).
        if !dir.is_below_root() {
            return Err(format!("refusing to replace {}", dir.path().display()));
        }
        remove_dir_if_any(&staging)?;
        std::fs::create_dir_all(&staging)
            .map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
        let file = std::fs::File::open(spool)
            .map_err(|e| format!("cannot read {}: {e}", spool.display()))?;
        unpack_bounded(file, &staging)?;
        remove_dir_if_any(dir.path())?;
        std::fs::rename(&staging, dir.path())
            .map_err(|e| format!("cannot replace {}: {e}", dir.path().display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    let _ = std::fs::remove_file(spool);
    result
}

fn remove_dir_if_any(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("cannot replace {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Unpacks a gzipped tar stream into `into`, refusing links, devices, too many entries and
/// too many bytes: the stream's size says nothing of what it inflates to.
fn unpack_bounded(stream: impl std::io::Read, into: &Path) -> Result<(), String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(stream));
    let bad = |e: std::io::Error| format!("the uploaded directory is not a gzipped tar: {e}");
    let (mut entries, mut total) = (0u64, 0u64);
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let kind = entry.header().entry_type();
        let name = entry.path().map_err(bad)?.display().to_string();
        if !(kind.is_file() || kind.is_dir()) {
            return Err(format!(
                "the uploaded directory holds {name:?}, neither a file nor a directory: refused"
            ));
        }
        entries += 1;
        total += entry.header().size().map_err(bad)?;
        if entries > MAX_ENTRIES || total > MAX_UNPACKED {
            return Err(format!(
                "the uploaded directory holds more than {MAX_ENTRIES} entries or {}: refused, \
                 the previous one is kept",
                bytes(MAX_UNPACKED)
            ));
        }
        // `unpack_in` refuses a path that would land outside `into`.
        if !entry.unpack_in(into).map_err(bad)? {
            return Err(format!(
                "the uploaded directory's entry {name:?} leads outside it: refused"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    }

    fn file(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, data).unwrap();
    }

    fn rooted(root: &Path, rel: &str) -> RootedPath {
        RootedPath::join(oebb_config::paths::Subject::Path("test"), root, rel).unwrap()
    }

    #[tokio::test]
    async fn a_file_is_replaced_only_when_it_arrived_whole_within_the_bound() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("releases/p-1.0.tar.bz2");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "previous").unwrap();
        let mut receiving = Receiving::new(path.clone());
        receiving.limit = 10;
        receiving.write(b"0123456789").await.unwrap();
        let error = receiving.write(b"!").await.unwrap_err();
        assert!(error.contains("more than 10 bytes"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous");
        assert!(!receiving.part.exists());
        let mut receiving = Receiving::new(path.clone());
        receiving.write(b"new").await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous");
        receiving.finish(false).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert!(!receiving.part.exists());
    }

    #[test]
    fn a_good_stream_replaces_the_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = rooted(root.path(), "doc/1.0");
        std::fs::create_dir_all(dir.path()).unwrap();
        std::fs::write(dir.path().join("old.html"), "old").unwrap();
        let spool = root.path().join("spool.tar.gz");
        std::fs::write(&spool, tarball(|b| file(b, "index.html", b"new"))).unwrap();
        unpack(&spool, &dir).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("index.html")).unwrap(),
            "new"
        );
        assert!(!dir.path().join("old.html").exists());
        assert!(!spool.exists());
    }

    #[test]
    fn a_refused_stream_keeps_the_previous_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = rooted(root.path(), "doc/1.0");
        std::fs::create_dir_all(dir.path()).unwrap();
        std::fs::write(dir.path().join("old.html"), "old").unwrap();
        let link = tarball(|b| {
            file(b, "index.html", b"new");
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            b.append_link(&mut header, "escape", "/etc").unwrap();
        });
        for (stream, why) in [
            (link, "neither a file"),
            (b"not gzip".to_vec(), "not a gzipped tar"),
        ] {
            let spool = root.path().join("spool.tar.gz");
            std::fs::write(&spool, stream).unwrap();
            let error = unpack(&spool, &dir).unwrap_err();
            assert!(error.contains(why), "{error}");
            assert_eq!(
                std::fs::read_to_string(dir.path().join("old.html")).unwrap(),
                "old"
            );
            assert!(!dir.path().join("index.html").exists());
            assert!(!sibling(dir.path(), ".unpacking").exists());
        }
    }

    #[test]
    fn a_stream_inflating_past_the_bound_is_refused_unwritten() {
        // A header that claims more than the bound: refused before any byte is written.
        let root = tempfile::tempdir().unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_path("huge").unwrap();
        header.set_size(MAX_UNPACKED + 1);
        header.set_cksum();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, header.as_bytes()).unwrap();
        let stream = gz.finish().unwrap();
        let into = root.path().join("into");
        std::fs::create_dir(&into).unwrap();
        let error = unpack_bounded(&stream[..], &into).unwrap_err();
        assert!(error.contains("more than"), "{error}");
        assert!(!into.join("huge").exists());
    }
}
