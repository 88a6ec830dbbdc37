//! The oebb worker: connects to a master over Buildbot's `msgpack_experimental_v7` protocol and
//! runs the commands it is sent (worker-protocol.md §2.6) with the stock worker's semantics.
//!
//! [`run`] is the whole worker: it connects, reconnects with backoff, answers the master's
//! requests and runs any number of commands at once, until the master sends `shutdown` or the
//! caller's shutdown signal fires. The `oebb worker` subcommand and `oebb master --local-worker`
//! both call it.
//!
//! Where it differs from the stock `buildbot-worker` 4.3 on purpose:
//! - `get_worker_info` sends an empty `environ`, and a `shell` header with `logEnviron` lists
//!   only the variables the step set: the worker's own environment stays on the worker.
//! - Commands still running when the connection drops or the worker stops are killed (the
//!   stock worker leaves them running, orphaned, where they may clash with the build the
//!   master runs again).
//! - Without `interruptSignal` and `sigtermTime`, a command is sent TERM rather than KILL;
//!   KILL always follows after a grace if its process group is still there.
//! - `usePTY` is not honoured (commands run on pipes), which the header says.
//! - A reused live `command_id` is refused instead of overwriting the running command.
//! - A command whose process exited ends once its pipes stay silent for 1 s (10 s at most),
//!   even if children it left behind (a server it started) still hold them open; the stock
//!   worker waits for the pipes to close.
//! - Transfer blocks are capped at 16 MiB whatever `blocksize` the master asks for.

#![warn(missing_docs)]

mod command;
mod env;
mod fs;
mod info;
mod lines;
mod logfiles;
mod outbox;
mod output;
pub mod owner;
mod process;
mod session;
mod shell;
mod transfer;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

pub use owner::RunAs;
pub use process::commands_keep_fd_limit;
pub use session::Backoff;

/// The version this worker reports in `get_worker_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the worker needs to know to connect to its master.
#[derive(Clone)]
pub struct WorkerOptions {
    /// The master's worker address, `HOST:PORT`.
    pub master: String,
    /// The worker name the master knows (from its `slaves.cfg`).
    pub name: String,
    /// The worker's password.
    pub password: String,
    /// Directory the worker's commands run under; created if missing.
    pub basedir: PathBuf,
    /// Delays between connection attempts.
    pub backoff: Backoff,
    /// The user the commands run as (the worker runs as root); `None`: the worker's own.
    pub run_as: Option<RunAs>,
}

impl std::fmt::Debug for WorkerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Options end up in logs; the password must not.
        f.debug_struct("WorkerOptions")
            .field("master", &self.master)
            .field("name", &self.name)
            .field("password", &"***")
            .field("basedir", &self.basedir)
            .field("backoff", &self.backoff)
            .field("run_as", &self.run_as)
            .finish()
    }
}

impl WorkerOptions {
    /// Options with the default backoff (1 s doubling up to 30 s).
    pub fn new(
        master: impl Into<String>,
        name: impl Into<String>,
        password: impl Into<String>,
        basedir: impl Into<PathBuf>,
    ) -> Self {
        WorkerOptions {
            master: master.into(),
            name: name.into(),
            password: password.into(),
            basedir: basedir.into(),
            backoff: Backoff::default(),
            run_as: None,
        }
    }
}

/// Why [`run`] returned normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The master sent `shutdown`.
    ByMaster,
    /// The caller's shutdown signal fired.
    BySignal,
}

/// Why the worker could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The base directory cannot be created or resolved.
    #[error("worker base directory {path}: {source}")]
    Basedir {
        /// The directory given.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The worker name cannot go into a Basic `Authorization` header.
    #[error("worker name {0:?} must not be empty or contain ':'")]
    BadName(String),
}

/// Runs the worker until the master sends `shutdown` or `shutdown_signal` completes; connection
/// failures and refusals are logged and retried, never returned. Commands still running when it
/// returns are killed.
pub async fn run(
    options: WorkerOptions,
    shutdown_signal: impl Future<Output = ()>,
) -> Result<Stopped, WorkerError> {
    if options.name.is_empty() || options.name.contains(':') {
        return Err(WorkerError::BadName(options.name));
    }
    let basedir = owner::create_dir_all(&options.basedir, options.run_as.as_ref())
        .and_then(|()| options.basedir.canonicalize())
        .map_err(|source| WorkerError::Basedir {
            path: options.basedir.clone(),
            source,
        })?;
    // Absolute from here on: the master builds every command path from it.
    let options = WorkerOptions { basedir, ..options };
    Ok(session::run(options, shutdown_signal).await)
}

/// How long a worker request (update, transfer block) may wait for the master's answer.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
