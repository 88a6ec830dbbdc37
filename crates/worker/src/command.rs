//! One command from `start_command` to `complete`: dispatch to its family, then `elapsed`.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::FutureExt;
use oebb_protocol::{Command, CommandId, Update};
use tokio::time::Instant;

use crate::output::Output;
use crate::process::Interrupt;
use crate::{fs, shell, transfer};

/// What a running command knows about its worker.
pub(crate) struct Context {
    /// The worker's absolute base directory.
    pub basedir: PathBuf,
    /// The worker's own environment, the base of every `shell` environment.
    pub environment: Arc<HashMap<String, String>>,
    /// Fires when the master interrupts the command (or the connection is lost).
    pub interrupt: Interrupt,
    /// The user the commands run as, who gets what is created for them.
    pub run_as: Option<crate::owner::RunAs>,
}

impl Context {
    /// A path of the master's, made absolute against the basedir if it is not already.
    pub(crate) fn resolve(&self, path: &str) -> PathBuf {
        self.basedir.join(path)
    }

    /// Why the command was interrupted, if it was.
    pub(crate) fn interrupted(&self) -> Option<String> {
        self.interrupt.borrow().clone()
    }
}

/// Runs `command` to its end and sends its final updates and `complete`. `finished` is called
/// just before `complete` is sent, so the worker forgets the command id before the master,
/// having seen `complete`, may use it again.
pub(crate) async fn execute(
    mut ctx: Context,
    mut output: Output,
    command: Command,
    finished: impl FnOnce(CommandId) + Send,
) {
    let started = Instant::now();
    let name = command.name();
    tracing::debug!(command = %output.outbox().id(), name, "command started");
    // A bug in a command must still end it for the master, which would wait forever otherwise.
    let ran = AssertUnwindSafe(dispatch(&mut ctx, &mut output, command))
        .catch_unwind()
        .await;
    let failure = ran.err().map(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        tracing::error!(command = %output.outbox().id(), name, "command failed: {message}");
        format!("[Failure instance: oebb worker: {name} failed: {message}]")
    });
    output.push(Update::Elapsed(started.elapsed().as_secs_f64()));
    let id = output.outbox().id().clone();
    finished(id.clone());
    output.complete(failure).await;
    tracing::debug!(command = %id, name, "command complete");
}

async fn dispatch(ctx: &mut Context, output: &mut Output, command: Command) {
    match command {
        Command::Shell(args) => {
            shell::shell(ctx, output, *args).await;
        }
        Command::Mkdir { paths } => fs::mkdir(ctx, output, &paths).await,
        Command::Rmdir(args) => fs::rmdir(ctx, output, args).await,
        Command::Cpdir(args) => fs::cpdir(ctx, output, args).await,
        Command::Stat { path } => fs::stat(ctx, output, &path).await,
        Command::Glob { path } => fs::glob(ctx, output, &path).await,
        Command::Listdir { path } => fs::listdir(ctx, output, &path).await,
        Command::Rmfile { path } => fs::rmfile(ctx, output, &path).await,
        Command::UploadFile(args) => transfer::upload_file(ctx, output, args).await,
        Command::UploadDirectory(args) => transfer::upload_directory(ctx, output, args).await,
        Command::DownloadFile(args) => transfer::download_file(ctx, output, args).await,
    }
}
