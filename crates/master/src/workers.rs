//! Worker connections: accept and authenticate, ask for the worker's information, send the
//! output settings, keep the connection alive, route the worker's requests to the command they
//! belong to, and tell the scheduler when a worker comes and goes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oebb_config::WorkerName;
use oebb_protocol::{
    accept_worker, CommandId, Connection, IncomingRequest, Request, Response, WorkerInfo,
    WorkerSettings,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::ids::ConnectionId;
use crate::scheduler::Event;
use crate::store::Store;

/// How long the worker may take to answer a control request (info, settings, start, interrupt).
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// Password of each configured worker.
    pub passwords: Arc<HashMap<String, String>>,
    /// Sent to every worker after it connects.
    pub settings: WorkerSettings,
    /// How often each worker is asked whether it is alive.
    pub keepalive_interval: Duration,
    /// How long a keepalive (or the liveness question of a duplicate login) may go
    /// unanswered before the connection is dropped.
    pub keepalive_timeout: Duration,
    /// The live connection of each worker, to settle duplicate logins.
    pub live: Arc<Mutex<HashMap<WorkerName, Connection>>>,
    /// Where connections are recorded.
    pub store: Store,
    /// The scheduler's events.
    pub events: mpsc::UnboundedSender<Event>,
}

impl WorkerService {
    /// Accepts workers until the listener fails; each connection runs in its own task, so a
    /// misbehaving worker only ever closes its own connection.
    pub async fn serve(self, listener: TcpListener) {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("accepting a worker connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let service = self.clone();
            tokio::spawn(async move {
                service.handle(stream, peer.to_string()).await;
            });
        }
    }

    async fn handle(self, stream: tokio::net::TcpStream, peer: String) {
        let passwords = self.passwords.clone();
        let accepted = match accept_worker(stream, move |c| {
            passwords.get(&c.name).is_some_and(|p| c.password_is(p))
        })
        .await
        {
            Ok(accepted) => accepted,
            Err(_) => return, // accept_worker has logged why
        };
        let name = WorkerName::new(&accepted.name);
        let connection = accepted.connection;
        if !self.settle_duplicate(&name, &connection).await {
            return;
        }
        let info = match attach(&connection).await {
            Ok(info) => info,
            Err(why) => {
                tracing::warn!(worker = %name, %peer, "worker dropped while attaching: {why}");
                connection.close(why);
                self.forget_live(&name, &connection);
                return;
            }
        };
        let info_json = worker_info_json(&info);
        let connection_id = match self
            .store
            .worker_connected(name.as_str(), &peer, &info_json)
            .await
        {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(worker = %name, "cannot record the worker's connection: {e}");
                connection.close("the master cannot record the connection");
                self.forget_live(&name, &connection);
                return;
            }
        };
        let handle = Arc::new(WorkerHandle {
            name: name.clone(),
            connection: connection.clone(),
            info,
            connection_id,
            routes: Mutex::new(Some(HashMap::new())),
            next_command: AtomicU64::new(1),
        });
        tokio::spawn(route(handle.clone(), accepted.incoming));
        tokio::spawn(keepalive(
            connection.clone(),
            self.keepalive_interval,
            self.keepalive_timeout,
        ));
        tracing::info!(worker = %name, %peer, "worker attached");
        if self.events.send(Event::WorkerConnected(handle)).is_err() {
            connection.close("the master is stopping");
        }
        let reason = connection.closed().await;
        tracing::info!(worker = %name, %peer, "worker detached: {reason}");
        self.forget_live(&name, &connection);
        if let Err(e) = self
            .store
            .worker_disconnected(connection_id, &reason.to_string())
            .await
        {
            tracing::error!(worker = %name, "cannot record the worker's disconnection: {e}");
        }
        let _ = self.events.send(Event::WorkerDisconnected {
            name,
            connection: connection_id,
        });
    }
}

impl WorkerService {
    /// Forgets `connection` as the worker's live one, unless a newer one has replaced it.
    fn forget_live(&self, name: &WorkerName, connection: &Connection) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if live
            .get(name)
            .is_some_and(|c| c.peer() == connection.peer())
        {
            live.remove(name);
        }
    }

    /// Buildbot's rule for a worker that logs in while already connected: the old connection
    /// is asked whether it is alive; if it answers, the new one is refused, otherwise the old
    /// one is dropped. Returns whether `connection` may go on; it is then the live one.
    async fn settle_duplicate(&self, name: &WorkerName, connection: &Connection) -> bool {
        let old = {
            let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
            live.get(name).cloned()
        };
        if let Some(old) = old {
            let ping = Request::Print {
                message: "another connection logs in with this worker's name".to_string(),
            };
            if old.request(ping, self.keepalive_timeout).await.is_ok() {
                tracing::warn!(worker = %name, old = old.peer(), new = connection.peer(), "duplicate login refused: the worker is connected and alive");
                connection.close("duplicate login: this worker is already connected");
                return false;
            }
            tracing::warn!(worker = %name, old = old.peer(), "the older connection did not answer; it is dropped");
            old.close("replaced by a newer connection of the same worker");
        }
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.insert(name.clone(), connection.clone());
        true
    }
}

async fn attach(connection: &Connection) -> Result<WorkerInfo, String> {
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
/// commands are answered with an exception. When the connection ends every command's channel
/// closes, which is how a running step learns that its worker is gone.
async fn route(handle: Arc<WorkerHandle>, mut incoming: mpsc::UnboundedReceiver<IncomingRequest>) {
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
                tracing::warn!(worker = %handle.name, op = request.request.op(), "request for no running command");
                request.respond(Response::Exception(
                    "no such command on the master".to_string(),
                ));
            }
        }
    }
    handle
        .routes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
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
                "keepalive failed, dropping the worker: {e}"
            );
            connection.close(format!("no answer to keepalive: {e}"));
            return;
        }
    }
}
