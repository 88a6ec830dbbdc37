//! The whole recipe: step order, environment per worker, locks, timeouts, database name,
//! versions, and the anybox bugs fixed.

use crate::step::{LockAccess, StepCommand};
use crate::testutil::*;
use crate::{OdooSeries, RecipeError};
use std::time::Duration;

const STANDARD: &str = "buildout = standalone odoo.cfg\nbuild-for = postgresql == 16\n\
                        openerp-addons = base, web\nbuildout-part = odoo\n";

#[test]
fn the_standard_build_runs_in_order() {
    let steps = steps_of(STANDARD);
    assert_eq!(
        names(&steps),
        [
            "builddir",
            "clean_logs",
            "download",
            "props_postgresql",
            "pg_cluster_props",
            "bootstrap",
            "buildout_key",
            "buildout_unchanged",
            "buildout",
            "buildout_stamp",
            "got_revisions",
            "dropdb",
            "createdb",
            "test",
            "analyze",
            "final_dropdb"
        ]
    );
}

#[test]
fn testing_database_is_prefix_and_builder_name() {
    let steps = steps_of(STANDARD);
    assert_eq!(
        text(step(&steps, "createdb")),
        "createdb -T template1 ci-b-pg16"
    );
    assert_eq!(text(step(&steps, "dropdb")), "dropdb --if-exists ci-b-pg16");
    match &step(&steps, "pg_cluster_props").command {
        StepCommand::SetProperties(p) => assert_eq!(p["testing_db"], "ci-b-pg16"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn default_prefix_is_oebb_and_two_builders_of_one_buildout_never_share_a_database() {
    let workers =
        "[w]\npassword = x\ncapability = postgresql 15 port=5432\n    postgresql 16 port=5432\n";
    let f = fixture(
        &format!("[b]\n{STANDARD}").replace("== 16", ">= 15"),
        workers,
    );
    let db = |builder: &str| {
        let steps = f.steps(builder, "w", &[]).unwrap();
        text(step(&steps, "createdb"))
            .rsplit(' ')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(db("b-pg16"), "oebb-b-pg16");
    assert_eq!(db("b-pg15"), "oebb-b-pg15");
}

#[test]
fn final_dropdb_always_runs_and_only_warns() {
    let steps = steps_of(STANDARD);
    let last = steps.last().unwrap();
    assert_eq!(last.name, "final_dropdb");
    assert!(last.always_run && !last.flunk_on_failure && last.warn_on_failure);
    let none = steps_of(&format!("{STANDARD}db-steps =\n"));
    assert!(!names(&none)
        .iter()
        .any(|n| n.contains("dropdb") || *n == "createdb"));
}

#[test]
fn bootstrap_and_buildout_hold_the_exclusive_buildout_lock() {
    let steps = steps_of(STANDARD);
    for name in ["bootstrap", "buildout"] {
        assert_eq!(
            step(&steps, name).locks,
            [LockAccess::exclusive("buildout")]
        );
    }
    for s in steps
        .iter()
        .filter(|s| !["bootstrap", "buildout"].contains(&s.name.as_str()))
    {
        assert!(s.locks.is_empty(), "{} holds {:?}", s.name, s.locks);
    }
}

#[test]
fn buildout_timeout_is_four_hours_unless_set() {
    let steps = steps_of(STANDARD);
    assert_eq!(
        step(&steps, "buildout").timeout,
        Some(Duration::from_secs(4 * 3600))
    );
    let steps = steps_of(&format!("{STANDARD}buildout.timeout = 60\n"));
    assert_eq!(
        step(&steps, "buildout").timeout,
        Some(Duration::from_secs(60))
    );
    let err = try_steps_of(&format!("{STANDARD}buildout.timeout = soon\n")).unwrap_err();
    assert!(err.to_string().contains("buildout.timeout"), "{err}");
}

#[test]
fn buildout_gets_shared_caches_and_the_capability_database_options() {
    let steps = steps_of(STANDARD);
    let line = text(step(&steps, "buildout"));
    for arg in [
        "bin/buildout -c odoo.cfg",
        "buildout:eggs-directory=%(prop:builddir)s/../caches/eggs",
        "buildout:download-cache=%(prop:builddir)s/../caches/downloads",
        "buildout:openerp-downloads-directory=%(prop:builddir)s/../caches/odoo-downloads",
        "buildout:odoo-downloads-directory=%(prop:builddir)s/../caches/odoo-downloads",
        "odoo:options.db_port=5433",
        "odoo:options.db_host=/tmp",
        "odoo:options.db_user=ci",
        "odoo:options.db_password=secret",
        "odoo:options.db_name=ci-b-pg16",
        "odoo:with_devtools=true",
        "odoo:vcs-revert=on-merge",
        "buildout:unzip=true",
    ] {
        assert!(line.contains(arg), "{arg} missing in {line}");
    }
    assert!(!line.contains("git-depth"));
    let shallow = steps_of(&format!("{STANDARD}git-shallow = true\n"));
    assert!(text(step(&shallow, "buildout")).contains("odoo:git-depth=2"));
}

#[test]
fn database_options_default_like_anybox_without_capability_options() {
    let f = fixture(&format!("[b]\n{STANDARD}"), WORKERS);
    let steps = f.steps("b-pg16", "w2", &[]).unwrap();
    let line = text(step(&steps, "buildout"));
    assert!(line.contains("odoo:options.db_port=5434"));
    assert!(line.contains("odoo:options.db_host=False"));
    assert!(line.contains("odoo:options.db_user=False"));
}

#[test]
fn environment_comes_from_the_builder_for_that_worker() {
    let f = fixture(&format!("[b]\n{STANDARD}"), WORKERS);
    let w1 = f.steps("b-pg16", "w1", &[]).unwrap();
    let env = &step(&w1, "createdb").env;
    assert_eq!(env["PGPORT"], "5433");
    assert_eq!(env["PGHOST"], "/tmp");
    assert_eq!(env["PGUSER"], "ci");
    assert_eq!(env["PGPASSWORD"], "secret");
    assert_eq!(env["LD_LIBRARY_PATH"], "/usr/lib/pg16");
    assert_eq!(env["PATH"], "/usr/lib/postgresql/16/bin:${PATH}");
    for name in ["buildout", "bootstrap", "dropdb", "test", "final_dropdb"] {
        assert_eq!(step(&w1, name).env["PGPORT"], "5433", "{name}");
    }
    let w2 = f.steps("b-pg16", "w2", &[]).unwrap();
    assert_eq!(step(&w2, "createdb").env["PGPORT"], "5434");
    assert!(!step(&w2, "createdb").env.contains_key("PATH"));
}

#[test]
fn capability_properties_are_set_from_the_worker() {
    let steps = steps_of(STANDARD);
    match &step(&steps, "props_postgresql").command {
        StepCommand::SetProperties(p) => {
            assert_eq!(p["cap_postgresql_port"], "5433");
            assert_eq!(p["cap_postgresql_bin"], "/usr/lib/postgresql/16/bin");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn builddir_step_creates_the_caches_and_sets_the_property_every_path_uses() {
    let steps = steps_of(STANDARD);
    let first = &steps[0];
    assert_eq!(first.workdir, ".");
    assert_eq!(first.property_from_stdout.as_deref(), Some("builddir"));
    assert!(first.halt_on_failure);
    let script = text(first);
    for dir in ["eggs", "downloads", "odoo-downloads", "ports"] {
        assert!(script.contains(&format!("../caches/{dir}")), "{dir}");
    }
}

#[test]
fn wrong_worker_or_buildout_are_errors_naming_the_choices() {
    let workers = format!("{WORKERS}[w3]\npassword = x\n");
    let f = fixture(&format!("[b]\n{STANDARD}"), &workers);
    let err = f.steps("b-pg16", "w3", &[]).unwrap_err();
    assert!(matches!(err, RecipeError::WorkerNotInBuilder { .. }));
    assert!(err.to_string().contains("w1, w2"), "{err}");
}

#[test]
fn packaging_is_refused_not_silently_skipped() {
    let opts = format!(
        "{STANDARD}post-dl-steps = packaging\npackaging.root-dir = /r\npackaging.upload-dir = u\n\
         packaging.prefix = p\npackaging.parts = odoo\n"
    );
    let err = try_steps_of(&opts).unwrap_err();
    assert!(matches!(err, RecipeError::Unsupported { .. }));
    assert!(
        err.to_string().contains("`post-dl-steps = packaging`")
            && err.to_string().contains("remove it from the manifest"),
        "{err}"
    );
}

#[test]
fn odoo_series_parses_and_decides_flags() {
    let s = |t| OdooSeries::parse(t).unwrap();
    assert_eq!(
        s("16.0"),
        OdooSeries {
            major: 16,
            minor: 0
        }
    );
    assert_eq!(
        s("saas~16.3"),
        OdooSeries {
            major: 16,
            minor: 3
        }
    );
    assert_eq!(s("8"), OdooSeries { major: 8, minor: 0 });
    assert!(OdooSeries::parse("trunk").is_none());
    assert!(!s("6.1").has_test_enable());
    assert!(s("7.0").has_test_enable());
    assert!(s("8.0").has_test_enable());
    assert!(s("7.0").logs_tests_at_test_level());
    assert!(!s("8.0").logs_tests_at_test_level());
    assert_eq!(s("10.0").port_flag(), "--xmlrpc-port");
    assert_eq!(s("11.0").port_flag(), "--http-port");
}

#[test]
fn a_bad_odoo_version_is_an_error() {
    let err = try_steps_of(&format!("{STANDARD}odoo.version = latest\n")).unwrap_err();
    assert!(err.to_string().contains("odoo.version"), "{err}");
}

#[test]
fn odoo_version_may_come_from_the_worker() {
    let workers = WORKERS.replace("db_prefix = ci\n", "db_prefix = ci\nodoo_version = 7.0\n");
    let f = fixture(&format!("[b]\n{STANDARD}"), &workers);
    let steps = f.steps("b-pg16", "w1", &[]).unwrap();
    assert!(text(step(&steps, "test")).contains("--log-level=test"));
}

#[test]
fn step_names_are_unique() {
    let steps = steps_of(&format!(
        "{STANDARD}post-buildout-steps = install-modules-test\n    install-modules\n"
    ));
    let mut all = names(&steps);
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "{:?}", names(&steps));
    assert!(names(&steps).contains(&"analyze_2"));
}
