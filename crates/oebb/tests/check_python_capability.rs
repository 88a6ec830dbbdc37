//! The `python` capability's options through `oebb check`: `bin=` and `venv=` reach the
//! bootstrap step; any other option is refused at its file and line.

use std::path::Path;
use std::process::{Command, Output};

fn master(dir: &Path, python_line: &str) {
    std::fs::write(
        dir.join("slaves.cfg"),
        format!("[w]\npassword = s\ncapability = postgresql 15 port=5432\n  {python_line}\n"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("buildouts")).unwrap();
    std::fs::write(
        dir.join("buildouts/MANIFEST.cfg"),
        "[b]\nbuildout = standalone b.cfg\nbuild-for = postgresql == 15\n\
         build-requires = python == 2.7\nbootstrap-version = 2.13.8\n",
    )
    .unwrap();
    std::fs::write(dir.join("buildouts/b.cfg"), "[buildout]\nparts =\n").unwrap();
}

fn check(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oebb"))
        .arg("check")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn an_unknown_python_option_is_an_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    master(dir.path(), "python 2.7 bin=python2.7 vnev=/srv/env27");
    let out = check(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let slaves = dir.path().join("slaves.cfg");
    assert!(
        err.starts_with(&format!(
            "{}:3: invalid capability line `python 2.7 bin=python2.7 vnev=/srv/env27`: \
             unknown option `vnev=` of the python capability; oebb reads bin= (the \
             interpreter) and venv= (an existing virtualenv whose bin/python runs the \
             buildout as it is)\n",
            slaves.display()
        )),
        "{err}"
    );
}

#[test]
fn a_relative_venv_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    master(dir.path(), "python 2.7 venv=openerp-env");
    let out = check(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`venv=openerp-env` is not an absolute path"),
        "{err}"
    );
}

#[test]
fn venv_and_bin_reach_the_bootstrap_step() {
    let dir = tempfile::tempdir().unwrap();
    master(
        dir.path(),
        "python 2.7 bin=/usr/bin/python2.7 venv=/srv/openerp-env",
    );
    let out = check(dir.path(), &["--steps", "b-pg15"]);
    let steps = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{steps}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(steps.contains("PYTHON_VENV=/srv/openerp-env"), "{steps}");
    assert!(steps.contains("PYTHON=/usr/bin/python2.7"), "{steps}");
    assert!(
        steps.contains("zc.buildout on the python capability's virtualenv (venv=)"),
        "{steps}"
    );
}
