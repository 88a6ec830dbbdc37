//! The scheduler loop: the one task that owns the queue of build requests, the connected
//! workers and the running builds, and decides what runs where. Everything else sends it
//! events, so no two decisions ever race.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};

use crate::dispatcher::{choose_worker, Candidate};
use crate::ids::{BuildId, BuildRequestId, ConnectionId};
use crate::locks::WorkerLocks;
use crate::properties::Properties;
use crate::results::Results;
use crate::runner::BuildRun;
use crate::step::Step;
use crate::store::{BuildRequestRecord, Store, StoreError};
use crate::workers::WorkerHandle;
use oebb_config::{Builder, BuilderName, MasterConfig, PropertyValue, Worker, WorkerName};

/// Gives the steps of a build of `builder` on `worker`.
pub type StepSource = Arc<dyn Fn(&Builder, &WorkerName) -> Vec<Step> + Send + Sync>;

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
    /// A worker attached.
    WorkerConnected(Arc<WorkerHandle>),
    /// A worker's connection ended.
    WorkerDisconnected {
        /// The worker.
        name: WorkerName,
        /// Which of its connections.
        connection: ConnectionId,
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
    /// Most queued requests per builder (`max-queued-requests`).
    max_queued: usize,
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
        Scheduler {
            store,
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
            max_queued: config.settings.max_queued_requests,
        }
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

    /// Handles events until every sender is gone, dispatching after each.
    pub async fn run(mut self, mut events: mpsc::UnboundedReceiver<Event>) {
        self.dispatch().await;
        while let Some(event) = events.recv().await {
            self.handle(event).await;
            self.dispatch().await;
        }
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
            Event::WorkerConnected(handle) => {
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
                    .is_some_and(|w| w.handle.connection_id == connection)
                {
                    self.connected.remove(&name);
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
        }
    }

    async fn force(
        &mut self,
        builder: &str,
        reason: &str,
        properties: &serde_json::Map<String, Value>,
    ) -> Result<BuildRequestId, ForceError> {
        if !self.builders.contains_key(builder) {
            return Err(ForceError::UnknownBuilder(builder.to_string()));
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

    fn build_finished(&mut self, build: BuildId, result: Results) {
        let Some(running) = self.running.remove(&build) else {
            return;
        };
        if let Some(worker) = self.connected.get_mut(&running.worker) {
            worker.builders_running.remove(&running.builder);
        }
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
                    if connected.handle.is_gone() {
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
            steps: (self.steps)(&builder, &worker),
            master_dir: self.master_dir.clone(),
            properties,
            stop: stop_rx,
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
        tokio::spawn(async move {
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
