//! The pollers: one task holding, per watched repository, when to poll next; it starts poll
//! jobs (I/O) when they are due, at most [`PollerSettings::max_polls`] at once, each within a
//! timeout. A good poll goes to the scheduler loop, which stores it; a failed one waits longer
//! each time (backoff), its error kept and shown, while the other repositories go on.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oebb_config::watching::{Repository, WatchPlan};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::vcs::{self, vcs_name};
use super::{PollerCommand, PollerView, WatchEvent, WatchMetrics};
use crate::scheduler::Event;
use crate::store::{now_millis, Store};

/// How the pollers run.
#[derive(Clone, Debug)]
pub struct PollerSettings {
    /// Between two polls of a repository (`poll-interval`), ±10 % jitter.
    pub interval: Duration,
    /// Longest a poll may take before its client is killed.
    pub timeout: Duration,
    /// Most polls (each one client process at a time) running at once.
    pub max_polls: usize,
    /// Longest wait after failures.
    pub max_backoff: Duration,
}

impl PollerSettings {
    /// From `[watch]` of `oebb.cfg`.
    pub fn for_config(config: &oebb_config::MasterConfig) -> PollerSettings {
        let interval = Duration::from_secs(config.settings.watch.poll_interval.max(1));
        PollerSettings {
            interval,
            timeout: interval.clamp(Duration::from_secs(30), Duration::from_secs(600)),
            max_polls: 8,
            max_backoff: interval.max(Duration::from_secs(3600)),
        }
    }
}

/// The mirror directory name of a repository: SHA-256 of its original URL (so it stays when
/// the rewrite rules change), the first 32 hex digits.
pub fn mirror_key(url: &str) -> String {
    let digest = Sha256::digest(url.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the master mirrors `repo`.
pub fn mirror_of(master_dir: &std::path::Path, repo: &Repository) -> Option<PathBuf> {
    oebb_config::paths::mirror_dir(master_dir, vcs_name(repo.vcs), &mirror_key(&repo.url))
        .ok()
        .map(|p| p.path().to_path_buf())
}

/// Polls a push hook asked for that may run at once beside the scheduled ones.
pub const URGENT_POLLS: usize = 2;

/// A poll's heads, or its error.
type PollOutcome = Result<BTreeMap<String, String>, String>;

struct RepoState {
    repo: Repository,
    heads: BTreeMap<String, String>,
    next_at: Instant,
    failures: u32,
    busy: bool,
    again: bool,
    /// A push hook asked for this poll: it does not wait behind the scheduled ones.
    urgent: bool,
}

/// The pollers task's state.
pub struct Pollers {
    settings: PollerSettings,
    master_dir: PathBuf,
    store: Store,
    events: mpsc::UnboundedSender<Event>,
    board: Arc<Mutex<BTreeMap<String, PollerView>>>,
    metrics: Arc<WatchMetrics>,
    repos: HashMap<String, RepoState>,
    jobs: JoinSet<(String, PollOutcome)>,
    slots: Arc<Semaphore>,
    /// Slots of the polls a push hook asked for, beside the scheduled polls' ones.
    urgent_slots: Arc<Semaphore>,
    jitter: std::collections::hash_map::RandomState,
    rounds: u64,
}

impl Pollers {
    /// Pollers over `plan`, starting from the stored heads; the first poll of each repository
    /// comes at a random point of the first interval, so a thousand do not start at once.
    #[allow(clippy::too_many_arguments)]
    pub async fn new(
        settings: PollerSettings,
        master_dir: PathBuf,
        store: Store,
        events: mpsc::UnboundedSender<Event>,
        board: Arc<Mutex<BTreeMap<String, PollerView>>>,
        metrics: Arc<WatchMetrics>,
        plan: &WatchPlan,
    ) -> Pollers {
        let slots = Arc::new(Semaphore::new(settings.max_polls.max(1)));
        let mut pollers = Pollers {
            settings,
            master_dir,
            store,
            events,
            board,
            metrics,
            repos: HashMap::new(),
            jobs: JoinSet::new(),
            slots,
            urgent_slots: Arc::new(Semaphore::new(URGENT_POLLS)),
            jitter: Default::default(),
            rounds: 0,
        };
        let stored = pollers.store.poller_states().await.unwrap_or_else(|e| {
            tracing::error!("cannot read the pollers' state: {e}; every repository starts afresh");
            Vec::new()
        });
        pollers.set_plan(plan);
        for s in stored {
            if let Some(state) = pollers.repos.get_mut(&s.repository) {
                state.heads = s.heads.clone();
                state.failures = s.failures.min(16) as u32;
            }
            if let Some(view) = pollers.board.lock().unwrap().get_mut(&s.repository) {
                view.heads = s.heads;
                view.last_poll_at = s.last_poll_at;
                view.last_error = s.last_error;
                view.failures = s.failures.min(u32::MAX as i64) as u32;
            }
        }
        pollers
    }

    /// A fraction in [0, 1), different each call.
    fn random(&mut self) -> f64 {
        self.rounds += 1;
        let mut h = self.jitter.build_hasher();
        h.write_u64(self.rounds);
        (h.finish() % 10_000) as f64 / 10_000.0
    }

    fn set_plan(&mut self, plan: &WatchPlan) {
        self.repos
            .retain(|url, _| plan.repositories.contains_key(url));
        let now = Instant::now();
        for (url, repo) in &plan.repositories {
            if let Some(state) = self.repos.get_mut(url) {
                if state.repo.branches != repo.branches || state.repo.fetch_url != repo.fetch_url {
                    state.next_at = now; // a new branch: record its tip soon
                }
                state.repo = repo.clone();
                continue;
            }
            let first = self.settings.interval.mul_f64(self.random());
            self.repos.insert(
                url.clone(),
                RepoState {
                    repo: repo.clone(),
                    heads: BTreeMap::new(),
                    next_at: now + first,
                    failures: 0,
                    busy: false,
                    again: false,
                    urgent: false,
                },
            );
        }
        let mut board = self.board.lock().unwrap();
        board.retain(|url, _| plan.repositories.contains_key(url));
        for (url, state) in &self.repos {
            let view = board.entry(url.clone()).or_default();
            view.repository = url.clone();
            view.vcs = vcs_name(state.repo.vcs).to_string();
            view.fetch_url = state.repo.fetch_url.clone();
            view.branches = state.repo.branches.iter().cloned().collect();
            view.next_poll_at = Some(at_millis(state.next_at));
        }
    }

    /// Runs until the command channel closes.
    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<PollerCommand>) {
        loop {
            self.start_due();
            let next = self
                .repos
                .values()
                .filter(|s| !s.busy)
                .map(|s| s.next_at)
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                command = commands.recv() => match command {
                    None => break,
                    Some(PollerCommand::SetPlan(plan)) => self.set_plan(&plan),
                    Some(PollerCommand::PollNow(urls)) => self.poll_now(&urls),
                    Some(PollerCommand::SetSettings(settings)) => self.settings = settings,
                },
                Some(done) = self.jobs.join_next(), if !self.jobs.is_empty() => {
                    if let Ok((url, outcome)) = done {
                        self.finished(&url, outcome);
                    }
                }
                _ = tokio::time::sleep_until(next) => {}
            }
        }
        self.jobs.shutdown().await;
    }

    fn poll_now(&mut self, urls: &[String]) {
        for url in urls {
            if let Some(state) = self.repos.get_mut(url) {
                state.urgent = true;
                if state.busy {
                    state.again = true;
                } else {
                    state.next_at = Instant::now();
                }
            }
        }
    }

    fn start_due(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .repos
            .iter()
            .filter(|(_, s)| !s.busy && s.next_at <= now)
            .map(|(u, _)| u.clone())
            .collect();
        for url in due {
            let state = self.repos.get_mut(&url).expect("listed above");
            state.busy = true;
            state.again = false;
            let slots = if std::mem::take(&mut state.urgent) {
                self.urgent_slots.clone()
            } else {
                self.slots.clone()
            };
            let Some(mirror) = mirror_of(&self.master_dir, &state.repo) else {
                continue;
            };
            let job = PollJob {
                repo: state.repo.clone(),
                mirror,
                old: state.heads.clone(),
                timeout: self.settings.timeout,
                slots,
                events: self.events.clone(),
                store: self.store.clone(),
            };
            self.jobs.spawn(async move { (url, job.run().await) });
        }
    }

    fn finished(&mut self, url: &str, outcome: PollOutcome) {
        let interval = self.settings.interval;
        let jitter = 0.9 + 0.2 * self.random();
        let max_backoff = self.settings.max_backoff;
        let Some(state) = self.repos.get_mut(url) else {
            return; // no longer watched
        };
        state.busy = false;
        self.metrics.polls.fetch_add(1, Ordering::Relaxed);
        let wait = match &outcome {
            Ok(heads) => {
                state.heads = heads.clone();
                state.failures = 0;
                interval.mul_f64(jitter)
            }
            Err(e) => {
                self.metrics.poll_failures.fetch_add(1, Ordering::Relaxed);
                state.failures = state.failures.saturating_add(1);
                let factor = 2u32.saturating_pow(state.failures.min(10));
                let wait = interval
                    .saturating_mul(factor)
                    .min(max_backoff)
                    .mul_f64(jitter);
                tracing::warn!(repository = url, failures = state.failures, retry_in = ?wait, "poll failed: {e}");
                wait
            }
        };
        state.next_at = if state.again || state.urgent {
            Instant::now()
        } else {
            Instant::now() + wait
        };
        let mut board = self.board.lock().unwrap();
        if let Some(view) = board.get_mut(url) {
            view.last_poll_at = Some(now_millis());
            view.next_poll_at = Some(at_millis(state.next_at));
            view.failures = state.failures;
            match outcome {
                Ok(heads) => {
                    view.heads = heads;
                    view.last_error = None;
                }
                Err(e) => view.last_error = Some(e),
            }
        }
    }
}

fn at_millis(at: Instant) -> i64 {
    let now = Instant::now();
    let delta = if at > now {
        (at - now).as_millis() as i64
    } else {
        -((now - at).as_millis() as i64)
    };
    now_millis() + delta
}

/// One poll: the client's I/O, then the scheduler stores what it found.
struct PollJob {
    repo: Repository,
    mirror: PathBuf,
    old: BTreeMap<String, String>,
    timeout: Duration,
    slots: Arc<Semaphore>,
    events: mpsc::UnboundedSender<Event>,
    store: Store,
}

impl PollJob {
    async fn run(self) -> PollOutcome {
        let Ok(_slot) = self.slots.acquire().await else {
            return Err("the master is stopping".into());
        };
        let vcs = vcs_name(self.repo.vcs);
        let url = self.repo.url.clone();
        let polled = match vcs::poll(&self.repo, &self.mirror, &self.old, self.timeout).await {
            Ok(p) => p,
            Err(e) => {
                let e = vcs::bounded(&e, 2000);
                if let Err(s) = self.store.record_poll_failure(&url, vcs, &e).await {
                    tracing::error!(repository = url, "cannot record a failed poll: {s}");
                }
                return Err(e);
            }
        };
        let heads = polled.heads.clone();
        let (reply, answer) = oneshot::channel();
        let event = WatchEvent::Polled {
            repository: url,
            vcs,
            heads: polled.heads,
            changes: polled.changes,
            reply,
        };
        if self.events.send(Event::Watch(event)).is_err() {
            return Err("the master is stopping".into());
        }
        match answer.await {
            Ok(Ok(())) => Ok(heads),
            Ok(Err(e)) => Err(format!("cannot store the poll: {e}")),
            Err(_) => Err("the master is stopping".into()),
        }
    }
}
