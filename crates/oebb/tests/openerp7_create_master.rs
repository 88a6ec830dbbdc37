//! The README's first command ends in a green build: `oebb create-master demo`, `oebb master
//! demo --local-worker`, then `oebb force demo openerp-7.0-pgN --wait` builds the real
//! OpenERP 7.0 of the example on this machine (its test PostgreSQL clusters and Python 2.7,
//! found by create-master's probes) and ends `success`.
//!
//! Run as root (as CI does), create-master is told it runs under sudo from `oebbtest`
//! (`SUDO_USER`), so it writes `local-worker-user = oebbtest` and picks the Python 2.7 that
//! user can run: the copy of pyenv's 2.7.18 that scripts/install-test-deps makes, put on the
//! probes' PATH (pyenv's own lives under /root, closed to others).
//!
//! What the test adds between the commands, and why: free ports in oebb.cfg (8010 and 9989 may
//! be taken on this machine), the server's sdist in the recipe's download cache (this
//! machine's proxy to PyPI gives Python 2's HTTP/1.0 `urllib` an empty body, so the
//! recipe's own download of `version = url` is not exercised here), and the local worker's
//! caches linked to a directory kept under
//! `$OEBB_TEST_PREFIX/openerp7/caches-demo`, seeded once with hard links to the eggs the
//! openerp7 test's oebb worker built (`caches-oebb`, when that test ran before: cargo runs
//! this file after it) except `PyChart` and `openerp-command`, so the build is warm (40 s
//! measured, against 10.5 minutes on empty caches) and still takes those two from the
//! stand-ins create-master wrote.

#[allow(dead_code)]
#[path = "openerp7_support/setup.rs"]
mod setup;

mod cli;

use cli::{step_tails, wait_for_master};
use oebb_testkit::Killed;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// This test's ports (the project's test services each have a range).
const PORTS: std::ops::Range<u16> = 26200..26300;

fn oebb(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oebb"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A port of [`PORTS`] nobody listens on now.
fn free_port(taken: &[u16]) -> u16 {
    PORTS
        .clone()
        .filter(|p| !taken.contains(p))
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port in 26200..26300")
}

/// `oebb create-master demo` in `root`, with this machine's probes: as root, as if run with
/// sudo by the build user, with the copy of Python 2.7 it can run first on PATH.
fn create_master(root: &Path, user: Option<&setup::User>) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oebb"));
    command.args(["create-master", "demo"]).current_dir(root);
    if let Some(u) = user {
        let copy = setup::python27(Some(u));
        let bin = copy.parent().unwrap();
        let path = std::env::var("PATH").unwrap_or_default();
        command
            .env("SUDO_USER", &u.name)
            .env("PATH", format!("{}:{path}", bin.display()));
    }
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "create-master: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Points oebb.cfg's two addresses at free ports of this test's range.
fn free_addresses(master: &Path) {
    let cfg = master.join("oebb.cfg");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let web = free_port(&[]);
    let worker = free_port(&[web]);
    let text = text
        .replace(
            "web-address = 127.0.0.1:8010",
            &format!("web-address = 127.0.0.1:{web}"),
        )
        .replace(
            "worker-address = 0.0.0.0:9989",
            &format!("worker-address = 127.0.0.1:{worker}"),
        );
    assert!(text.contains(&format!(":{worker}\n")), "{text}");
    std::fs::write(&cfg, text).unwrap();
}

/// The local worker's caches: a directory kept between runs, seeded once from the openerp7
/// test's eggs without the two distributions the example's stand-ins give.
fn kept_caches(master: &Path, user: Option<&setup::User>) {
    let kept = setup::openerp7_dir().join("caches-demo");
    if !kept.exists() {
        let fresh = kept.with_extension("new");
        let _ = std::fs::remove_dir_all(&fresh);
        std::fs::create_dir_all(&fresh).unwrap();
        let eggs = setup::openerp7_dir().join("caches-oebb/eggs");
        if eggs.is_dir() {
            let status = Command::new("cp")
                .arg("-al")
                .arg(&eggs)
                .arg(fresh.join("eggs"))
                .status()
                .unwrap();
            assert!(status.success(), "cp -al {}", eggs.display());
            for entry in std::fs::read_dir(fresh.join("eggs")).unwrap().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("PyChart-") || name.starts_with("openerp_command-") {
                    std::fs::remove_dir_all(entry.path())
                        .or_else(|_| std::fs::remove_file(entry.path()))
                        .unwrap();
                }
            }
        }
        setup::give(&fresh, user);
        std::fs::rename(&fresh, &kept).unwrap();
    }
    // This machine reaches PyPI through a proxy that answers Python 2's `urllib` (HTTP/1.0,
    // which anybox.recipe.openerp downloads `version = url` with) with an empty body: the
    // server's sdist, as install-test-deps downloaded it with pip, goes into the recipe's
    // download cache, where the recipe looks before downloading.
    let downloads = kept.join("odoo-downloads");
    let sdist = downloads.join("openerp-core-7.0.406.tar.gz");
    if std::fs::metadata(&sdist).map_or(true, |m| m.len() == 0) {
        std::fs::create_dir_all(&downloads).unwrap();
        let from = setup::openerp7_dir().join("sdists/openerp-core-7.0.406.tar.gz");
        std::fs::copy(&from, &sdist).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        setup::give(&downloads, user);
    }
    let basedir = master.join("workers/local");
    std::fs::create_dir_all(&basedir).unwrap();
    std::os::unix::fs::symlink(&kept, basedir.join("caches")).unwrap();
    setup::give(&basedir, user);
}

/// The builder of the OpenERP 7.0 example, from `oebb check`'s matrix.
fn openerp7_builder(root: &Path) -> String {
    let out = oebb(root, &["check", "demo"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "oebb check demo: {text}");
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|b| b.starts_with("openerp-7.0-pg"))
        .unwrap_or_else(|| panic!("no OpenERP 7.0 builder in:\n{text}"))
        .to_string()
}

/// The logs that explain a build that did not end green.
fn explain(root: &Path, build: &str) -> String {
    step_tails(|step| {
        let log = oebb(root, &["log", "demo", build, step]);
        String::from_utf8_lossy(&log.stdout).into_owned()
    })
}

/// The egg the build took for `pychart` is the stand-in (it only requires Python-Chart), and
/// Python-Chart came from PyPI.
fn check_stand_ins_used(master: &Path) {
    let eggs: Vec<PathBuf> = std::fs::read_dir(master.join("workers/local/caches/eggs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    let named = |prefix: &str| {
        eggs.iter()
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}* egg among {eggs:?}"))
    };
    let requires =
        std::fs::read_to_string(named("PyChart-1.39").join("EGG-INFO/requires.txt")).unwrap();
    assert_eq!(requires.trim(), "Python-Chart==1.39");
    named("Python_Chart-1.39");
    named("openerp_command-0.0.1");
}

#[test]
fn the_example_of_create_master_builds_openerp_7_green_on_its_local_worker() {
    let user = setup::build_user();
    let site = tempfile::tempdir().unwrap();
    let root = site.path();
    setup::open(root);
    let said = create_master(root, user.as_ref());
    let master = root.join("demo");
    let oebb_cfg = std::fs::read_to_string(master.join("oebb.cfg")).unwrap();
    if let Some(u) = &user {
        assert!(
            oebb_cfg.contains(&format!("\nlocal-worker-user = {}\n", u.name)),
            "{oebb_cfg}"
        );
    }
    assert!(!said.contains("warning"), "{said}");
    free_addresses(&master);
    kept_caches(&master, user.as_ref());
    let builder = openerp7_builder(root);

    let _master = Killed::spawn(
        Command::new(env!("CARGO_BIN_EXE_oebb"))
            .args(["master", "demo", "--local-worker"])
            .current_dir(root),
        "oebb master demo --local-worker",
        root.join("master.log"),
    );
    wait_for_master(&master);
    // force --wait waits an hour at most: a cold build (compiling lxml, psycopg2, Pillow,
    // reportlab) takes a few minutes.
    let out = oebb(root, &["force", "demo", &builder, "--wait"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let slaves = std::fs::read_to_string(master.join("slaves.cfg")).unwrap_or_default();
    // "build 1 on local: success (…)", after the progress lines.
    let verdict = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("build ") && !l.contains(" started on "))
        .unwrap_or_default();
    assert!(
        out.status.success() && verdict.contains(": success"),
        "{builder}: {stdout}{}\n{}\nslaves.cfg:\n{slaves}\nmaster log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        explain(root, "1"),
        std::fs::read_to_string(root.join("master.log")).unwrap_or_default()
    );
    // The step timings, for `--nocapture`.
    eprintln!("{stdout}");
    // Green because base's tests ran and passed: the analysis says so.
    let analyze = oebb(root, &["log", "demo", "1", "analyze"]);
    let analyze = String::from_utf8_lossy(&analyze.stdout);
    assert!(analyze.contains("PASS"), "{analyze}");
    check_stand_ins_used(&master);
}
