//! The `venv=` option of the `python` capability (anybox's: the buildout runs on an existing
//! virtualenv's `bin/python`): a real build of the stand-in Odoo through the master and an oebb
//! worker, with real zc.buildout from PyPI, on a virtualenv the test makes. The buildout's
//! scripts run on that virtualenv's interpreter, oebb makes no virtualenv of its own, and the
//! virtualenv is left as it was.

mod common;

use common::databases::Db;
use common::odoo::{self, Cluster, ODOO_BUILD_TIMEOUT};
use common::tester::MasterTester;
use oebb_master::Results;
use std::path::Path;
use std::process::Command;

/// Every file under `dir`, sorted: to see that nothing was added to the virtualenv.
fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            // Python writes byte-code caches of what it imports: not an install.
            if path.file_name().is_some_and(|n| n == "__pycache__") {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                todo.push(path.clone());
            }
            found.push(path.display().to_string());
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_runs_on_the_virtualenv_of_venv_and_leaves_it_as_it_was() {
    let venv_dir = tempfile::tempdir().unwrap();
    let venv = venv_dir.path().join("openerp-env");
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .expect("python3 with venv (Debian: apt-get install python3-venv)");
    assert!(made.status.success(), "{made:?}");
    let version = Command::new(venv.join("bin/python"))
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .unwrap();
    let version = String::from_utf8(version.stdout)
        .unwrap()
        .trim()
        .to_string();
    let before = files(&venv);

    let cluster = Cluster::first();
    let venv_arg = venv.display().to_string();
    let mut t = MasterTester::start_with_recipe(Db::Sqlite, |dir| {
        std::fs::write(
            dir.join("slaves.cfg"),
            format!(
                "[ow]\npassword = pw\ncapability = postgresql 15 {}\n  python {version} venv={venv_arg}\n",
                cluster.capability_options()
            ),
        )
        .unwrap();
        let source = dir.join("fake_odoo");
        odoo::copy_sources(&source);
        std::fs::create_dir_all(dir.join("buildouts")).unwrap();
        std::fs::write(
            dir.join("buildouts/buildout.cfg"),
            odoo::buildout_cfg(source.to_str().unwrap()),
        )
        .unwrap();
        std::fs::write(
            dir.join("buildouts/MANIFEST.cfg"),
            "[venv]\nbuildout = standalone buildout.cfg\nbuild-for = postgresql == 15\n\
             openerp-addons = passing\nodoo.version = 16.0\n",
        )
        .unwrap();
    })
    .await;
    t.connect_oebb_worker("ow", "pw").await;

    let (request, builds) = t.force_and_wait_for("venv-pg15", ODOO_BUILD_TIMEOUT).await;
    let build = builds[0].id;
    assert_eq!(
        request.result,
        Some(Results::Success),
        "{}",
        odoo::explain(&t, build).await
    );
    let bootstrap = t.log(build, "bootstrap").await;
    let basedir = t.scratch.path().join("oebb-ow-0");
    let script = std::fs::read_to_string(basedir.join("venv-pg15/build/bin/test_openerp"))
        .or_else(|_| std::fs::read_to_string(basedir.join("venv-pg15/build/bin/buildout")))
        .unwrap();
    assert!(
        script.starts_with(&format!("#!{}/bin/python", venv.display())),
        "the buildout's scripts run on the virtualenv of venv=: {}\n{bootstrap}",
        script.lines().next().unwrap_or("")
    );
    assert!(basedir.join("caches/buildout-dists").is_dir());
    assert!(
        !basedir.join("caches/buildout-venvs").exists(),
        "oebb made no virtualenv of its own"
    );
    assert_eq!(
        files(&venv),
        before,
        "nothing installed into the virtualenv"
    );
}
