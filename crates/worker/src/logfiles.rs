//! The `logfiles` of a `shell` command: files the command writes, polled while it runs and
//! sent as `log` updates, like the stock worker's `LogFileWatcher`.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use oebb_protocol::LogFileSpec;

use crate::output::Output;

/// How often watched files are read while the command runs.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The most read from one file per poll, so a runaway log cannot fill the memory at once.
const MAX_READ: u64 = 4 << 20;

struct Watched {
    name: String,
    path: PathBuf,
    offset: u64,
}

/// The watched files of one command.
pub(crate) struct LogWatcher(Vec<Watched>);

impl LogWatcher {
    /// Starts watching; a `follow` file that already exists is read from its current end.
    pub(crate) fn new(workdir: &Path, specs: &BTreeMap<String, LogFileSpec>) -> LogWatcher {
        LogWatcher(
            specs
                .iter()
                .map(|(name, spec)| {
                    let path = workdir.join(&spec.filename);
                    let offset = match spec.follow {
                        true => std::fs::metadata(&path).map_or(0, |m| m.len()),
                        false => 0,
                    };
                    Watched {
                        name: name.clone(),
                        path,
                        offset,
                    }
                })
                .collect(),
        )
    }

    /// Whether there is anything to watch.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sends what was appended to each file since the last poll.
    pub(crate) fn poll(&mut self, output: &mut Output) {
        for watched in &mut self.0 {
            let Ok(mut file) = std::fs::File::open(&watched.path) else {
                continue; // not written yet
            };
            let len = file.metadata().map_or(0, |m| m.len());
            if len < watched.offset {
                // Truncated or replaced: what is there now is new.
                watched.offset = 0;
            }
            if len == watched.offset || file.seek(SeekFrom::Start(watched.offset)).is_err() {
                continue;
            }
            let mut bytes = Vec::new();
            if let Ok(n) = file.take(MAX_READ).read_to_end(&mut bytes) {
                watched.offset += n as u64;
                output.log(&watched.name, &bytes);
            }
        }
    }
}
