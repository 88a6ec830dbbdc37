//! The master under connection abuse, through its real ports: idle and half-finished web
//! connections, a full web budget, slow worker handshakes, simultaneous logins of one worker,
//! untrusted names in the log, a worker flooding updates; and the security headers of the web.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::browser::Browser;
use common::databases::Db;
use common::fake_worker::FakeWorker;
use common::tester::{MasterTester, BUILD_TIMEOUT};
use oebb_master::{Results, Step};
use oebb_protocol::{
    connect_to_master, CommandId, Credentials, HandshakeError, Request, Response, Update,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for something the master must do on its own (close, answer).
const PATIENCE: Duration = Duration::from_secs(30);

fn one_step(_: &str, _: &str) -> Vec<Step> {
    vec![Step::script("s", "echo built")]
}

/// Raises this process's file-descriptor limit to the hard one, as `oebb master` does.
fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).expect("raising RLIMIT_NOFILE")
}

/// Reads until the peer closes (true) or `PATIENCE` runs out (false); what was read is kept.
async fn closed_by_peer(stream: &mut TcpStream, seen: &mut Vec<u8>) -> bool {
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(n)) => seen.extend_from_slice(&buffer[..n]),
        }
    }
}

/// TCP connections held open and silent by a `python3` child process, which has its own
/// file-descriptor budget, until dropped. Each comes from one of many loopback addresses
/// (2,000 each, the port chosen at connect time): from one address, Linux's search for a free
/// ephemeral port slows to a crawl past 14,000 connections to one destination.
struct IdleClients {
    child: Child,
    opened: usize,
}

impl IdleClients {
    const SCRIPT: &'static str = r#"
import resource, socket, sys
host, port, count, net = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
IP_BIND_ADDRESS_NO_PORT = 24
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held, error = [], ""
try:
    for i in range(count):
        s = socket.socket()
        s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind(("127.%d.%d.%d" % (net, i // 2000 // 250, 1 + i // 2000 % 250), 0))
        s.settimeout(60)
        s.connect((host, port))
        held.append(s)
except OSError as e:
    error = repr(e)
print("opened", len(held), error, flush=True)
sys.stdin.read()
"#;

    /// Opens `count` connections to `address` from addresses in 127.`net`.0.0/16; returns once
    /// they are all open (or one failed).
    fn open(address: SocketAddr, count: usize, net: u8) -> IdleClients {
        let mut child = Command::new("python3")
            .args(["-c", Self::SCRIPT])
            .arg(address.ip().to_string())
            .arg(address.port().to_string())
            .arg(count.to_string())
            .arg(net.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the idle clients; install python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let opened = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("the idle clients said {line:?}"));
        assert_eq!(opened, count, "not every idle client connected: {line}");
        IdleClients { child, opened }
    }
}

impl Drop for IdleClients {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status of `GET path`, or what went wrong.
async fn status_of(address: SocketAddr, path: &str) -> Result<u16, String> {
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    let ask = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream
        .write_all(ask.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {answer:?}"))
}

/// GETs `path` until the master answers 200; panics after twice `PATIENCE` (the first answers
/// may be 503 while idle connections hold every web slot until their header timeout).
async fn get_until_ok(address: SocketAddr, path: &str) -> u16 {
    let deadline = tokio::time::Instant::now() + 2 * PATIENCE;
    let mut seen = Vec::new();
    loop {
        let attempt = tokio::time::timeout(Duration::from_secs(5), status_of(address, path));
        match attempt.await {
            Ok(Ok(200)) => return 200,
            Ok(Ok(status)) => seen.push(status.to_string()),
            Ok(Err(e)) => seen.push(e),
            Err(_) => seen.push("no answer within 5 s".to_string()),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the web never answered {path} with 200; {} attempts, the last ones: {:?}",
            seen.len(),
            &seen[seen.len().saturating_sub(5)..]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_idle_connections_leave_the_web_answering_and_workers_building() {
    let limit = raise_fd_limit();
    let mut t = MasterTester::start_with_options(
        Db::Sqlite,
        "[w]\npassword = pw\n",
        &["x"],
        one_step,
        |o| o.connections.header_timeout = Duration::from_secs(3),
    )
    .await;
    let web = t.master.web_address();
    // Each child process holds half: a process's own limit here may be 20,000 in all.
    let half = 10_000;
    let first = IdleClients::open(web, half, 101);
    let second = IdleClients::open(web, half, 102);
    assert_eq!(first.opened + second.opened, 20_000, "limit {limit}");
    assert_eq!(get_until_ok(web, "/").await, 200);
    // The worker port has its own budget: a real worker connects and builds meanwhile.
    t.connect_worker("w", "pw").await;
    let (request, _) = t.force_and_wait("x").await;
    assert_eq!(request.result, Some(Results::Success));
    assert_eq!(get_until_ok(web, "/api/builders").await, 200);
    drop((first, second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_line_is_closed_after_the_header_timeout() {
    let t = MasterTester::start_with_options(
        Db::Sqlite,
        "[w]\npassword = pw\n",
        &["x"],
        one_step,
        |o| o.connections.header_timeout = Duration::from_secs(1),
    )
    .await;
    let mut stream = TcpStream::connect(t.master.web_address()).await.unwrap();
    stream.write_all(b"GET / HT").await.unwrap();
    let mut seen = Vec::new();
    assert!(
        closed_by_peer(&mut stream, &mut seen).await,
        "the master kept a connection that never finished its request line"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let t = MasterTester::start_with_options(
        Db::Sqlite,
        "[w]\npassword = pw\n",
        &["x"],
        one_step,
        |o| o.connections.header_timeout = Duration::from_secs(1),
    )
    .await;
    let mut stream = TcpStream::connect(t.master.web_address()).await.unwrap();
    stream
        .write_all(b"GET /static/style.css HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    assert!(
        closed_by_peer(&mut stream, &mut seen).await,
        "the master kept an idle kept-alive connection"
    );
    let answer = String::from_utf8_lossy(&seen);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_log_stream_outlives_the_idle_timeout() {
    let gate = tempfile::tempdir().unwrap();
    let go = gate.path().join("go");
    let script = format!(
        "echo first; while [ ! -e '{}' ]; do sleep 0.05; done; echo second",
        go.display()
    );
    let mut t = MasterTester::start_with_options(
        Db::Sqlite,
        "[w]\npassword = pw\n",
        &["slow"],
        move |_, _| vec![Step::script("slow", &script)],
        |o| o.connections.header_timeout = Duration::from_secs(1),
    )
    .await;
    t.connect_oebb_worker("w", "pw").await;
    let request = t.master.force("slow", "test").await.unwrap();
    let build = loop {
        if let Some(b) = t.store().builds_of_request(request).await.unwrap().first() {
            if !t.store().steps(b.id).await.unwrap().is_empty() {
                break b.id;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let mut stream = TcpStream::connect(t.master.web_address()).await.unwrap();
    let ask = format!("GET /builds/{build}/steps/0/stream HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.write_all(ask.as_bytes()).await.unwrap();
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "first").await;
    // Three idle timeouts pass while the stream waits for the step's next line.
    tokio::time::sleep(Duration::from_secs(3)).await;
    std::fs::write(&go, "").unwrap();
    read_until(&mut stream, &mut seen, "second").await;
    read_until(&mut stream, &mut seen, "event: end").await;
}

async fn read_until(stream: &mut TcpStream, seen: &mut String, needle: &str) {
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + BUILD_TIMEOUT;
    while !seen.contains(needle) {
        let read = tokio::time::timeout_at(deadline, stream.read(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} in:\n{seen}"))
            .unwrap();
        assert!(read > 0, "the stream ended before {needle:?}:\n{seen}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..read]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_web_budget_answers_503_at_once_and_leaves_room_for_workers() {
    let mut t = MasterTester::start_with_options(
        Db::Sqlite,
        "[w]\npassword = pw\n",
        &["x"],
        one_step,
        |o| {
            o.connections.web = 3;
            o.connections.header_timeout = Duration::from_secs(120);
        },
    )
    .await;
    let web = t.master.web_address();
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(web).await.unwrap());
    }
    // The master accepts in order: once the fourth connection is answered, the three hold
    // every slot.
    let mut seen = Vec::new();
    let mut fourth = TcpStream::connect(web).await.unwrap();
    assert!(closed_by_peer(&mut fourth, &mut seen).await);
    let answer = String::from_utf8_lossy(&seen);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("retry-after: 5"), "{answer}");
    t.connect_worker("w", "pw").await;
    let (request, _) = t.force_and_wait("x").await;
    assert_eq!(request.result, Some(Results::Success));
    // A slot that comes back serves again.
    drop(idle);
    assert_eq!(get_until_ok(web, "/").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_connection_that_never_finishes_its_handshake_is_closed() {
    let t = MasterTester::start_with_options(
        Db::Sqlite,
        "[w]\npassword = pw\n",
        &["x"],
        one_step,
        |o| o.connections.handshake_timeout = Duration::from_secs(1),
    )
    .await;
    let mut stream = TcpStream::connect(t.master.worker_address()).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    assert!(
        closed_by_peer(&mut stream, &mut seen).await,
        "the master kept a worker connection that never finished its upgrade"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_never_answers_its_login_questions_is_closed() {
    let t = MasterTester::start_with_options(
        Db::Sqlite,
        "[f]\npassword = pf\n",
        &["x"],
        one_step,
        |o| o.connections.login_timeout = Duration::from_secs(1),
    )
    .await;
    let credentials = Credentials {
        name: "f".into(),
        password: "pf".into(),
    };
    let (connection, mut incoming) = connect_to_master(t.master.worker_address(), &credentials)
        .await
        .unwrap();
    // Holds the master's questions unanswered (dropping one would answer it).
    let held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some(request) = incoming.recv().await {
            held.push(request);
        }
        held.len()
    });
    tokio::time::timeout(PATIENCE, connection.closed())
        .await
        .expect("the master closed the silent login");
    assert!(held.await.unwrap() >= 1, "the master asked something first");
    assert!(t.store().connected_workers().await.unwrap().is_empty());
}

/// Connects `n` fake workers named `name` at once.
async fn log_in_together(address: SocketAddr, name: &str, n: usize) -> Vec<FakeWorker> {
    let logins = (0..n).map(|_| FakeWorker::connect(address, name, "pf"));
    futures_util::future::join_all(logins).await
}

/// Waits until all but one of `logins` are closed, and checks Buildbot's rule: the one left
/// is attached and open, the others were refused before they were attached.
async fn exactly_one_attached(logins: &[FakeWorker]) -> usize {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let open: Vec<usize> = (0..logins.len())
            .filter(|&i| logins[i].connection.close_reason().is_none())
            .collect();
        if open.len() == 1 && logins[open[0]].was_attached() {
            // Let the scheduler settle anything late before the verdict.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let still: Vec<_> = logins
                .iter()
                .map(|l| l.connection.close_reason().is_none())
                .collect();
            assert_eq!(still.iter().filter(|o| **o).count(), 1, "{still:?}");
            for (i, login) in logins.iter().enumerate() {
                if i != open[0] {
                    assert!(
                        !login.was_attached(),
                        "login {i} was attached, then dropped: {:?}",
                        login.connection.close_reason()
                    );
                }
            }
            return open[0];
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "open logins: {open:?}, attached: {:?}",
            logins
                .iter()
                .map(FakeWorker::was_attached)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn simultaneous_logins_leave_one_worker_and_keep_the_live_one(db: Db) {
    let t = MasterTester::start_with_keepalive(
        db,
        "[f]\npassword = pf\n",
        &["x"],
        one_step,
        Duration::from_secs(60),
        Duration::from_millis(500),
    )
    .await;
    let address = t.master.worker_address();
    let first = log_in_together(address, "f", 2).await;
    let live = exactly_one_attached(&first).await;
    t.wait_connected("f").await;

    // The live one goes silent; two new logins at once: one replaces it, the other is
    // refused, and nobody attached is dropped for a newcomer.
    first[live].go_silent();
    let second = log_in_together(address, "f", 2).await;
    tokio::time::timeout(PATIENCE, first[live].connection.closed())
        .await
        .expect("the silent connection was dropped");
    exactly_one_attached(&second).await;
    assert_eq!(t.store().connected_workers().await.unwrap(), ["f"]);
}

crate::both_databases!(simultaneous_logins_leave_one_worker_and_keep_the_live_one);

/// The master's log as the tests of this file see it: every event, at info and above.
fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || LogWriter(sink.clone()))
            .init();
        log
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_text(log: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&log.lock().unwrap()).into_owned()
}

/// Logs in as `name`, and answers the master's first question with `exception`.
async fn answer_with_an_exception(address: SocketAddr, name: &str, exception: &str) {
    let credentials = Credentials {
        name: name.into(),
        password: "pw".into(),
    };
    let (connection, mut incoming) = connect_to_master(address, &credentials).await.unwrap();
    let question = tokio::time::timeout(PATIENCE, incoming.recv())
        .await
        .expect("the master asks something")
        .expect("the connection is open");
    question.respond(Response::Exception(exception.to_string()));
    tokio::time::timeout(PATIENCE, connection.closed())
        .await
        .expect("the master closes a worker whose information is an exception");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_strings_are_escaped_in_the_log() {
    let log = captured_log();
    let t =
        MasterTester::start_with_slaves(Db::Sqlite, "[w]\npassword = pw\n", &["x"], one_step).await;
    let address = t.master.worker_address();
    // What a worker says: its exception messages (and the name it tries).
    answer_with_an_exception(address, "w", "boom\n\x1b[31mFORGED-EXCEPTION").await;
    let refused = connect_to_master(
        address,
        &Credentials {
            name: "evil\n\x1b[31mFORGED-NAME".into(),
            password: "pw".into(),
        },
    )
    .await;
    assert!(matches!(
        refused,
        Err(HandshakeError::Rejected { status: 401 })
    ));
    // What a web user says: the reason of a force.
    t.master
        .force("x", "why\n\x1b[31mFORGED-REASON")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let text = loop {
        let text = log_text(&log);
        if ["FORGED-EXCEPTION", "FORGED-NAME", "FORGED-REASON"]
            .iter()
            .all(|f| text.contains(f))
        {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not logged:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for line in text.lines().filter(|l| l.contains("FORGED")) {
        assert!(
            ["boom\\n", "evil\\n", "why\\n"]
                .iter()
                .any(|escaped| line.contains(escaped)),
            "a forged line in the master's log: {line:?}"
        );
        assert!(!line.contains('\x1b'), "a raw escape in the log: {line:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_updates_for_no_command_logs_one_warning_then_closes() {
    let log = captured_log();
    let t =
        MasterTester::start_with_slaves(Db::Sqlite, "[flood]\npassword = pf\n", &["x"], one_step)
            .await;
    let fake = FakeWorker::connect(t.master.worker_address(), "flood", "pf").await;
    t.wait_connected("flood").await;
    let update = || Request::Update {
        command_id: CommandId("never-given".into()),
        updates: vec![Update::Rc(0)],
    };
    for _ in 0..300 {
        let answer = fake.connection.request(update(), PATIENCE).await;
        assert!(answer.is_err(), "the master answers an exception");
    }
    let warnings = |text: &str| {
        text.lines()
            .filter(|l| l.contains("WARN") && l.contains("worker=flood"))
            .filter(|l| l.contains("no running command"))
            .count()
    };
    assert_eq!(warnings(&log_text(&log)), 1, "{}", log_text(&log));
    // Past the bound, the connection is closed.
    let mut sent = 300;
    while fake.connection.close_reason().is_none() {
        let _ = fake.connection.request(update(), PATIENCE).await;
        sent += 1;
        assert!(sent <= 1100, "the flooding worker is still connected");
    }
    assert!(sent > 1000, "closed after {sent} updates only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_api_and_static_files_carry_the_security_headers() {
    let t =
        MasterTester::start_with_slaves(Db::Sqlite, "[w]\npassword = pw\n", &["x"], one_step).await;
    let mut browser = Browser::new(t.master.web_address());
    for path in [
        "/",
        "/builders/x",
        "/api/builders",
        "/static/style.css",
        "/static/live.js",
        "/no-such-page",
    ] {
        let answer = browser.get(path).await;
        let header = |name| {
            answer
                .header(name)
                .unwrap_or_else(|| panic!("{path}: no {name}"))
        };
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
        let policy = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
    }
}
