//! A hand-driven worker made of the protocol crate: it answers what it is told to, so tests can
//! make a worker go silent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use oebb_protocol::{connect_to_master, Connection, Credentials, Request, Response, WorkerInfo};

/// A connected fake worker.
pub struct FakeWorker {
    /// Its end of the connection.
    pub connection: Connection,
    /// While true, it leaves `keepalive` and `print` unanswered.
    pub silent: Arc<AtomicBool>,
    /// Whether the master asked for its information (it attached it, past the login).
    pub asked_info: Arc<AtomicBool>,
}

impl FakeWorker {
    /// Connects and answers the master's requests from a task of its own.
    pub async fn connect(address: std::net::SocketAddr, name: &str, password: &str) -> FakeWorker {
        let credentials = Credentials {
            name: name.to_string(),
            password: password.to_string(),
        };
        let (connection, mut incoming) = connect_to_master(address, &credentials)
            .await
            .expect("the fake worker connects");
        let silent = Arc::new(AtomicBool::new(false));
        let quiet = silent.clone();
        let asked_info = Arc::new(AtomicBool::new(false));
        let asked = asked_info.clone();
        tokio::spawn(async move {
            // Unanswered requests are kept: dropping one would answer it with an exception.
            let mut held = Vec::new();
            while let Some(request) = incoming.recv().await {
                match &request.request {
                    Request::GetWorkerInfo => {
                        asked.store(true, Ordering::SeqCst);
                        let info = WorkerInfo {
                            basedir: "/nonexistent/fake".to_string(),
                            system: "posix".to_string(),
                            numcpus: Some(1),
                            version: Some("fake".to_string()),
                            environ: Default::default(),
                            worker_commands: Default::default(),
                            delete_leftover_dirs: None,
                            other: Default::default(),
                        };
                        request.respond(Response::Result(info.to_value()));
                    }
                    Request::Keepalive | Request::Print { .. } if quiet.load(Ordering::SeqCst) => {
                        held.push(request)
                    }
                    _ => request.respond(Response::ok()),
                }
            }
        });
        FakeWorker {
            connection,
            silent,
            asked_info,
        }
    }

    /// Stops answering liveness questions.
    pub fn go_silent(&self) {
        self.silent.store(true, Ordering::SeqCst);
    }

    /// Whether the master attached it (asked for its information).
    pub fn was_attached(&self) -> bool {
        self.asked_info.load(Ordering::SeqCst)
    }
}
