//! The buildouts' schedulers, inside the scheduler loop: stores each poll's changes with the
//! buildouts waiting for them, runs each buildout's tree-stable timer (a newer change starts
//! it again), then makes one build request per builder of the buildout listing every waiting
//! change, in one transaction with their removal from the waiting list. The waiting list is
//! in the store, so a change seen before a crash is built after it, once.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use oebb_config::buildout::Watch;
use oebb_config::watching::{self, AutoWatched, WatchPlan};
use oebb_config::{BuilderName, MasterConfig};
use tokio::sync::mpsc;

use super::{auto, HookSecret, PollerCommand, WatchEvent, WatchFiles, WatchMetrics};
use crate::ids::{BuildId, ChangeId};
use crate::scheduler::Event;
use crate::store::watch::SeenChange;
use crate::store::{BuildRequestRecord, Store, StoreError};

/// How long reading a buildout's configuration from a mirror may take, per file.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The schedulers' state; the scheduler loop owns it.
pub struct Schedules {
    config: Arc<MasterConfig>,
    auto: AutoWatched,
    plan: Arc<WatchPlan>,
    pending: BTreeMap<String, Vec<ChangeId>>,
    generation: HashMap<String, u64>,
    pollers: mpsc::UnboundedSender<PollerCommand>,
    events: mpsc::UnboundedSender<Event>,
    metrics: Arc<WatchMetrics>,
    hook_secret: HookSecret,
}

impl Schedules {
    /// The schedulers of `config`: auto-watched sources stored by earlier builds (standalone
    /// buildouts read now), the waiting changes of the store with their timers started again.
    pub async fn start(
        config: &MasterConfig,
        store: &Store,
        pollers: mpsc::UnboundedSender<PollerCommand>,
        events: mpsc::UnboundedSender<Event>,
        metrics: Arc<WatchMetrics>,
        hook_secret: HookSecret,
    ) -> Result<Schedules, StoreError> {
        let mut auto = AutoWatched::new();
        for (buildout, json) in store.auto_watches().await? {
            match serde_json::from_str::<Vec<WatchJson>>(&json) {
                Ok(list) => {
                    auto.insert(
                        buildout,
                        list.into_iter().filter_map(WatchJson::into_watch).collect(),
                    );
                }
                Err(e) => tracing::warn!(buildout, "stored auto-watch list unreadable: {e}"),
            }
        }
        let mut pending: BTreeMap<String, Vec<ChangeId>> = BTreeMap::new();
        for (buildout, change, _) in store.pending_changes().await? {
            pending.entry(buildout).or_default().push(change);
        }
        let mut schedules = Schedules {
            config: Arc::new(config.clone()),
            auto,
            plan: Arc::default(),
            pending,
            generation: HashMap::new(),
            pollers,
            events,
            metrics,
            hook_secret,
        };
        schedules.take_files(WatchFiles::read(config));
        schedules.plan = Arc::new(watching::plan(&schedules.config, &schedules.auto));
        let waiting: Vec<String> = schedules.pending.keys().cloned().collect();
        for buildout in waiting {
            tracing::info!(
                buildout,
                "changes seen before the master stopped wait for their builds"
            );
            schedules.restart_timer(&buildout);
        }
        Ok(schedules)
    }

    fn take_files(&mut self, files: WatchFiles) {
        for (buildout, watches) in files.standalone {
            self.auto.insert(buildout, watches);
        }
        self.hook_secret.set(files.hook_secret);
    }

    /// What the pollers follow now.
    pub fn plan(&self) -> Arc<WatchPlan> {
        self.plan.clone()
    }

    /// **The reconfiguration hook**: follow `config` from now on. The plan is derived again
    /// by the same pure function ([`watching::plan`]) with the auto-watched sources kept, and
    /// handed to the pollers; waiting changes stay and build with the new builders.
    /// `files` were read with the configuration, off the loop.
    pub fn reconfigure(&mut self, config: Arc<MasterConfig>, files: WatchFiles) {
        let settings = super::pollers::PollerSettings::for_config(&config);
        self.config = config;
        let _ = self.pollers.send(PollerCommand::SetSettings(settings));
        self.take_files(files);
        self.replan();
    }

    fn replan(&mut self) {
        self.plan = Arc::new(watching::plan(&self.config, &self.auto));
        let _ = self.pollers.send(PollerCommand::SetPlan(self.plan.clone()));
    }

    /// Handles a watch event; returns the build requests it queued.
    pub async fn handle(&mut self, event: WatchEvent, store: &Store) -> Vec<BuildRequestRecord> {
        match event {
            WatchEvent::Polled {
                repository,
                vcs,
                heads,
                changes,
                reply,
            } => {
                let _ = reply.send(self.polled(store, &repository, vcs, &heads, changes).await);
                Vec::new()
            }
            WatchEvent::TreeStable {
                buildout,
                generation,
            } => {
                if self.generation.get(&buildout) != Some(&generation) {
                    return Vec::new(); // a newer change started the timer again
                }
                self.tree_stable(store, &buildout).await
            }
            WatchEvent::AutoWatchRead { buildout, watches } => {
                self.auto_watch_read(store, buildout, watches).await;
                Vec::new()
            }
        }
    }

    async fn polled(
        &mut self,
        store: &Store,
        repository: &str,
        vcs: &str,
        heads: &BTreeMap<String, String>,
        changes: Vec<crate::store::NewChange>,
    ) -> Result<(), StoreError> {
        let seen: Vec<SeenChange> = changes
            .into_iter()
            .map(|change| {
                let buildouts = self
                    .plan
                    .schedules_for(repository, change.branch.as_deref())
                    .map(|s| s.buildout.clone())
                    .collect();
                SeenChange { change, buildouts }
            })
            .collect();
        let ids = store.record_poll(repository, vcs, heads, &seen).await?;
        self.metrics
            .changes
            .fetch_add(ids.len() as u64, Ordering::Relaxed);
        let mut touched = Vec::new();
        for (id, s) in ids.iter().zip(&seen) {
            tracing::info!(change = %id, repository, revision = s.change.revision, buildouts = ?s.buildouts, "change");
            for b in &s.buildouts {
                self.pending.entry(b.clone()).or_default().push(*id);
                if !touched.contains(b) {
                    touched.push(b.clone());
                }
            }
        }
        for b in touched {
            self.restart_timer(&b);
        }
        Ok(())
    }

    fn restart_timer(&mut self, buildout: &str) {
        let generation = self.generation.entry(buildout.to_string()).or_insert(0);
        *generation += 1;
        let generation = *generation;
        let seconds = self
            .plan
            .schedules
            .iter()
            .find(|s| s.buildout == buildout)
            .map_or(self.config.settings.watch.tree_stable_timer, |s| {
                s.tree_stable_timer
            });
        let events = self.events.clone();
        let buildout = buildout.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            let _ = events.send(Event::Watch(WatchEvent::TreeStable {
                buildout,
                generation,
            }));
        });
    }

    async fn tree_stable(&mut self, store: &Store, buildout: &str) -> Vec<BuildRequestRecord> {
        let Some(changes) = self.pending.get(buildout).cloned() else {
            return Vec::new();
        };
        let builders: Vec<String> = self
            .config
            .matrix
            .builders
            .iter()
            .filter(|b| b.buildout == buildout)
            .map(|b| b.name.as_str().to_string())
            .collect();
        let reason = match changes.as_slice() {
            [one] => format!("change {one} (buildout {buildout})"),
            many => format!("{} changes (buildout {buildout})", many.len()),
        };
        let ids = match store
            .schedule_builds(buildout, &changes, &builders, &reason)
            .await
        {
            Ok(ids) => ids,
            Err(e) => {
                tracing::error!(
                    buildout,
                    "cannot queue the builds of its changes: {e}; trying again at the next timer"
                );
                self.restart_timer(buildout);
                return Vec::new();
            }
        };
        self.pending.remove(buildout);
        let mut queued = Vec::new();
        for id in ids {
            match store.build_request(id).await {
                Ok(Some(r)) => queued.push(r),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(request = %id, "queued but not read back: {e}; it runs after a restart")
                }
            }
        }
        tracing::info!(
            buildout,
            changes = changes.len(),
            requests = queued.len(),
            "tree stable: builds queued"
        );
        queued
    }

    async fn auto_watch_read(&mut self, store: &Store, buildout: String, watches: Vec<Watch>) {
        if self.auto.get(&buildout) == Some(&watches) {
            return;
        }
        let json: Vec<WatchJson> = watches.iter().map(WatchJson::from).collect();
        let json = serde_json::to_string(&json).expect("plain strings");
        if let Err(e) = store.set_auto_watch(&buildout, &json).await {
            tracing::error!(buildout, "cannot store its auto-watched sources: {e}");
        }
        tracing::info!(buildout, ?watches, "auto-watch: live sources changed");
        self.auto.insert(buildout, watches);
        self.replan();
    }

    /// After a build of `builder`: a VCS buildout's live sources are read again from the
    /// configuration the build checked out, in a task of its own.
    pub fn build_finished(&self, store: &Store, builder: &BuilderName, build: BuildId) {
        let Some(b) = self
            .config
            .matrix
            .builders
            .iter()
            .find(|b| &b.name == builder)
        else {
            return;
        };
        let Some(buildout) = self
            .config
            .buildouts
            .iter()
            .find(|o| o.name == b.buildout)
            .cloned()
        else {
            return;
        };
        if !auto::reads_from_repository(&buildout) {
            return;
        }
        let Some(repo) =
            auto::own_url(&buildout).and_then(|u| self.plan.repositories.get(u).cloned())
        else {
            return;
        };
        let (store, events, dir) = (store.clone(), self.events.clone(), self.config.dir.clone());
        tokio::spawn(async move {
            let revision = match store.build_properties(build).await {
                Ok(props) => props
                    .into_iter()
                    .find(|p| p.name == "got_revision")
                    .and_then(|p| serde_json::from_str::<String>(&p.value_json).ok())
                    .filter(|r| super::vcs::is_revision(repo.vcs, r)),
                Err(_) => None,
            };
            let revision = revision.or_else(|| {
                let branch = repo
                    .branches
                    .iter()
                    .next()
                    .map(|b| format!("refs/heads/{b}"));
                match repo.vcs {
                    oebb_config::buildout::Vcs::Git => branch,
                    oebb_config::buildout::Vcs::Hg => repo.branches.iter().next().cloned(),
                    oebb_config::buildout::Vcs::Bzr => Some("-1".into()),
                }
            });
            let Some(revision) = revision else { return };
            match auto::from_mirror(&buildout, &dir, &repo, &revision, READ_TIMEOUT).await {
                Some(watches) => {
                    let _ = events.send(Event::Watch(WatchEvent::AutoWatchRead {
                        buildout: buildout.name.clone(),
                        watches,
                    }));
                }
                None => tracing::info!(
                    buildout = buildout.name,
                    revision,
                    "auto-watch: its configuration is not in the master's mirror yet"
                ),
            }
        });
    }
}

/// A watch line as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct WatchJson {
    vcs: String,
    url: String,
    branch: Option<String>,
}

impl From<&Watch> for WatchJson {
    fn from(w: &Watch) -> WatchJson {
        WatchJson {
            vcs: super::vcs::vcs_name(w.vcs).into(),
            url: w.url.clone(),
            branch: w.branch.clone(),
        }
    }
}

impl WatchJson {
    fn into_watch(self) -> Option<Watch> {
        use oebb_config::buildout::Vcs;
        let vcs = match self.vcs.as_str() {
            "git" => Vcs::Git,
            "hg" => Vcs::Hg,
            "bzr" => Vcs::Bzr,
            _ => return None,
        };
        Some(Watch {
            vcs,
            url: self.url,
            branch: self.branch,
        })
    }
}
