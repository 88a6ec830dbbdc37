//! File transfers on a real oebb worker: download_file, upload_file, upload_directory.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Session, TestMaster, TestWorker, PASSWORD};
use oebb_protocol::{Command, Compression, DownloadFileArgs, UploadDirectoryArgs, UploadFileArgs};

async fn attached() -> (TestWorker, Session) {
    let master = TestMaster::bind().await;
    let worker = TestWorker::start(&master.address, PASSWORD);
    let session = master.accept().await;
    (worker, session)
}

fn download(path: String, blocksize: u64, maxsize: Option<u64>, mode: Option<u32>) -> Command {
    Command::DownloadFile(DownloadFileArgs {
        path,
        blocksize,
        maxsize,
        mode,
    })
}

fn upload(path: String, blocksize: u64, maxsize: Option<u64>, keepstamp: bool) -> Command {
    Command::UploadFile(UploadFileArgs {
        path,
        blocksize,
        maxsize,
        keepstamp,
    })
}

/// Bytes no block size divides evenly and no compression flattens.
fn content(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mb_file_goes_down_and_comes_back_identical() {
    let (worker, mut master) = attached().await;
    let scratch = tempfile::tempdir().unwrap();
    let source = scratch.path().join("big.bin");
    std::fs::write(&source, content(50 * 1024 * 1024 + 12345)).unwrap();
    let sent = std::fs::read(&source).unwrap();

    let path = master.path("deep/dir/big.bin");
    let run = master
        .run_with(
            download(path.clone(), 256 * 1024, None, Some(0o640)),
            sent.clone(),
        )
        .await;
    assert_eq!(run.rc(), Some(0), "{:?}", run.updates);
    assert!(run.read_file_closed);
    let on_worker = std::fs::read(&path).unwrap();
    assert!(on_worker == sent, "the worker's copy differs");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);

    let run = master.run(upload(path, 256 * 1024, None, false)).await;
    assert_eq!(run.rc(), Some(0), "{:?}", run.updates);
    assert!(run.upload_closed);
    assert_eq!(run.utime, None, "no keepstamp, no times");
    assert!(run.uploaded == sent, "the uploaded copy differs");
    assert!(run.header().contains("sending "), "{:?}", run.updates);
    drop(worker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxsize_stops_transfers_and_errors_are_reported() {
    let (worker, mut master) = attached().await;
    let data = content(100);
    let path = master.path("small.bin");

    // Exactly maxsize is allowed; one byte more is not.
    let run = master
        .run_with(download(path.clone(), 30, Some(100), None), data.clone())
        .await;
    assert_eq!(run.rc(), Some(0), "{run:?}");
    let run = master
        .run_with(download(path.clone(), 30, Some(99), None), data.clone())
        .await;
    assert_eq!(run.rc(), Some(1), "{run:?}");
    assert!(run.stderr().contains("Maximum filesize reached"), "{run:?}");
    assert!(run.read_file_closed);

    std::fs::write(&path, &data).unwrap();
    let run = master.run(upload(path.clone(), 30, Some(100), false)).await;
    assert_eq!((run.rc(), run.uploaded.len()), (Some(0), 100), "{run:?}");
    let run = master.run(upload(path.clone(), 30, Some(50), false)).await;
    assert_eq!(run.rc(), Some(1), "{run:?}");
    assert!(run.stderr().contains("Maximum filesize reached"), "{run:?}");
    assert!(run.uploaded.len() <= 50);

    // An absurd block size is no reason to allocate that much.
    let run = master
        .run(upload(path.clone(), u64::MAX, None, false))
        .await;
    assert_eq!((run.rc(), run.uploaded.len()), (Some(0), 100), "{run:?}");
    let run = master
        .run_with(
            download(master.path("huge-blocks.bin"), u64::MAX, None, None),
            data.clone(),
        )
        .await;
    assert_eq!(run.rc(), Some(0), "{run:?}");

    let run = master
        .run(upload(master.path("missing"), 30, None, false))
        .await;
    assert_eq!(run.rc(), Some(1), "{run:?}");
    assert!(run.stderr().contains("Cannot open file"), "{run:?}");

    // A download into a path under a regular file cannot be opened.
    let run = master
        .run_with(download(format!("{path}/under"), 30, None, None), data)
        .await;
    assert_eq!(run.rc(), Some(1), "{run:?}");
    assert!(run.stderr().contains("Cannot open file"), "{run:?}");
    drop(worker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepstamp_sends_the_file_times() {
    let (worker, mut master) = attached().await;
    let path = master.path("stamped.txt");
    std::fs::write(&path, "x").unwrap();
    let mtime = std::fs::metadata(&path)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let run = master.run(upload(path, 1024, None, true)).await;
    assert_eq!(run.rc(), Some(0));
    let (_, modified) = run.utime.expect("times sent");
    assert!((modified - mtime).abs() < 1e-3, "{modified} vs {mtime}");
    drop(worker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_directory_sends_a_tar_stream_in_each_compression() {
    let (worker, mut master) = attached().await;
    let dir = worker.dir().join("tree");
    std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    std::fs::write(dir.join("top.txt"), "top\n").unwrap();
    std::fs::write(dir.join("sub/deeper/data.bin"), content(70_000)).unwrap();
    std::os::unix::fs::symlink("top.txt", dir.join("link")).unwrap();

    for compress in [None, Some(Compression::Gz), Some(Compression::Bz2)] {
        let command = Command::UploadDirectory(UploadDirectoryArgs {
            path: master.path("tree"),
            blocksize: 4096,
            maxsize: None,
            compress,
        });
        let run = master.run(command).await;
        assert_eq!(run.rc(), Some(0), "{compress:?}: {run:?}");
        assert!(run.unpacked, "{compress:?}");
        let stream: Box<dyn Read> = match compress {
            None => Box::new(&run.uploaded[..]),
            Some(Compression::Gz) => Box::new(flate2::read::GzDecoder::new(&run.uploaded[..])),
            Some(Compression::Bz2) => Box::new(bzip2::read::BzDecoder::new(&run.uploaded[..])),
        };
        let out = tempfile::tempdir().unwrap();
        tar::Archive::new(stream).unpack(out.path()).unwrap();
        assert_same_tree(&dir, out.path());
    }
    drop(worker);
}

fn assert_same_tree(expected: &Path, got: &Path) {
    assert_eq!(
        std::fs::read(expected.join("top.txt")).unwrap(),
        std::fs::read(got.join("top.txt")).unwrap()
    );
    assert_eq!(
        std::fs::read(expected.join("sub/deeper/data.bin")).unwrap(),
        std::fs::read(got.join("sub/deeper/data.bin")).unwrap()
    );
    assert_eq!(
        std::fs::read_link(got.join("link")).unwrap(),
        Path::new("top.txt"),
        "links stay links"
    );
}
