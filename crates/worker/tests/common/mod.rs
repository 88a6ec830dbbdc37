//! A tiny master made of oebb-protocol that drives a real oebb worker over loopback.

#![allow(dead_code)] // each test file uses a different part of it

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oebb_protocol::{
    accept_worker, Accepted, Command, CommandId, CommandLine, Connection, HandshakeError,
    IncomingRequest, Request, Response, ShellArgs, Update, Value, WorkerInfo, WorkerSettings,
};
use oebb_worker::{Backoff, Stopped, WorkerError, WorkerOptions};
use tokio::net::TcpListener;
use tokio::sync::{mpsc::UnboundedReceiver, oneshot};
use tokio::task::JoinHandle;

pub const NAME: &str = "w1";
pub const PASSWORD: &str = "s3cret:pw";
pub const WAIT: Duration = Duration::from_secs(20);

/// A listening master.
pub struct TestMaster {
    pub listener: TcpListener,
    pub address: String,
}

impl TestMaster {
    pub async fn bind() -> TestMaster {
        Self::bind_to("127.0.0.1:0").await
    }

    pub async fn bind_to(address: &str) -> TestMaster {
        let listener = TcpListener::bind(address).await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        TestMaster { listener, address }
    }

    /// Accepts the next connection attempt, checking the test credentials.
    pub async fn accept_attempt(&self) -> Result<Accepted, HandshakeError> {
        let (stream, _) = tokio::time::timeout(WAIT, self.listener.accept())
            .await
            .expect("no worker connected in time")
            .expect("accept");
        accept_worker(stream, |c| c.name == NAME && c.password == PASSWORD).await
    }

    /// Accepts the worker and attaches it like a master does.
    pub async fn accept(&self) -> Session {
        let accepted = self.accept_attempt().await.expect("worker refused");
        Session::attach(accepted).await
    }
}

/// A worker running in this process.
pub struct TestWorker {
    pub basedir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<Result<Stopped, WorkerError>>,
}

impl TestWorker {
    pub fn start(address: &str, password: &str) -> TestWorker {
        let basedir = tempfile::tempdir().unwrap();
        let mut options = WorkerOptions::new(address, NAME, password, basedir.path());
        options.backoff = Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(oebb_worker::run(options, async {
            let _ = stopped.await;
        }));
        TestWorker {
            basedir,
            stop: Some(stop),
            task,
        }
    }

    /// The canonical base directory, as the worker reports it.
    pub fn dir(&self) -> PathBuf {
        self.basedir.path().canonicalize().unwrap()
    }

    /// Fires the shutdown signal and waits for `run` to return.
    pub async fn stop(mut self) -> Stopped {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("the worker did not stop in time")
            .unwrap()
            .unwrap()
    }
}

/// Everything the worker sent for one command.
#[derive(Debug, Default)]
pub struct CommandRun {
    pub updates: Vec<Update>,
    pub complete: bool,
    pub failure: Option<String>,
    pub uploaded: Vec<u8>,
    pub upload_closed: bool,
    pub utime: Option<(f64, f64)>,
    pub unpacked: bool,
    pub read_file_closed: bool,
    pub update_requests: usize,
}

impl CommandRun {
    pub fn rc(&self) -> Option<i64> {
        self.updates.iter().rev().find_map(|u| match u {
            Update::Rc(rc) => Some(*rc),
            _ => None,
        })
    }

    fn text(&self, want: fn(&Update) -> Option<&str>) -> String {
        self.updates.iter().filter_map(want).collect()
    }

    pub fn stdout(&self) -> String {
        self.text(|u| match u {
            Update::Stdout(c) => Some(c.text.as_str()),
            _ => None,
        })
    }

    pub fn stderr(&self) -> String {
        self.text(|u| match u {
            Update::Stderr(c) => Some(c.text.as_str()),
            _ => None,
        })
    }

    pub fn header(&self) -> String {
        self.text(|u| match u {
            Update::Header(c) => Some(c.text.as_str()),
            _ => None,
        })
    }

    pub fn files(&self) -> Vec<String> {
        self.updates
            .iter()
            .find_map(|u| match u {
                Update::Files(f) => Some(f.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no files update: {self:?}"))
    }

    pub fn failure_reason(&self) -> Option<String> {
        self.updates.iter().find_map(|u| match u {
            Update::FailureReason(r) => Some(r.clone()),
            _ => None,
        })
    }

    pub fn has_elapsed(&self) -> bool {
        self.updates.iter().any(|u| matches!(u, Update::Elapsed(_)))
    }
}

/// The master's end of one attached worker.
pub struct Session {
    pub connection: Connection,
    pub incoming: UnboundedReceiver<IncomingRequest>,
    pub info: WorkerInfo,
    next: u32,
    pub runs: HashMap<CommandId, CommandRun>,
    downloads: HashMap<CommandId, (Vec<u8>, usize)>,
}

impl Session {
    pub async fn attach(accepted: Accepted) -> Session {
        let Accepted {
            connection,
            incoming,
            ..
        } = accepted;
        let info = connection
            .request(Request::GetWorkerInfo, WAIT)
            .await
            .expect("get_worker_info");
        let info = WorkerInfo::from_value(&info).expect("worker info");
        // Short buffering so output arrives while a command runs.
        let settings = WorkerSettings {
            buffer_timeout: 0.02,
            ..WorkerSettings::default()
        };
        let set = connection
            .request(Request::SetWorkerSettings(settings), WAIT)
            .await;
        assert_eq!(set, Ok(Value::Nil));
        Session {
            connection,
            incoming,
            info,
            next: 0,
            runs: HashMap::new(),
            downloads: HashMap::new(),
        }
    }

    pub fn path(&self, relative: &str) -> String {
        Path::new(&self.info.basedir)
            .join(relative)
            .to_string_lossy()
            .into_owned()
    }

    pub async fn request(&self, request: Request) -> Value {
        let op = request.op();
        self.connection
            .request(request, WAIT)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    /// Starts a command; `download` is what the master serves to `update_read_file`.
    pub async fn start_with(&mut self, command: Command, download: Vec<u8>) -> CommandId {
        let id = CommandId(self.next.to_string());
        self.next += 1;
        self.start_as(id, command, download).await
    }

    /// Starts a command under the given id.
    pub async fn start_as(
        &mut self,
        id: CommandId,
        command: Command,
        download: Vec<u8>,
    ) -> CommandId {
        self.runs.insert(id.clone(), CommandRun::default());
        self.downloads.insert(id.clone(), (download, 0));
        let start = Request::StartCommand {
            command_id: id.clone(),
            command,
            builder_name: None,
        };
        assert_eq!(self.request(start).await, Value::Nil);
        id
    }

    pub async fn start(&mut self, command: Command) -> CommandId {
        self.start_with(command, Vec::new()).await
    }

    /// Answers one request of the worker and records it.
    pub async fn pump(&mut self) {
        let request = tokio::time::timeout(WAIT, self.incoming.recv())
            .await
            .unwrap_or_else(|_| panic!("nothing from the worker in time: {:?}", self.runs))
            .expect("connection closed while commands ran");
        let id = request.request.command_id().expect("command id").clone();
        let run = self
            .runs
            .get_mut(&id)
            .unwrap_or_else(|| panic!("request for unknown command {id}"));
        assert!(
            !run.complete,
            "request after complete: {:?}",
            request.request
        );
        let mut response = Response::ok();
        match &request.request {
            Request::Update { updates, .. } => {
                run.update_requests += 1;
                run.updates.extend(updates.iter().cloned())
            }
            Request::Complete { failure, .. } => {
                run.failure = failure.clone();
                run.complete = true;
            }
            Request::ReadFile { length, .. } => {
                let (data, sent) = self.downloads.get_mut(&id).unwrap();
                let end = data.len().min(*sent + *length as usize);
                response = Response::Result(Value::Binary(data[*sent..end].to_vec()));
                *sent = end;
            }
            Request::ReadFileClose { .. } => run.read_file_closed = true,
            Request::UploadFileWrite { data, .. } | Request::UploadDirectoryWrite { data, .. } => {
                run.uploaded.extend_from_slice(data)
            }
            Request::UploadFileClose { .. } => run.upload_closed = true,
            Request::UploadDirectoryUnpack { .. } => run.unpacked = true,
            Request::UploadFileUtime {
                access_time,
                modified_time,
                ..
            } => run.utime = Some((*access_time, *modified_time)),
            other => panic!("unexpected request from the worker: {other:?}"),
        }
        request.respond(response);
    }

    /// Answers the worker until `done` holds for command `id`.
    pub async fn until(&mut self, id: &CommandId, done: impl Fn(&CommandRun) -> bool) {
        while !done(&self.runs[id]) {
            self.pump().await;
        }
    }

    /// Answers the worker until command `id` completes, and returns what it sent.
    pub async fn wait(&mut self, id: &CommandId) -> CommandRun {
        self.until(id, |run| run.complete).await;
        self.runs.remove(id).unwrap()
    }

    pub async fn run(&mut self, command: Command) -> CommandRun {
        let id = self.start(command).await;
        self.wait(&id).await
    }

    pub async fn run_with(&mut self, command: Command, download: Vec<u8>) -> CommandRun {
        let id = self.start_with(command, download).await;
        self.wait(&id).await
    }

    pub async fn interrupt(&self, id: &CommandId) {
        let interrupt = Request::InterruptCommand {
            command_id: id.clone(),
            why: "stopped by the test".into(),
        };
        assert_eq!(self.request(interrupt).await, Value::Nil);
    }
}

/// A `shell` command running `script` with `/bin/sh -c` in `workdir`.
pub fn script(workdir: &str, script: &str) -> ShellArgs {
    ShellArgs::new(workdir, CommandLine::Script(script.into()))
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet), waiting a little for it.
pub async fn process_gone(pid: u32) -> bool {
    for _ in 0..200 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat) => {
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                if state.starts_with('Z') || state.starts_with('X') {
                    return true;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}
