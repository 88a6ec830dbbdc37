//! One module per subcommand; each exposes its clap `Args` and `run`, returning the exit code.

pub mod analyze_log;
pub mod builds;
pub mod check;
pub mod create_master;
pub mod force;
pub mod log;
pub mod mail_test;
pub mod master;
pub mod passwd;
pub mod progress;
pub mod reconfig;
pub mod worker;

/// Logs to stderr at `info` unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Completes on SIGINT or SIGTERM, so the command can end cleanly before the process exits.
pub async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
