//! The README's whole build on this machine: `bench/build/stand-in-master.sh` writes a master
//! directory building the stand-in Odoo (real zc.buildout from PyPI, the test PostgreSQL
//! cluster), `oebb master DIR --local-worker` runs it, `oebb force --wait` builds it green, and
//! `oebb log` prints the step's output and the Odoo server's log.

mod cli;

use cli::{oebb, stand_in_master, text};
use oebb_testkit::Killed;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn the_stand_in_quickstart_builds_green() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("standin");
    let dir_arg = dir.to_str().unwrap();
    let builder = stand_in_master(&dir);
    assert_eq!(builder, "standin-pg15");

    let log = scratch.path().join("master.log");
    let _master = Killed::spawn(
        Command::new(env!("CARGO_BIN_EXE_oebb")).args(["master", dir_arg, "--local-worker"]),
        "oebb master --local-worker",
        log.clone(),
    );
    // The master takes a moment to listen: retry until it has queued the request.
    let deadline = Instant::now() + Duration::from_secs(30);
    let forced = loop {
        let out = oebb(&["force", dir_arg, &builder, "--wait", "--timeout", "600"]);
        if text(&out).contains("queued") || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        forced.status.success() && text(&forced).contains("on local: success"),
        "{}\n--- master ---\n{}\n--- steps ---\n{}",
        text(&forced),
        std::fs::read_to_string(&log).unwrap_or_default(),
        text(&oebb(&["builds", dir_arg]))
    );

    let stdio = oebb(&["log", dir_arg, "1", "test"]);
    assert!(
        text(&stdio).contains("fake_odoo: table fake_odoo_module in oebb-standin-pg15 port"),
        "{}",
        text(&stdio)
    );
    let server = oebb(&["log", dir_arg, "1", "test", "test"]);
    assert!(server.status.success(), "{}", text(&server));
    assert!(
        text(&server).contains("odoo.tests.result: 0 failed, 0 error(s) of 1 tests"),
        "{}",
        text(&server)
    );
    let missing = oebb(&["log", dir_arg, "1", "test", "server"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("has no log \"server\"; its logs: stdio, test"),
        "{}",
        text(&missing)
    );
}
