//! The scheduler loop: the one task that owns the queue of build requests, the connected
//! workers and the running builds, and decides what runs where. Everything else sends it
//! events, so no two decisions ever race.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use oebb_protocol::{Connection, Request, Untrusted};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::configuration::{CurrentConfig, Outcome};
use crate::dispatcher::{choose_worker, Candidate};
use crate::ids::{BuildId, BuildRequestId};
use crate::locks::WorkerLocks;
use crate::logins::{Answer, Arrival, Logins, Refusal};
use crate::properties::Properties;
use crate::results::Results;
use crate::runner::BuildRun;
use crate::step::Step;
use crate::store::{BuildRequestRecord, Store, StoreError};
use crate::workers::WorkerHandle;
use oebb_config::{Builder, BuilderName, MasterConfig, PropertyValue, Worker, WorkerName};

mod reconfig;
use reconfig::REMOVED;

/// Gives the steps of a build of `builder` on `worker` under the running configuration.
pub type StepSource = Arc<dyn Fn(&MasterConfig, &Builder, &WorkerName) -> Vec<Step> + Send + Sync>;

/// Why a force was refused.
#[derive(Debug, thiserror::Error)]
pub enum ForceError {
    /// No builder of that name in the configuration.
    #[error("no builder named {0:?}")]
    UnknownBuilder(String),
    /// The request could not be stored.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The scheduler has stopped.
    #[error("the master is stopping")]
    Stopping,
    /// A property the builder's steps put in a path is not one name.
    #[error("{0}")]
    BadProperty(oebb_config::paths::PathError),
    /// The builder's queue is full.
    #[error(
        "builder {builder:?} already has {queued} build requests queued, the most it may \
         hold (max-queued-requests in oebb.cfg): wait for them to run, or cancel some on \
         /builders/{builder} or with POST /api/buildrequests/ID/cancel"
    )]
    QueueFull {
        /// The builder.
        builder: String,
        /// Its queued requests.
        queued: usize,
    },
}

/// What the scheduler reacts to.
pub enum Event {
    /// Somebody wants a build of a builder.
    Force {
        /// The builder.
        builder: String,
        /// Why, for the record.
        reason: String,
        /// Properties its builds get (`buildout-tag`, …).
        properties: serde_json::Map<String, Value>,
        /// The stored request, or why not.
        reply: oneshot::Sender<Result<BuildRequestId, ForceError>>,
    },
    /// A worker passed its password check and wants its name: the answer says whether it
    /// may go on (see `logins.rs`).
    WorkerLogin {
        /// The name it logged in with.
        name: WorkerName,
        /// Its connection.
        connection: Connection,
        /// Yes, or why not.
        reply: oneshot::Sender<Result<(), Refusal>>,
    },
    /// The connection holding a worker's name answered a duplicate login's liveness question,
    /// or did not in time.
    HolderAnswered {
        /// The worker.
        name: WorkerName,
        /// The connection that was asked.
        holder: Connection,
        /// Whether it answered.
        alive: bool,
    },
    /// A worker whose login was accepted has attached.
    WorkerConnected(Arc<WorkerHandle>),
    /// A worker's connection ended, or gave up logging in.
    WorkerDisconnected {
        /// The worker.
        name: WorkerName,
        /// Which of its connections.
        connection: Connection,
    },
    /// A build ended (its result is already stored).
    BuildFinished {
        /// The build.
        build: BuildId,
        /// Its result.
        result: Results,
    },
    /// Somebody wants a queued build request cancelled.
    CancelRequest {
        /// The request.
        request: BuildRequestId,
        /// Whether it was queued (and is now cancelled).
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    /// Somebody wants a running build stopped.
    StopBuild {
        /// The build.
        build: BuildId,
        /// Why.
        reason: String,
        /// Whether the build was running.
        reply: oneshot::Sender<bool>,
    },
    /// The master stops: running builds are abandoned (the store records them as
    /// interrupted afterwards) and the loop ends; the answer comes once no build task runs.
    Shutdown(oneshot::Sender<()>),
    /// A configuration was read and checked (off the loop, see `reconfig.rs`): apply it, or
    /// record why it was refused, and answer how it ended.
    Reconfigure {
        /// The new configuration, or every error found in it.
        loaded: Result<Box<crate::reconfig::LoadedConfiguration>, Vec<String>>,
        /// How it ended.
        reply: oneshot::Sender<Outcome>,
    },
    /// Pollers and tree-stable timers (`watch/`).
    Watch(crate::watch::WatchEvent),
}

struct ConnectedWorker {
    handle: Arc<WorkerHandle>,
    builders_running: HashSet<BuilderName>,
}

struct RunningBuild {
    request: BuildRequestRecord,
    worker: WorkerName,
    builder: BuilderName,
    stop: watch::Sender<Option<String>>,
}

/// The scheduler's state; only [`Scheduler::run`] touches it.
pub struct Scheduler {
    store: Store,
    /// The running configuration, from which the fields below are derived.
    config: Arc<MasterConfig>,
    /// Where the web and the worker listener read the running configuration.
    current: CurrentConfig,
    /// The web users' passwords, replaced at a reconfig.
    web_passwords: Option<Arc<crate::web::passwords::Passwords>>,
    /// Connected workers removed from the configuration, or given a new password, at a
    /// reconfig: they get no new build and are disconnected once their builds end.
    retiring: HashMap<WorkerName, &'static str>,
    builders: HashMap<String, Builder>,
    workers: HashMap<WorkerName, Worker>,
    steps: StepSource,
    master_dir: PathBuf,
    locks: Arc<WorkerLocks>,
    queue: Vec<BuildRequestRecord>,
    connected: HashMap<WorkerName, ConnectedWorker>,
    running: HashMap<BuildId, RunningBuild>,
    /// When each worker last got a build (a counter, for least-recently-used choice).
    last_used: HashMap<WorkerName, u64>,
    clock: u64,
    events: mpsc::UnboundedSender<Event>,
    /// Which connection holds each worker's name.
    logins: Logins<Connection, oneshot::Sender<Result<(), Refusal>>>,
    /// How long the holder of a name has to answer when the name logs in again.
    liveness_timeout: Duration,
    /// Running builds and liveness questions, so a shutdown can end them.
    tasks: JoinSet<()>,
    /// Most queued requests per builder (`max-queued-requests`).
    max_queued: usize,
    /// The buildouts' schedulers, when the master watches repositories.
    schedules: Option<crate::watch::schedules::Schedules>,
    /// Mail notifications of builds, when `[mail]` is set.
    notify: Option<Arc<crate::notify::Notifier>>,
}

impl Scheduler {
    /// A scheduler over the configured builders and workers (builds' files go under the
    /// master directory), starting with `queue` (see [`Scheduler::recover`]), fed by `events`.
    pub fn new(
        store: Store,
        queue: Vec<BuildRequestRecord>,
        config: &MasterConfig,
        steps: StepSource,
        locks: Arc<WorkerLocks>,
        events: mpsc::UnboundedSender<Event>,
    ) -> Scheduler {
        let current = CurrentConfig::new(config);
        Scheduler {
            store,
            config: current.get().config.clone(),
            current,
            web_passwords: None,
            retiring: HashMap::new(),
            builders: config
                .matrix
                .builders
                .iter()
                .map(|b| (b.name.as_str().to_string(), b.clone()))
                .collect(),
            workers: config
                .workers
                .iter()
                .map(|w| (w.name.clone(), w.clone()))
                .collect(),
            steps,
            master_dir: config.dir.clone(),
            locks,
            queue,
            connected: HashMap::new(),
            running: HashMap::new(),
            last_used: HashMap::new(),
            clock: 0,
            events,
            logins: Logins::default(),
            liveness_timeout: Duration::from_secs(10),
            tasks: JoinSet::new(),
            max_queued: config.settings.max_queued_requests,
            schedules: None,
            notify: crate::notify::Notifier::from_config(config).map(Arc::new),
        }
    }

    /// Makes the web and the worker listener read the running configuration from `current`,
    /// and the web users' passwords follow it.
    pub fn with_followers(
        mut self,
        current: CurrentConfig,
        web_passwords: Arc<crate::web::passwords::Passwords>,
    ) -> Scheduler {
        self.current = current;
        self.web_passwords = Some(web_passwords);
        self
    }

    /// Runs the buildouts' schedulers too (see `watch/schedules.rs`).
    pub fn with_schedules(mut self, schedules: crate::watch::schedules::Schedules) -> Scheduler {
        self.schedules = Some(schedules);
        self
    }

    /// How long the connection holding a worker's name has to answer when the name logs in
    /// again (Buildbot: 10 s, the default).
    pub fn with_liveness_timeout(mut self, timeout: Duration) -> Scheduler {
        self.liveness_timeout = timeout;
        self
    }

    /// Marks what a previous master left running as interrupted and returns the queue of
    /// build requests; done before any worker is accepted, so no live connection or build is
    /// mistaken for a stale one.
    pub async fn recover(store: &Store) -> Result<Vec<BuildRequestRecord>, StoreError> {
        let builds = store.recover_interrupted().await?;
        store.refresh_builder_last_builds().await?;
        if !builds.is_empty() {
            tracing::warn!(
                ?builds,
                "builds interrupted by a master stop will run again"
            );
        }
        store.queued_build_requests().await
    }

    /// Handles events until [`Event::Shutdown`] or every sender is gone, dispatching after
    /// each.
    pub async fn run(mut self, mut events: mpsc::UnboundedReceiver<Event>) {
        self.dispatch().await;
        loop {
            let event = tokio::select! {
                event = events.recv() => event,
                Some(ended) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Err(e) = ended {
                        tracing::error!("a build task failed: {e}");
                    }
                    continue;
                }
            };
            match event {
                Some(Event::Shutdown(reply)) => {
                    self.tasks.shutdown().await;
                    let _ = reply.send(());
                    return;
                }
                Some(event) => {
                    self.handle(event).await;
                    self.dispatch().await;
                }
                None => break,
            }
        }
        self.tasks.shutdown().await;
    }

    async fn handle(&mut self, event: Event) {
        match event {
            Event::Force {
                builder,
                reason,
                properties,
                reply,
            } => {
                let _ = reply.send(self.force(&builder, &reason, &properties).await);
            }
            Event::CancelRequest { request, reply } => {
                let queued = self.queue.iter().position(|r| r.id == request);
                let answer = match queued {
                    Some(at) => match self.store.cancel_request(request).await {
                        Ok(cancelled) => {
                            self.queue.remove(at);
                            tracing::info!(%request, "build request cancelled");
                            Ok(cancelled)
                        }
                        Err(e) => Err(e),
                    },
                    None => Ok(false),
                };
                let _ = reply.send(answer);
            }
            Event::WorkerLogin {
                name,
                connection,
                reply,
            } => self.worker_login(name, connection, reply),
            Event::HolderAnswered {
                name,
                holder,
                alive,
            } => self.holder_answered(&name, &holder, alive),
            Event::WorkerConnected(handle) => {
                if !self.logins.holds(&handle.name, &handle.connection) {
                    // Its name was given to a newer login while it attached.
                    handle
                        .connection
                        .close("replaced by a newer connection of the same worker");
                    return;
                }
                if !self.workers.contains_key(&handle.name) {
                    // Removed by a reconfig while it logged in.
                    handle.connection.close(REMOVED);
                    return;
                }
                if let Some(old) = self.connected.get(&handle.name) {
                    // A worker that reconnects has usually lost its old connection without
                    // the master noticing yet; the newer one is the live one.
                    old.handle.connection.close("the worker connected again");
                }
                let builders_running = self
                    .running
                    .values()
                    .filter(|b| b.worker == handle.name)
                    .map(|b| b.builder.clone())
                    .collect();
                self.connected.insert(
                    handle.name.clone(),
                    ConnectedWorker {
                        handle,
                        builders_running,
                    },
                );
            }
            Event::WorkerDisconnected { name, connection } => {
                if self
                    .connected
                    .get(&name)
                    .is_some_and(|w| w.handle.connection.is_same(&connection))
                {
                    self.connected.remove(&name);
                    self.retiring.remove(&name);
                }
                if let Some(waiting) = self.logins.leave(&name, &connection) {
                    tracing::info!(worker = %Untrusted(name.as_str()), "the connection holding the name ended: the waiting login takes it");
                    let _ = waiting.send(Ok(()));
                }
            }
            Event::BuildFinished { build, result } => self.build_finished(build, result),
            Event::StopBuild {
                build,
                reason,
                reply,
            } => {
                let running = self.running.get(&build);
                if let Some(running) = running {
                    let _ = running.stop.send(Some(reason));
                }
                let _ = reply.send(running.is_some());
            }
            // `run` ends the loop on it before it gets here.
            Event::Shutdown(_) => {}
            Event::Reconfigure { loaded, reply } => {
                let _ = reply.send(self.reconfigure(loaded));
            }
            Event::Watch(event) => self.watch_event(event).await,
        }
    }

    fn worker_login(
        &mut self,
        name: WorkerName,
        connection: Connection,
        reply: oneshot::Sender<Result<(), Refusal>>,
    ) {
        let shown = Untrusted(name.as_str());
        match self.logins.arrive(&name, connection.clone(), reply) {
            Arrival::Accept(reply) => {
                let _ = reply.send(Ok(()));
            }
            Arrival::Refuse(reply, why) => {
                tracing::warn!(worker = %shown, peer = connection.peer(), "login refused: {why}");
                let _ = reply.send(Err(why));
            }
            Arrival::AskHolder(holder) => {
                tracing::info!(worker = %shown, old = holder.peer(), new = connection.peer(), "the worker logs in again: is its connection alive?");
                let events = self.events.clone();
                let timeout = self.liveness_timeout;
                self.tasks.spawn(async move {
                    let question = Request::Print {
                        message: "another connection logs in with this worker's name".to_string(),
                    };
                    let alive = holder.request(question, timeout).await.is_ok();
                    let _ = events.send(Event::HolderAnswered {
                        name,
                        holder,
                        alive,
                    });
                });
            }
        }
    }

    fn holder_answered(&mut self, name: &WorkerName, holder: &Connection, alive: bool) {
        let shown = Untrusted(name.as_str());
        match self.logins.answer(name, holder, alive) {
            Some(Answer::Refuse(reply, why)) => {
                tracing::warn!(worker = %shown, peer = holder.peer(), "duplicate login refused: the connected worker answers");
                let _ = reply.send(Err(why));
            }
            Some(Answer::Replace { old, reply }) => {
                tracing::warn!(worker = %shown, old = old.peer(), "the older connection did not answer; it is dropped");
                old.close("replaced by a newer connection of the same worker");
                let _ = reply.send(Ok(()));
            }
            None => {}
        }
    }

    async fn force(
        &mut self,
        builder: &str,
        reason: &str,
        properties: &serde_json::Map<String, Value>,
    ) -> Result<BuildRequestId, ForceError> {
        let Some(config) = self.builders.get(builder) else {
            return Err(ForceError::UnknownBuilder(builder.to_string()));
        };
        // Checked before anything is stored; the runner checks each path again.
        if let Some(worker) = config.workers.first() {
            let steps = (self.steps)(&self.config, config, worker);
            crate::properties::check_forced(properties, &steps).map_err(ForceError::BadProperty)?;
        }
        let queued = self.queue.iter().filter(|r| r.builder == builder).count();
        if queued >= self.max_queued {
            let builder = builder.to_string();
            return Err(ForceError::QueueFull { builder, queued });
        }
        let id = self
            .store
            .add_build_request_with(builder, reason, None, properties)
            .await?;
        let request = self
            .store
            .build_request(id)
            .await?
            .ok_or_else(|| StoreError::Unexpected(format!("build request {id} vanished")))?;
        tracing::info!(request = %id, builder, reason, "build request queued");
        self.queue.push(request);
        Ok(id)
    }

    async fn watch_event(&mut self, event: crate::watch::WatchEvent) {
        if let Some(schedules) = &mut self.schedules {
            let queued = schedules.handle(event, &self.store).await;
            self.queue.extend(queued);
        }
    }

    fn build_finished(&mut self, build: BuildId, result: Results) {
        let Some(running) = self.running.remove(&build) else {
            return;
        };
        if let Some(schedules) = &self.schedules {
            schedules.build_finished(&self.store, &running.builder, build);
        }
        if let Some(worker) = self.connected.get_mut(&running.worker) {
            worker.builders_running.remove(&running.builder);
        }
        self.retire_idle_workers();
        if result == Results::Retry {
            let mut request = running.request;
            request.claimed_by = None;
            let at = self.queue.partition_point(|r| r.id < request.id);
            self.queue.insert(at, request);
        }
    }

    /// Starts every queued request that has a free worker, oldest request first.
    async fn dispatch(&mut self) {
        let mut index = 0;
        while index < self.queue.len() {
            let request = &self.queue[index];
            let Some(builder) = self.builders.get(&request.builder) else {
                index += 1; // a builder gone from the configuration: keep the request
                continue;
            };
            let candidates: Vec<Candidate> = builder
                .workers
                .iter()
                .filter_map(|name| {
                    let connected = self.connected.get(name)?;
                    if connected.handle.is_gone() || self.retiring.contains_key(name) {
                        return None;
                    }
                    let config = self.workers.get(name)?;
                    let running = self.running.values().filter(|b| &b.worker == name).count();
                    let free = config.max_builds.is_none_or(|max| running < max as usize)
                        && !connected.builders_running.contains(&builder.name);
                    free.then(|| Candidate {
                        name: name.clone(),
                        priority: config.priority,
                        last_used: self.last_used.get(name).copied().unwrap_or(0),
                    })
                })
                .collect();
            let Some(chosen) = choose_worker(&candidates) else {
                index += 1;
                continue;
            };
            let request = self.queue.remove(index);
            self.start_build(request, chosen).await;
        }
    }

    async fn start_build(&mut self, request: BuildRequestRecord, worker: WorkerName) {
        let builder = self.builders[&request.builder].clone();
        let handle = self.connected[&worker].handle.clone();
        let build = match self
            .store
            .start_build(request.id, builder.name.as_str(), worker.as_str())
            .await
        {
            Ok(build) => build,
            Err(e) => {
                tracing::error!(request = %request.id, "cannot start a build: {e}");
                self.queue.insert(0, request);
                return;
            }
        };
        self.clock += 1;
        self.last_used.insert(worker.clone(), self.clock);
        if let Some(w) = self.connected.get_mut(&worker) {
            w.builders_running.insert(builder.name.clone());
        }
        let (stop, stop_rx) = watch::channel(None);
        let properties = self.properties(&builder, &worker, build, &request);
        let run = BuildRun {
            store: self.store.clone(),
            worker: handle,
            locks: self.locks.clone(),
            build,
            builder: builder.name.clone(),
            steps: (self.steps)(&self.config, &builder, &worker),
            master_dir: self.master_dir.clone(),
            properties,
            stop: stop_rx,
            notify: self.notify.clone(),
        };
        tracing::info!(%build, request = %request.id, builder = %builder.name, %worker, "build started");
        self.running.insert(
            build,
            RunningBuild {
                request,
                worker,
                builder: builder.name.clone(),
                stop,
            },
        );
        let events = self.events.clone();
        self.tasks.spawn(async move {
            let (result, _) = run.run().await;
            let _ = events.send(Event::BuildFinished { build, result });
        });
    }

    fn properties(
        &self,
        builder: &Builder,
        worker: &WorkerName,
        build: BuildId,
        request: &BuildRequestRecord,
    ) -> Properties {
        let mut p = Properties::default();
        for (name, value) in &builder.properties {
            let value = match value {
                PropertyValue::Text(t) => Value::from(t.as_str()),
                PropertyValue::List(l) => Value::from(l.clone()),
            };
            p.set(name, value, "builder");
        }
        if let Some(config) = self.workers.get(worker) {
            for (name, value) in &config.properties {
                p.set(name, Value::from(value.as_str()), "worker");
            }
        }
        p.set("buildername", Value::from(builder.name.as_str()), "builder");
        p.set("workername", Value::from(worker.as_str()), "worker");
        p.set("buildnumber", Value::from(build.0), "build");
        p.set(
            "reason",
            Value::from(request.reason.as_str()),
            "build request",
        );
        for (name, value) in &request.properties {
            p.set(name, value.clone(), "force");
        }
        p
    }
}
