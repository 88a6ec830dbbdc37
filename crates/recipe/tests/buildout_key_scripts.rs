//! The key steps of the buildout run (`buildout_key`, `buildout_unchanged`, `buildout_stamp`)
//! run for real with `sh`, `sha256sum` and git on a builder directory made here: the second
//! key of an unchanged buildout finds the stamp of the first run; an edit of the buildout
//! file, a commit on a live source's branch, a changed `.installed.cfg`, a git checkout behind
//! its branch and `buildout-rerun=true` each make the run happen.
//!
//! Needs `git` and `sha256sum` (coreutils) on PATH.

use oebb_config::build_matrix;
use oebb_config::buildout::{parse_manifest, Watch};
use oebb_config::ini::Ini;
use oebb_config::worker::parse_workers;
use oebb_recipe::step::{Step, StepCommand};
use oebb_recipe::{build_steps, BuildInput};
use oebb_testkit::run_vcs as run;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The three key steps of a standalone `b.cfg` with the live git source `live`.
fn key_steps(live: &str) -> Vec<Step> {
    let (ini, _) = Ini::parse_bytes(
        Path::new("/m/buildouts/MANIFEST.cfg"),
        b"[b]\nbuildout = standalone b.cfg\nbuildout-part = odoo\n",
    );
    let (buildouts, errors, _) = parse_manifest(&ini);
    assert!(errors.is_empty(), "{errors:?}");
    let (ini, _) = Ini::parse_bytes(Path::new("/m/slaves.cfg"), b"[w]\npassword = x\n");
    let (workers, _) = parse_workers(&ini);
    let (matrix, _) = build_matrix(&buildouts, &workers);
    let live: Watch = format!("git {live} main").parse().unwrap();
    build_steps(&BuildInput {
        buildout: &buildouts[0],
        builder: &matrix.builders[0],
        worker: &workers[0],
        extends: &[],
        live_sources: &[live],
    })
    .unwrap()
    .into_iter()
    .filter(|s| s.name.starts_with("buildout_"))
    .collect()
}

/// A builder directory and the properties its steps read.
struct Builder {
    dir: std::path::PathBuf,
    steps: Vec<Step>,
    properties: BTreeMap<String, String>,
}

impl Builder {
    fn interpolate(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (k, v) in &self.properties {
            out = out.replace(&format!("%(prop:{k})s"), v);
        }
        // A property nobody set is empty.
        while let Some(start) = out.find("%(prop:") {
            let end = out[start..].find(")s").unwrap() + start + 2;
            out.replace_range(start..end, "");
        }
        out
    }

    /// Runs step `name` in `build`; returns its standard output, trimmed.
    fn step(&mut self, name: &str) -> String {
        let step = self.steps.iter().find(|s| s.name == name).unwrap();
        let StepCommand::Script(script) = &step.command else {
            panic!("{:?}", step.command)
        };
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(self.interpolate(script))
            .current_dir(self.dir.join("build"));
        for (k, v) in &step.env {
            cmd.env(k, self.interpolate(v));
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if let Some(p) = &step.property_from_stdout {
            self.properties.insert(p.clone(), stdout.clone());
        }
        stdout
    }

    /// The key, then the build whose run had it (empty: buildout runs).
    fn unchanged_since(&mut self) -> String {
        self.step("buildout_key");
        self.step("buildout_unchanged")
    }

    /// A successful run of build `n`: its stamp.
    fn stamp(&mut self, n: u32) {
        self.properties.insert("buildnumber".into(), n.to_string());
        self.step("buildout_stamp");
    }
}

#[test]
fn an_unchanged_buildout_is_found_and_every_change_makes_it_run() {
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("live");
    std::fs::create_dir_all(&live).unwrap();
    run(&live, "git", &["init", "-q", "-b", "main"]);
    std::fs::write(live.join("a.py"), "1\n").unwrap();
    run(&live, "git", &["add", "."]);
    run(&live, "git", &["commit", "-qm", "1"]);

    let dir = tmp.path().join("builder");
    let build = dir.join("build");
    std::fs::create_dir_all(build.join("bin")).unwrap();
    std::fs::write(build.join("b.cfg"), "[buildout]\nparts =\n").unwrap();
    std::fs::write(
        build.join("bin/buildout"),
        "#!/bin/sh\n# zc.buildout-2.13.8\n",
    )
    .unwrap();
    std::fs::write(build.join(".installed.cfg"), "[buildout]\n").unwrap();
    let mut b = Builder {
        steps: key_steps(live.to_str().unwrap()),
        properties: BTreeMap::from([("builddir".into(), dir.to_str().unwrap().into())]),
        dir,
    };

    assert_eq!(b.unchanged_since(), "", "no stamp yet: buildout runs");
    b.stamp(1);
    assert_eq!(b.unchanged_since(), "1");
    let key = b.properties["buildout_key"].clone();
    assert_eq!(key.len(), 64, "{key}");

    b.properties.insert("buildout-rerun".into(), "true".into());
    assert_eq!(b.unchanged_since(), "", "buildout-rerun=true runs it");
    b.properties.remove("buildout-rerun");
    assert_eq!(b.unchanged_since(), "", "the forced run removed the stamp");
    b.stamp(2);
    assert_eq!(b.unchanged_since(), "2");

    std::fs::write(live.join("a.py"), "2\n").unwrap();
    run(&live, "git", &["commit", "-qam", "2"]);
    assert_eq!(b.unchanged_since(), "", "a commit on the live branch");
    assert_ne!(b.properties["buildout_key"], key);
    b.stamp(3);
    assert_eq!(b.unchanged_since(), "3");

    std::fs::write(build.join("b.cfg"), "[buildout]\nparts = x\n").unwrap();
    assert_eq!(b.unchanged_since(), "", "an edit of the buildout file");
    b.stamp(4);
    assert_eq!(b.unchanged_since(), "4");

    std::fs::write(build.join(".installed.cfg"), "[buildout]\nparts = x\n").unwrap();
    assert_eq!(b.unchanged_since(), "", "another .installed.cfg");
    b.stamp(5);

    // A checkout buildout made, on a branch, behind that branch upstream: a source the
    // buildout file does not show as live (a VCS buildout's, whose files the master lacks).
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    run(&other, "git", &["init", "-q", "-b", "main"]);
    std::fs::write(other.join("a.py"), "1\n").unwrap();
    run(&other, "git", &["add", "."]);
    run(&other, "git", &["commit", "-qm", "1"]);
    let checkout = build.join("parts/addons");
    let status = Command::new("git")
        .args(["clone", "-q", other.to_str().unwrap()])
        .arg(&checkout)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(b.unchanged_since(), "", "a new checkout");
    b.stamp(6);
    assert_eq!(b.unchanged_since(), "6", "a checkout at its branch's head");
    std::fs::write(other.join("a.py"), "2\n").unwrap();
    run(&other, "git", &["commit", "-qam", "2"]);
    assert_eq!(b.unchanged_since(), "", "a checkout behind its branch");
    b.stamp(7);
    assert_eq!(b.unchanged_since(), "", "a checkout behind its branch");
}
