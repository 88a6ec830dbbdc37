//! Worker connections: accept and authenticate, ask the scheduler for the worker's name (it
//! settles duplicate logins, see `logins.rs`), ask for the worker's information, send the
//! output settings, keep the connection alive, route the worker's requests to the command they
//! belong to, and tell the scheduler when a worker comes and goes.
//!
//! ```text
//! accept ─▶ budget permit ─▶ WebSocket upgrade + password (handshake timeout) ─▶ permit back
//!        ─▶ Event::WorkerLogin ─▶ attach: info, settings, store (login timeout)
//!        ─▶ Event::WorkerConnected ─▶ route + keepalive until closed ─▶ Event::WorkerDisconnected
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oebb_config::WorkerName;
use oebb_protocol::{
    accept_worker_within, CommandId, Connection, IncomingRequest, Request, Response, Untrusted,
    WorkerInfo, WorkerSettings,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};
use tokio::task::JoinSet;

use crate::configuration::CurrentConfig;
use crate::connections::{accept_next, Accepted, Budget, ConnectionLimits};
use crate::ids::ConnectionId;
use crate::scheduler::Event;
use crate::store::Store;

/// How long the worker may take to answer a control request (info, settings, start, interrupt).
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// Requests for commands the master did not give (or no longer follows) that a connection may
/// send within [`UNROUTED_WINDOW`] before it is closed: a worker may send a few late updates
/// after an interrupt, not a flood.
pub const MAX_UNROUTED_REQUESTS: u64 = 1000;

/// See [`MAX_UNROUTED_REQUESTS`].
pub const UNROUTED_WINDOW: Duration = Duration::from_secs(60);

type Routes = HashMap<CommandId, mpsc::UnboundedSender<IncomingRequest>>;

/// A connected worker, shared by the scheduler and the builds running on it.
#[derive(Debug)]
pub struct WorkerHandle {
    /// The name it logged in with.
    pub name: WorkerName,
    /// The master's end of its connection.
    pub connection: Connection,
    /// What it said about itself.
    pub info: WorkerInfo,
    /// The store's id of this connection.
    pub connection_id: ConnectionId,
    /// `None` once the connection has closed, so no command can start on it afterwards.
    routes: Mutex<Option<Routes>>,
    next_command: AtomicU64,
}

impl WorkerHandle {
    /// Reserves a command id and the channel its requests will arrive on; `None` when the
    /// connection has closed.
    pub fn open_command(&self) -> Option<(CommandId, mpsc::UnboundedReceiver<IncomingRequest>)> {
        let id = CommandId(
            self.next_command
                .fetch_add(1, Ordering::Relaxed)
                .to_string(),
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        routes.as_mut()?.insert(id.clone(), tx);
        Some((id, rx))
    }

    /// Forgets a command's channel.
    pub fn close_command(&self, id: &CommandId) {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(routes) = routes.as_mut() {
            routes.remove(id);
        }
    }

    /// Whether the connection has ended, even if the scheduler has not heard of it yet (a
    /// build can notice the loss first).
    pub fn is_gone(&self) -> bool {
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        routes.is_none() || self.connection.close_reason().is_some()
    }

    /// The worker's base directory, under which each builder gets its own directory.
    pub fn basedir(&self) -> &str {
        self.info.basedir.trim_end_matches('/')
    }
}

/// How workers are accepted and kept.
#[derive(Clone, Debug)]
pub struct WorkerService {
    /// The running configuration: the password of each configured worker.
    pub current: CurrentConfig,
    /// Sent to every worker after it connects.
    pub settings: WorkerSettings,
    /// How often each worker is asked whether it is alive.
    pub keepalive_interval: Duration,
    /// How long a keepalive may go unanswered before the connection is dropped.
    pub keepalive_timeout: Duration,
    /// Connections at once before login, handshake and login timeouts.
    pub limits: ConnectionLimits,
    /// Where connections are recorded.
    pub store: Store,
    /// The scheduler's events.
    pub events: mpsc::UnboundedSender<Event>,
}

impl WorkerService {
    /// Accepts workers until the task is aborted, which ends every connection too; each
    /// connection runs in its own task, so a misbehaving worker only ever closes its own.
    pub async fn serve(self, listener: TcpListener) {
        let budget = Budget::new("worker", self.limits.worker_logins);
        let mut connections = JoinSet::new();
        loop {
            // Over budget, the connection is closed at once; the worker tries again later.
            let Accepted::Admitted(stream, peer, permit) =
                accept_next(&listener, &budget, &mut connections).await
            else {
                continue;
            };
            let service = self.clone();
            connections.spawn(service.handle(stream, peer.to_string(), permit));
        }
    }

    async fn handle(
        self,
        stream: tokio::net::TcpStream,
        peer: String,
        permit: OwnedSemaphorePermit,
    ) {
        let current = self.current.clone();
        let accepted = accept_worker_within(stream, self.limits.handshake_timeout, move |c| {
            let passwords = &current.get().worker_passwords;
            passwords.get(&c.name).is_some_and(|p| c.password_is(p))
        })
        .await;
        // Past the password check, connections are bounded by the configured workers.
        drop(permit);
        let accepted = match accepted {
            Ok(accepted) => accepted,
            Err(_) => return, // accept_worker has logged why
        };
        let name = WorkerName::new(&accepted.name);
        let connection = accepted.connection;
        let attached = match self.log_in(&name, &connection).await {
            Ok(()) => self.attach(&name, &connection, &peer).await,
            Err(why) => Err(why),
        };
        let handle = match attached {
            Ok(handle) => handle,
            Err(why) => {
                tracing::warn!(worker = %Untrusted(name.as_str()), %peer, "worker not attached: {}", Untrusted(&why));
                connection.close(why);
                self.left(name, connection);
                return;
            }
        };
        tracing::info!(worker = %Untrusted(name.as_str()), %peer, "worker attached");
        if self
            .events
            .send(Event::WorkerConnected(handle.clone()))
            .is_err()
        {
            connection.close("the master is stopping");
        }
        let keepalive = keepalive(
            connection.clone(),
            self.keepalive_interval,
            self.keepalive_timeout,
        );
        let (_, _, reason) = tokio::join!(
            route(handle.clone(), accepted.incoming),
            keepalive,
            connection.closed()
        );
        tracing::info!(worker = %Untrusted(name.as_str()), %peer, "worker detached: {}", Untrusted(&reason.to_string()));
        if let Err(e) = self
            .store
            .worker_disconnected(handle.connection_id, &reason.to_string())
            .await
        {
            tracing::error!(worker = %Untrusted(name.as_str()), "cannot record the worker's disconnection: {e}");
        }
        self.left(name, connection);
    }

    /// Asks the scheduler for the worker's name: yes, or why not.
    async fn log_in(&self, name: &WorkerName, connection: &Connection) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        let login = Event::WorkerLogin {
            name: name.clone(),
            connection: connection.clone(),
            reply,
        };
        if self.events.send(login).is_err() {
            return Err("the master is stopping".to_string());
        }
        // The scheduler answers within the liveness question's timeout; this bounds a
        // scheduler that stops meanwhile.
        let bound = self.keepalive_timeout + self.limits.login_timeout;
        match tokio::time::timeout(bound, answer).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(refusal))) => Err(refusal.to_string()),
            Ok(Err(_)) => Err("the master is stopping".to_string()),
            Err(_) => Err(format!("no login decision within {bound:?}")),
        }
    }

    /// Asks for the worker's information, sends it the settings (both within the login
    /// timeout) and records the connection.
    async fn attach(
        &self,
        name: &WorkerName,
        connection: &Connection,
        peer: &str,
    ) -> Result<Arc<WorkerHandle>, String> {
        let timeout = self.limits.login_timeout;
        let info = tokio::time::timeout(timeout, ask_info(connection))
            .await
            .map_err(|_| format!("no worker information and settings within {timeout:?}"))??;
        let info_json = worker_info_json(&info);
        let connection_id = self
            .store
            .worker_connected(name.as_str(), peer, &info_json)
            .await
            .map_err(|e| {
                tracing::error!(worker = %Untrusted(name.as_str()), "cannot record the worker's connection: {e}");
                "the master cannot record the connection".to_string()
            })?;
        Ok(Arc::new(WorkerHandle {
            name: name.clone(),
            connection: connection.clone(),
            info,
            connection_id,
            routes: Mutex::new(Some(HashMap::new())),
            next_command: AtomicU64::new(1),
        }))
    }

    /// Tells the scheduler that this connection of the worker is over.
    fn left(&self, name: WorkerName, connection: Connection) {
        let _ = self
            .events
            .send(Event::WorkerDisconnected { name, connection });
    }
}

async fn ask_info(connection: &Connection) -> Result<WorkerInfo, String> {
    let info = connection
        .request(Request::GetWorkerInfo, CONTROL_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    let info = WorkerInfo::from_value(&info).map_err(|e| format!("bad worker info: {e}"))?;
    connection
        .request(
            Request::SetWorkerSettings(master_settings()),
            CONTROL_TIMEOUT,
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(info)
}

/// The output settings the master wants: Buildbot's, with a short buffer timeout so logs are
/// live and one-line steps finish fast.
pub fn master_settings() -> WorkerSettings {
    WorkerSettings {
        buffer_timeout: 0.05,
        ..WorkerSettings::default()
    }
}

fn worker_info_json(info: &WorkerInfo) -> String {
    // The environment is left out on purpose: it may hold secrets and the master needs none.
    serde_json::json!({
        "basedir": info.basedir,
        "system": info.system,
        "numcpus": info.numcpus,
        "version": info.version,
        "commands": info.worker_commands.keys().collect::<Vec<_>>(),
    })
    .to_string()
}

/// Hands each request of the worker to the command it belongs to; requests for unknown
/// commands are answered with an exception, logged once per connection and, past
/// [`MAX_UNROUTED_REQUESTS`] in [`UNROUTED_WINDOW`], close the connection. When the connection
/// ends every command's channel closes, which is how a running step learns that its worker is
/// gone.
async fn route(handle: Arc<WorkerHandle>, mut incoming: mpsc::UnboundedReceiver<IncomingRequest>) {
    let mut unrouted = Unrouted::default();
    while let Some(request) = incoming.recv().await {
        let sender = request.request.command_id().and_then(|id| {
            let routes = handle.routes.lock().unwrap_or_else(|e| e.into_inner());
            routes.as_ref().and_then(|r| r.get(id).cloned())
        });
        match sender {
            Some(sender) => {
                if let Err(unrouted) = sender.send(request) {
                    unrouted.0.respond(Response::Exception(
                        "the master no longer follows this command".to_string(),
                    ));
                }
            }
            None => {
                let op = request.request.op();
                request.respond(Response::Exception(
                    "no such command on the master".to_string(),
                ));
                if unrouted.count(&handle, op) {
                    // What is queued still gets its answer, quietly, until the reader stops.
                    handle.connection.close(format!(
                        "more than {MAX_UNROUTED_REQUESTS} requests for commands the master did not give within {UNROUTED_WINDOW:?}"
                    ));
                }
            }
        }
    }
    unrouted.summary(&handle);
    handle
        .routes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
}

/// Requests of one connection for commands the master did not give.
struct Unrouted {
    total: u64,
    window_start: tokio::time::Instant,
    in_window: u64,
    flooded: bool,
}

impl Default for Unrouted {
    fn default() -> Self {
        Unrouted {
            total: 0,
            window_start: tokio::time::Instant::now(),
            in_window: 0,
            flooded: false,
        }
    }
}

impl Unrouted {
    /// Counts one; the first is logged. True once, when the connection has sent too many.
    fn count(&mut self, handle: &WorkerHandle, op: &str) -> bool {
        self.total += 1;
        if self.total == 1 {
            tracing::warn!(worker = %Untrusted(handle.name.as_str()), op, "request for no running command; further ones are counted, not logged");
        }
        if self.window_start.elapsed() > UNROUTED_WINDOW {
            self.window_start = tokio::time::Instant::now();
            self.in_window = 0;
        }
        self.in_window += 1;
        if self.in_window <= MAX_UNROUTED_REQUESTS || self.flooded {
            return false;
        }
        self.flooded = true;
        tracing::warn!(worker = %Untrusted(handle.name.as_str()), "{} requests for no running command: closing the connection", self.total);
        true
    }

    fn summary(&self, handle: &WorkerHandle) {
        if self.total > 1 && !self.flooded {
            tracing::info!(worker = %Untrusted(handle.name.as_str()), "{} requests for no running command were answered with an exception", self.total);
        }
    }
}

async fn keepalive(connection: Connection, interval: Duration, timeout: Duration) {
    loop {
        tokio::select! {
            _ = connection.closed() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if let Err(e) = connection.request(Request::Keepalive, timeout).await {
            tracing::warn!(
                peer = connection.peer(),
                "keepalive failed, dropping the worker: {}",
                Untrusted(&e.to_string())
            );
            connection.close(format!("no answer to keepalive: {e}"));
            return;
        }
    }
}
