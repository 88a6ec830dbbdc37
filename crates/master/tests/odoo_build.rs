//! The Odoo buildout build end to end: the master runs the recipe of a standalone buildout on
//! the in-process oebb worker, with real zc.buildout from PyPI, the stand-in Odoo of
//! `tests/fixtures/fake_odoo` installed by it as a develop egg, and the real PostgreSQL cluster
//! of `OEBB_TEST_PG_URL` (`scripts/install-postgresql`).

mod common;

use common::databases::Db;
use common::odoo::{self, Cluster, ODOO_BUILD_TIMEOUT};
use common::tester::MasterTester;
use oebb_master::Results;

/// The steps of a standalone buildout with the default post-buildout step.
fn steps() -> Vec<&'static str> {
    odoo::default_steps("download")
}

/// A master whose buildouts `[passing]`, `[failing]`, `[broken]`, `[unimportable]` and `[badexit]` install these modules of
/// the stand-in Odoo on PostgreSQL 15, and the one oebb worker having that capability.
async fn master() -> MasterTester {
    let cluster = Cluster::first();
    let mut t = MasterTester::start_with_recipe(Db::Sqlite, |dir| {
        std::fs::write(
            dir.join("slaves.cfg"),
            format!(
                "[ow]\npassword = pw\ncapability = postgresql 15 {}\n",
                cluster.capability_options()
            ),
        )
        .unwrap();
        let source = dir.join("fake_odoo");
        odoo::copy_sources(&source);
        let buildout = odoo::buildout_cfg(source.to_str().unwrap());
        std::fs::create_dir_all(dir.join("buildouts")).unwrap();
        std::fs::write(dir.join("buildouts/buildout.cfg"), buildout).unwrap();
        let mut manifest = String::new();
        for (section, module) in [
            ("passing", "passing"),
            ("failing", "failing_test"),
            ("broken", "install_error"),
            ("unimportable", "import_error"),
            ("badexit", "bad_exit"),
        ] {
            // A failed build keeps its database for a post-mortem, unless told not to.
            let keep = if section == "badexit" { "keep-failed-db = false\n" } else { "" };
            manifest.push_str(&format!(
                "[{section}]\nbuildout = standalone buildout.cfg\n\
                 build-for = postgresql == 15\nopenerp-addons = {module}\nodoo.version = 16.0\n{keep}"
            ));
        }
        std::fs::write(dir.join("buildouts/MANIFEST.cfg"), manifest).unwrap();
    })
    .await;
    t.connect_oebb_worker("ow", "pw").await;
    t
}

/// Databases of the cluster whose name starts with `oebb-`.
fn test_databases() -> String {
    Cluster::first()
        .psql(
            "postgres",
            "SELECT datname FROM pg_database WHERE datname LIKE 'oebb-%'",
        )
        .unwrap()
}

fn expected(failed: &[(&str, Results)]) -> Vec<(String, Option<Results>)> {
    steps()
        .iter()
        .map(|name| {
            let result = failed
                .iter()
                .find(|(n, _)| n == name)
                .map_or(Results::Success, |(_, r)| *r);
            (name.to_string(), Some(result))
        })
        .collect()
}

/// Forces `builder` and checks that its build failed in the steps `failed` (the others green);
/// returns the log of its `analyze` step.
async fn failed_build(t: &MasterTester, builder: &str, failed: &[(&str, Results)]) -> String {
    let (request, builds) = t.force_and_wait_for(builder, ODOO_BUILD_TIMEOUT).await;
    let build = builds[0].id;
    assert_eq!(odoo::results(t, build).await, expected(failed), "{builder}");
    assert_eq!(request.result, Some(Results::Failure), "{builder}");
    t.log(build, "analyze").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odoo_builds_of_a_standalone_buildout() {
    let t = master().await;

    // Green end to end: the modules landed in the builder's own test database, really.
    let (request, builds) = t
        .force_and_wait_for("passing-pg15", ODOO_BUILD_TIMEOUT)
        .await;
    let build = builds[0].id;
    assert_eq!(
        odoo::results(&t, build).await,
        expected(&[]),
        "{:?}\n--- bin/test_openerp ---\n{}\n--- buildout ---\n{}\n--- test ---\n{}",
        t.steps(build).await,
        std::fs::read_to_string(
            t.scratch
                .path()
                .join("oebb-ow-0/passing-pg15/build/bin/test_openerp")
        )
        .unwrap_or_default(),
        t.log(build, "buildout").await,
        t.log(build, "test").await
    );
    assert_eq!(request.result, Some(Results::Success));
    let port = Cluster::first().port;
    let stdio = t.log(build, "test").await;
    assert!(
        stdio.contains(&format!(
            "fake_odoo: table fake_odoo_module in oebb-passing-pg15 port {port}: passing"
        )),
        "{stdio}"
    );
    // The server's `--logfile` is the step's log `test`, beside its `stdio`.
    let test_log = t.named_log(build, "test", "test").await;
    assert!(
        test_log.contains("odoo.tests.result: 0 failed, 0 error(s) of 1 tests")
            && test_log
                .ends_with("Hit CTRL-C again or send a second signal to force the shutdown. \n"),
        "the log file is kept with the step: {test_log}"
    );
    let number = steps().iter().position(|s| *s == "test").unwrap();
    let page = common::browser::Browser::new(t.master.web_address())
        .get(&format!("/builds/{build}"))
        .await;
    let link = format!("href=\"/api/builds/{build}/steps/{number}/logs/test\">test</a>");
    assert!(
        page.body.contains(&link),
        "the build page links the log: {}",
        page.body
    );
    let analyze = t.log(build, "analyze").await;
    assert!(analyze.contains("PASS"), "{analyze}");
    let fetched = t.path(&format!("builds/{build}/analyze/test.log"));
    assert!(std::fs::read_to_string(&fetched)
        .unwrap()
        .contains("Initiating shutdown"));
    let properties = t.store().build_properties(build).await.unwrap();
    let report = properties
        .iter()
        .find(|p| p.name == "analyze_report")
        .expect("the JSON report is a build property");
    let report: serde_json::Value = serde_json::from_str(&report.value_json).unwrap();
    assert_eq!(report["verdict"], "pass");
    assert!(
        !test_databases().contains("oebb-passing-pg15"),
        "dropped at the end"
    );

    // Odoo 16 exits 0 with a failed test: the analysis fails the build.
    // Its database is kept for a post-mortem: the final drop is not run.
    let kept = ("final_dropdb", Results::Skipped);
    let analyze = failed_build(&t, "failing-pg15", &[("analyze", Results::Failure), kept]).await;
    assert!(
        analyze.contains("FAIL") && analyze.contains("test_fails_on_purpose"),
        "{analyze}"
    );

    // An install error stops Odoo with a non-zero status: the test step fails, the analysis
    // still judges the log, and the database is kept.
    let in_test_and_analyze = [("test", Results::Failure), ("analyze", Results::Failure)];
    let analyze = failed_build(
        &t,
        "broken-pg15",
        &[in_test_and_analyze[0], in_test_and_analyze[1], kept],
    )
    .await;
    assert!(
        analyze.contains("Failed to initialize database"),
        "{analyze}"
    );

    // The server exits 1 after a clean log: the analysis judges the log with the exit status
    // of the step that wrote it, and fails.
    let analyze = failed_build(&t, "badexit-pg15", &in_test_and_analyze).await;
    assert!(
        analyze.contains("exit status of step test: 1") && analyze.contains("exit-status"),
        "{analyze}"
    );
    assert!(
        !analyze.contains("error-record") && !analyze.contains("test-failure"),
        "the log itself is clean: {analyze}"
    );

    // The failed builds' databases are kept until their builder's next build (post-mortem),
    // but for the buildout that says `keep-failed-db = false`.
    let kept = test_databases();
    let cluster = Cluster::first();
    for builder in ["failing-pg15", "broken-pg15"] {
        assert!(kept.contains(&format!("oebb-{builder}")), "{kept}");
        let build = t.store().builds(Some(builder), 1).await.unwrap()[0].id;
        let properties = t.store().build_properties(build).await.unwrap();
        let said = properties.iter().find(|p| p.name == "post_mortem").unwrap();
        assert_eq!(
            said.value_json,
            format!(
                "\"database oebb-{builder} kept on {}:{} until the next build\"",
                cluster.host, cluster.port
            )
        );
        cluster
            .psql("postgres", &format!("DROP DATABASE \"oebb-{builder}\""))
            .unwrap();
    }
    assert!(!kept.contains("oebb-badexit-pg15"), "{kept}");
    // The builders asked for the same Python and zc.buildout: one bootstrap virtualenv.
    let venvs = t.scratch.path().join("oebb-ow-0/caches/buildout-venvs");
    assert_eq!(std::fs::read_dir(&venvs).unwrap().count(), 1, "{venvs:?}");
}
