//! Every post-buildout step and its options, and the database steps.

use crate::step::{LockAccess, Step, StepCommand};
use crate::testutil::*;
use crate::RecipeError;
use std::path::PathBuf;
use std::time::Duration;

const BASE: &str = "buildout = standalone b.cfg\nbuild-for = postgresql == 16\n";

fn with(options: &str) -> Vec<crate::step::Step> {
    steps_of(&format!("{BASE}{options}"))
}

#[test]
fn install_modules_test_flags_follow_the_odoo_version() {
    // What anybox.recipe.openerp 1.9.1's test script prepends (runtime/start_openerp.py,
    // `just_test`), and what each server accepts: 6.x has no --test-enable, 7.0 runs tests
    // only with it and logs their results at level TEST.
    let t = |v: &str| text(step(&with(&format!("odoo.version = {v}\n")), "test"));
    for old in ["6.0", "6.1"] {
        assert!(
            t(old).contains(" --log-level=test --stop-after-init "),
            "{old}: {}",
            t(old)
        );
        assert!(!t(old).contains("--test-enable"), "{old}");
    }
    assert!(
        t("7.0").contains(" --log-level=test --test-enable --stop-after-init "),
        "7.0: {}",
        t("7.0")
    );
    for new in ["8.0", "9.0", "10.0", "12.0", "17.0"] {
        assert!(
            t(new).contains(" --test-enable --stop-after-init "),
            "{new}: {}",
            t(new)
        );
        assert!(!t(new).contains("--log-level=test"), "{new}");
    }
    // A start script runs the tests of 7.0 with the same flags.
    let start = text(step(
        &with("odoo.version = 7.0\ntest-command = bin/start_openerp\n"),
        "test",
    ));
    assert!(
        start.starts_with("bin/start_openerp -d ") && start.contains(" --test-enable "),
        "{start}"
    );
}

#[test]
fn install_modules_test_runs_the_test_script_and_keeps_its_log() {
    let steps = with("openerp-addons = sale, stock\nodoo.version = 16.0\n");
    let test = step(&steps, "test");
    assert_eq!(
        text(test),
        "bin/test_openerp -d ci-b-pg16 -i sale,stock --test-enable --stop-after-init \
         --logfile=%(prop:builddir)s/build/test.log"
    );
    assert_eq!(test.log_files["test"], "test.log");
    assert!(test.halt_on_failure);
    assert_eq!(test.timeout, Some(Duration::from_secs(7200)));
    let clean = step(&steps, "clean_logs");
    assert_eq!(text(clean), "rm -f build/test.log");
    assert_eq!(clean.workdir, ".");
    assert_eq!(names(&steps)[..3], ["builddir", "clean_logs", "download"]);
    match &step(&steps, "analyze").command {
        StepCommand::Analyze {
            logfile,
            exit_status_of,
            odoo_version,
            tests_requested,
            ..
        } => {
            assert_eq!(logfile, "test.log");
            assert_eq!(exit_status_of.as_deref(), Some("test"));
            assert_eq!(odoo_version.as_deref(), Some("16.0"));
            assert!(tests_requested);
        }
        other => panic!("{other:?}"),
    }
    // A failed test run halts the build; its log is still analysed.
    let analyze = step(&steps, "analyze");
    assert!(analyze.flunk_on_failure && !analyze.halt_on_failure && analyze.always_run);
}

#[test]
fn test_command_and_timeout_options() {
    let steps = with("test-command = bin/test_odoo --workers=0\nodoo.timeout = 600\n");
    let test = step(&steps, "test");
    assert!(
        text(test).starts_with("bin/test_odoo --workers=0 -d "),
        "{}",
        text(test)
    );
    assert_eq!(test.timeout, Some(Duration::from_secs(600)));
}

#[test]
fn analyze_gets_the_ignore_file_and_warnings_fail() {
    let steps = with("analyze.ignore-file = ignore.cfg\nanalyze.warnings-fail = true\n");
    match &step(&steps, "analyze").command {
        StepCommand::Analyze {
            ignore_file,
            warnings_fail,
            odoo_version,
            ..
        } => {
            assert_eq!(
                ignore_file,
                &Some(PathBuf::from("/master/buildouts/ignore.cfg"))
            );
            assert!(warnings_fail);
            assert_eq!(odoo_version, &None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn use_port_reserves_a_port_passes_it_and_always_releases_it() {
    let steps = with("odoo.use-port = true\nodoo.version = 16.0\nodoo.http-port-min = 7000\n");
    let n = names(&steps);
    let at = |name| n.iter().position(|x| *x == name).unwrap();
    assert!(at("port_reserve") < at("test") && at("test") < at("port_release"));
    let reserve = step(&steps, "port_reserve");
    assert_eq!(reserve.locks, [LockAccess::exclusive("port-reserve")]);
    assert_eq!(
        reserve.property_from_stdout.as_deref(),
        Some("openerp_port")
    );
    assert_eq!(reserve.env["PORT_MIN"], "7000");
    assert_eq!(reserve.env["PORT_MAX"], "7068");
    assert_eq!(reserve.env["PORT_STEP"], "5");
    assert!(text(step(&steps, "test")).ends_with(" --http-port=%(prop:openerp_port)s"));
    let release = step(&steps, "port_release");
    assert!(release.always_run && !release.flunk_on_failure);
    assert!(
        text(release).contains("if [ -n \"$PORT\" ]"),
        "an empty port must not remove every claim"
    );
    let old = with("odoo.use-port = true\nodoo.version = 10.0\n");
    assert!(text(step(&old, "test")).ends_with(" --xmlrpc-port=%(prop:openerp_port)s"));
    assert!(!names(&with("")).contains(&"port_reserve"));
}

#[test]
fn install_modules_installs_without_tests_and_optionally_without_demo() {
    let steps =
        with("post-buildout-steps = install-modules\nopenerp-addons = crm\nbuildout-part = odoo\n");
    assert_eq!(names(&steps)[13..], ["install", "analyze", "final_dropdb"]);
    let install = step(&steps, "install");
    assert_eq!(
        text(install),
        "bin/start_odoo -d ci-b-pg16 -i crm --stop-after-init --logfile=%(prop:builddir)s/build/install.log"
    );
    assert_eq!(install.log_files["install"], "install.log");
    match &step(&steps, "analyze").command {
        StepCommand::Analyze {
            tests_requested, ..
        } => assert!(!tests_requested),
        other => panic!("{other:?}"),
    }
    let nodemo = with(
        "post-buildout-steps = install-modules\nopenerp-addons = crm\ninstall.demo-data = false\n",
    );
    assert!(text(step(&nodemo, "install")).ends_with(" --without-demo=all"));
}

#[test]
fn update_runs_the_upgrade_script_with_its_log() {
    let steps = with("post-buildout-steps = update-openerp\n");
    let s = step(&steps, "updating");
    assert_eq!(
        text(s),
        "bin/upgrade_openerp --log-file %(prop:builddir)s/build/update.log"
    );
    assert_eq!(s.log_files["update"], "update.log");
    let custom = with(
        "post-buildout-steps = update-odoo\nupgrade.script = bin/up\nupdate.log_file_option = -l\n",
    );
    assert_eq!(
        text(step(&custom, "updating")),
        "bin/up -l %(prop:builddir)s/build/update.log"
    );
}

#[test]
fn openerp_command_initialize_tests_lists_modules() {
    let all = with("post-buildout-steps = openerpcommand-initialize-tests\n");
    assert_eq!(
        text(step(&all, "testing")),
        "bin/openerp_command initialize --no-create --tests --database ci-b-pg16 --all-modules --exclude auth_ldap --exclude document_ftp"
    );
    let some =
        with("post-buildout-steps = openerpcommand-initialize-tests\nopenerp-addons = a, b\n");
    assert!(text(step(&some, "testing")).ends_with("--module a --module b"));
}

#[test]
fn nose_installs_checks_then_tests_and_uploads_coverage() {
    let steps = with(
        "post-buildout-steps = nose\nopenerp-addons = a\nnose.tests = a/tests\nnose.coverage = true\n\
         nose.upload-path = public_html/cov/$(buildnumber)s\nnose.upload-url = http://h/cov/$(buildnumber)s\n",
    );
    assert_eq!(
        names(&steps)[13..],
        [
            "install",
            "check",
            "mkdir_output",
            "tests",
            "upload_output",
            "final_dropdb"
        ]
    );
    let tests = text(step(&steps, "tests"));
    assert!(
        tests.starts_with("bin/nosetests -v a/tests --with-coverage --cover-html"),
        "{tests}"
    );
    assert!(
        tests.contains("--cover-erase --cover-branches --cover-package a"),
        "{tests}"
    );
    match &step(&steps, "upload_output").command {
        StepCommand::UploadDirectory { source, dest, url } => {
            assert_eq!(source, "nose_output");
            assert_eq!(dest, "public_html/cov/%(prop:buildnumber)s");
            assert_eq!(url.as_deref(), Some("http://h/cov/%(prop:buildnumber)s"));
        }
        other => panic!("{other:?}"),
    }
    let plain = with("post-buildout-steps = nose\n");
    assert!(!names(&plain).contains(&"mkdir_output"));
    let upgrade = with("post-buildout-steps = nose\ninstall-as-upgrade = true\n");
    assert!(text(step(&upgrade, "install"))
        .starts_with("bin/upgrade_openerp --init-load-demo-data --log-file "));
}

#[test]
fn nose_profiles_and_pytest_runner() {
    let steps = with("post-buildout-steps = nose\nnose.profile = true\nnose.profile-restrict = x\nnose.cprofile = true\n");
    let t = text(step(&steps, "tests"));
    assert!(
        t.contains(
            "--with-profile --profile-stats-file nose_output/profile.stats --profile-restrict x"
        ),
        "{t}"
    );
    assert!(t.contains("--with-cprofile --cprofile-stats-erase"), "{t}");
    let py = with("post-buildout-steps = nose\nnose.runner = pytest\nopenerp-addons = a\nnose.coverage = true\nnose.tests = a/tests\n");
    assert_eq!(
        text(step(&py, "tests")),
        "bin/pytest -v --odoo-database=ci-b-pg16 --cov=a --cov-report=html:nose_output/coverage a/tests"
    );
    assert!(try_steps_of(&format!(
        "{BASE}post-buildout-steps = nose\nnose.runner = tox\n"
    ))
    .is_err());
}

#[test]
fn static_analysis_installs_its_part_under_the_lock_then_runs_flake8() {
    let steps = with(
        "post-buildout-steps = static-analysis\nstatic-analysis.flake-directories = a b\nstatic-analysis.max-line-length = 79\n",
    );
    let tools = step(&steps, "analysis_tools");
    assert!(
        text(tools).ends_with(" install static-analysis"),
        "{}",
        text(tools)
    );
    assert_eq!(tools.locks, [LockAccess::exclusive("buildout")]);
    assert_eq!(
        text(step(&steps, "flake8")),
        "bin/flake8 --max-line-length 79 --show-source a b"
    );
}

#[test]
fn doc_builds_with_sphinx_and_uploads_the_html() {
    let steps = with(
        "post-buildout-steps = doc\ndoc.sphinx-sourcedir = doc\ndoc.sphinx-mode = full\ndoc.upload-dir = proj/\n\
         doc.base-url = http://h/doc\n",
    );
    assert_eq!(
        text(step(&steps, "sphinx")),
        "bin/sphinx-build -b html -E doc doc/_build"
    );
    match &step(&steps, "upload_doc").command {
        StepCommand::UploadDirectory { source, dest, url } => {
            assert_eq!(source, "doc/_build");
            assert_eq!(dest, "public_html/doc/proj/%(prop:buildout-tag:-current)s");
            assert_eq!(
                url.as_deref(),
                Some("http://h/doc/proj/%(prop:buildout-tag:-current)s")
            );
        }
        other => panic!("{other:?}"),
    }
    let plain = with("post-buildout-steps = doc\n");
    assert_eq!(text(step(&plain, "sphinx")), "sh bin/sphinx");
    assert!(!names(&plain).contains(&"upload_doc"));
}

#[test]
fn functional_stops_the_server_on_every_path() {
    let steps = with(
        "post-buildout-steps = functional\nfunctional.commands = tests/run.sh other\nfunctional.parts = funkload\n\
         functional.wait = 5\nodoo.version = 7.0\n",
    );
    assert_eq!(
        names(&steps)[13..],
        [
            "functional_tools",
            "port_reserve",
            "start",
            "wait",
            "run.sh",
            "other",
            "stop",
            "port_release",
            "final_dropdb"
        ]
    );
    assert_eq!(
        step(&steps, "functional_tools").locks,
        [LockAccess::exclusive("buildout")]
    );
    assert_eq!(step(&steps, "port_reserve").env["PORT_MIN"], "9069");
    let start = text(step(&steps, "start"));
    assert!(
        start.contains("bin/start_openerp -d ci-b-pg16 \"--xmlrpc-port=$PORT\""),
        "{start}"
    );
    assert!(start.contains("echo $! > \"$PIDFILE\""), "{start}");
    assert_eq!(text(step(&steps, "wait")), "sleep 5");
    assert_eq!(
        text(step(&steps, "run.sh")),
        "tests/run.sh %(prop:openerp_port)s ci-b-pg16"
    );
    assert_eq!(
        step(&steps, "run.sh").log_files["server"],
        "server-functional.log"
    );
    let stop = step(&steps, "stop");
    assert!(stop.always_run && !stop.flunk_on_failure);
    assert!(text(stop).contains("kill -KILL"), "{}", text(stop));
}

#[test]
fn autocommit_commits_and_pushes() {
    let steps = with("post-buildout-steps = autocommit\nautocommit.message = nightly\n");
    assert_eq!(
        text(step(&steps, "autocommit")),
        "bin/autocommit_openerp -c b.cfg --push -m nightly"
    );
}

#[test]
fn pg_remote_copy_copies_into_the_testing_database() {
    let steps = with("db-steps = pg_remote_copy\npg_remote_copy.arguments = --host remote src\npg_remote_copy.timeout = 900\n");
    assert_eq!(names(&steps)[11..13], ["dropdb", "pg_remote_copy"]);
    let s = step(&steps, "pg_remote_copy");
    assert_eq!(
        text(s),
        "pg_remote_copy --copied_db_name ci-b-pg16 --host remote src"
    );
    assert_eq!(s.timeout, Some(Duration::from_secs(900)));
    assert!(s.halt_on_failure);
    // An empty db_option passes the name alone (anybox could not).
    let positional = with(
        "db-steps = pg_remote_copy\npg_remote_copy.arguments = src\npg_remote_copy.db_option =\n",
    );
    assert_eq!(
        text(step(&positional, "pg_remote_copy")),
        "pg_remote_copy ci-b-pg16 src"
    );
}

#[test]
fn db_template_is_used_by_createdb() {
    let steps = with("db_template = postgis_template\n");
    assert_eq!(
        text(step(&steps, "createdb")),
        "createdb -T postgis_template ci-b-pg16"
    );
}

#[test]
fn clean_logs_removes_every_log_once_and_is_left_out_without_logs() {
    let steps = with("openerp-addons = a\npost-buildout-steps = install-modules\n    nose\n    functional\n    install-modules-test\nfunctional.commands = x\n");
    assert_eq!(
        text(step(&steps, "clean_logs")),
        "rm -f build/install.log build/server-functional.log build/test.log"
    );
    let none =
        with("post-buildout-steps = static-analysis\nstatic-analysis.flake-directories = a\n");
    assert!(!names(&none).contains(&"clean_logs"));
}

#[test]
fn each_analysis_judges_the_exit_status_of_the_step_that_wrote_its_log() {
    let steps = with(
        "openerp-addons = crm\npost-buildout-steps = install-modules\n  update-openerp\n  install-modules\n",
    );
    let writer = |name: &str| match &step(&steps, name).command {
        StepCommand::Analyze { exit_status_of, .. } => exit_status_of.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(writer("analyze").as_deref(), Some("install"));
    assert_eq!(writer("analyze_2").as_deref(), Some("updating"));
    // The second install family's steps are renamed; its analysis follows its own step.
    assert_eq!(writer("analyze_3").as_deref(), Some("install_2"));
    assert!(names(&steps).contains(&"install_2"));
}

#[test]
fn packaging_uploads_the_release_archive_and_its_checksum() {
    let steps = with(
        "post-buildout-steps = packaging\npackaging.prefix = shop\npackaging.upload-dir = shop/\n\
         packaging.root-dir = /srv/releases\npackaging.base-url = https://dl.example.com\n",
    );
    let upload = |name: &str| match &step(&steps, name).command {
        StepCommand::Upload { source, dest } => (source.clone(), dest.clone()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        upload("upload_archive"),
        (
            "../dist/shop-%(prop:buildout-tag)s.tar.bz2".to_string(),
            PathBuf::from("/srv/releases/shop/shop-%(prop:buildout-tag)s.tar.bz2")
        )
    );
    assert_eq!(
        upload("upload_md5").1,
        PathBuf::from("/srv/releases/shop/shop-%(prop:buildout-tag)s.tar.bz2.md5")
    );
    assert_eq!(
        step(&steps, "upload_archive").description,
        "served at https://dl.example.com/shop/shop-%(prop:buildout-tag)s.tar.bz2"
    );
    assert!(step(&steps, "upload_md5").halt_on_failure);
}

/// The recipe on a buildout whose options were changed after loading (which checks them).
fn with_options_changed(options: &str, changes: &[(&str, &str)]) -> Result<Vec<Step>, RecipeError> {
    let mut f = crate::testutil::fixture(&format!("[b]\n{options}\n"), crate::testutil::WORKERS);
    for (name, value) in changes {
        f.buildouts[0]
            .options
            .insert(name.to_string(), value.to_string());
    }
    let name = f.matrix.builders[0].name.to_string();
    f.steps(&name, "w1", &[])
}

#[test]
fn path_options_that_lead_elsewhere_are_refused_by_the_recipe_too() {
    let doc = "buildout = standalone b.cfg\npost-buildout-steps = doc\ndoc.upload-dir = proj\n";
    for (option, value) in [
        ("doc.upload-root", "/"),
        ("doc.upload-root", "../.."),
        ("doc.upload-dir", "../../.."),
    ] {
        let err = with_options_changed(doc, &[(option, value)]).unwrap_err();
        assert!(
            matches!(&err, RecipeError::BadOption { option: o, .. } if o == option),
            "{option} = {value}: {err}"
        );
    }
    let packaging = "buildout = standalone b.cfg\npost-buildout-steps = packaging\n\
                     packaging.prefix = shop\npackaging.upload-dir = shop\n\
                     packaging.root-dir = /srv/rel\npackaging.base-url = http://x\n";
    for (option, value) in [
        ("packaging.prefix", "../x"),
        ("packaging.upload-dir", "/etc"),
        ("packaging.root-dir", "../../x"),
    ] {
        let err = with_options_changed(packaging, &[(option, value)]).unwrap_err();
        assert!(
            matches!(&err, RecipeError::BadOption { option: o, .. } if o == option),
            "{option} = {value}: {err}"
        );
    }
    let nose = "buildout = standalone b.cfg\npost-buildout-steps = nose\nnose.coverage = true\n";
    let err = with_options_changed(nose, &[("nose.upload-path", "/var/www")]).unwrap_err();
    assert!(err.to_string().contains("nose.upload-path"), "{err}");
}
