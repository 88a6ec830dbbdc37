//! The master as a whole: opens the store, listens for workers and for the web, and starts the
//! scheduler loop that everything else talks to.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use oebb_config::{Builder, MasterConfig, WorkerName};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::configuration::{CurrentConfig, Outcome};
use crate::connections::{serve_web, ConnectionLimits};
use crate::ids::{BuildId, BuildRequestId};
use crate::locks::WorkerLocks;
use crate::reconfig::{ConfigLoader, Reconfig, Stopping};
use crate::scheduler::{Event, ForceError, Scheduler, StepSource};
use crate::step::Step;
use crate::store::{BuildRequestRecord, Store, StoreError};
use crate::workers::{master_settings, WorkerService};

/// Why the master could not start.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// The store could not be opened.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The session key or API token could not be kept in the master directory.
    #[error("cannot write the web secrets (.oebb-session-key, .oebb-api-token) in {dir}: {source}; check that the master directory is writable")]
    Secrets {
        /// The master directory.
        dir: String,
        /// Why.
        source: std::io::Error,
    },
    /// An address could not be listened on.
    #[error("cannot listen on {address} ({what}): {source}")]
    Listen {
        /// The address.
        address: String,
        /// Which listener.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

/// How a master runs, beyond its configuration.
#[derive(Clone)]
pub struct MasterOptions {
    /// How often each worker is asked whether it is alive (the worker sends nothing unasked).
    pub keepalive_interval: Duration,
    /// How long a keepalive may go unanswered before the worker is dropped; also how long an
    /// older connection has to answer when the same worker logs in again (Buildbot: 10 s).
    pub keepalive_timeout: Duration,
    /// The steps of each builder's builds.
    pub steps: StepSource,
    /// Slot counts of counting worker locks.
    pub lock_slots: Vec<(String, u32)>,
    /// Connections each port holds at once, and how long a client may take.
    pub connections: ConnectionLimits,
    /// How a reconfig reads and checks the master directory.
    pub load_config: ConfigLoader,
}

impl MasterOptions {
    /// The options of `oebb master DIR`: keepalives every 10 s, answered within 10 s,
    /// [`recipe_steps`], and connection limits sized from the file-descriptor limit.
    pub fn for_config(config: &MasterConfig) -> MasterOptions {
        MasterOptions {
            keepalive_interval: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(10),
            steps: recipe_steps(),
            lock_slots: Vec::new(),
            connections: ConnectionLimits::for_this_process(config.workers.len()),
            load_config: crate::reconfig::plain_loader(),
        }
    }
}

/// How long a shutdown waits for the scheduler to end the running builds' tasks.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// The build recipe of each builder (`oebb check --steps` prints the same) under the running
/// configuration, reading the files a standalone buildout extends from the master directory.
///
/// Escape hatch, used by tests of the master's machinery and handy to try a worker: a shell
/// script `steps/<builder>.sh` in the master directory replaces the recipe by that one step.
pub fn recipe_steps() -> StepSource {
    Arc::new(
        |config: &MasterConfig, builder: &Builder, worker: &WorkerName| {
            let script = config
                .dir
                .join("steps")
                .join(format!("{}.sh", builder.name));
            if let Some(text) = oebb_config::load::read_text(&script) {
                return vec![Step::script("script", &text)];
            }
            let read = oebb_config::load::read_text;
            match oebb_recipe::steps_for(config, builder.name.as_str(), Some(worker.as_str()), read)
            {
                Ok(steps) => steps,
                // The build fails and says why, where the user looks for it.
                Err(e) => vec![Step::argv(
                    "recipe",
                    &[
                        "sh",
                        "-c",
                        "printf '%s\\n' \"$1\" >&2; exit 1",
                        "recipe",
                        &e.to_string(),
                    ],
                )
                .halt_on_failure(true)],
            }
        },
    )
}

/// A running master.
pub struct Master {
    store: Store,
    events: mpsc::UnboundedSender<Event>,
    worker_address: SocketAddr,
    web_address: SocketAddr,
    reconfig: Reconfig,
    tasks: Tasks,
}

/// The master's tasks; each owns what it spawns, so ending one ends those too.
struct Tasks {
    /// The scheduler loop, with the running builds.
    scheduler: JoinHandle<()>,
    /// The worker listener, with the worker connections.
    workers: JoinHandle<()>,
    /// The web listener, with the web connections.
    web: JoinHandle<()>,
    /// The pollers, with their client processes.
    pollers: JoinHandle<()>,
    /// The mail sender and the missing-worker watcher, when `[mail]` is set.
    mail: Option<crate::notify::MailTasks>,
}

impl Tasks {
    fn abort(&self) {
        self.pollers.abort();
        if let Some(mail) = &self.mail {
            mail.abort();
        }
        self.web.abort();
        self.workers.abort();
        self.scheduler.abort();
    }
}

impl Master {
    /// Opens the store, recovers from a previous crash, and starts accepting workers and web
    /// requests on the configured addresses.
    pub async fn start(
        config: &MasterConfig,
        options: MasterOptions,
    ) -> Result<Master, MasterError> {
        let store = Store::open(&config.settings.database, &config.dir).await?;
        let queue = Scheduler::recover(&store).await?;
        let listen = |address: String, what: &'static str| async move {
            TcpListener::bind(&address)
                .await
                .map_err(|source| MasterError::Listen {
                    address,
                    what,
                    source,
                })
        };
        let workers_listener = listen(config.settings.worker_address.clone(), "workers").await?;
        let web_listener = listen(config.settings.web_address.clone(), "web").await?;
        let local = |l: &TcpListener| l.local_addr().expect("a bound listener has an address");
        let (worker_address, web_address) = (local(&workers_listener), local(&web_listener));

        let (events, events_rx) = mpsc::unbounded_channel();
        let locks = Arc::new(WorkerLocks::new(options.lock_slots.clone()));
        let current = CurrentConfig::new(config);
        let reconfig = Reconfig::new(&config.dir, options.load_config.clone(), events.clone());
        let secrets_failed = |source| MasterError::Secrets {
            dir: config.dir.display().to_string(),
            source,
        };
        let web = crate::web::Web::new(
            store.clone(),
            events.clone(),
            current.clone(),
            reconfig.clone(),
        )
        .map_err(secrets_failed)?;
        crate::reconfig::write_web_address(&config.dir, web_address).map_err(secrets_failed)?;
        let scheduler = Scheduler::new(
            store.clone(),
            queue,
            config,
            options.steps.clone(),
            locks,
            events.clone(),
        )
        .with_liveness_timeout(options.keepalive_timeout)
        .with_followers(current.clone(), web.passwords.clone());
        let (scheduler, watch, pollers) =
            crate::watch::start(config, &store, scheduler, events.clone()).await?;
        let scheduler = tokio::spawn(scheduler.run(events_rx));
        let service = WorkerService {
            current,
            settings: master_settings(),
            keepalive_interval: options.keepalive_interval,
            keepalive_timeout: options.keepalive_timeout,
            limits: options.connections.clone(),
            store: store.clone(),
            events: events.clone(),
        };
        let workers = tokio::spawn(service.serve(workers_listener));
        let mut web = web;
        web.watch = Some(watch);
        let app = crate::web::router(web);
        let web = tokio::spawn(serve_web(web_listener, app, options.connections.clone()));
        let mail = crate::notify::Notifier::from_config(config)
            .map(|n| crate::notify::MailTasks::start(Arc::new(n), store.clone()));
        let limits = &options.connections;
        tracing::info!(%worker_address, %web_address, web_connections = limits.web, worker_logins = limits.worker_logins, "master started");
        Ok(Master {
            store,
            events,
            worker_address,
            web_address,
            reconfig,
            tasks: Tasks {
                scheduler,
                workers,
                web,
                pollers,
                mail,
            },
        })
    }

    /// Where workers connect.
    pub fn worker_address(&self) -> SocketAddr {
        self.worker_address
    }

    /// Where the web pages and the JSON API answer.
    pub fn web_address(&self) -> SocketAddr {
        self.web_address
    }

    /// The master's store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stores a build request for `builder`; it runs when a worker of the builder is free.
    pub async fn force(&self, builder: &str, reason: &str) -> Result<BuildRequestId, ForceError> {
        self.force_with(builder, reason, serde_json::Map::new())
            .await
    }

    /// Stores a build request for `builder` whose build gets `properties` (e.g. `buildout-tag`).
    pub async fn force_with(
        &self,
        builder: &str,
        reason: &str,
        properties: serde_json::Map<String, serde_json::Value>,
    ) -> Result<BuildRequestId, ForceError> {
        force(&self.events, builder, reason, properties).await
    }

    /// Reads the master directory again and applies its configuration, or keeps the running
    /// one when it has errors (see `reconfig.rs`); what `oebb reconfig` and SIGHUP do.
    pub async fn reconfigure(&self) -> Result<Outcome, Stopping> {
        self.reconfig.run().await
    }

    /// The reconfigs of this master, for a task that asks for them (on SIGHUP).
    pub fn reconfig(&self) -> Reconfig {
        self.reconfig.clone()
    }

    /// Asks a running build to stop; false if it was not running.
    pub async fn stop_build(&self, build: BuildId, reason: &str) -> bool {
        let (reply, answer) = oneshot::channel();
        let event = Event::StopBuild {
            build,
            reason: reason.to_string(),
            reply,
        };
        if self.events.send(event).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// Waits until a request is complete, polling the store; `None` after `timeout`.
    pub async fn wait_for_request(
        &self,
        request: BuildRequestId,
        timeout: Duration,
    ) -> Result<Option<BuildRequestRecord>, StoreError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(r) = self.store.build_request(request).await? {
                if r.complete_at.is_some() {
                    return Ok(Some(r));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until a task of the master ends (which they do not, short of a panic).
    pub async fn wait(&mut self) {
        let t = &mut self.tasks;
        tokio::select! {
            _ = &mut t.scheduler => tracing::error!("the scheduler loop ended"),
            _ = &mut t.workers => tracing::error!("the worker listener ended"),
            _ = &mut t.web => tracing::error!("the web server ended"),
        }
    }

    /// Stops the web, ends the running builds' tasks, closes the worker connections (workers
    /// kill the commands they were running), then records the builds that were running as
    /// `retry` with their requests queued again, and closes the store. Nothing writes a build
    /// once the recovery runs.
    pub async fn shutdown(mut self) {
        self.tasks.web.abort();
        let (stopped, answer) = oneshot::channel();
        if self.events.send(Event::Shutdown(stopped)).is_ok()
            && tokio::time::timeout(SHUTDOWN_TIMEOUT, answer)
                .await
                .is_err()
        {
            tracing::warn!(
                "the running builds did not stop within {SHUTDOWN_TIMEOUT:?}; abandoning them"
            );
        }
        if let Some(mail) = self.tasks.mail.take() {
            mail.stop().await;
        }
        self.tasks.abort();
        let t = &mut self.tasks;
        for task in [&mut t.web, &mut t.scheduler, &mut t.workers, &mut t.pollers] {
            // A task that `wait` saw end has given its result already.
            if !task.is_finished() {
                let _ = task.await;
            }
        }
        match self.store.recover_interrupted().await {
            Ok(builds) if !builds.is_empty() => {
                tracing::info!(?builds, "builds stopped with the master will run again");
            }
            Ok(_) => {}
            Err(e) => tracing::error!("cannot record the stopped builds: {e}; the next start will"),
        }
        self.store.close().await;
        tracing::info!("master stopped");
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        self.tasks.abort();
    }
}

/// Sends a force to the scheduler and waits for the stored request.
pub(crate) async fn force(
    events: &mpsc::UnboundedSender<Event>,
    builder: &str,
    reason: &str,
    properties: serde_json::Map<String, serde_json::Value>,
) -> Result<BuildRequestId, ForceError> {
    let (reply, answer) = oneshot::channel();
    let event = Event::Force {
        builder: builder.to_string(),
        reason: reason.to_string(),
        properties,
        reply,
    };
    events.send(event).map_err(|_| ForceError::Stopping)?;
    answer.await.map_err(|_| ForceError::Stopping)?
}
