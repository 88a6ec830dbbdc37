//! `oebb check DIR --steps BUILDER`: the steps of the bundled example, compared exactly with
//! the snapshots in `tests/snapshots/` (run with `OEBB_UPDATE_SNAPSHOTS=1` to rewrite them,
//! then review the diff).

mod cli;

use cli::oebb;
use std::path::Path;

/// A master directory written by `oebb create-master`.
fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = oebb(&["create-master", "--no-probe", dir.path().to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn assert_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("OEBB_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with OEBB_UPDATE_SNAPSHOTS=1", path.display()));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .map_or(expected.lines().count().min(actual.lines().count()), |i| i);
        panic!(
            "{} differs from the output at line {}:\nexpected: {:?}\nactual:   {:?}\n\
             (OEBB_UPDATE_SNAPSHOTS=1 rewrites it)",
            path.display(),
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

fn steps_output(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["check", dir.to_str().unwrap(), "--steps"];
    all.extend(args);
    let out = oebb(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn example_builder_steps_match_the_snapshot() {
    let dir = example();
    let text = steps_output(dir.path(), &["odoo-16.0-pg16"]);
    assert!(
        !text.contains(dir.path().to_str().unwrap()),
        "temp path printed"
    );
    assert_snapshot("check_steps_odoo-16.0-pg16.txt", &text);
}

/// The OpenERP 7.0 example, the one CI builds for real (tests/openerp7_create_master.rs):
/// Python 2.7 from the worker's capability, zc.buildout 2.13.8, OpenERP 7's test options.
#[test]
fn openerp_7_builder_steps_match_the_snapshot() {
    let dir = example();
    let text = steps_output(dir.path(), &["openerp-7.0-pg16"]);
    assert!(text.contains("PYTHON=python2.7"), "{text}");
    assert!(text.contains("--log-level=test"), "{text}");
    assert_snapshot("check_steps_openerp-7.0-pg16.txt", &text);
}

#[test]
fn inherited_nodemo_builder_steps_match_the_snapshot() {
    let dir = example();
    let text = steps_output(dir.path(), &["odoo-16.0-nodemo-pg16", "--worker", "local"]);
    assert!(text.contains("--without-demo=all"), "{text}");
    assert_snapshot("check_steps_odoo-16.0-nodemo-pg16.txt", &text);
}

#[test]
fn standalone_extends_beside_the_buildout_are_sent_too() {
    let dir = example();
    let cfg = dir.path().join("buildouts/odoo-16.0.cfg");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("[buildout]\n", "[buildout]\nextends = common.cfg\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("buildouts/common.cfg"), "[buildout]\n").unwrap();
    let text = steps_output(dir.path(), &["odoo-16.0-pg16"]);
    assert!(
        text.contains("download buildouts/common.cfg from the master to common.cfg"),
        "{text}"
    );
}

#[test]
fn unknown_builder_or_worker_exit_1_naming_the_choices() {
    let dir = example();
    let d = dir.path().to_str().unwrap();
    let out = oebb(&["check", d, "--steps", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("odoo-16.0-pg16, odoo-16.0-nodemo-pg16"),
        "{err}"
    );
    let out = oebb(&["check", d, "--steps", "odoo-16.0-pg16", "--worker", "ghost"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ghost"));
}

#[test]
fn worker_without_steps_is_a_usage_error() {
    let dir = example();
    let out = oebb(&["check", dir.path().to_str().unwrap(), "--worker", "local"]);
    assert_ne!(out.status.code(), Some(0));
}
