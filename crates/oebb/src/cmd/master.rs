//! `oebb master`: run the master of a master directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use oebb_config::{load, MasterConfig, Overrides};
use oebb_master::{Master, MasterOptions};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Arguments of `oebb master`.
#[derive(Args)]
pub struct MasterArgs {
    /// The master directory (oebb.cfg, slaves.cfg, buildouts/).
    dir: PathBuf,
    /// Also run a worker in this process, under DIR/workers/NAME; it logs in as the worker
    /// named `local` in slaves.cfg, or as the only worker when there is one.
    #[arg(long)]
    local_worker: bool,
    /// Run the local worker's commands as this user: OpenERP and Odoo refuse to run as root,
    /// so a master started as root needs it to build them. What the worker creates for the
    /// commands (its directory, workdirs, downloads) becomes that user's; DIR must let it in.
    /// Default: `local-worker-user` of oebb.cfg's [master] (create-master run as root writes it).
    #[arg(long, value_name = "USER", requires = "local_worker")]
    local_worker_user: Option<String>,
}

/// Loads a master directory's configuration, or fails with every error, one per line.
pub fn load_config(dir: &Path) -> anyhow::Result<MasterConfig> {
    load(dir, &Overrides::default()).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!(
            "the master directory {} has {} error(s); `oebb check {}` shows them:\n{}",
            dir.display(),
            errors.len(),
            dir.display(),
            lines.join("\n")
        )
    })
}

/// A runtime for the commands that talk to the store or the network.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Runs the command.
pub fn run(args: MasterArgs) -> anyhow::Result<u8> {
    crate::resident::fewer_heap_arenas();
    crate::resident::map_large_allocations();
    super::init_logging();
    raise_fd_limit();
    let config = load_config(&args.dir)?;
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let local = if args.local_worker {
        Some(local_worker(&config)?)
    } else {
        None
    };
    // Only the local worker runs as that user: without --local-worker, oebb.cfg's is unused.
    let run_as = args
        .local_worker_user
        .as_deref()
        .or(config.settings.local_worker_user.as_deref())
        .filter(|_| args.local_worker)
        .map(super::worker::run_as)
        .transpose()?;
    // SAFETY: geteuid has no preconditions.
    if args.local_worker && run_as.is_none() && unsafe { libc::geteuid() } == 0 {
        tracing::warn!(
            "the local worker runs its commands as root, which OpenERP and Odoo refuse: set \
             local-worker-user in [master] of oebb.cfg (or --local-worker-user) to an \
             unprivileged user"
        );
    }
    runtime()?.block_on(async move {
        // Watched before the master starts: an unwatched SIGHUP would end the process.
        let hangups = signal(SignalKind::hangup()).context("watching SIGHUP")?;
        let mut options = MasterOptions::for_config(&config);
        options.load_config =
            Arc::new(|dir| super::check::load_checked(dir, &Overrides::default()));
        let mut master = Master::start(&config, options)
            .await
            .context("starting the master")?;
        tokio::spawn(reconfig_on_hangup(hangups, master.reconfig()));
        if let Some((name, password)) = local {
            let address = format!("127.0.0.1:{}", master.worker_address().port());
            let basedir = config.dir.join("workers").join(&name);
            let mut options = oebb_worker::WorkerOptions::new(address, name, password, basedir);
            options.run_as = run_as;
            tokio::spawn(async move {
                match oebb_worker::run(options, std::future::pending()).await {
                    Ok(stopped) => tracing::info!(?stopped, "the local worker stopped"),
                    Err(e) => tracing::error!("the local worker cannot run: {e}"),
                }
            });
        }
        tokio::select! {
            () = super::stop_signal() => {
                tracing::info!("stopping: SIGTERM or SIGINT received");
                master.shutdown().await;
            }
            () = master.wait() => {}
        }
        anyhow::Ok(())
    })?;
    Ok(0)
}

/// Reads the configuration again at each SIGHUP (the outcome goes to the log, the
/// `/about` page and `/api/about`).
async fn reconfig_on_hangup(mut hangups: Signal, reconfig: oebb_master::reconfig::Reconfig) {
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP received: reconfig");
        if reconfig.run().await.is_err() {
            return;
        }
    }
}

/// Raises the soft file-descriptor limit to the hard one: the master holds one per
/// connection and sizes its connection limits from it (`ConnectionLimits::for_this_process`);
/// a worker holds one per pipe and log of its commands.
pub fn raise_fd_limit() {
    if let Ok((soft, _)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        oebb_worker::commands_keep_fd_limit(soft);
    }
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "file-descriptor limit"),
        Err(e) => {
            tracing::warn!("cannot raise the file-descriptor limit: {e}; the current one stays")
        }
    }
}

/// The name and password the local worker logs in with.
fn local_worker(config: &MasterConfig) -> anyhow::Result<(String, String)> {
    let chosen = match config.workers.iter().find(|w| w.name.as_str() == "local") {
        Some(w) => w,
        None if config.workers.len() == 1 => &config.workers[0],
        None => bail!(
            "--local-worker needs a worker named `local` in {} (or exactly one worker)",
            config.workers_file.display()
        ),
    };
    Ok((chosen.name.as_str().to_string(), chosen.password.clone()))
}
