//! Continuous builds (issue 13): pollers, tree-stable schedulers, auto-watch, push hooks.
//!
//! ```text
//!  config ──watching::plan (pure)──▶ WatchPlan ──SetPlan──▶ pollers.rs (one task: timers,
//!    ▲  auto-watched sources                                 │ jitter, backoff, at most N polls)
//!    │  (auto.rs, after each build)                          │ poll jobs: vcs.rs → client.rs
//!    │                                                       ▼ (git, hg, brz into watch/<vcs>/<hash>)
//!  schedules.rs (inside the scheduler loop) ◀── Event::Watch(Polled) ── stores changes with
//!    the buildouts waiting for them; after a buildout's tree-stable timer: one build request
//!    per builder listing every waiting change
//!  web/hooks.rs: a signed push ──PollNow──▶ pollers.rs (a hook never makes a change itself)
//! ```
//!
//! Reconfiguration: [`schedules::Schedules::reconfigure`] takes a new configuration, derives
//! the plan again with the same pure function and hands it to the pollers.

pub mod auto;
pub mod client;
pub mod hooks;
pub mod pollers;
pub mod schedules;
pub mod vcs;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use oebb_config::buildout::Watch;
use oebb_config::watching::WatchPlan;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::store::{NewChange, StoreError};

/// What the pollers task is told.
pub enum PollerCommand {
    /// Poll these repositories from now on (a new configuration or auto-watched sources).
    SetPlan(Arc<WatchPlan>),
    /// Poll these repositories (original URLs) now: a push hook.
    PollNow(Vec<String>),
    /// Poll with these settings from now on (a new `[watch]` of `oebb.cfg`).
    SetSettings(pollers::PollerSettings),
}

/// The scheduler's watch events (one variant of its `Event`).
pub enum WatchEvent {
    /// A poll succeeded: store its changes and heads, then answer.
    Polled {
        /// The repository's original URL.
        repository: String,
        /// Its VCS name.
        vcs: &'static str,
        /// Its heads now.
        heads: BTreeMap<String, String>,
        /// New changes, oldest first.
        changes: Vec<NewChange>,
        /// Stored, or why not.
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// A buildout's tree-stable timer ran out.
    TreeStable {
        /// The buildout.
        buildout: String,
        /// Which timer: only the latest one counts.
        generation: u64,
    },
    /// A buildout's configuration was read again after a build.
    AutoWatchRead {
        /// The buildout.
        buildout: String,
        /// Its live sources.
        watches: Vec<Watch>,
    },
}

/// One polled repository as the pages show it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PollerView {
    /// Original URL.
    pub repository: String,
    /// `git`, `hg` or `bzr`.
    pub vcs: String,
    /// What the client fetches (after `url-rewrite`).
    pub fetch_url: String,
    /// Branches watched.
    pub branches: Vec<String>,
    /// Heads of the last good poll.
    pub heads: BTreeMap<String, String>,
    /// Last poll (ms since the epoch).
    pub last_poll_at: Option<i64>,
    /// Next poll (ms since the epoch).
    pub next_poll_at: Option<i64>,
    /// Error of the last poll, if it failed.
    pub last_error: Option<String>,
    /// Failed polls in a row.
    pub failures: u32,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct WatchMetrics {
    /// Polls done.
    pub polls: std::sync::atomic::AtomicU64,
    /// Polls failed.
    pub poll_failures: std::sync::atomic::AtomicU64,
    /// Changes stored.
    pub changes: std::sync::atomic::AtomicU64,
}

/// What the web side holds: the pollers' board, a way to ask for a poll, the hook secret.
#[derive(Clone)]
pub struct WatchHandle {
    /// To the pollers task.
    pub commands: mpsc::UnboundedSender<PollerCommand>,
    /// Each repository's poller, by original URL.
    pub board: Arc<Mutex<BTreeMap<String, PollerView>>>,
    /// The push hooks' shared secret (`hook-secret-file` of `[watch]`), if set.
    pub hook_secret: HookSecret,
    /// Counters.
    pub metrics: Arc<WatchMetrics>,
}

/// The push hooks' shared secret, replaced at each reconfig (a rotated secret needs no
/// restart); `None` while hooks are off.
#[derive(Clone, Default)]
pub struct HookSecret(Arc<std::sync::RwLock<Option<Arc<[u8]>>>>);

impl HookSecret {
    /// The secret now.
    pub fn get(&self) -> Option<Arc<[u8]>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, secret: Option<Arc<[u8]>>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = secret;
    }
}

/// What watching reads from files besides the configuration: a reconfig reads them with it,
/// off the scheduler loop, and [`schedules::Schedules::reconfigure`] takes them.
pub struct WatchFiles {
    /// The standalone buildouts' live sources.
    pub standalone: auto::StandaloneWatches,
    /// The hooks' secret.
    pub hook_secret: Option<Arc<[u8]>>,
}

impl WatchFiles {
    /// Reads them for `config`.
    pub fn read(config: &oebb_config::MasterConfig) -> WatchFiles {
        WatchFiles {
            standalone: auto::standalone_all(config),
            hook_secret: read_hook_secret(config),
        }
    }
}

/// Starts watching for a master: the schedulers inside `scheduler`, the pollers' task, and
/// the handle the web side needs.
pub async fn start(
    config: &oebb_config::MasterConfig,
    store: &crate::store::Store,
    scheduler: crate::scheduler::Scheduler,
    events: mpsc::UnboundedSender<crate::scheduler::Event>,
) -> Result<
    (
        crate::scheduler::Scheduler,
        WatchHandle,
        tokio::task::JoinHandle<()>,
    ),
    StoreError,
> {
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let metrics = Arc::new(WatchMetrics::default());
    let hook_secret = HookSecret::default();
    let schedules = schedules::Schedules::start(
        config,
        store,
        commands.clone(),
        events.clone(),
        metrics.clone(),
        hook_secret.clone(),
    )
    .await?;
    let board = Arc::new(Mutex::new(BTreeMap::new()));
    let pollers = pollers::Pollers::new(
        pollers::PollerSettings::for_config(config),
        config.dir.clone(),
        store.clone(),
        events,
        board.clone(),
        metrics.clone(),
        &schedules.plan(),
    )
    .await;
    let pollers = tokio::spawn(pollers.run(commands_rx));
    let handle = WatchHandle {
        commands,
        board,
        hook_secret,
        metrics,
    };
    Ok((scheduler.with_schedules(schedules), handle, pollers))
}

/// The hooks' secret: the first line of `hook-secret-file` (relative to the master
/// directory), read through the configuration's bounded reader.
fn read_hook_secret(config: &oebb_config::MasterConfig) -> Option<Arc<[u8]>> {
    let file = config.settings.watch.hook_secret_file.as_ref()?;
    let path = config.dir.join(file);
    match oebb_config::load::read_file(&path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let secret = text.lines().next().unwrap_or("").trim().to_string();
            if secret.is_empty() {
                tracing::error!(file = %path.display(), "the hook secret file is empty: push hooks are refused");
                return None;
            }
            Some(Arc::from(secret.into_bytes()))
        }
        Err(e) => {
            tracing::error!(file = %path.display(), "cannot read the hook secret file ({e}): push hooks are refused");
            None
        }
    }
}

/// The pollers' counters in Prometheus' text format.
pub fn write_metrics(out: &mut String, watch: &WatchHandle) {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let m = &watch.metrics;
    let failing = watch
        .board
        .lock()
        .unwrap()
        .values()
        .filter(|p| p.last_error.is_some())
        .count();
    let counters = [
        (
            "oebb_polls_total",
            "Polls of watched repositories since the master started.",
            m.polls.load(Relaxed),
        ),
        (
            "oebb_poll_failures_total",
            "Polls that failed since the master started.",
            m.poll_failures.load(Relaxed),
        ),
        (
            "oebb_changes_total",
            "Changes stored since the master started.",
            m.changes.load(Relaxed),
        ),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }
    let gauges = [
        (
            "oebb_pollers",
            "Watched repositories.",
            watch.board.lock().unwrap().len(),
        ),
        (
            "oebb_pollers_failing",
            "Watched repositories whose last poll failed.",
            failing,
        ),
        (
            "oebb_poll_clients_running",
            "VCS client processes of the pollers running now.",
            client::RUNNING.load(Relaxed),
        ),
        (
            "oebb_poll_clients_most",
            "The most VCS client processes that ran at once.",
            client::MOST_AT_ONCE.load(Relaxed),
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
}
