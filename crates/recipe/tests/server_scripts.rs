//! The port reservation and the functional server start/stop scripts, run for real with `sh`
//! and `python3`: ports are claimed per builder and released, a busy port is skipped, and the
//! stop step ends the server started in the background.

use oebb_config::build_matrix;
use oebb_config::buildout::parse_manifest;
use oebb_config::ini::Ini;
use oebb_config::worker::parse_workers;
use oebb_recipe::step::{Step, StepCommand};
use oebb_recipe::{build_steps, BuildInput};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The steps of builder `name` with `options`, on a worker whose Python is `python3`.
fn steps(name: &str, options: &str) -> Vec<Step> {
    let manifest = format!("[{name}]\nbuildout = standalone b.cfg\n{options}");
    let (ini, _) = Ini::parse_bytes(Path::new("/m/buildouts/MANIFEST.cfg"), manifest.as_bytes());
    let (buildouts, errors, _) = parse_manifest(&ini);
    assert!(errors.is_empty(), "{errors:?}");
    let (ini, _) = Ini::parse_bytes(Path::new("/m/slaves.cfg"), b"[w]\npassword = x\n");
    let (workers, _) = parse_workers(&ini);
    let (matrix, _) = build_matrix(&buildouts, &workers);
    build_steps(&BuildInput {
        buildout: &buildouts[0],
        builder: &matrix.builders[0],
        worker: &workers[0],
        extends: &[],
        live_sources: &[],
    })
    .unwrap()
}

/// Runs a script step in `dir` with the build properties `props`; returns (success, stdout).
fn run(step: &Step, dir: &Path, props: &BTreeMap<&str, String>) -> (bool, String) {
    let StepCommand::Script(script) = &step.command else {
        panic!("{:?}", step.command)
    };
    let fill = |text: &str| {
        props.iter().fold(text.to_string(), |t, (k, v)| {
            t.replace(&format!("%(prop:{k})s"), v)
        })
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(fill(script)).current_dir(dir);
    for (k, v) in &step.env {
        cmd.env(k, fill(v));
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

fn find<'a>(steps: &'a [Step], name: &str) -> &'a Step {
    steps.iter().find(|s| s.name == name).unwrap()
}

#[test]
fn ports_are_claimed_per_builder_skipped_when_busy_and_released() {
    let tmp = tempfile::tempdir().unwrap();
    let builddir = tmp.path().join("base/b");
    std::fs::create_dir_all(builddir.join("build")).unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let range = format!(
        "odoo.use-port = true\nodoo.http-port-min = {port}\nodoo.http-port-max = {}\nodoo.http-port-step = 1\n",
        port + 40
    );
    let props = |b: &Path| BTreeMap::from([("builddir", b.to_str().unwrap().to_string())]);
    let a = steps("a", &range);
    let b = steps("b", &range);
    let build = builddir.join("build");
    let (ok, first) = run(find(&a, "port_reserve"), &build, &props(&builddir));
    assert!(ok);
    let first: u16 = first.parse().unwrap();
    assert!(first > port, "the busy port {port} was given");
    let (ok, again) = run(find(&a, "port_reserve"), &build, &props(&builddir));
    assert!(ok);
    assert_eq!(
        again.parse::<u16>().unwrap(),
        first,
        "a builder reuses its own claim"
    );
    let (ok, other) = run(find(&b, "port_reserve"), &build, &props(&builddir));
    assert!(ok);
    assert_ne!(
        other.parse::<u16>().unwrap(),
        first,
        "another builder got a claimed port"
    );
    let mut with_port = props(&builddir);
    with_port.insert("openerp_port", first.to_string());
    assert!(run(find(&a, "port_release"), &build, &with_port).0);
    let (_, after) = run(find(&b, "port_reserve"), &build, &props(&builddir));
    assert_eq!(
        after.parse::<u16>().unwrap(),
        first,
        "the released port is free again"
    );
    // A release without a reserved port removes no claim.
    assert!(run(find(&a, "port_release"), &build, &props(&builddir)).0);
    assert!(tmp
        .path()
        .join(format!("base/caches/ports/{other}"))
        .exists());
    drop(busy);
}

#[test]
fn functional_stop_ends_the_background_server() {
    let tmp = tempfile::tempdir().unwrap();
    let builddir = tmp.path().join("b");
    let build = builddir.join("build");
    std::fs::create_dir_all(build.join("bin")).unwrap();
    let server = build.join("bin/start_openerp");
    std::fs::write(&server, "#!/bin/sh\necho \"$@\" > args\nexec sleep 300\n").unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(&server)
        .status()
        .unwrap();
    let steps = steps(
        "f",
        "post-buildout-steps = functional\nfunctional.commands = true\n",
    );
    let props = BTreeMap::from([
        ("builddir", builddir.to_str().unwrap().to_string()),
        ("openerp_port", "9999".to_string()),
    ]);
    assert!(run(find(&steps, "start"), &build, &props).0);
    let pid = std::fs::read_to_string(builddir.join("openerp.pid")).unwrap();
    let pid = pid.trim();
    let alive = || {
        Command::new("kill")
            .args(["-0", pid])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    for _ in 0..50 {
        if build.join("args").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let args = std::fs::read_to_string(build.join("args")).unwrap();
    assert!(
        args.starts_with("-d oebb-f --xmlrpc-port=9999 --logfile="),
        "{args}"
    );
    assert!(alive());
    assert!(run(find(&steps, "stop"), &build, &props).0);
    assert!(!builddir.join("openerp.pid").exists());
    // The server was reparented to init, which reaps it: give it a moment.
    for _ in 0..50 {
        if !alive() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("server {pid} still running after the stop step");
}
