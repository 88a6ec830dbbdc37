//! `oebb master DIR --local-worker`: one command gives a master and a worker that builds.

use oebb_testkit::{free_port, Killed};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn oebb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oebb"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_master_with_its_local_worker_builds_a_forced_builder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (worker_port, web_port) = (free_port(), free_port());
    std::fs::write(
        d.join("oebb.cfg"),
        format!(
            "[master]\nworker-address = 127.0.0.1:{worker_port}\n\
             web-address = 127.0.0.1:{web_port}\n"
        ),
    )
    .unwrap();
    std::fs::write(d.join("slaves.cfg"), "[local]\npassword = secret\n").unwrap();
    std::fs::create_dir_all(d.join("buildouts")).unwrap();
    std::fs::write(
        d.join("buildouts/MANIFEST.cfg"),
        "[x]\nbuildout = standalone x.cfg\n",
    )
    .unwrap();
    std::fs::write(d.join("buildouts/x.cfg"), "[buildout]\nparts =\n").unwrap();
    std::fs::create_dir_all(d.join("steps")).unwrap();
    std::fs::write(d.join("steps/x.sh"), "echo built in $(pwd)\n").unwrap();
    let dir_arg = d.to_str().unwrap();
    let log = d.join("master.log");
    let _master = Killed::spawn(
        Command::new(env!("CARGO_BIN_EXE_oebb")).args(["master", dir_arg, "--local-worker"]),
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
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}\n--- master ---\n{master_log}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("on local: success"), "{text}");
    let log = oebb(&["log", dir_arg, "1", "0"]);
    let printed = String::from_utf8_lossy(&log.stdout);
    let workdir = d.join("workers/local/x/build").canonicalize().unwrap();
    assert!(
        printed.contains(&format!("built in {}", workdir.display())),
        "{printed}"
    );
}
