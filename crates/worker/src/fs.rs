//! The file-system commands: `mkdir`, `rmdir`, `cpdir`, `stat`, `glob`, `listdir`, `rmfile`.
//! Like the stock worker, a failure is a header line and the errno as `rc`.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use oebb_protocol::{CpdirArgs, FileStat, RmdirArgs, Update};

use crate::command::Context;
use crate::output::Output;
use crate::process::{self, ProcessSpec};

/// The seconds without output `rmdir` and `cpdir` allow when the master gives none.
const DEFAULT_HELPER_TIMEOUT: f64 = 120.0;

/// Reports an I/O failure the stock way: a header naming command, error and path, rc = errno.
fn fail(output: &mut Output, command: &str, path: &Path, error: &io::Error) {
    // strerror, without Rust's " (os error N)": the rc carries the number.
    let shown = error.to_string();
    let strerror = shown.split(" (os error").next().unwrap_or(&shown);
    output.header(&format!("{command}: {strerror}: {}\n", path.display()));
    output.push(Update::Rc(error.raw_os_error().map_or(1, i64::from)));
}

/// Runs blocking file-system work off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("file-system task panicked")
}

/// `mkdir`: each path with its parents; an existing directory is fine.
pub(crate) async fn mkdir(ctx: &Context, output: &mut Output, paths: &[String]) {
    for path in paths {
        let path = ctx.resolve(path);
        if let Err(e) = crate::owner::create_dir_all(&path, ctx.run_as.as_ref()) {
            return fail(output, "mkdir", &path, &e);
        }
    }
    output.push(Update::Rc(0));
}

/// `rmdir`: `rm -rf`, and if that fails, make everything writable and try once more.
pub(crate) async fn rmdir(ctx: &mut Context, output: &mut Output, args: RmdirArgs) {
    let paths: Vec<String> = args
        .paths
        .iter()
        .map(|p| ctx.resolve(p).to_string_lossy().into_owned())
        .collect();
    let timeout = Some(args.timeout.unwrap_or(DEFAULT_HELPER_TIMEOUT));
    let run = |program: &[&str]| {
        let argv = program
            .iter()
            .map(|s| s.to_string())
            .chain(paths.iter().cloned())
            .collect();
        let mut spec = ProcessSpec::helper(argv, ctx.basedir.clone(), timeout);
        spec.max_time = args.max_time;
        spec
    };
    let rm = run(&["rm", "-rf"]);
    output.header(&format!("{}\n", rm.display));
    let mut rc = process::run(rm, output, &mut ctx.interrupt).await;
    if rc != 0 && ctx.interrupted().is_none() {
        let chmod = run(&["chmod", "-Rf", "u+rwx"]);
        output.header(&format!("{}\n", chmod.display));
        process::run(chmod, output, &mut ctx.interrupt).await;
        let rm = run(&["rm", "-rf"]);
        output.header(&format!("{}\n", rm.display));
        rc = process::run(rm, output, &mut ctx.interrupt).await;
    }
    output.push(Update::Rc(rc));
}

/// `cpdir`: `cp -R -P -p -v`, creating the destination's parent first.
pub(crate) async fn cpdir(ctx: &mut Context, output: &mut Output, args: CpdirArgs) {
    let from = ctx.resolve(&args.from_path);
    let to = ctx.resolve(&args.to_path);
    if let Some(parent) = to.parent() {
        if let Err(e) = std::fs::create_dir_all(parent) {
            return fail(output, "cpdir", parent, &e);
        }
    }
    let argv = ["cp", "-R", "-P", "-p", "-v"]
        .iter()
        .map(|s| s.to_string())
        .chain([from, to].map(|p| p.to_string_lossy().into_owned()))
        .collect();
    let timeout = Some(args.timeout.unwrap_or(DEFAULT_HELPER_TIMEOUT));
    let mut spec = ProcessSpec::helper(argv, ctx.basedir.clone(), timeout);
    spec.max_time = args.max_time;
    output.header(&format!("{}\n", spec.display));
    let rc = process::run(spec, output, &mut ctx.interrupt).await;
    output.push(Update::Rc(rc));
}

/// `stat`: `os.stat` (following links) as the 10-integer tuple.
pub(crate) async fn stat(ctx: &Context, output: &mut Output, path: &str) {
    let path = ctx.resolve(path);
    match std::fs::metadata(&path) {
        Ok(m) => {
            output.push(Update::Stat(FileStat {
                mode: u64::from(m.mode()),
                ino: m.ino(),
                dev: m.dev(),
                nlink: m.nlink(),
                uid: u64::from(m.uid()),
                gid: u64::from(m.gid()),
                size: m.size(),
                atime: m.atime(),
                mtime: m.mtime(),
                ctime: m.ctime(),
            }));
            output.push(Update::Rc(0));
        }
        Err(e) => fail(output, "stat", &path, &e),
    }
}

/// `glob`: Python's `glob.glob(path, recursive=True)`: `**` spans directories, and wildcards
/// do not match a leading dot.
pub(crate) async fn glob(ctx: &Context, output: &mut Output, pattern: &str) {
    let pattern = ctx.resolve(pattern).to_string_lossy().into_owned();
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let shown = pattern.clone();
    let found = blocking(move || -> Result<Vec<String>, String> {
        let paths = glob::glob_with(&pattern, options).map_err(|e| e.to_string())?;
        // Unreadable entries are skipped, as Python's glob does.
        Ok(paths
            .filter_map(Result::ok)
            .map(|p| p.to_string_lossy().into_owned())
            .collect())
    })
    .await;
    match found {
        Ok(files) => {
            output.push(Update::Files(files));
            output.push(Update::Rc(0));
        }
        Err(e) => {
            output.header(&format!("glob: bad pattern {shown}: {e}\n"));
            output.push(Update::Rc(1));
        }
    }
}

/// `listdir`: the names in a directory.
pub(crate) async fn listdir(ctx: &Context, output: &mut Output, path: &str) {
    let path = ctx.resolve(path);
    let dir = path.clone();
    let listed = blocking(move || -> io::Result<Vec<String>> {
        std::fs::read_dir(&dir)?
            .map(|entry| Ok(entry?.file_name().to_string_lossy().into_owned()))
            .collect()
    })
    .await;
    match listed {
        Ok(files) => {
            output.push(Update::Files(files));
            output.push(Update::Rc(0));
        }
        Err(e) => fail(output, "listdir", &path, &e),
    }
}

/// `rmfile`: remove one file.
pub(crate) async fn rmfile(ctx: &Context, output: &mut Output, path: &str) {
    let path = ctx.resolve(path);
    match std::fs::remove_file(&path) {
        Ok(()) => output.push(Update::Rc(0)),
        Err(e) => fail(output, "rmfile", &path, &e),
    }
}
