//! The connection loop: connect, serve the master's requests, and on any failure (master not
//! there, refused credentials, connection lost) wait and connect again.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use oebb_protocol::{
    connect_to_master, Command, CommandId, Connection, Credentials, HandshakeError,
    IncomingRequest, Request, Response, WorkerSettings,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::command::{self, Context};
use crate::outbox::Outbox;
use crate::output::Output;
use crate::{info, Stopped, WorkerOptions};

/// How long commands get to die after the worker stops (their kill grace plus a margin).
const STOP_GRACE: Duration = Duration::from_secs(7);

/// How long one connection attempt may take; a master host that drops packets would otherwise
/// hold the worker for the system's TCP connect timeout (minutes).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the worker waits between answering `shutdown` and closing the connection.
const SHUTDOWN_DELAY: Duration = Duration::from_millis(200);

/// Delays between connection attempts: `initial`, doubled after each failure up to `max`, and
/// back to `initial` once a connection has been made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    /// 1 s doubling up to 30 s.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The delay after a failed attempt that waited `delay`.
    pub fn after(&self, delay: Duration) -> Duration {
        delay
            .saturating_mul(2)
            .clamp(self.initial, self.max.max(self.initial))
    }
}

/// How serving one connection ended.
enum Ended {
    Stopped(Stopped),
    Lost(String),
}

/// A command that has not completed yet.
struct Running {
    generation: u64,
    interrupt: watch::Sender<Option<String>>,
    task: JoinHandle<()>,
}

/// What every connection of this worker shares.
struct Worker {
    basedir: PathBuf,
    environment: Arc<HashMap<String, String>>,
    run_as: Option<crate::owner::RunAs>,
}

pub(crate) async fn run(options: WorkerOptions, shutdown: impl Future<Output = ()>) -> Stopped {
    tokio::pin!(shutdown);
    let credentials = Credentials {
        name: options.name.clone(),
        password: options.password.clone(),
    };
    let mut environment = crate::env::worker_environment();
    if let Some(user) = &options.run_as {
        // The commands' own home and name, not root's.
        let home = user.home_or(&options.basedir);
        environment.insert("HOME".into(), home.display().to_string());
        environment.insert("USER".into(), user.name.clone());
        environment.insert("LOGNAME".into(), user.name.clone());
    }
    let worker = Worker {
        basedir: options.basedir.clone(),
        environment: Arc::new(environment),
        run_as: options.run_as.clone(),
    };
    let master = options.master.as_str();
    let name = options.name.as_str();
    let mut delay = options.backoff.initial;
    let basedir = options.basedir.display();
    tracing::info!(master, worker = name, %basedir, "worker starting");
    loop {
        let attempt = tokio::select! {
            attempt = tokio::time::timeout(CONNECT_TIMEOUT, connect_to_master(master, &credentials)) => {
                attempt.unwrap_or_else(|_| {
                    let why = format!("no connection within {CONNECT_TIMEOUT:?}");
                    Err(HandshakeError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, why)))
                })
            }
            () = &mut shutdown => return Stopped::BySignal,
        };
        match attempt {
            Ok((connection, incoming)) => {
                tracing::info!(master, worker = name, "connected to the master");
                delay = options.backoff.initial;
                match worker.serve(connection, incoming, &mut shutdown).await {
                    Ended::Stopped(stopped) => return stopped,
                    Ended::Lost(reason) => {
                        tracing::warn!(
                            master,
                            "connection to the master lost ({reason}); reconnecting in {delay:?}"
                        )
                    }
                }
            }
            Err(HandshakeError::Rejected { status: 401 }) => tracing::error!(
                master,
                worker = name,
                "the master refused this worker's name or password (HTTP 401); check --name and \
                 the password file against the master's slaves.cfg; retrying in {delay:?}"
            ),
            Err(e) => {
                tracing::warn!(
                    master,
                    "cannot connect to the master: {e}; retrying in {delay:?}"
                )
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = &mut shutdown => return Stopped::BySignal,
        }
        delay = options.backoff.after(delay);
    }
}

impl Worker {
    /// Answers the master's requests on one connection until it ends.
    async fn serve(
        &self,
        connection: Connection,
        mut incoming: mpsc::UnboundedReceiver<IncomingRequest>,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> Ended {
        let mut settings = WorkerSettings::default();
        let mut running: HashMap<CommandId, Running> = HashMap::new();
        let mut generation = 0u64;
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(CommandId, u64)>();
        let ended = loop {
            tokio::select! {
                request = incoming.recv() => {
                    let Some(request) = request else {
                        break Ended::Lost(connection.closed().await.to_string());
                    };
                    let IncomingRequest { request, responder, .. } = request;
                    let response = match request {
                        Request::Print { message } => {
                            tracing::info!("message from the master: {message}");
                            Response::ok()
                        }
                        Request::Keepalive => Response::ok(),
                        Request::GetWorkerInfo => {
                            // Read each time, like the stock worker: BASEDIR/info may change.
                            Response::Result(info::worker_info(&self.basedir).to_value())
                        }
                        Request::SetWorkerSettings(new) => {
                            tracing::debug!(?new, "worker settings");
                            settings = new;
                            Response::ok()
                        }
                        Request::StartCommand { command_id, command, .. } => {
                            match running.entry(command_id) {
                                Entry::Occupied(entry) => Response::Exception(format!(
                                    "(command {0}): command_id {0} is already running",
                                    entry.key()
                                )),
                                Entry::Vacant(entry) => {
                                    generation += 1;
                                    let start = Start {
                                        connection: &connection,
                                        settings: &settings,
                                        done: &done_tx,
                                        generation,
                                    };
                                    let running = self.start(start, entry.key().clone(), command);
                                    entry.insert(running);
                                    Response::ok()
                                }
                            }
                        }
                        Request::InterruptCommand { command_id, why } => {
                            match running.get(&command_id) {
                                Some(command) => {
                                    command.interrupt.send_replace(Some(why));
                                }
                                None => tracing::info!(command = %command_id, "interrupt of a command that is not running: {why}"),
                            }
                            Response::ok()
                        }
                        Request::Shutdown => {
                            tracing::info!("the master asked this worker to shut down");
                            responder.respond(Response::ok());
                            // The stock worker also stops 0.2 s after answering: time for the
                            // answer to leave before the process exits.
                            tokio::time::sleep(SHUTDOWN_DELAY).await;
                            break Ended::Stopped(Stopped::ByMaster);
                        }
                        other => Response::Exception(format!("Command {} does not exist.", other.op())),
                    };
                    responder.respond(response);
                }
                Some((id, done)) = done_rx.recv() => {
                    if running.get(&id).is_some_and(|r| r.generation == done) {
                        running.remove(&id);
                    }
                }
                () = &mut *shutdown => break Ended::Stopped(Stopped::BySignal),
            }
        };
        // Commands cannot be re-attached to another connection, and one left running could
        // clash with the build the master runs again: interrupt them all.
        let why = match &ended {
            Ended::Stopped(_) => "the worker is stopping".to_string(),
            Ended::Lost(reason) => format!("connection to the master lost: {reason}"),
        };
        for command in running.values() {
            command.interrupt.send_replace(Some(why.clone()));
        }
        if let Ended::Stopped(_) = ended {
            connection.close(why);
            let tasks = running.into_values().map(|r| r.task);
            let all = futures_join(tasks);
            if tokio::time::timeout(STOP_GRACE, all).await.is_err() {
                tracing::warn!("commands still running after {STOP_GRACE:?}; leaving them");
            }
        }
        ended
    }
}

/// What starting a command needs from the connection being served.
struct Start<'a> {
    connection: &'a Connection,
    settings: &'a WorkerSettings,
    done: &'a mpsc::UnboundedSender<(CommandId, u64)>,
    generation: u64,
}

impl Worker {
    /// Spawns the command's task; its updates and `complete` may reach the master before the
    /// answer to `start_command`, as with the stock worker.
    fn start(&self, start: Start<'_>, command_id: CommandId, command: Command) -> Running {
        let (interrupt, interrupt_rx) = watch::channel(None);
        let ctx = Context {
            basedir: self.basedir.clone(),
            environment: self.environment.clone(),
            interrupt: interrupt_rx,
            run_as: self.run_as.clone(),
        };
        let outbox = Outbox::start(start.connection.clone(), command_id.clone(), start.settings);
        let output = Output::new(outbox, start.settings);
        let done = start.done.clone();
        let generation = start.generation;
        let task = tokio::spawn(command::execute(ctx, output, command, move |id| {
            let _ = done.send((id, generation));
        }));
        Running {
            generation,
            interrupt,
            task,
        }
    }
}

/// Waits for every task.
async fn futures_join(tasks: impl Iterator<Item = JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let backoff = Backoff::default();
        let mut delay = backoff.initial;
        let mut seen = vec![delay.as_secs()];
        for _ in 0..7 {
            delay = backoff.after(delay);
            seen.push(delay.as_secs());
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 30, 30, 30]);
        let odd = Backoff {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(1),
        };
        assert_eq!(odd.after(odd.initial), Duration::from_secs(5));
    }
}
