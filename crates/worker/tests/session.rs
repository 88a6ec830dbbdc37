//! The worker's connection life: attach, reconnect, refusals, shutdown, lost connections.

mod common;

use std::time::Duration;

use common::{process_gone, script, TestMaster, TestWorker, PASSWORD, WAIT};
use oebb_protocol::{AuthError, HandshakeError, Request, RequestError, Value};
use oebb_worker::Stopped;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_info_and_simple_requests() {
    let master = TestMaster::bind().await;
    let worker = TestWorker::start(&master.address, PASSWORD);
    let session = master.accept().await;
    let info = &session.info;
    assert_eq!(info.basedir, worker.dir().to_str().unwrap());
    assert_eq!(info.system, "posix");
    assert!(info.numcpus.unwrap_or(0) >= 1);
    assert!(info.version.as_deref().unwrap_or("").contains("oebb"));
    for command in [
        "shell",
        "upload_file",
        "uploadDirectory",
        "download_file",
        "rmfile",
    ] {
        assert_eq!(
            info.worker_commands.get(command).map(String::as_str),
            Some("3.3")
        );
    }
    assert!(info.environ.is_empty(), "{:?}", info.environ);
    let print = Request::Print {
        message: "attached".into(),
    };
    assert_eq!(session.request(print).await, Value::Nil);
    assert_eq!(session.request(Request::Keepalive).await, Value::Nil);
    assert_eq!(worker.stop().await, Stopped::BySignal);

    // Files of BASEDIR/info, read when the worker starts, are sent; shutdown stops `run`.
    let master = TestMaster::bind().await;
    let basedir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(basedir.path().join("info")).unwrap();
    std::fs::write(
        basedir.path().join("info/admin"),
        "Jane <jane@example.com>\n",
    )
    .unwrap();
    std::fs::write(basedir.path().join("info/host"), "a test box\n").unwrap();
    let options =
        oebb_worker::WorkerOptions::new(&master.address, common::NAME, PASSWORD, basedir.path());
    let task = tokio::spawn(oebb_worker::run(options, std::future::pending()));
    let session = master.accept().await;
    let admin = session.info.other.get("admin").and_then(|v| v.as_str());
    assert_eq!(admin, Some("Jane <jane@example.com>"));
    let host = session.info.other.get("host").and_then(|v| v.as_str());
    assert_eq!(host, Some("a test box"));
    assert_eq!(session.request(Request::Shutdown).await, Value::Nil);
    let stopped = tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    assert_eq!(stopped.unwrap(), Stopped::ByMaster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_reconnects_after_the_master_restarts() {
    let master = TestMaster::bind().await;
    let address = master.address.clone();
    let worker = TestWorker::start(&address, PASSWORD);
    let mut session = master.accept().await;
    let run = session
        .run(script(&session.path("a"), "echo one").into())
        .await;
    assert_eq!(run.stdout(), "one\n");

    // The master goes away: listener and connection.
    drop(session);
    drop(master);
    // Not there for a while: the worker keeps trying (connection refused) without giving up.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!worker.task.is_finished(), "the worker gave up");

    let master = TestMaster::bind_to(&address).await;
    let mut session = master.accept().await;
    let run = session
        .run(script(&session.path("a"), "echo two").into())
        .await;
    assert_eq!(run.stdout(), "two\n");
    assert_eq!(run.rc(), Some(0));
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_password_is_retried_not_fatal() {
    let master = TestMaster::bind().await;
    let worker = TestWorker::start(&master.address, "wrong");
    for _ in 0..3 {
        match master.accept_attempt().await {
            Err(HandshakeError::Refused(AuthError::Refused { name })) => {
                assert_eq!(name, common::NAME)
            }
            other => panic!("a wrong password was not refused: {other:?}"),
        }
    }
    assert!(!worker.task.is_finished(), "the worker stopped after a 401");
    assert_eq!(worker.stop().await, Stopped::BySignal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_die_with_the_connection_and_with_the_worker() {
    let master = TestMaster::bind().await;
    let worker = TestWorker::start(&master.address, PASSWORD);
    let mut session = master.accept().await;
    let workdir = session.path("x");
    let orphan = "sleep 300 & echo $! > bg.pid; echo started; wait";
    let id = session.start(script(&workdir, orphan).into()).await;
    session
        .until(&id, |run| run.stdout().contains("started"))
        .await;
    let pid = read_pid(&format!("{workdir}/bg.pid"));
    // A command left running could clash with the build the master runs again.
    session.connection.close("test drops the worker");
    drop(session);
    assert!(process_gone(pid).await, "orphaned command {pid} survived");

    // Reconnected; now the worker itself stops while a command runs.
    let mut session = master.accept().await;
    let id = session.start(script(&workdir, orphan).into()).await;
    session
        .until(&id, |run| run.stdout().contains("started"))
        .await;
    let pid = read_pid(&format!("{workdir}/bg.pid"));
    assert_eq!(worker.stop().await, Stopped::BySignal);
    assert!(process_gone(pid).await, "command {pid} survived the worker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_id_in_use_is_refused_and_free_after_complete() {
    let master = TestMaster::bind().await;
    let worker = TestWorker::start(&master.address, PASSWORD);
    let mut session = master.accept().await;
    let id = session
        .start(script(&session.path("d"), "echo started; sleep 300").into())
        .await;
    session
        .until(&id, |run| run.stdout().contains("started"))
        .await;
    let again = Request::StartCommand {
        command_id: id.clone(),
        command: script(&session.path("d"), "true").into(),
        builder_name: None,
    };
    match session.connection.request(again, WAIT).await {
        Err(RequestError::Exception { message, .. }) => {
            assert!(message.contains("already running"), "{message}")
        }
        other => panic!("a reused command_id was accepted: {other:?}"),
    }
    session.interrupt(&id).await;
    assert_eq!(session.wait(&id).await.rc(), Some(-1));

    // Once `complete` has come, the id is free again at once.
    let quick = script(&session.path("d"), "echo again");
    let id = session.start_as(id, quick.into(), Vec::new()).await;
    assert_eq!(session.wait(&id).await.stdout(), "again\n");
    worker.stop().await;
}

fn read_pid(path: &str) -> u32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
