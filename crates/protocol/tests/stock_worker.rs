//! Interoperability with the stock `buildbot-worker` from PyPI: a tiny master made only of this
//! crate accepts a real worker over msgpack_experimental_v7 and runs commands on it.

use std::path::Path;
use std::time::{Duration, Instant};

use oebb_protocol::{
    accept_worker, Accepted, AuthError, Command, CommandId, CommandLine, Connection,
    DownloadFileArgs, HandshakeError, IncomingRequest, Request, Response, ShellArgs, Update,
    UploadFileArgs, Value, WorkerInfo, WorkerSettings,
};
use oebb_testkit::StockWorker;
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;

const NAME: &str = "interop-worker";
const PASSWORD: &str = "s3cret:with-colon";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What a command sent back before its `complete`.
#[derive(Debug, Default)]
struct CommandRun {
    updates: Vec<Update>,
    failure: Option<String>,
    uploaded: Vec<u8>,
    upload_closed: bool,
    utime: Option<(f64, f64)>,
    read_file_closed: bool,
}

impl CommandRun {
    fn rc(&self) -> Option<i64> {
        self.updates.iter().find_map(|u| match u {
            Update::Rc(rc) => Some(*rc),
            _ => None,
        })
    }

    fn stdout(&self) -> String {
        self.updates
            .iter()
            .filter_map(|u| match u {
                Update::Stdout(chunk) => Some(chunk.text.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// The master's side of one command: start it and answer the worker's requests until complete.
struct Master {
    connection: Connection,
    incoming: UnboundedReceiver<IncomingRequest>,
    next_command: u32,
}

impl Master {
    async fn run(&mut self, command: Command, download: &[u8]) -> CommandRun {
        self.run_with(command, download, false).await
    }

    /// Runs a command, interrupting it right after the worker has started it if `interrupt`.
    async fn run_with(&mut self, command: Command, download: &[u8], interrupt: bool) -> CommandRun {
        let command_id = CommandId(self.next_command.to_string());
        self.next_command += 1;
        let start = Request::StartCommand {
            command_id: command_id.clone(),
            command,
            builder_name: None,
        };
        // The worker sends updates (and waits on transfer answers) before it answers
        // start_command, so both run at once.
        let connection = &self.connection;
        let start_then_interrupt = async {
            let started = connection.request(start, REQUEST_TIMEOUT).await;
            if interrupt && started.is_ok() {
                let why = "stopped by the test".to_string();
                let interrupt = Request::InterruptCommand {
                    command_id: command_id.clone(),
                    why,
                };
                let answer = connection.request(interrupt, REQUEST_TIMEOUT).await;
                assert_eq!(answer, Ok(Value::Nil), "interrupt_command");
            }
            started
        };
        let (started, run) = tokio::join!(
            start_then_interrupt,
            answer_until_complete(&mut self.incoming, &command_id, download)
        );
        assert_eq!(started, Ok(Value::Nil), "start_command {command_id}");
        run
    }

    async fn request(&self, request: Request) -> Value {
        let op = request.op();
        self.connection
            .request(request, REQUEST_TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e}"))
    }
}

async fn answer_until_complete(
    incoming: &mut UnboundedReceiver<IncomingRequest>,
    command_id: &CommandId,
    download: &[u8],
) -> CommandRun {
    let mut run = CommandRun::default();
    let mut sent = 0usize;
    let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
    loop {
        let request = tokio::time::timeout_at(deadline, incoming.recv())
            .await
            .unwrap_or_else(|_| panic!("command {command_id}: no complete in time: {run:?}"))
            .expect("connection closed while a command ran");
        assert_eq!(request.request.command_id(), Some(command_id));
        let mut response = Response::ok();
        let mut done = false;
        match &request.request {
            Request::Update { updates, .. } => run.updates.extend(updates.iter().cloned()),
            Request::Complete { failure, .. } => {
                run.failure = failure.clone();
                done = true;
            }
            Request::ReadFile { length, .. } => {
                let end = download.len().min(sent + *length as usize);
                response = Response::Result(Value::Binary(download[sent..end].to_vec()));
                sent = end;
            }
            Request::ReadFileClose { .. } => run.read_file_closed = true,
            Request::UploadFileWrite { data, .. } => run.uploaded.extend_from_slice(data),
            Request::UploadFileClose { .. } => run.upload_closed = true,
            Request::UploadFileUtime {
                access_time,
                modified_time,
                ..
            } => run.utime = Some((*access_time, *modified_time)),
            other => panic!("unexpected request from the worker: {other:?}"),
        }
        request.respond(response);
        if done {
            return run;
        }
    }
}

async fn accept_one(listener: &TcpListener) -> Result<Accepted, HandshakeError> {
    let (stream, _) = tokio::time::timeout(REQUEST_TIMEOUT, listener.accept())
        .await
        .expect("no worker connected in time")
        .expect("accept");
    accept_worker(stream, |c| c.name == NAME && c.password == PASSWORD).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_buildbot_worker_interoperates() {
    let scratch = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();

    // A wrong password is refused with 401, and the worker sees the 401.
    {
        let bad = StockWorker::start(&scratch.path().join("bad"), address, NAME, "wrong");
        match accept_one(&listener).await {
            Err(HandshakeError::Refused(AuthError::Refused { name })) => assert_eq!(name, NAME),
            other => panic!("a wrong password was not refused: {other:?}"),
        }
        assert!(
            bad.wait_for_log("[401]").await,
            "the worker did not log a 401:\n{}",
            bad.log()
        );
    }

    // The good worker is accepted (refusals of the killed one's retries may come first).
    let basedir = scratch.path().join("good");
    let mut worker = StockWorker::start(&basedir, address, NAME, PASSWORD);
    let accepted = loop {
        match accept_one(&listener).await {
            Ok(accepted) => break accepted,
            Err(HandshakeError::Refused(_)) => continue,
            Err(e) => panic!("the good worker was not accepted: {e}"),
        }
    };
    assert_eq!(accepted.name, NAME);
    let mut master = Master {
        connection: accepted.connection,
        incoming: accepted.incoming,
        next_command: 0,
    };

    let printed = master.request(Request::Print {
        message: "attached".into(),
    });
    assert_eq!(printed.await, Value::Nil);
    let info = WorkerInfo::from_value(&master.request(Request::GetWorkerInfo).await).unwrap();
    let basedir = basedir.canonicalize().unwrap();
    assert_eq!(Path::new(&info.basedir), basedir);
    assert_eq!(info.system, "posix");
    assert_eq!(info.version.as_deref(), Some("4.3.0"));
    assert!(info.worker_commands.contains_key("shell"), "{info:?}");
    let settings = WorkerSettings {
        buffer_timeout: 0.1,
        ..WorkerSettings::default()
    };
    assert_eq!(
        master.request(Request::SetWorkerSettings(settings)).await,
        Value::Nil
    );
    assert_eq!(master.request(Request::Keepalive).await, Value::Nil);

    // shell: output and exit status come back as updates, then complete.
    let build = basedir.join("build");
    let build_dir = build.to_str().unwrap().to_string();
    let shell = Command::from(ShellArgs::new(
        build_dir.clone(),
        CommandLine::Script("echo hello; exit 3".into()),
    ));
    let run = master.run(shell, b"").await;
    assert_eq!(run.stdout(), "hello\n", "{run:?}");
    assert_eq!(run.rc(), Some(3), "{run:?}");
    assert!(run.updates.iter().any(|u| matches!(u, Update::Elapsed(_))));
    assert_eq!(run.failure, None);

    // interrupt_command: a long command is killed and reports rc -1.
    let sleep = Command::from(ShellArgs::new(
        build_dir.clone(),
        CommandLine::Script("sleep 30".into()),
    ));
    let started = Instant::now();
    let run = master.run_with(sleep, b"", true).await;
    assert_eq!(run.rc(), Some(-1), "{run:?}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // download_file: the master's bytes land on the worker, block by block.
    let content: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let file = format!("{build_dir}/down.bin");
    let download = Command::DownloadFile(DownloadFileArgs {
        path: file.clone(),
        blocksize: 16384,
        maxsize: None,
        mode: Some(0o600),
    });
    let run = master.run(download, &content).await;
    assert_eq!(run.rc(), Some(0), "{run:?}");
    assert!(run.read_file_closed);
    assert_eq!(std::fs::read(&file).unwrap(), content);

    // stat: the worker sees the size.
    let run = master.run(Command::Stat { path: file.clone() }, b"").await;
    let stat = run.updates.iter().find_map(|u| match u {
        Update::Stat(stat) => Some(*stat),
        _ => None,
    });
    let stat = stat.unwrap_or_else(|| panic!("no stat update: {run:?}"));
    assert_eq!(stat.size, content.len() as u64);
    assert!(stat.is_file());

    // upload_file: the same bytes come back identical.
    let upload = Command::UploadFile(UploadFileArgs {
        path: file.clone(),
        blocksize: 8192,
        maxsize: None,
        keepstamp: true,
    });
    let run = master.run(upload, b"").await;
    assert_eq!(run.rc(), Some(0), "{run:?}");
    assert!(run.upload_closed);
    assert!(run.utime.is_some(), "keepstamp sends the times");
    assert_eq!(run.uploaded, content);

    // shutdown: the worker answers, then its process exits.
    assert_eq!(master.request(Request::Shutdown).await, Value::Nil);
    assert!(
        worker.wait_exit().await,
        "the worker did not exit after shutdown"
    );
    // Every answer of this master suited the worker: nothing blew up on its side.
    assert!(!worker.log().contains("Traceback"), "{}", worker.log());
    tokio::time::timeout(REQUEST_TIMEOUT, master.connection.closed())
        .await
        .expect("the connection did not close after the worker exited");
}
