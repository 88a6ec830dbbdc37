//! `oebb worker` as a program: a tiny master made of oebb-protocol drives the built binary.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use oebb_protocol::{
    accept_worker, Accepted, AuthError, CommandId, CommandLine, Connection, EnvValue, Frame,
    HandshakeError, IncomingRequest, Request, Response, SeqNumber, ShellArgs, Update, Value,
    WorkerInfo, WorkerSettings,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedReceiver;

const NAME: &str = "bin-worker";
const PASSWORD: &str = "pass word";
const SECRET: &str = "hunter2-never-sent-to-the-master";
const WAIT: Duration = Duration::from_secs(20);

/// The `oebb worker` process; killed when dropped, its log shown if the test failed.
struct WorkerProcess {
    child: Child,
    log: std::path::PathBuf,
}

impl WorkerProcess {
    fn start(dir: &Path, address: &str, password_file_text: &str) -> WorkerProcess {
        let password_file = dir.join("password");
        std::fs::write(&password_file, password_file_text).unwrap();
        let log = dir.join("worker.log");
        let child = Process::new(env!("CARGO_BIN_EXE_oebb"))
            .args([
                "worker",
                "--master",
                address,
                "--name",
                NAME,
                "--password-file",
            ])
            .arg(&password_file)
            .arg("--basedir")
            .arg(dir.join("basedir"))
            .env("OEBB_WORKER_TEST_SECRET", SECRET)
            .env("RUST_LOG", "info,oebb=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start oebb worker");
        WorkerProcess { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_exit(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- oebb worker log ---\n{}", self.log());
        }
    }
}

async fn accept(listener: &TcpListener) -> Result<Accepted, HandshakeError> {
    let (stream, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("the worker did not connect in time")
        .unwrap();
    accept_worker(stream, |c| c.name == NAME && c.password == PASSWORD).await
}

/// Runs one command and returns its updates.
async fn run(
    connection: &Connection,
    incoming: &mut UnboundedReceiver<IncomingRequest>,
    args: ShellArgs,
) -> Vec<Update> {
    let command_id = CommandId::from("1");
    let start = Request::StartCommand {
        command_id: command_id.clone(),
        command: args.into(),
        builder_name: None,
    };
    assert_eq!(connection.request(start, WAIT).await, Ok(Value::Nil));
    let mut updates = Vec::new();
    loop {
        let request = tokio::time::timeout(WAIT, incoming.recv())
            .await
            .expect("no complete in time")
            .expect("connection closed");
        assert_eq!(request.request.command_id(), Some(&command_id));
        let done = match &request.request {
            Request::Update { updates: u, .. } => {
                updates.extend(u.iter().cloned());
                false
            }
            Request::Complete { failure, .. } => {
                assert_eq!(failure, &None);
                true
            }
            other => panic!("unexpected {other:?}"),
        };
        request.respond(Response::ok());
        if done {
            return updates;
        }
    }
}

fn text(updates: &[Update], stream: fn(&Update) -> Option<&str>) -> String {
    updates.iter().filter_map(stream).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oebb_worker_runs_steps_and_keeps_its_environment_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    // The password file's trailing newline is not part of the password.
    let mut worker = WorkerProcess::start(dir.path(), &address, "pass word\n");
    let Accepted {
        connection,
        mut incoming,
        ..
    } = accept(&listener).await.expect("the worker was refused");

    let info = connection
        .request(Request::GetWorkerInfo, WAIT)
        .await
        .unwrap();
    let wire = Frame::Response {
        seq_number: SeqNumber(0),
        response: Response::Result(info.clone()),
    }
    .encode();
    let info = WorkerInfo::from_value(&info).unwrap();
    let basedir = dir.path().join("basedir").canonicalize().unwrap();
    assert_eq!(Path::new(&info.basedir), basedir);
    assert!(info.environ.is_empty(), "{:?}", info.environ);
    assert!(
        !String::from_utf8_lossy(&wire).contains(SECRET),
        "the worker's environment reached the master"
    );
    let settings = WorkerSettings {
        buffer_timeout: 0.02,
        ..WorkerSettings::default()
    };
    let set = Request::SetWorkerSettings(settings);
    assert_eq!(connection.request(set, WAIT).await, Ok(Value::Nil));

    // The step's variables reach its process and its header; the worker's own stay out of the
    // header even with logEnviron, though the process inherits them.
    let mut args = ShellArgs::new(
        basedir.join("build").to_str().unwrap(),
        CommandLine::Script(
            "echo \"$STEP_VAR\"; echo \"${OEBB_WORKER_TEST_SECRET:+inherited}\"; exit 4".into(),
        ),
    );
    args.env = BTreeMap::from([("STEP_VAR".into(), EnvValue::Set("from-step".into()))]);
    args.log_environ = true;
    let updates = run(&connection, &mut incoming, args).await;
    let stdout = text(&updates, |u| match u {
        Update::Stdout(c) => Some(c.text.as_str()),
        _ => None,
    });
    assert_eq!(stdout, "from-step\ninherited\n");
    let header = text(&updates, |u| match u {
        Update::Header(c) => Some(c.text.as_str()),
        _ => None,
    });
    assert!(header.contains("STEP_VAR=from-step"), "{header}");
    assert!(!header.contains(SECRET), "{header}");
    assert!(updates.contains(&Update::Rc(4)), "{updates:?}");

    // shutdown: answered, then the process exits successfully.
    assert_eq!(
        connection.request(Request::Shutdown, WAIT).await,
        Ok(Value::Nil)
    );
    let status = worker.wait_exit().await.expect("no exit after shutdown");
    assert!(status.success(), "{status}");
    assert!(!worker.log().contains(SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oebb_worker_retries_a_refused_password_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let mut worker = WorkerProcess::start(dir.path(), &address, "not the password");
    for _ in 0..2 {
        match accept(&listener).await {
            Err(HandshakeError::Refused(AuthError::Refused { name })) => assert_eq!(name, NAME),
            other => panic!("a wrong password was not refused: {other:?}"),
        }
    }
    assert!(
        worker.child.try_wait().unwrap().is_none(),
        "the worker exited after a 401"
    );
    let deadline = Instant::now() + WAIT;
    while !worker.log().contains("401") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(worker.log().contains("401"), "no 401 in the log");

    let killed = Process::new("kill")
        .args(["-TERM", &worker.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = worker.wait_exit().await.expect("no exit after SIGTERM");
    assert!(status.success(), "{status}");
}
