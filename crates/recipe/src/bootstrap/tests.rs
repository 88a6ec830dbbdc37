//! The bootstrap: interpreter, zc.buildout series, Python 2.7, lock.

use crate::step::LockAccess;
use crate::testutil::*;

const PG: &str = "[w1]\npassword = x\ncapability = postgresql 16 port=5433\n";

fn bootstrap(options: &str, python_line: &str) -> crate::step::Step {
    let workers = format!("{PG}    {python_line}\n");
    let f = fixture(
        &format!("[b]\nbuildout = standalone b.cfg\n{options}"),
        &workers,
    );
    let name = f.matrix.builders[0].name.to_string();
    step(&f.steps(&name, "w1", &[]).unwrap(), "bootstrap").clone()
}

#[test]
fn python_comes_from_the_capability_bin_else_python3() {
    let s = bootstrap("", "python 3.11 bin=/opt/py311/bin/python");
    assert_eq!(s.env["PYTHON"], "/opt/py311/bin/python");
    let f = fixture("[b]\nbuildout = standalone b.cfg\n", PG);
    let s = step(&f.steps("b", "w1", &[]).unwrap(), "bootstrap").clone();
    assert_eq!(s.env["PYTHON"], "python3");
    assert_eq!(bootstrap("", "python 2.7").env["PYTHON"], "python2.7");
    assert_eq!(bootstrap("", "python 3").env["PYTHON"], "python3");
}

#[test]
fn bootstrap_holds_the_buildout_lock_halts_and_has_the_worker_env() {
    let s = bootstrap("bootstrap-version = 3.0.1\n", "python 3.11");
    assert_eq!(s.locks, [LockAccess::exclusive("buildout")]);
    assert!(s.halt_on_failure);
    assert_eq!(s.workdir, "build");
    assert!(s.timeout.is_some());
}

#[test]
fn zc_buildout_3_on_python_3_uses_a_plain_venv() {
    let s = bootstrap("bootstrap-version = 3.0.1\n", "python 3.11");
    assert_eq!(s.env["ZC_BUILDOUT"], "zc.buildout==3.0.1");
    let t = text(&s);
    assert!(t.contains("\"$PYTHON\" -m venv \"$BUILDOUT_VENV\""), "{t}");
    assert!(
        t.contains("\"$BUILDOUT_VENV/bin/pip\" install -q \"$ZC_BUILDOUT\""),
        "{t}"
    );
    assert!(
        t.contains("\"$BUILDOUT_VENV/bin/buildout\" -c b.cfg"),
        "{t}"
    );
    assert!(!t.contains("setuptools"), "{t}");
    assert!(!s.env.contains_key("SETUPTOOLS"));
}

#[test]
fn latest_zc_buildout_when_no_version_is_given() {
    assert_eq!(
        bootstrap("", "python 3.11").env["ZC_BUILDOUT"],
        "zc.buildout"
    );
    assert_eq!(
        bootstrap("", "python 2.7").env["ZC_BUILDOUT"],
        "zc.buildout<3"
    );
}

#[test]
fn zc_buildout_2_gets_a_virtualenv_without_setuptools() {
    let s = bootstrap("bootstrap-version = 2.13.8\n", "python 3.9");
    assert_eq!(s.env["SETUPTOOLS"], "setuptools<52");
    let t = text(&s);
    assert!(t.contains("pip\" uninstall -q -y setuptools"), "{t}");
    assert!(
        t.contains("--target \"$BUILDOUT_VENV/dists/setuptools\" \"$SETUPTOOLS\""),
        "{t}"
    );
    assert!(
        t.contains("--no-deps --target \"$BUILDOUT_VENV/dists/zc.buildout\""),
        "{t}"
    );
    // Python 2.7 reads no .pth file from PYTHONPATH: the zc namespace needs its __init__.
    assert!(
        t.contains(
            "declare_namespace(__name__)\" > \"$BUILDOUT_VENV/dists/zc.buildout/zc/__init__.py\""
        ),
        "{t}"
    );
    // The bootstrap's copies stay in the virtualenv, not in the shared egg cache.
    assert!(
        t.contains("\"buildout:eggs-directory=$BUILDOUT_VENV/bootstrap-eggs\" bootstrap"),
        "{t}"
    );
}

#[test]
fn python_2_7_uses_a_virtualenv_that_still_makes_2_7_environments() {
    let s = bootstrap("bootstrap-version = 2.9.5\n", "python 2.7 bin=python2.7");
    assert_eq!(s.env["SETUPTOOLS"], "setuptools<45");
    assert_eq!(
        s.env["VIRTUALENV_TOOL"],
        "%(prop:builddir)s/../caches/virtualenv-tool"
    );
    let t = text(&s);
    assert!(t.contains("install -q 'virtualenv<20.22'"), "{t}");
    assert!(
        t.contains("-p \"$PYTHON\" --no-setuptools --no-wheel \"$BUILDOUT_VENV\""),
        "{t}"
    );
    // Python 2.7 without a version of zc.buildout still takes the legacy way.
    assert!(text(&bootstrap("", "python 2.7")).contains("virtualenv<20.22"));
}

#[test]
fn bootstrap_setuptools_overrides_the_pin() {
    let s = bootstrap(
        "bootstrap-version = 2.13.8\nbootstrap-setuptools = 44.1.1\n",
        "python 3.8",
    );
    assert_eq!(s.env["SETUPTOOLS"], "setuptools==44.1.1");
}

#[test]
fn virtualenv_false_runs_the_buildouts_own_bootstrap_py() {
    let s = bootstrap(
        "virtualenv = false\nbootstrap-version = 2.2.1\n",
        "python 2.7",
    );
    assert_eq!(
        text(&s),
        "\"$PYTHON\" bootstrap.py -c b.cfg --version=2.2.1\n"
    );
}

#[test]
fn the_virtualenv_is_made_again_only_when_python_or_versions_change() {
    let t = text(&bootstrap("bootstrap-version = 3.0.1\n", "python 3.11"));
    assert!(t.contains("want=\"$PYTHON $ZC_BUILDOUT\""), "{t}");
    assert!(
        t.contains("echo \"$want\" > \"$BUILDOUT_VENV/.oebb-bootstrap\""),
        "{t}"
    );
    let s = bootstrap("bootstrap-version = 3.0.1\n", "python 3.11");
    // One virtualenv per worker and wanted versions, shared by the builders.
    assert_eq!(
        s.env["BUILDOUT_VENVS"],
        "%(prop:builddir)s/../caches/buildout-venvs"
    );
    assert!(
        t.contains(
            "BUILDOUT_VENV=\"$BUILDOUT_VENVS/$(printf '%s' \"$want\" | cksum | cut -d ' ' -f 1)\""
        ),
        "{t}"
    );
    assert!(!s.env.contains_key("BUILDOUT_VENV"));
}

#[test]
fn venv_runs_the_buildout_on_that_virtualenv_as_it_is() {
    let s = bootstrap(
        "bootstrap-version = 2.13.8\n",
        "python 2.7 bin=/usr/bin/python2.7 venv=/srv/openerp-env",
    );
    assert_eq!(s.env["PYTHON_VENV"], "/srv/openerp-env");
    assert_eq!(
        s.env["BUILDOUT_DISTS"],
        "%(prop:builddir)s/../caches/buildout-dists"
    );
    assert_eq!(s.env["SETUPTOOLS"], "setuptools<45");
    assert_eq!(s.env["ZC_BUILDOUT"], "zc.buildout==2.13.8");
    let t = text(&s);
    assert!(t.contains("VENV_PYTHON=\"$PYTHON_VENV/bin/python\""), "{t}");
    assert!(
        t.contains("\"$VENV_PYTHON\" -m pip install -q --target \"$DISTS/setuptools\""),
        "{t}"
    );
    assert!(
        t.contains("PYTHONPATH=\"$DISTS/zc.buildout:$DISTS/setuptools\" \"$VENV_PYTHON\""),
        "{t}"
    );
    // Nothing made, nothing installed into the user's virtualenv.
    assert!(!t.contains("-m venv"), "{t}");
    assert!(!t.contains("virtualenv\" -q"), "{t}");
    assert!(!t.contains("$PYTHON_VENV/bin/pip"), "{t}");
    assert!(!s.env.contains_key("VIRTUALENV_TOOL"));
    assert!(!s.env.contains_key("BUILDOUT_VENVS") || !t.contains("BUILDOUT_VENV/"));
}

#[test]
fn venv_with_zc_buildout_3_on_python_3_fetches_it_with_its_dependencies() {
    let s = bootstrap("bootstrap-version = 3.0.1\n", "python 3.11 venv=~/env311");
    assert_eq!(s.env["PYTHON_VENV"], "~/env311");
    assert!(!s.env.contains_key("SETUPTOOLS"));
    let t = text(&s);
    assert!(
        t.contains("PYTHON_VENV=\"$HOME/${PYTHON_VENV#\"~/\"}\""),
        "a ~/ path is the worker user's home: {t}"
    );
    assert!(
        t.contains("-m pip install -q --target \"$DISTS/zc.buildout\" \"$ZC_BUILDOUT\" $pins"),
        "{t}"
    );
    assert!(t.contains("pins=\"$pins setuptools==$v\""), "{t}");
}

#[test]
fn venv_is_not_used_without_virtualenv_the_buildouts_bootstrap_runs_on_bin() {
    let s = bootstrap(
        "virtualenv = false\n",
        "python 2.7 bin=/usr/bin/python2.7 venv=/srv/openerp-env",
    );
    assert_eq!(s.env["PYTHON"], "/usr/bin/python2.7");
    assert!(!s.env.contains_key("PYTHON_VENV"));
    assert!(
        text(&s).contains("\"$PYTHON\" bootstrap.py"),
        "{}",
        text(&s)
    );
}
