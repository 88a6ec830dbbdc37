//! Running a VCS client for a poller: no terminal, no prompt, no user configuration that
//! could ask for one, standard input closed, a timeout (the process is killed at its end)
//! and at most [`MAX_OUTPUT`] bytes of output kept.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// Most output of one client run kept; the rest is read and dropped.
pub const MAX_OUTPUT: usize = 4 * 1024 * 1024;
/// Most of a failing client's error output kept in its message.
const MAX_ERROR: usize = 2000;

/// Client processes running now, and the most seen at once (for `/metrics` and the bench).
pub static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// The most client processes that ran at once.
pub static MOST_AT_ONCE: AtomicUsize = AtomicUsize::new(0);

/// Counts a running client until dropped.
struct Running;

impl Running {
    fn start() -> Running {
        let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        MOST_AT_ONCE.fetch_max(now, Ordering::SeqCst);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A client run that did not succeed: what it said, shortened.
pub type ClientError = String;

/// Runs `program args` in `cwd` (when given) within `timeout`; its standard output on exit
/// status 0, else an error saying what ran and what it printed on standard error.
pub async fn run(
    program: &str,
    args: &[&str],
    cwd: Option<&Path>,
    timeout: Duration,
) -> Result<Vec<u8>, ClientError> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Never wait for a password or a host-key answer: fail instead.
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env("SSH_ASKPASS", "true")
        .env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        .env("HGPLAIN", "1")
        .env("BRZ_PROGRESS_BAR", "none")
        .env("LC_ALL", "C");
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    #[cfg(unix)]
    command.process_group(0);
    let shown = || format!("{program} {}", args.join(" "));
    let _running = Running::start();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}; is it installed?"))?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let work = async {
        let (out, err) = tokio::join!(
            read_bounded(&mut stdout, MAX_OUTPUT),
            read_bounded(&mut stderr, MAX_ERROR)
        );
        let status = child.wait().await;
        (out, err, status)
    };
    match tokio::time::timeout(timeout, work).await {
        Err(_) => Err(format!(
            "{} timed out after {}s",
            shown(),
            timeout.as_secs()
        )),
        Ok((out, err, status)) => {
            let status = status.map_err(|e| format!("{}: {e}", shown()))?;
            if status.success() {
                Ok(out)
            } else {
                let err = String::from_utf8_lossy(&err);
                Err(format!("{} failed ({status}): {}", shown(), err.trim()))
            }
        }
    }
}

/// Reads everything, keeping the first `max` bytes.
async fn read_bounded(reader: &mut (impl AsyncReadExt + Unpin), max: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = max.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// Whether a URL could be taken for an option by a client (they are also passed after `--`
/// or `--end-of-options`, but a URL never starts with `-`).
pub fn looks_like_option(url: &str) -> bool {
    url.starts_with('-') || url.is_empty() || url.contains('\0') || url.contains('\n')
}
