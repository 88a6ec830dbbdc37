//! `oebb reconfig DIR` and SIGHUP make a running `oebb master` read its directory again: a
//! broken file is refused with the very lines `oebb check` prints and the master runs on; a
//! good one adds a builder that can be forced at once.

mod cli;

use cli::oebb;
use oebb_testkit::{free_port, Killed};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `oebb.cfg`, `slaves.cfg` (the local worker) and a manifest with one builder per
/// name, each a one-step script; `extra` goes at the end of the manifest.
fn write_master_dir(d: &Path, web_port: u16, builders: &[&str], extra: &str) {
    let worker_port = free_port();
    std::fs::write(
        d.join("oebb.cfg"),
        format!(
            "[master]\nworker-address = 127.0.0.1:{worker_port}\n\
             web-address = 127.0.0.1:{web_port}\n"
        ),
    )
    .unwrap();
    std::fs::write(d.join("slaves.cfg"), "[local]\npassword = secret\n").unwrap();
    write_manifest(d, builders, extra);
}

fn write_manifest(d: &Path, builders: &[&str], extra: &str) {
    std::fs::create_dir_all(d.join("buildouts")).unwrap();
    std::fs::create_dir_all(d.join("steps")).unwrap();
    std::fs::write(d.join("buildouts/x.cfg"), "[buildout]\nparts =\n").unwrap();
    let mut manifest = String::new();
    for name in builders {
        manifest.push_str(&format!("[{name}]\nbuildout = standalone x.cfg\n"));
        std::fs::write(d.join(format!("steps/{name}.sh")), "echo built $0\n").unwrap();
    }
    manifest.push_str(extra);
    std::fs::write(d.join("buildouts/MANIFEST.cfg"), manifest).unwrap();
}

/// A broken line (7 with two builders before it).
const BROKEN: &str = "[broken]\nbuildout = standalone x.cfg\nbuild-requires = python ~~ 3\n";

/// Starts `oebb master DIR --local-worker` and waits until `first` builds.
fn start_master(d: &Path) -> Killed {
    let master = Killed::spawn(
        Command::new(env!("CARGO_BIN_EXE_oebb")).args([
            "master",
            d.to_str().unwrap(),
            "--local-worker",
        ]),
        "oebb master --local-worker",
        d.join("master.log"),
    );
    force_until_built(d, "first");
    master
}

/// `oebb force DIR BUILDER --wait`, retried while the master starts.
fn force_until_built(d: &Path, builder: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = oebb(&["force", d.to_str().unwrap(), builder, "--wait"]);
        if out.status.code() == Some(0) {
            assert!(text(&out.stdout).contains("on local: success"));
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{builder} did not build: {}{}\n--- master ---\n{}",
            text(&out.stdout),
            text(&out.stderr),
            std::fs::read_to_string(d.join("master.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `GET /api/about` of the master listening on `port`.
fn about(port: u16) -> Value {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET /api/about HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (_, body) = raw.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {raw}"))
}

/// What `oebb check DIR` prints for each error (its summary line left out).
fn check_errors(d: &Path) -> Vec<String> {
    let out = oebb(&["check", d.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines.last().unwrap().starts_with("oebb check: "),
        "{stderr}"
    );
    lines[..lines.len() - 1]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

#[test]
fn oebb_reconfig_prints_the_errors_of_oebb_check_or_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let web_port = free_port();
    write_master_dir(d, web_port, &["first"], "");
    let _master = start_master(d);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join(".oebb-web-address"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the web address file is the master's user's only"
    );

    write_manifest(d, &["first", "second"], BROKEN);
    let expected = check_errors(d);
    assert!(expected[0].contains("MANIFEST.cfg:7: "), "{expected:?}");
    let out = oebb(&["reconfig", d.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines[..lines.len() - 1], expected, "{stderr}");
    assert!(
        lines.last().unwrap().contains("refused, 1 error(s)"),
        "{stderr}"
    );
    // The master runs on with its configuration (`oebb force` would read the broken file).
    let running = about(web_port);
    assert_eq!(running["builders"], 1, "{running}");
    assert_eq!(running["last_reconfig"]["outcome"], "refused", "{running}");

    write_manifest(d, &["first", "second"], "");
    let out = oebb(&["reconfig", d.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert_eq!(stdout, "reconfig applied:\n  builders added: second\n");
    force_until_built(d, "second");
    let out = oebb(&["reconfig", d.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), "reconfig applied: nothing changed\n");
    let log = std::fs::read_to_string(d.join("master.log")).unwrap();
    assert!(
        log.contains("reconfig applied: builders added: second"),
        "{log}"
    );
    assert!(log.contains("reconfig refused"), "{log}");

    // A new web address needs a restart: reported, and the master answers where it did.
    let cfg = std::fs::read_to_string(d.join("oebb.cfg")).unwrap();
    let moved = cfg.replace(&format!(":{web_port}"), &format!(":{}", free_port()));
    std::fs::write(d.join("oebb.cfg"), moved).unwrap();
    let out = oebb(&["reconfig", d.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "reconfig applied:\n  needs restart (kept until then): web-address\n"
    );
    assert_eq!(about(web_port)["builders"], 2);
}

#[test]
fn sighup_does_what_oebb_reconfig_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let web_port = free_port();
    write_master_dir(d, web_port, &["first"], "");
    let master = start_master(d);
    let hangup = || {
        let pid = master.id().to_string();
        let sent = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(sent.success());
    };
    // Waits for the reconfig after `at` (ms) and returns it.
    let next_reconfig = |after: i64| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let about = about(web_port);
            let last = &about["last_reconfig"];
            if last["at"].as_i64().is_some_and(|at| at > after) {
                return about;
            }
            assert!(
                Instant::now() < deadline,
                "no reconfig after SIGHUP: {about}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    write_manifest(d, &["first", "second"], BROKEN);
    let expected = check_errors(d);
    hangup();
    let refused = next_reconfig(0);
    assert_eq!(refused["last_reconfig"]["outcome"], "refused", "{refused}");
    // The page shows where, the log what.
    assert_eq!(
        refused["last_reconfig"]["lines"],
        serde_json::json!(["buildouts/MANIFEST.cfg:7"])
    );
    assert_eq!(refused["builders"], 1);
    let log = std::fs::read_to_string(d.join("master.log")).unwrap();
    assert!(log.contains(&expected[0]), "{log}");

    write_manifest(d, &["first", "second"], "");
    hangup();
    let applied = next_reconfig(refused["last_reconfig"]["at"].as_i64().unwrap());
    assert_eq!(applied["last_reconfig"]["outcome"], "applied", "{applied}");
    assert_eq!(
        applied["last_reconfig"]["lines"],
        serde_json::json!(["builders added: second"])
    );
    assert_eq!(applied["builders"], 2);
    force_until_built(d, "second");
    force_until_built(d, "first");
}
