//! Worker connections: refusals, misbehaving workers, lost workers.

mod common;

use common::databases::Db;

use std::time::Duration;

use common::tester::{MasterTester, WorkerSpec};
use futures_util::{SinkExt, StreamExt};
use oebb_master::{Results, Step};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

const A: WorkerSpec = WorkerSpec {
    name: "a",
    password: "pa",
    priority: 10.0,
};
const B: WorkerSpec = WorkerSpec {
    name: "b",
    password: "pb",
    priority: 0.0,
};

async fn a_wrong_password_is_refused(db: Db) {
    let mut t = MasterTester::start(db, &[A], &["x"], |_, _| vec![Step::script("s", "true")]).await;
    let bad = t.start_worker("a", "wrong");
    assert!(
        t.workers[bad].wait_for_log("[401]").await,
        "the worker was not refused with 401:\n{}",
        t.workers[bad].log()
    );
    assert!(t.store().connected_workers().await.unwrap().is_empty());
    // The right password still gets in.
    t.workers[bad].kill();
    t.connect_worker("a", "pa").await;
}

/// Opens a worker connection by hand and sends a frame that is not msgpack.
async fn send_garbage(address: std::net::SocketAddr, name: &str, password: &str) {
    use base64::Engine;
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut request = format!("ws://{address}/").into_client_request().unwrap();
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"));
    request.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("the garbage worker is accepted");
    ws.send(Message::Binary(vec![0xc1, 0xff, 0x00].into()))
        .await
        .unwrap();
    // The master closes this connection: the stream ends (or errors) soon.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    assert!(
        closed.is_ok(),
        "the master kept a connection that sent garbage"
    );
}

async fn a_garbage_frame_closes_only_that_connection(db: Db) {
    let g = WorkerSpec {
        name: "g",
        password: "pg",
        priority: 0.0,
    };
    let mut t = MasterTester::start(db, &[A, g], &["x"], |_, worker| {
        assert_eq!(worker, "a", "builds go to the stock worker only");
        vec![Step::script("slow", "echo begin; sleep 2; echo end")]
    })
    .await;
    t.connect_worker("a", "pa").await;
    let id = t.master.force("x", "test").await.unwrap();
    // While a build runs on `a`, worker `g` connects and sends garbage.
    send_garbage(t.master.worker_address(), "g", "pg").await;
    let request = t
        .master
        .wait_for_request(id, Duration::from_secs(30))
        .await
        .unwrap()
        .expect("the build on the other worker finished");
    assert_eq!(request.result, Some(Results::Success));
    assert_eq!(t.store().connected_workers().await.unwrap(), ["a"]);
}

async fn a_worker_killed_mid_build_gives_retry_and_another_worker_completes(db: Db) {
    let mut t = MasterTester::start(db, &[A, B], &["x"], |_, worker| match worker {
        "a" => vec![Step::script("work", "echo started on a; sleep 3")],
        _ => vec![Step::script("work", "echo done on b")],
    })
    .await;
    let a = t.connect_worker("a", "pa").await;
    t.connect_worker("b", "pb").await;
    let id = t.master.force("x", "test").await.unwrap();
    // `a` has the higher priority, so it gets the build; kill it once the step runs.
    let first = loop {
        let builds = t.store().builds_of_request(id).await.unwrap();
        if let Some(b) = builds.first() {
            assert_eq!(b.worker, "a");
            if !t.store().steps(b.id).await.unwrap().is_empty()
                && t.log(b.id, "work").await.contains("started on a")
            {
                break b.id;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    t.workers[a].kill();
    let request = t
        .master
        .wait_for_request(id, Duration::from_secs(30))
        .await
        .unwrap()
        .expect("the request completed on the other worker");
    assert_eq!(request.result, Some(Results::Success));
    let builds = t.store().builds_of_request(id).await.unwrap();
    let runs: Vec<_> = builds
        .iter()
        .map(|b| (b.worker.as_str(), b.result))
        .collect();
    assert_eq!(
        runs,
        [("a", Some(Results::Retry)), ("b", Some(Results::Success))]
    );
    assert_eq!(builds[0].id, first);
    assert_eq!(t.steps(first).await[0].1, Some(Results::Retry));
    assert!(t.log(builds[1].id, "work").await.contains("done on b"));
}

async fn a_worker_that_stops_answering_keepalives_is_dropped(db: Db) {
    use common::fake_worker::FakeWorker;
    let t = MasterTester::start_with_keepalive(
        db,
        "[f]\npassword = pf\n",
        &["x"],
        |_, _| vec![Step::script("s", "true")],
        Duration::from_millis(200),
        Duration::from_millis(500),
    )
    .await;
    let fake = FakeWorker::connect(t.master.worker_address(), "f", "pf").await;
    t.wait_connected("f").await;
    // Answering keepalives, it stays.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(fake.connection.close_reason().is_none());
    assert_eq!(t.store().connected_workers().await.unwrap(), ["f"]);
    fake.go_silent();
    tokio::time::timeout(Duration::from_secs(5), fake.connection.closed())
        .await
        .expect("the master dropped the silent worker");
    wait_disconnected(&t, "f").await;
}

async fn wait_disconnected(t: &MasterTester, name: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while t
        .store()
        .connected_workers()
        .await
        .unwrap()
        .iter()
        .any(|w| w == name)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} still shown connected"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn a_duplicate_login_is_refused_while_the_first_answers_and_replaces_it_otherwise(db: Db) {
    use common::fake_worker::FakeWorker;
    let t = MasterTester::start_with_keepalive(
        db,
        "[f]\npassword = pf\n",
        &["x"],
        |_, _| vec![Step::script("s", "true")],
        Duration::from_secs(60),
        Duration::from_millis(500),
    )
    .await;
    let first = FakeWorker::connect(t.master.worker_address(), "f", "pf").await;
    t.wait_connected("f").await;
    let second = FakeWorker::connect(t.master.worker_address(), "f", "pf").await;
    tokio::time::timeout(Duration::from_secs(5), second.connection.closed())
        .await
        .expect("the second login was refused");
    assert!(
        first.connection.close_reason().is_none(),
        "the live first connection stays"
    );

    first.go_silent();
    let third = FakeWorker::connect(t.master.worker_address(), "f", "pf").await;
    tokio::time::timeout(Duration::from_secs(5), first.connection.closed())
        .await
        .expect("the silent first connection was dropped");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        third.connection.close_reason().is_none(),
        "the third login was accepted"
    );
    t.wait_connected("f").await;
}

crate::both_databases!(
    a_wrong_password_is_refused,
    a_garbage_frame_closes_only_that_connection,
    a_worker_killed_mid_build_gives_retry_and_another_worker_completes,
    a_worker_that_stops_answering_keepalives_is_dropped,
    a_duplicate_login_is_refused_while_the_first_answers_and_replaces_it_otherwise,
);
