//! `oebb master` killed with SIGKILL, or stopped with SIGTERM, in the middle of a build and
//! started again: the build is marked interrupted and its request runs again to completion. Also drives `oebb force`,
//! `oebb builds` and `oebb log` as a user would.

mod cli;

use cli::oebb;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use oebb_testkit::{free_port, Killed, StockWorker};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn start_master(dir: &Path, run: u32) -> Killed {
    Killed::spawn(
        Command::new(env!("CARGO_BIN_EXE_oebb"))
            .arg("master")
            .arg(dir)
            .env("RUST_LOG", "info"),
        "oebb master",
        dir.join(format!("master-{run}.log")),
    )
}

/// Polls `oebb builds` until `done` accepts its output.
fn wait_builds(dir: &Path, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = oebb(&["builds", dir.to_str().unwrap()]);
        let text = stdout(&out);
        if out.status.success() && done(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: last `oebb builds`:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How the first master ends.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    /// SIGKILL: a crash; the next start recovers.
    Kill,
    /// SIGTERM: the master records the interruption itself before it exits.
    Term,
}

#[test]
fn a_master_killed_mid_build_requeues_and_completes_after_restart_on_sqlite() {
    stopped_master_recovers(None, Stop::Kill);
}

#[test]
fn a_master_killed_mid_build_requeues_and_completes_after_restart_on_postgresql() {
    stopped_master_recovers(
        Some(oebb_testkit::fresh_database("oebb_restart")),
        Stop::Kill,
    );
}

#[test]
fn a_master_stopped_by_sigterm_mid_build_records_retry_and_completes_after_restart() {
    stopped_master_recovers(None, Stop::Term);
}

fn stopped_master_recovers(database: Option<String>, stop: Stop) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (worker_port, web_port) = (free_port(), free_port());
    let database = database.map_or(String::new(), |url| format!("database = {url}\n"));
    std::fs::write(
        d.join("oebb.cfg"),
        format!(
            "[master]\nworker-address = 127.0.0.1:{worker_port}\n\
             web-address = 127.0.0.1:{web_port}\n{database}"
        ),
    )
    .unwrap();
    std::fs::write(d.join("slaves.cfg"), "[w1]\npassword = pw1\n").unwrap();
    std::fs::create_dir_all(d.join("buildouts")).unwrap();
    std::fs::write(
        d.join("buildouts/MANIFEST.cfg"),
        "[x]\nbuildout = standalone x.cfg\n",
    )
    .unwrap();
    std::fs::write(d.join("buildouts/x.cfg"), "[buildout]\nparts =\n").unwrap();
    // The first run of the script blocks until the master is killed; later runs finish.
    let mark = d.join("first-run-started");
    std::fs::create_dir_all(d.join("steps")).unwrap();
    std::fs::write(
        d.join("steps/x.sh"),
        format!(
            "echo begin\nif [ ! -f '{m}' ]; then touch '{m}'; sleep 15; fi\necho end of build\n",
            m = mark.display()
        ),
    )
    .unwrap();
    let dir_arg = d.to_str().unwrap();

    let master = start_master(d, 1);
    let _worker = StockWorker::start(
        &d.join("worker"),
        ([127, 0, 0, 1], worker_port).into(),
        "w1",
        "pw1",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let forced = loop {
        let out = oebb(&["force", dir_arg, "x", "--reason", "test"]);
        if out.status.success() {
            break stdout(&out);
        }
        assert!(
            Instant::now() < deadline,
            "oebb force failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(forced.contains("build request 1 queued for x"), "{forced}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !mark.exists() {
        assert!(
            Instant::now() < deadline,
            "the build did not start on the worker"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let running = wait_builds(d, "build 1 running", |t| t.contains("running"));
    assert!(running.contains("w1"), "{running}");

    match stop {
        Stop::Kill => drop(master),
        Stop::Term => {
            let mut master = master;
            let status = master.terminate(Duration::from_secs(10));
            assert!(
                status.success(),
                "oebb master exited with {status} on SIGTERM"
            );
            // Recorded by the stopping master, before any restart.
            let after = stdout(&oebb(&["builds", dir_arg]));
            assert!(
                after.contains("retry") && after.contains("interrupted"),
                "{after}"
            );
            assert!(!after.contains("running"), "{after}");
        }
    }
    let _master = start_master(d, 2);
    let done = wait_builds(d, "the request completed after the restart", |t| {
        t.contains("success")
    });
    let lines: Vec<&str> = done.lines().collect();
    assert_eq!(lines.len(), 3, "{done}");
    assert!(lines[1].contains("success"), "{done}");
    assert!(
        lines[2].contains("retry") && lines[2].contains("interrupted"),
        "{done}"
    );
    let log = oebb(&["log", dir_arg, "2", "script"]);
    assert!(
        log.status.success(),
        "{}",
        String::from_utf8_lossy(&log.stderr)
    );
    assert!(stdout(&log).contains("end of build"), "{}", stdout(&log));

    // `oebb force --wait` follows a build to its end and says how it went.
    let out = oebb(&["force", dir_arg, "x", "--wait", "--timeout", "60"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("on w1: success"), "{}", stdout(&out));
    // An unknown builder and an unknown step are refused with a message.
    let out = oebb(&["force", dir_arg, "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no builder named"));
    let out = oebb(&["log", dir_arg, "2", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no step"));
}
