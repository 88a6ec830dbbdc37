//! `oebb master DIR --local-worker --local-worker-user USER`: a master started as root runs its
//! local worker's commands as USER (OpenERP and Odoo refuse root), and gives USER what the
//! worker creates for them.

mod cli;

use cli::oebb;
use oebb_testkit::Killed;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The unprivileged user of the test machine (scripts/install-postgresql creates it as root).
const USER: &str = "oebbtest";

fn id(args: &[&str]) -> String {
    let out = Command::new("id").args(args).output().unwrap();
    assert!(out.status.success(), "id {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A master directory whose one builder `x` prints who runs it and writes a file.
fn master_dir(d: &Path) {
    oebb_testkit::one_script_master_dir(
        d,
        "echo \"run by $(id -un) home=$HOME\"\necho made > made-by-the-step\n",
    );
}

#[test]
fn the_local_worker_runs_its_commands_as_the_user_given() {
    let dir = tempfile::tempdir().unwrap();
    master_dir(dir.path());
    builds_as_the_user(dir.path(), &["--local-worker-user", USER]);
}

/// `local-worker-user` of oebb.cfg (what create-master run as root writes) does the same as
/// the option.
#[test]
fn the_local_worker_user_of_oebb_cfg_is_used_without_the_option() {
    let dir = tempfile::tempdir().unwrap();
    master_dir(dir.path());
    let cfg = dir.path().join("oebb.cfg");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace(
            "[master]\n",
            &format!("[master]\nlocal-worker-user = {USER}\n"),
        ),
    )
    .unwrap();
    builds_as_the_user(dir.path(), &[]);
}

/// Runs `oebb master d --local-worker ARGS`, forces `x`, and checks its step ran as [`USER`].
fn builds_as_the_user(d: &Path, args: &[&str]) {
    // The user must be able to reach the worker's directory under DIR.
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir_arg = d.to_str().unwrap();
    let mut all = vec!["master", dir_arg, "--local-worker"];
    all.extend(args);
    if id(&["-u"]) != "0" {
        // Only root may run commands as another user: refused at once, saying so.
        let out = oebb(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("needs root"), "{err}");
        return;
    }
    let uid: u32 = id(&["-u", USER]).parse().unwrap();
    let log = d.join("master.log");
    let _master = Killed::spawn(
        Command::new(env!("CARGO_BIN_EXE_oebb")).args(&all),
        "oebb master --local-worker",
        log.clone(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        let out = oebb(&["force", dir_arg, "x", "--wait", "--timeout", "30"]);
        if out.status.code() == Some(0) || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let master_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(out.status.code(), Some(0), "{out:?}\n{master_log}");
    let printed = String::from_utf8_lossy(&oebb(&["log", dir_arg, "1", "0"]).stdout).into_owned();
    assert!(printed.contains(&format!("run by {USER} ")), "{printed}");
    assert!(!printed.contains("home=/root"), "{printed}");
    // The worker's directory, the builder's workdir and what the step wrote are the user's.
    let workdir = d.join("workers/local/x/build");
    for path in [
        d.join("workers/local"),
        d.join("workers/local/x"),
        workdir.clone(),
        workdir.join("made-by-the-step"),
    ] {
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert_eq!(meta.uid(), uid, "{path:?}");
    }
}

#[test]
fn an_unknown_user_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    master_dir(dir.path());
    let out = oebb(&[
        "master",
        dir.path().to_str().unwrap(),
        "--local-worker",
        "--local-worker-user",
        "oebb-no-such-user",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no user \"oebb-no-such-user\""),
        "{err}"
    );
}
