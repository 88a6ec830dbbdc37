//! `oebb master DIR --local-worker`: one command gives a master and a worker that builds.

mod cli;

use cli::oebb;
use oebb_testkit::Killed;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A master directory with one worker, `local`, and one builder, `x`, whose step prints its
/// working directory.
fn master_dir(d: &Path) {
    oebb_testkit::one_script_master_dir(
        d,
        "echo built in $(pwd)\necho open files: $(ulimit -Sn)\n",
    );
}

/// Forces `x` until the master answers, waits for the build and checks it succeeded and that
/// build `build`'s step printed the worker's directory; returns what the step printed.
fn force_and_check(d: &Path, build: u32, master_log: &Path) -> String {
    let dir_arg = d.to_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        let out = oebb(&["force", dir_arg, "x", "--wait", "--timeout", "30"]);
        if out.status.code() == Some(0) || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}\n--- master ---\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(master_log).unwrap_or_default()
    );
    assert!(text.contains("on local: success"), "{text}");
    let log = oebb(&["log", dir_arg, &build.to_string(), "0"]);
    let printed = String::from_utf8_lossy(&log.stdout);
    let workdir = d.join("workers/local/x/build").canonicalize().unwrap();
    assert!(
        printed.contains(&format!("built in {}", workdir.display())),
        "{printed}"
    );
    printed.into_owned()
}

/// Starts `oebb master D --local-worker` (its log in `D/master.log`) and checks that it
/// builds `x` once; the master stops when the returned guard is dropped.
fn master_built_once(d: &Path) -> Killed {
    let log = d.join("master.log");
    let master = Killed::spawn(
        Command::new(env!("CARGO_BIN_EXE_oebb")).args([
            "master",
            d.to_str().unwrap(),
            "--local-worker",
        ]),
        "oebb master --local-worker",
        log.clone(),
    );
    force_and_check(d, 1, &log);
    master
}

#[test]
fn a_master_with_its_local_worker_builds_a_forced_builder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    master_dir(d);
    let _master = master_built_once(d);
}

/// The master raises its own file-descriptor limit for its connections, but the commands it
/// runs start with the limit it was given: old programs close every descriptor up to the
/// limit before each subprocess.
#[test]
fn commands_start_with_the_file_descriptor_limit_the_master_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    master_dir(d);
    let log = d.join("master.log");
    let oebb = env!("CARGO_BIN_EXE_oebb");
    let _master = Killed::spawn(
        Command::new("sh").args([
            "-c",
            "ulimit -Sn 256 && exec \"$0\" master \"$1\" --local-worker",
            oebb,
            d.to_str().unwrap(),
        ]),
        "oebb master --local-worker, soft limit 256",
        log.clone(),
    );
    let printed = force_and_check(d, 1, &log);
    assert!(printed.contains("open files: 256\n"), "{printed}");
}

/// The store holds every build's logs and the web sessions: the master creates it, and SQLite
/// its write-ahead log and shared memory, readable by their owner only.
#[cfg(unix)]
#[test]
fn the_master_creates_its_store_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    master_dir(d);
    let _master = master_built_once(d);
    for file in ["state.sqlite", "state.sqlite-wal", "state.sqlite-shm"] {
        let meta = std::fs::metadata(d.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{file}");
    }
}

/// `oebb force --wait` in a terminal (a real pseudo-terminal, through util-linux `script`)
/// keeps the running step's elapsed time on a status line; piped, it prints plain lines only;
/// `--follow` streams the running step's log as it is written.
#[test]
fn force_wait_shows_a_status_line_in_a_terminal_and_follow_streams_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    oebb_testkit::one_script_master_dir(
        d,
        "echo built in $(pwd)\necho first half of the log\nsleep 3\necho second half of the log\n",
    );
    let _master = master_built_once(d);
    let in_terminal = |extra: &str| {
        let command = format!(
            "'{}' force '{}' x --wait --timeout 60 {extra}",
            env!("CARGO_BIN_EXE_oebb"),
            d.display()
        );
        let out = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .output()
            .expect("util-linux `script` runs (apt-get install bsdutils)");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let shown = in_terminal("");
    let status = shown.find("\r\x1b[K  ").map(|at| &shown[at..]);
    assert!(
        status.is_some_and(|s| s.lines().next().unwrap().contains(": running for ")),
        "{shown:?}"
    );
    assert!(shown.contains("on local: success"), "{shown:?}");
    assert!(!shown.contains("second half of the log"), "{shown:?}");

    let piped = oebb(&["force", d.to_str().unwrap(), "x", "--wait"]);
    let piped = String::from_utf8_lossy(&piped.stdout);
    assert!(
        !piped.contains('\r') && !piped.contains('\x1b'),
        "{piped:?}"
    );
    assert!(piped.contains("on local: success"), "{piped}");

    let followed = in_terminal("--follow");
    let first = followed.find("first half of the log");
    let second = followed.find("second half of the log");
    let end = followed.find("on local: success");
    assert!(
        matches!((first, second, end), (Some(a), Some(b), Some(c)) if a < b && b < c),
        "{followed:?}"
    );
    assert!(!followed.contains("running for"), "{followed:?}");
}
