//! What a flood of wrong logins costs the `oebb master` process: 200 clients at once, by form
//! and by API Basic, random names and the real one, for a few seconds. Each password check
//! takes argon2's memory (19 MiB), so the master must run only a few at once and refuse the
//! rest quickly; its peak resident memory (`VmHWM`) stays under 100 MiB.

mod web_common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use oebb_testkit::Killed;
use web_common::http::{self, Session};
use web_common::{master_dir, Buildout, USER};

/// Clients sending at once.
const CLIENTS: usize = 200;
/// How long they keep sending.
const FLOOD: Duration = Duration::from_secs(4);
/// The master's peak resident memory must stay below this, in KiB.
const LIMIT_KIB: u64 = 100 * 1024;

/// A `/proc/PID/status` figure in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("the master (pid {pid}) is gone: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// One wrong login of client `client`'s kind: form or API Basic, a new name each time or the
/// real user's. Its status, or 0 when the connection failed.
fn attempt(web: std::net::SocketAddr, client: usize, n: usize, cookie: &str, csrf: &str) -> u16 {
    let name = if client.is_multiple_of(2) {
        format!("intruder-{client}-{n}")
    } else {
        USER.to_string()
    };
    let sent = if client % 4 < 2 {
        let body = http::form(&[
            ("user", name.as_str()),
            ("password", "guess"),
            ("csrf", csrf),
        ]);
        let headers = [
            ("Cookie", cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        http::try_request(web, "POST", "/login", &headers, body.as_bytes())
    } else {
        let basic = format!("Basic {}", STANDARD.encode(format!("{name}:guess")));
        let headers = [
            ("Authorization", basic.as_str()),
            ("Content-Type", "application/json"),
        ];
        http::try_request(web, "POST", "/api/builders/x/force", &headers, b"{}")
    };
    sent.map_or(0, |r| r.status)
}

#[test]
fn a_flood_of_wrong_logins_keeps_the_master_small() {
    let (dir, web, _) = master_dir(&[Buildout::plain("x", "echo built\n")], "");
    let log = dir.path().join("master.log");
    let child = Command::new(env!("CARGO_BIN_EXE_oebb"))
        .arg("master")
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _master = Killed::new(child, "oebb master", Some(log));
    let mut visitor = Session::new(web);
    let deadline = Instant::now() + Duration::from_secs(60);
    while http::try_request(web, "GET", "/login", &[], b"").map_or(true, |r| r.status != 200) {
        assert!(
            Instant::now() < deadline,
            "the master did not answer on {web}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let csrf = visitor.csrf("/login");
    let cookie = visitor.cookie_header();
    let before = status_kib(pid, "VmRSS");

    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(BTreeMap::<u16, usize>::new()));
    let end = Instant::now() + FLOOD;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (stop, answers) = (stop.clone(), answers.clone());
            let (cookie, csrf) = (cookie.clone(), csrf.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while Instant::now() < end && !stop.load(Ordering::Relaxed) {
                    let status = attempt(web, client, n, &cookie, &csrf);
                    *answers.lock().unwrap().entry(status).or_default() += 1;
                    n += 1;
                    if status != 401 {
                        // As a client told to come back later would (Retry-After); it also
                        // keeps the loopback's ports from running out.
                        std::thread::sleep(Duration::from_millis(250));
                    }
                }
            })
        })
        .collect();
    // A master that grows past the limit has failed: the flood stops there rather than
    // taking the machine's memory.
    while clients.iter().any(|c| !c.is_finished()) {
        if status_kib(pid, "VmRSS") > LIMIT_KIB {
            stop.store(true, Ordering::Relaxed);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for client in clients {
        client.join().unwrap();
    }
    let peak = status_kib(pid, "VmHWM");
    let answers = answers.lock().unwrap().clone();
    eprintln!("VmRSS before {before} KiB, VmHWM after {peak} KiB; answers by status {answers:?}");
    assert!(
        peak < LIMIT_KIB,
        "the master's peak resident memory was {peak} KiB (VmRSS {before} KiB before the \
         flood); answers by status: {answers:?}"
    );
    let unexpected: Vec<_> = answers
        .keys()
        .filter(|s| ![401, 429, 503].contains(*s))
        .collect();
    assert!(
        unexpected.is_empty(),
        "only 401, 429 and 503 are expected: {answers:?}"
    );
    assert!(
        answers.contains_key(&401),
        "some passwords were checked: {answers:?}"
    );
    assert!(
        answers.contains_key(&429),
        "{USER}'s guesses were throttled: {answers:?}"
    );
}
