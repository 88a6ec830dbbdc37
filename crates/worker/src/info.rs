//! The answer to `get_worker_info`: what the master needs to build paths and show the worker,
//! and nothing of the worker's environment (issue 3: only variables a step asks for leave it).

use std::collections::BTreeMap;
use std::path::Path;

use oebb_protocol::{Value, WorkerInfo};

/// Every command name (and camelCase alias) this worker runs, at the stock command version.
const WORKER_COMMANDS: [&str; 14] = [
    "shell",
    "uploadFile",
    "upload_file",
    "uploadDirectory",
    "upload_directory",
    "downloadFile",
    "download_file",
    "mkdir",
    "rmdir",
    "cpdir",
    "stat",
    "glob",
    "listdir",
    "rmfile",
];

/// The info of a worker whose (absolute) base directory is `basedir`.
pub(crate) fn worker_info(basedir: &Path) -> WorkerInfo {
    let mut other = BTreeMap::new();
    other.extend(os_release(Path::new("/etc/os-release")));
    // Files of BASEDIR/info (admin, host, …) come last so an admin can override anything.
    other.extend(info_files(&basedir.join("info")));
    WorkerInfo {
        basedir: basedir.to_string_lossy().into_owned(),
        system: "posix".to_string(),
        numcpus: std::thread::available_parallelism()
            .ok()
            .map(|n| n.get() as u64),
        version: Some(format!("oebb-worker {}", crate::VERSION)),
        environ: BTreeMap::new(),
        worker_commands: WORKER_COMMANDS
            .iter()
            .map(|name| (name.to_string(), "3.3".to_string()))
            .collect(),
        delete_leftover_dirs: Some(false),
        other,
    }
}

/// One entry per regular file of `dir`, its name as key and its text as value.
fn info_files(dir: &Path) -> BTreeMap<String, Value> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if name.starts_with('.') || name.ends_with('~') {
                return None;
            }
            let text = std::fs::read_to_string(e.path()).ok()?;
            Some((name, Value::from(text.trim_end())))
        })
        .collect()
}

/// `/etc/os-release` as `os_<lowercase key>` entries, like the stock worker sends.
fn os_release(path: &Path) -> BTreeMap<String, Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(key, _)| !key.trim().is_empty() && !key.starts_with('#'))
        .map(|(key, value)| {
            let value = value.trim().trim_matches('"').trim_matches('\'');
            (
                format!("os_{}", key.trim().to_lowercase()),
                Value::from(value),
            )
        })
        .collect()
}
