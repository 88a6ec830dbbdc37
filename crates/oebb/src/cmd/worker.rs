//! `oebb worker`: run a worker that connects to a master.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use oebb_worker::{Stopped, WorkerOptions};

/// Arguments of `oebb worker`.
#[derive(Args)]
pub struct WorkerArgs {
    /// The master's worker address.
    #[arg(long, value_name = "HOST:PORT")]
    master: String,
    /// This worker's name, as in the master's slaves.cfg.
    #[arg(long)]
    name: String,
    /// File holding this worker's password (surrounding whitespace is ignored).
    #[arg(long, value_name = "FILE")]
    password_file: PathBuf,
    /// Directory the commands run under; created if missing.
    #[arg(long, value_name = "DIR")]
    basedir: PathBuf,
    /// Run the commands as this user (the worker runs as root): OpenERP and Odoo refuse root.
    /// What the worker creates for the commands becomes that user's.
    #[arg(long, value_name = "USER")]
    run_as: Option<String>,
}

/// The user the commands run as: it must exist, and only root may run commands as another.
pub fn run_as(name: &str) -> anyhow::Result<oebb_worker::RunAs> {
    let user = oebb_worker::RunAs::lookup(name).map_err(anyhow::Error::msg)?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    anyhow::ensure!(
        me == 0 || me == user.uid,
        "running the commands as {name} needs root (this process runs as uid {me})"
    );
    Ok(user)
}

/// Runs the command.
pub fn run(args: WorkerArgs) -> anyhow::Result<u8> {
    crate::resident::fewer_heap_arenas();
    super::init_logging();
    super::master::raise_fd_limit();
    warn_if_readable_by_others(&args.password_file);
    let password = std::fs::read_to_string(&args.password_file)
        .with_context(|| format!("reading the password file {}", args.password_file.display()))?
        .trim()
        .to_string();
    anyhow::ensure!(
        !password.is_empty(),
        "the password file {} is empty",
        args.password_file.display()
    );
    let mut options = WorkerOptions::new(args.master, args.name, password, args.basedir);
    options.run_as = args.run_as.as_deref().map(run_as).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let stopped = runtime.block_on(oebb_worker::run(options, super::stop_signal()))?;
    match stopped {
        Stopped::ByMaster => tracing::info!("stopped: the master sent shutdown"),
        Stopped::BySignal => tracing::info!("stopped by a signal"),
    }
    Ok(0)
}

/// Warns when others than the owner may read the password file (as ssh does for its keys).
fn warn_if_readable_by_others(path: &std::path::Path) {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                "the password file {} can be read by other users (mode {mode:03o}); \
                 run: chmod 600 {}",
                path.display(),
                path.display()
            );
        }
    }
}
