//! `oebb check` on the project's configuration cases (`fixtures/config-cases`): manifests and
//! workers files, one per feature of the anybox.buildbot.openerp format, in their pairings.

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/config-cases")
        .join(name)
}

/// `oebb check DIR --workers W --manifest M…` on an empty master directory.
fn check(args: &[&str], manifests: &[&str], workers: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oebb"));
    cmd.arg("check")
        .arg(dir.path())
        .args(args)
        .arg("--workers")
        .arg(fixture(workers));
    for m in manifests {
        cmd.arg("--manifest").arg(fixture(m));
    }
    cmd.output().unwrap()
}

/// Runs `oebb check --json` on a pairing; returns the parsed output.
fn check_json(manifests: &[&str], workers: &str) -> Value {
    let out = check(&["--json"], manifests, workers);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// `name: worker, worker` per builder.
fn builders(v: &Value) -> Vec<String> {
    v["builders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let workers: Vec<&str> = b["workers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap())
                .collect();
            format!("{}: {}", b["name"].as_str().unwrap(), workers.join(", "))
        })
        .collect()
}

fn warnings(v: &Value) -> Vec<&str> {
    v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect()
}

#[test]
fn every_pairing_gives_the_expected_builders() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "manifest-basic.cfg",
            "workers-one.cfg",
            &[
                "plain-pg12: solo",
                "some-addons-pg12: solo",
                "init-tests-pg12: solo",
                "init-tests-addons-pg12: solo",
            ],
        ),
        (
            "manifest-basic.cfg",
            "workers-2012.cfg",
            &[
                "plain-pg12: current",
                "plain-pg9.6: old-timer",
                "some-addons-pg12: current",
                "some-addons-pg9.6: old-timer",
                "init-tests-pg12: current",
                "init-tests-pg9.6: old-timer",
                "init-tests-addons-pg12: current",
                "init-tests-addons-pg9.6: old-timer",
            ],
        ),
        (
            "manifest-vcs-buildouts.cfg",
            "workers-one.cfg",
            &[
                "from-hg: solo",
                "from-bzr: solo",
                "from-git: solo",
                "hg-wins: solo",
                "frozen: solo",
            ],
        ),
        (
            "manifest-auto-watch.cfg",
            "workers-one.cfg",
            &[
                "auto-only: solo",
                "auto-and-repo: solo",
                "auto-plus-line: solo",
            ],
        ),
        (
            "manifest-build-for.cfg",
            "workers-split.cfg",
            &[
                "newer-than-14-pg16-devel: pg14-16",
                "window-pg16-devel: pg14-16",
                "window-pg14: pg14-16",
                "window-pg12: pg12-py38",
                "either-pg16-devel: pg14-16",
                "either-pg11: pg11-py27",
            ],
        ),
        (
            "manifest-build-for-double.cfg",
            "workers-split.cfg",
            &[
                "window-pg16-devel-py3.10: pg14-16",
                "window-pg14-py3.10: pg14-16",
                "window-pg12-py3.8: pg12-py38",
                "either-pg11-py2.7: pg11-py27",
            ],
        ),
        (
            "manifest-build-for-double.cfg",
            "workers-split-alt.cfg",
            &[
                "window-pg16-devel-py3.10: pg14-16",
                "window-pg14-py3.11: pg14-py311",
                "window-pg14-py3.10: pg14-16",
                "either-pg11-py2.7: pg11-py27",
            ],
        ),
        (
            "manifest-build-requires.cfg",
            "workers-requires.cfg",
            &[
                "newer-than-14-pg16-devel: priv, priv-16, pg14-16",
                "priv-all-pg16-devel: priv, priv-16",
                "priv-all-pg12: priv, priv-12",
                "priv-newer-pg16-devel: priv, priv-16",
                "redis-7-pg14: redis7",
            ],
        ),
        (
            "manifest-build-requires.cfg",
            "workers-requires-only-if.cfg",
            &[
                "newer-than-14-pg16-devel: priv-16, pg14-16",
                "priv-all-pg16-devel: priv, priv-16",
                "priv-all-pg12: priv, priv-12",
                "priv-newer-pg16-devel: priv, priv-16",
                "redis-7-pg14: redis7",
            ],
        ),
        (
            "manifest-build-requires-exact.cfg",
            "workers-requires.cfg",
            &["redis-6-pg14: redis6"],
        ),
        (
            "manifest-build-requires-exact.cfg",
            "workers-requires-only-if.cfg",
            &["redis-6-pg14: redis6"],
        ),
        (
            "manifest-not-used.cfg",
            "workers-requires.cfg",
            &["priv-any-pg: priv, priv-12, priv-16"],
        ),
        (
            "manifest-capability.cfg",
            "workers-capability.cfg",
            &["addons-list-pg15: twin-pg", "addons-list-pg13: twin-pg"],
        ),
        (
            "manifest-category.cfg",
            "workers-one.cfg",
            &["stable: solo", "next: solo"],
        ),
        (
            "manifest-inherit.cfg",
            "workers-one.cfg",
            &["base-14-pg12: solo"],
        ),
        (
            "manifest-inherit.cfg",
            "workers-requires.cfg",
            &[
                "base-14-pg16-devel: priv, priv-16, pg14-16",
                "base-14-pg14: pg14-16, redis7, redis6",
                "base-14-pg12: priv, priv-12",
                "with-private-pg16-devel: priv, priv-16",
                "with-private-pg12: priv, priv-12",
            ],
        ),
        (
            "manifest-packaging.cfg",
            "workers-one.cfg",
            &["release-14-pg12: solo"],
        ),
        (
            "manifest-tree-stable-timer.cfg",
            "workers-one.cfg",
            &["quiet: solo"],
        ),
        (
            "manifest-watch.cfg",
            "workers-one.cfg",
            &[
                "on-bzr: solo",
                "on-hg: solo",
                "on-hg-child: solo",
                "on-git: solo",
                "on-git-next: solo",
            ],
        ),
        ("manifest-watch-only.cfg", "workers-one.cfg", &[]),
    ];
    for (manifest, workers, expected) in cases {
        let v = check_json(&[manifest], workers);
        assert_eq!(builders(&v), *expected, "{manifest} with {workers}");
    }
}

#[test]
fn json_has_exactly_the_documented_shape() {
    let v = check_json(&["manifest-not-used.cfg"], "workers-requires.cfg");
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["builders", "warnings", "workers"]);
    assert_eq!(
        v["workers"][0],
        json!({
            "name": "priv",
            "max_builds": null,
            "capabilities": {
                "postgresql": {"12": {}, "16-devel": {"port": "5433"}},
                "private-addons": {"": {}}
            },
            "properties": {}
        })
    );
    let names: Vec<&str> = v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["priv", "priv-12", "priv-16", "pg14-16", "redis7", "redis6"]
    );
    assert_eq!(
        v["builders"],
        json!([{
            "name": "priv-any-pg",
            "buildout": "priv-any-pg",
            "workers": ["priv", "priv-12", "priv-16"],
            "category": "",
            "properties": {"build_requires": ["private-addons"], "pg_version": "not-used"},
            "env": {"priv": {}, "priv-12": {}, "priv-16": {}}
        }])
    );
    let manifest = fixture("manifest-not-used.cfg");
    // Buildout files are named by their path once `..` is resolved.
    let missing = oebb_config::paths::normalize(&fixture("buildouts/odoo-16.cfg"));
    assert_eq!(warnings(&v), [
        format!("{}:9: buildout [redis-5] gets no builder: no worker meets build-requires `redis == 5.0`", manifest.display()),
        format!("{}:5: the buildout file of [priv-any-pg] is missing ({}); its builds will fail in their `download` step until it is there", manifest.display(), missing.display()),
    ]);
}

#[test]
fn a_manifest_whose_buildout_files_exist_checks_without_warnings() {
    for manifest in [
        "manifest-basic.cfg",
        "manifest-category.cfg",
        "manifest-tree-stable-timer.cfg",
        "manifest-watch.cfg",
    ] {
        let v = check_json(&[manifest], "workers-one.cfg");
        assert_eq!(warnings(&v), Vec::<&str>::new(), "{manifest}");
    }
}

#[test]
fn json_carries_worker_settings_properties_and_per_worker_env() {
    let v = check_json(&["manifest-capability.cfg"], "workers-capability.cfg");
    assert_eq!(v["workers"][0]["max_builds"], json!(2));
    assert_eq!(
        v["workers"][0]["capabilities"],
        json!({
            "postgresql": {"13": {"port": "5432"}, "15": {"port": "5433"}},
            "python": {"3.8": {"bin": "python3.8"}},
            "selenium": {"": {}}
        })
    );
    assert_eq!(
        v["builders"][0]["env"],
        json!({"twin-pg": {"PGPORT": "5433"}})
    );
    assert_eq!(
        v["builders"][0]["properties"],
        json!({"build_requires": ["python"], "pg_version": "15"})
    );
    assert_eq!(
        v["builders"][1]["env"],
        json!({"twin-pg": {"PGPORT": "5432"}})
    );
    let v = check_json(&["manifest-category.cfg"], "workers-one.cfg");
    assert_eq!(v["builders"][0]["category"], json!("production"));
    assert_eq!(v["builders"][1]["category"], json!("staging"));
}

#[test]
fn a_2012_form_worker_in_json() {
    let v = check_json(&["manifest-basic.cfg"], "workers-2012.cfg");
    assert_eq!(
        v["workers"][0],
        json!({
            "name": "old-timer",
            "max_builds": null,
            "capabilities": {"postgresql": {"9.6": {
                "bin": "/usr/lib/postgresql/9.6/bin",
                "host": "/var/run/postgresql",
                "lib": "/usr/lib/postgresql/9.6/lib",
                "port": "5439"
            }}},
            "properties": {"db_prefix": "legacy"}
        })
    );
    assert_eq!(v["builders"][1]["name"], "plain-pg9.6");
    assert_eq!(
        v["builders"][1]["env"],
        json!({"old-timer": {
            "LD_LIBRARY_PATH": "/usr/lib/postgresql/9.6/lib",
            "PATH": "/usr/lib/postgresql/9.6/bin:${PATH}",
            "PGHOST": "/var/run/postgresql",
            "PGPORT": "5439"
        }})
    );
}

#[test]
fn several_manifests_are_read_in_order() {
    let v = check_json(
        &["manifest-category.cfg", "manifest-tree-stable-timer.cfg"],
        "workers-one.cfg",
    );
    assert_eq!(builders(&v), ["stable: solo", "next: solo", "quiet: solo"]);
}

#[test]
fn every_mistake_is_reported_at_its_line() {
    let out = check(&[], &["manifest-mistakes.cfg"], "workers-one.cfg");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let m = fixture("manifest-mistakes.cfg").display().to_string();
    let stderr: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(stderr, [
        format!("{m}:4: `build-for` names capability `postgresql` twice; put all its versions on one line, e.g. `postgresql >= 9.1 OR == 8.4`"),
        format!("{m}:9: `postgresql not-used` in `build-requires`: `not-used` only makes sense in `build-for`"),
        format!("{m}:12: `inherit = no-such-section` names no section of this manifest; fix the name"),
        "oebb check: 3 errors".to_string(),
    ]);
}
