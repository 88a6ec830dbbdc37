//! The `createdb` step of `db.template-cache = true` run for real with `sh`, Python and the
//! test PostgreSQL cluster (`OEBB_TEST_PG_URL`), with a stand-in start command that records
//! what it was asked to install into the database: the template of the dependencies is made,
//! then used; a template without its completion comment is made again; an install that logs
//! an ERROR makes no template and the testing database is made as without the cache; a template
//! older than `db.template-max-age` days is evicted, and so is a template making left by a build
//! that died.

use oebb_config::build_matrix;
use oebb_config::buildout::parse_manifest;
use oebb_config::ini::Ini;
use oebb_config::worker::parse_workers;
use oebb_recipe::step::{Step, StepCommand};
use oebb_recipe::{build_steps, BuildInput};
use std::path::Path;
use std::process::Command;

/// The `createdb` step of a buildout testing `under_test` with the template cache on.
fn createdb_step(start: &Path) -> Step {
    let manifest = format!(
        "[b]\nbuildout = standalone b.cfg\nbuildout-part = odoo\nopenerp-addons = under_test\n\
         db.template-cache = true\nstart-command = {}\n",
        start.display()
    );
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
    .into_iter()
    .find(|s| s.name == "createdb")
    .unwrap()
}

/// The cluster of the tests: `(user, host, port)`.
fn cluster() -> (String, String, String) {
    let url = oebb_testkit::postgres_url();
    let rest = url.split_once("://").unwrap().1;
    let (user, rest) = rest.split_once('@').unwrap();
    let address = rest.split('/').next().unwrap();
    let (host, port) = address.split_once(':').unwrap_or((address, "5432"));
    (user.into(), host.into(), port.into())
}

fn psql(sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-q", "-At", &oebb_testkit::postgres_url(), "-c", sql])
        .output()
        .expect("psql runs (apt-get install postgresql-client)");
    assert!(out.status.success(), "{sql}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs the step in `builder/build` with `extra` environment; returns (stdout, stderr).
fn run(step: &Step, builder: &Path, extra: &[(&str, &str)]) -> (String, String) {
    let StepCommand::Script(script) = &step.command else {
        panic!("{:?}", step.command)
    };
    let (user, host, port) = cluster();
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).current_dir(builder.join("build"));
    for (k, v) in &step.env {
        cmd.env(k, v.replace("%(prop:builddir)s", builder.to_str().unwrap()));
    }
    cmd.env("PGUSER", user)
        .env("PGHOST", host)
        .env("PGPORT", port);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        stderr,
    )
}

fn module(addons: &Path, name: &str, depends: &str) {
    let dir = addons.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("__openerp__.py"),
        format!("{{'name': '{name}', 'depends': [{depends}]}}\n"),
    )
    .unwrap();
}

#[test]
fn a_template_of_the_dependencies_is_made_used_remade_and_evicted() {
    let tmp = tempfile::tempdir().unwrap();
    let builder = tmp.path().join("builder");
    let addons = tmp.path().join("addons");
    module(&addons, "base", "");
    module(&addons, "dep", "'base'");
    module(&addons, "under_test", "'dep'");
    // A marker only this test's template has: another run's templates have other keys.
    std::fs::write(
        addons.join("dep/marker.py"),
        format!("{:?}\n", std::time::SystemTime::now()),
    )
    .unwrap();
    std::fs::create_dir_all(builder.join("build/etc")).unwrap();
    std::fs::write(
        builder.join("build/etc/odoo.cfg"),
        format!("[options]\naddons_path = {}\n", addons.display()),
    )
    .unwrap();
    // The stand-in start command: `-d DB -i MODULES --stop-after-init --logfile=F`.
    let start = tmp.path().join("start");
    std::fs::write(
        &start,
        "#!/bin/sh\nlog=${6#--logfile=}\n\
         if [ -n \"$FAIL\" ]; then echo \"2026-01-01 00:00:00,000 1 ERROR $2 x: failed\" > \"$log\"; exit 0; fi\n\
         psql -X -q -d \"$2\" -c \"CREATE TABLE installed AS SELECT '$4'::text AS modules\"\n\
         echo \"2026-01-01 00:00:00,000 1 INFO $2 x: ok\" > \"$log\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&start, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let step = createdb_step(&start);
    let testing_db = step.env["TESTING_DB"].clone();
    let installed = || {
        let sql = "SELECT modules FROM installed".to_string();
        let out = Command::new("psql")
            .args(["-X", "-q", "-At", "-d"])
            .arg(oebb_testkit::postgres_url().replace("/postgres", &format!("/{testing_db}")))
            .args(["-c", &sql])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let drop = || psql(&format!("DROP DATABASE IF EXISTS \"{testing_db}\""));
    drop();

    let (template, log) = run(&step, &builder, &[]);
    assert!(template.starts_with("oebbtpl_"), "{template}\n{log}");
    assert!(
        log.contains(&format!("template {template} made and used")),
        "{log}"
    );
    assert!(
        log.contains("dependencies of under_test: base,dep"),
        "{log}"
    );
    assert_eq!(installed(), "base,dep");
    drop();

    let (again, log) = run(&step, &builder, &[]);
    assert_eq!(again, template);
    assert!(log.contains(&format!("template {template} used")), "{log}");
    assert_eq!(installed(), "base,dep");
    drop();

    // Without its completion comment, a template is broken: made again.
    psql(&format!("COMMENT ON DATABASE \"{template}\" IS NULL"));
    let (_, log) = run(&step, &builder, &[]);
    assert!(
        log.contains(&format!("template {template} made and used")),
        "{log}"
    );
    drop();

    // Another dependency file: another template, whose install logs an ERROR: none is made,
    // and the testing database is made from template1.
    std::fs::write(addons.join("dep/other.py"), "x = 1\n").unwrap();
    let (none, log) = run(&step, &builder, &[("FAIL", "1")]);
    assert!(
        none.starts_with("none: installing base,dep failed"),
        "{none}\n{log}"
    );
    assert_eq!(installed(), "", "a plain database");
    let leftovers = psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'oebbtpl\\_%\\_n%'");
    assert_eq!(leftovers, "0");
    drop();

    // The first template, 8 days old, is evicted when a build uses another one, and so is what
    // a build that died two days ago while making a template left.
    let orphan = format!("{template}_n1");
    psql(&format!("DROP DATABASE IF EXISTS \"{orphan}\""));
    psql(&format!("CREATE DATABASE \"{orphan}\""));
    psql(&format!(
        "COMMENT ON DATABASE \"{orphan}\" IS 'oebb-template-building {}'",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 2 * 86400
    ));
    psql(&format!(
        "COMMENT ON DATABASE \"{template}\" IS 'oebb-template {} base,dep'",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 8 * 86400
    ));
    let (newer, log) = run(&step, &builder, &[]);
    assert_ne!(newer, template);
    assert!(
        log.contains(&format!("evicting template {template}")),
        "{log}"
    );
    assert!(log.contains(&format!("dropping {orphan}")), "{log}");
    let left = psql(&format!(
        "SELECT count(*) FROM pg_database WHERE datname = '{template}'"
    ));
    assert_eq!(left, "0");
    let orphans = psql(&format!(
        "SELECT count(*) FROM pg_database WHERE datname = '{orphan}'"
    ));
    assert_eq!(orphans, "0");
    drop();
    psql(&format!("DROP DATABASE IF EXISTS \"{newer}\""));
}
