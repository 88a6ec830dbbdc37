//! The `oebb` binary as the tests run it.
#![allow(dead_code)] // each test file uses what it needs

use std::process::{Command, Output};

/// Runs `oebb ARGS…` to its end.
pub fn oebb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oebb"))
        .args(args)
        .output()
        .unwrap()
}

/// What a run printed, standard output then standard error.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits until the master of `dir` wrote its API token (it is up), at most a minute.
pub fn wait_for_master(dir: &std::path::Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !dir.join(".oebb-api-token").is_file() {
        assert!(
            std::time::Instant::now() < deadline,
            "the master did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The last lines of the logs that explain a build that did not end as expected, each step's
/// log given by `log` (`oebb log DIR BUILD STEP`).
pub fn step_tails(mut log: impl FnMut(&str) -> String) -> String {
    let mut out = String::new();
    for step in ["bootstrap", "buildout", "test", "analyze"] {
        let text = log(step);
        let tail: Vec<&str> = text.lines().rev().take(60).collect();
        out.push_str(&format!("--- {step} (last lines) ---\n"));
        for line in tail.iter().rev() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Writes the stand-in Odoo's master directory in `dir` with `bench/build/stand-in-master.sh`
/// (real zc.buildout, the test cluster); returns the builder it names.
pub fn stand_in_master(dir: &std::path::Path) -> String {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bench/build/stand-in-master.sh");
    let made = Command::new(&script)
        .arg(dir)
        .env("OEBB_TEST_PG_URL", oebb_testkit::postgres_url())
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made));
    String::from_utf8_lossy(&made.stdout).trim().to_string()
}
