//! Every log of `fixtures/odoo-logs/` (written for this project in each version's grammar)
//! gives its verdict, with the findings that decide it at their lines. The same cases on the
//! public reference corpus are in samples_reference.rs, an extra suite.

mod common;

use common::{fixture, fixture_names, rules_and_lines};
use oebb_analyze::{
    analyze, IgnoreList, Options, Report, Rule, TestsExpectation, Verdict, Version,
};
use Rule::*;

fn run(name: &str) -> Report {
    analyze(&fixture(name), &Options::default())
}

fn run_with(name: &str, options: Options) -> Report {
    analyze(&fixture(name), &options)
}

fn requested() -> Options {
    Options {
        tests: TestsExpectation::Requested,
        ..Options::default()
    }
}

fn excerpt() -> Options {
    Options {
        require_shutdown: Some(false),
        ..Options::default()
    }
}

/// The version the analysis assumed, and whether it was read from the banner.
fn version(r: &Report) -> (Version, bool) {
    let v = r.version.as_ref().expect("a version");
    (v.version, v.exact)
}

#[test]
fn every_fixture_has_a_test_here() {
    let covered = [
        "empty.log",
        "odoo-10.0-registry-failure.log",
        "odoo-11.0-not-loaded-excerpt.log",
        "odoo-12.0-missing-dependency.log",
        "odoo-13.0-test-error.log",
        "odoo-14.0-pass.log",
        "odoo-15.0-no-tests.log",
        "odoo-16.0-thread-traceback.log",
        "odoo-17.0-retried-test.log",
        "odoo-17.0-two-failures.log",
        "odoo-18.0-coloured-warning.log",
        "odoo-18.0-interrupted-loading.log",
        "odoo-18.0-killed.log",
        "odoo-18.0-pass.log",
        "odoo-8.0-test-failure.log",
        "odoo-9.0-access-rule-warnings.log",
        "openerp-6.0-pass.log",
        "openerp-6.0-yaml-failures.log",
        "openerp-6.1-yaml-assertion.log",
        "openerp-7.0-pass.log",
        "openerp-7.0-real-data-error.log",
        "openerp-7.0-real-test-failures.log",
        "openerp-7.0-unittest-failure.log",
    ];
    assert_eq!(
        fixture_names(),
        covered,
        "a fixture was added or removed: add its test"
    );
}

// ---- OpenERP 6.0: `[ts][db] LEVEL:logger:message` ------------------------------------------

#[test]
fn openerp_60_yaml_tests_pass() {
    let r = run_with("openerp-6.0-pass.log", requested());
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.findings);
    assert_eq!(rules_and_lines(&r), []);
    // 6.0 prints neither "Modules loaded." nor "Initiating shutdown": neither is required.
    assert_eq!(version(&r), (Version::new(6, 0), true));
    assert_eq!(
        r.tests.yaml_files, 3,
        "the test/*.yml files are the tests run"
    );
    assert_eq!(r.records, 14);
}

#[test]
fn openerp_60_yaml_failures_at_warning_and_error_and_an_aborted_file() {
    let r = run("openerp-6.0-yaml-failures.log");
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(
        rules_and_lines(&r),
        [(YamlAssertion, 11), (YamlAssertion, 13), (TestsFailed, 17)]
    );
    let [python, assertion, aborted] = &r.findings[..] else {
        panic!("{:?}", r.findings)
    };
    assert_eq!(python.level, Some(oebb_analyze::Level::Warning));
    assert_eq!(python.logger, "tests.stock_bin_location");
    assert!(python.message.starts_with("AssertionError in Python code"));
    assert!(
        assertion.text.contains("test: state == 'cancel'"),
        "the assertion's lines belong to its record: {:?}",
        assertion.text
    );
    assert_eq!(aborted.logger, "test");
    assert!(aborted
        .text
        .ends_with("YamlImportAbortion: name 'bin_total' is not defined"));
    assert_eq!(r.tests.yaml_files, 3);
}

// ---- OpenERP 6.1 and 7.0: `ts pid LEVEL db logger: message`, TEST level ---------------------

#[test]
fn openerp_61_yaml_assertion_at_warning_fails() {
    let r = run("openerp-6.1-yaml-assertion.log");
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(rules_and_lines(&r), [(YamlAssertion, 13)]);
    assert!(r.findings[0]
        .text
        .ends_with("test: state == 'wait_approval'\nvalues: ! manual == wait_approval"));
    // 6.1 prints "Modules loaded." but no shutdown marker: the banner says which.
    assert_eq!(version(&r), (Version::new(6, 1), true));
    assert_eq!(r.tests.yaml_files, 1);
}

#[test]
fn openerp_70_unittest_run_passes_without_a_shutdown_marker() {
    let r = run_with("openerp-7.0-pass.log", requested());
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.findings);
    // No banner in this excerpt: the TEST level tells 6.1–7.0.
    assert_eq!(version(&r), (Version::new(7, 0), false));
    assert_eq!(r.tests.run, 3);
}

#[test]
fn openerp_70_unittest_failure_at_test_level() {
    let r = run("openerp-7.0-unittest-failure.log");
    assert_eq!(r.verdict, Verdict::Fail);
    // FAIL, FAIL: test…, FAILED at TEST level; the module's and the loader's ERROR lines.
    // "At least one test failed…" replaces "Modules loaded.": no modules-not-loaded finding.
    assert_eq!(
        rules_and_lines(&r),
        [
            (TestFailure, 14),
            (TestFailure, 16),
            (TestFailure, 23),
            (TestsFailed, 25),
            (TestsFailed, 27)
        ]
    );
    let fail = &r.findings[1];
    assert_eq!(fail.level, Some(oebb_analyze::Level::Test));
    assert!(fail.message.starts_with("FAIL: test_dedup_keeps_oldest"));
    // The finding that tells says the assertion; the status words only restate it.
    assert!(
        fail.message.ends_with("): AssertionError: 7 != 9"),
        "{}",
        fail.message
    );
    assert!(!fail.restates());
    let status = &r.findings[0];
    assert!(
        status.message.starts_with("test_dedup_keeps_oldest (")
            && status.message.ends_with(") ... FAIL"),
        "{}",
        status.message
    );
    assert!(status.restates() && r.findings[2].restates() && r.findings[3].restates());
    // Its traceback (TEST records of their own) is kept with it, up to the assertion, which
    // the short report shows below the first lines.
    assert!(
        fail.text.contains("\n2013-11-05 08:12:52,237 3342 TEST ci_crm openerp.modules.module: ` AssertionError: 7 != 9"),
        "{}",
        fail.text
    );
    let text = oebb_analyze::render_text(&r, "test.log");
    assert!(text.contains("      … AssertionError: 7 != 9\n"), "{text}");
    assert_eq!(version(&r), (Version::new(7, 0), true));
    assert_eq!(r.tests.run, 2);
}

/// Real openerp-core 7.0.406 logs of crates/oebb/tests/openerp7.rs (trimmed; it exited 0).
#[test]
fn openerp_70_real_unittest_and_yaml_failures_name_their_assertions() {
    let r = run("openerp-7.0-real-test-failures.log");
    assert_eq!(r.verdict, Verdict::Fail);
    let text = oebb_analyze::render_text(&r, "test.log");
    // Python 2.7's assertEqual follows the assertion with a diff: the assertion is shown.
    assert!(
        text.contains("      … AssertionError: {1: 4} != {1: 5}\n"),
        "{text}"
    );
    assert!(text.contains("FAIL: test_counts_of_thing_one"), "{text}");
    // The first finding that tells (what a build's summary shows) names the test and its
    // assertion, not the `FAIL` status word logged before them nor the diff logged after.
    let telling: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| !f.restates())
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(
        telling.first().copied(),
        Some(
            "FAIL: test_counts_of_thing_one (openerp.addons.ci_unittest.tests.test_counts.TestCounts): \
             AssertionError: {1: 4} != {1: 5}"
        ),
        "{telling:?}"
    );
    assert!(
        text.contains("Assertion \"thing one counts 5\" FAILED"),
        "{text}"
    );
}

#[test]
fn openerp_70_real_data_error_shows_the_exception_of_the_function() {
    let r = run("openerp-7.0-real-data-error.log");
    assert_eq!(r.verdict, Verdict::Fail);
    let first = &r.findings[0].message;
    assert!(
        first.starts_with("Parse error in /")
            && first
                .ends_with("ci_data/data.xml:8: ValueError: ci_data: thing one counts 4, not 3"),
        "{first}"
    );
    let text = oebb_analyze::render_text(&r, "test.log");
    assert!(
        text.contains("      … ValueError: ci_data: thing one counts 4, not 3\n"),
        "{text}"
    );
}

// ---- Odoo 8.0 – 13.0 -----------------------------------------------------------------------

fn odoo_8_failure_findings() -> Vec<(Rule, u64)> {
    vec![
        (TestFailure, 14),
        (TestFailure, 16),
        (TestFailure, 22),
        (TestsFailed, 24),
        (TestsFailed, 26),
    ]
}

#[test]
fn odoo_8_unittest_failure_with_backquoted_traceback() {
    let r = run("odoo-8.0-test-failure.log");
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(rules_and_lines(&r), odoo_8_failure_findings());
    // The traceback (an ERROR record of its own and its backquoted lines) is kept with the
    // `FAIL:` record it explains, and its exception ends that finding's message.
    let fail = &r.findings[1];
    assert_eq!(
        fail.text.lines().count(),
        5,
        "the Traceback record belongs to the FAIL: record: {:?}",
        fail.text
    );
    assert!(fail.text.ends_with("` AssertionError: 2 != 1"));
    assert_eq!(
        fail.message,
        "FAIL: test_two_dates_two_pickings \
         (openerp.addons.purchase_split_delivery.tests.test_split.TestSplit): AssertionError: 2 != 1"
    );
    assert_eq!(
        r.findings[0].message,
        "test_two_dates_two_pickings \
         (openerp.addons.purchase_split_delivery.tests.test_split.TestSplit) ... FAIL"
    );
    assert_eq!(r.tests.run, 3, "2 at install, 1 post-install");
    assert_eq!(version(&r), (Version::new(8, 0), true));
}

#[test]
fn odoo_8_failure_is_unaffected_by_a_ci_trailer_of_foreign_lines() {
    let mut log = fixture("odoo-8.0-test-failure.log");
    log.extend_from_slice(
        b"Modules loaded message not found.\nFAIL Found 1 lines with errors\n\n\
          The command \"travis_wait test_server.py\" exited with 1.\n",
    );
    let r = analyze(&log, &Options::default());
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(rules_and_lines(&r), odoo_8_failure_findings());
}

#[test]
fn odoo_9_access_rule_warnings() {
    let name = "odoo-9.0-access-rule-warnings.log";
    let r = run(name);
    assert_eq!(r.verdict, Verdict::Warnings);
    let expected: Vec<_> = (10..=15).map(|l| (WarningRecord, l)).collect();
    assert_eq!(rules_and_lines(&r), expected);
    assert!(r.findings[0].message.contains("has no access rules"));
    assert!(r.findings[5]
        .message
        .contains("is declared but cannot be loaded"));
    // "9.0c" in the banner is the community edition of 9.0.
    assert_eq!(version(&r), (Version::new(9, 0), true));
    let r = run_with(
        name,
        Options {
            warnings_fail: true,
            ..Options::default()
        },
    );
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.decisive().count(), 6);
    // checklog-odoo ignore patterns: both kinds ignored passes, one kind leaves the other.
    let both = IgnoreList::from_patterns(
        ["has no access rules", "is declared but cannot be loaded"],
        "test",
    )
    .unwrap();
    let r = run_with(
        name,
        Options {
            ignore: both,
            ..Options::default()
        },
    );
    assert_eq!((r.verdict, r.ignored_count), (Verdict::Pass, 6));
    let one = IgnoreList::from_patterns(["has no access rules"], "test").unwrap();
    let r = run_with(
        name,
        Options {
            ignore: one,
            ..Options::default()
        },
    );
    assert_eq!(r.verdict, Verdict::Warnings);
    assert_eq!(
        rules_and_lines(&r),
        [(WarningRecord, 14), (WarningRecord, 15)]
    );
}

#[test]
fn odoo_10_registry_and_database_load_failures() {
    let r = run("odoo-10.0-registry-failure.log");
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(
        rules_and_lines(&r),
        [(LoadFailure, 9), (LoadFailure, 24), (ModulesNotLoaded, 0)]
    );
    let [registry, database, _] = &r.findings[..] else {
        panic!("{:?}", r.findings)
    };
    // The message ends with the exception its traceback ends with.
    assert_eq!(
        registry.message,
        "Failed to load registry: ImportError: No module named barcode"
    );
    assert!(
        registry
            .text
            .ends_with("ImportError: No module named barcode"),
        "the traceback is kept with its record"
    );
    assert_eq!(database.level, Some(oebb_analyze::Level::Critical));
    assert!(database
        .message
        .starts_with("Failed to initialize database `ci_shop`"));
    assert_eq!(version(&r), (Version::new(10, 0), true));
}

#[test]
fn odoo_11_excerpt_without_modules_loaded() {
    let name = "odoo-11.0-not-loaded-excerpt.log";
    let r = run_with(name, excerpt());
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(rules_and_lines(&r), [(ModulesNotLoaded, 0)]);
    // No banner: odoo.* loggers without trailing spaces say 10.0 or later, before 14.0.
    assert_eq!(version(&r), (Version::new(10, 0), false));
    // As a whole log it is also cut short.
    let r = run(name);
    assert_eq!(
        rules_and_lines(&r),
        [(ModulesNotLoaded, 0), (TruncatedLog, 0)]
    );
}

#[test]
fn odoo_12_uninstallable_module_fails_although_modules_loaded() {
    let r = run("odoo-12.0-missing-dependency.log");
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(rules_and_lines(&r), [(WarningRecord, 8), (LoadFailure, 11)]);
    assert!(r.findings[1]
        .message
        .starts_with("Some modules have inconsistent states"));
    assert_eq!(version(&r), (Version::new(12, 0), true));
}

#[test]
fn odoo_13_test_error_as_one_record_with_its_traceback() {
    let r = run("odoo-13.0-test-error.log");
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(
        rules_and_lines(&r),
        [(TestFailure, 15), (TestsFailed, 24), (TestsFailed, 26)]
    );
    let error = &r.findings[0];
    assert_eq!(
        error.message,
        "ERROR: TestQuota.test_quota_reset: AttributeError: 'bool' object has no attribute 'year'"
    );
    assert!(
        error
            .text
            .contains("AttributeError: 'bool' object has no attribute 'year'"),
        "{:?}",
        error.text
    );
    assert_eq!(r.tests.run, 2);
    assert_eq!(version(&r), (Version::new(13, 0), true));
}

// ---- Odoo 14.0 – 18.0: trailing space, final summary, retries ---------------------------------

#[test]
fn odoo_14_pass_with_summary_and_a_quoted_traceback_in_an_info_message() {
    let r = run_with("odoo-14.0-pass.log", requested());
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.findings);
    assert_eq!(rules_and_lines(&r), []);
    assert_eq!(
        (
            r.tests.run,
            r.tests.failed,
            r.tests.errors,
            r.tests.summary_seen
        ),
        (4, 0, 0, true)
    );
    // No banner: the odoo.tests.runner summary says 14–15.
    assert_eq!(version(&r), (Version::new(14, 0), false));
}

#[test]
fn odoo_15_zero_tests_is_not_a_pass() {
    let name = "odoo-15.0-no-tests.log";
    let r = run(name);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(rules_and_lines(&r), [(NoTestsRun, 16)]);
    assert_eq!((r.tests.run, r.tests.summary_seen), (0, true));
    assert_eq!(version(&r), (Version::new(15, 0), true));
    // An install-only run may say so: the 0-test summary is then a mere warning.
    let r = run_with(
        name,
        Options {
            tests: TestsExpectation::NotExpected,
            ..Options::default()
        },
    );
    assert_eq!(r.verdict, Verdict::Warnings);
    assert_eq!(rules_and_lines(&r), [(WarningRecord, 16)]);
}

#[test]
fn odoo_16_raw_traceback_of_a_thread_fails_an_install() {
    let r = run_with(
        "odoo-16.0-thread-traceback.log",
        Options {
            tests: TestsExpectation::NotExpected,
            ..Options::default()
        },
    );
    assert_eq!(r.verdict, Verdict::Fail);
    // Found at the INFO record the raw lines follow, with them as its text.
    assert_eq!(rules_and_lines(&r), [(Traceback, 11)]);
    let tb = &r.findings[0];
    assert!(tb
        .text
        .starts_with("2023-02-27 12:10:20,391 41 INFO ci_stock odoo.addons.stock_barcode_sync"));
    assert!(tb.text.contains("\nTraceback (most recent call last):\n"));
    assert!(tb
        .text
        .ends_with("psycopg2.InterfaceError: cursor already closed"));
    assert_eq!(version(&r), (Version::new(16, 0), true));
}

#[test]
fn odoo_17_two_failed_tests_and_their_summaries() {
    let r = run_with("odoo-17.0-two-failures.log", requested());
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(
        rules_and_lines(&r),
        [
            (TestFailure, 14),
            (TestFailure, 22),
            (TestsFailed, 32),
            (TestsFailed, 40)
        ]
    );
    assert_ne!(
        r.findings[0].fingerprint, r.findings[1].fingerprint,
        "two different tests"
    );
    assert!(r.findings[1]
        .text
        .contains("Wrong number of records to compare"));
    assert_eq!((r.tests.run, r.tests.failed, r.tests.errors), (4, 2, 0));
    assert_eq!(version(&r), (Version::new(17, 0), true));
}

#[test]
fn odoo_17_retried_test_that_passes_the_second_time_passes() {
    let r = run_with("odoo-17.0-retried-test.log", requested());
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.findings);
    // The lowered `_ERROR` record, with its `_Traceback_`, is a note only.
    assert_eq!(rules_and_lines(&r), [(RetriedRecord, 14)]);
    assert!(r.findings[0]
        .text
        .contains("_Traceback_ (most recent call last):"));
    assert_eq!((r.tests.failed, r.tests.summary_seen), (0, true));
}

#[test]
fn odoo_18_pass() {
    let r = run_with("odoo-18.0-pass.log", requested());
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.findings);
    assert_eq!(rules_and_lines(&r), []);
    assert_eq!((r.tests.run, r.tests.summary_seen), (4, true));
    assert_eq!(version(&r), (Version::new(18, 0), true));
}

#[test]
fn odoo_18_coloured_levels_give_a_warning_with_clean_text() {
    let r = run("odoo-18.0-coloured-warning.log");
    assert_eq!(r.verdict, Verdict::Warnings);
    assert_eq!(rules_and_lines(&r), [(WarningRecord, 6)]);
    assert_eq!(r.findings[0].level, Some(oebb_analyze::Level::Warning));
    assert!(
        !r.findings[0].text.contains('\x1b'),
        "ANSI codes are removed from the kept text"
    );
    // No banner: the trailing space of every record says 14 or later.
    assert_eq!(version(&r), (Version::new(14, 0), false));
}

#[test]
fn odoo_18_killed_during_tests() {
    let name = "odoo-18.0-killed.log";
    let r = run(name);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(
        rules_and_lines(&r),
        [(ModulesNotLoaded, 0), (TruncatedLog, 0)]
    );
    // Tests were asked for: the missing summary is a finding of its own.
    let r = run_with(name, requested());
    assert_eq!(
        rules_and_lines(&r),
        [(ModulesNotLoaded, 0), (TruncatedLog, 0), (NoTestSummary, 0)]
    );
}

#[test]
fn odoo_18_shutdown_before_the_registry_loaded() {
    let r = run("odoo-18.0-interrupted-loading.log");
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(rules_and_lines(&r), [(ModulesNotLoaded, 0)]);
}

// ---- every fixture ---------------------------------------------------------------------------

#[test]
fn empty_log_fails_as_empty() {
    let r = run("empty.log");
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(rules_and_lines(&r), [(EmptyLog, 0)]);
}

#[test]
fn every_fixture_with_non_zero_exit_status_fails() {
    for name in fixture_names() {
        let r = run_with(
            &name,
            Options {
                exit_status: Some(1),
                ..excerpt()
            },
        );
        assert_eq!(r.verdict, Verdict::Fail, "{name}");
        assert_eq!(r.count(ExitStatus), 1, "{name}");
    }
}
