//! Hand-written logs: each rule, each version's grammar, and the known traps.

mod common;

use common::{rules, rules_and_lines};
use oebb_analyze::{
    analyze, IgnoreList, Level, Options, Report, Rule, TestsExpectation, Verdict, Version,
};
use Rule::*;

fn log(lines: &[&str]) -> Vec<u8> {
    let mut s = lines.join("\n");
    s.push('\n');
    s.into_bytes()
}

fn run(lines: &[&str]) -> Report {
    analyze(&log(lines), &Options::default())
}

fn run_with(lines: &[&str], options: Options) -> Report {
    analyze(&log(lines), &options)
}

const LOADED_8: &str = "2015-01-01 10:00:01,000 9 INFO db openerp.modules.loading: Modules loaded.";
const SHUTDOWN_8: &str =
    "2015-01-01 10:00:02,000 9 INFO db openerp.service.server: Initiating shutdown";
const LOADED_14: &str = "2021-01-01 10:00:01,000 9 INFO db odoo.modules.loading: Modules loaded. ";
const SHUTDOWN_14: &str =
    "2021-01-01 10:00:03,000 9 INFO db odoo.service.server: Initiating shutdown ";
const SUMMARY_17_OK: &str =
    "2024-01-01 10:00:02,000 9 INFO db odoo.tests.result: 0 failed, 0 error(s) of 5 tests when loading database 'db' ";

// ---- grammars per version -------------------------------------------------------------

#[test]
fn openerp_60_grammar_and_yaml_failures() {
    let r = run(&[
        "[2011-05-05 10:00:00,100][db] INFO:init:module sale: loading test/sale_order.yml",
        "[2011-05-05 10:00:00,123][db] WARNING:tests.sale:AssertionError in Python code sale: total is wrong",
        "[2011-05-05 10:00:00,200][db] ERROR:tests.sale:id: sale_x is to long (max: 64)",
        "[2011-05-05 10:00:00,300][db] INFO:web-services:done",
    ]);
    assert_eq!(r.version.as_ref().unwrap().version, Version::new(6, 0));
    // 6.0 prints neither "Modules loaded." nor "Initiating shutdown": not required.
    assert_eq!(rules_and_lines(&r), [(YamlAssertion, 2), (ErrorRecord, 3)]);
    assert_eq!(r.findings[0].level, Some(Level::Warning));
    assert_eq!(r.findings[0].logger, "tests.sale");
    assert_eq!(r.tests.yaml_files, 1);
    assert_eq!(r.verdict, Verdict::Fail);
}

#[test]
fn openerp_60_clean_run_passes() {
    let r =
        run(&["[2011-05-05 10:00:00,100][db] INFO:init:module sale: loading test/sale_order.yml"]);
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.findings);
}

#[test]
fn openerp_61_yaml_assertion_at_warning_fails() {
    let r = run(&[
        "2012-01-01 10:00:00,000 9 WARNING db openerp.tools.yaml_import: Assertion \"state == 'done'\" FAILED",
        "test: state == 'done'",
        "values: ! draft == done",
        LOADED_8,
        SHUTDOWN_8,
    ]);
    assert_eq!(rules_and_lines(&r), [(YamlAssertion, 1)]);
    assert!(r.findings[0].text.ends_with("values: ! draft == done"));
    assert_eq!(r.verdict, Verdict::Fail);
}

#[test]
fn openerp_70_test_level_and_backquote_lines() {
    let r = run(&[
        "2013-01-01 10:00:00,000 9 TEST db openerp.modules.module: test_ok (openerp.addons.m.tests.test_a.TestA) ... ok",
        "2013-01-01 10:00:00,001 9 TEST db openerp.modules.module: FAIL: test_x (openerp.addons.m.tests.test_a.TestA)",
        "2013-01-01 10:00:00,002 9 TEST db openerp.modules.module: ` Traceback (most recent call last):",
        "2013-01-01 10:00:00,003 9 TEST db openerp.modules.module: `   File \"/a/m/tests/test_a.py\", line 9, in test_x",
        "2013-01-01 10:00:00,004 9 TEST db openerp.modules.module: ` AssertionError: 1 != 2",
        "2013-01-01 10:00:00,005 9 TEST db openerp.modules.module: Ran 2 tests in 0.010s",
        "2013-01-01 10:00:00,006 9 ERROR db openerp.modules.module: module m: at least one error occurred in a test",
        "2013-01-01 10:00:00,007 9 ERROR db openerp.modules.loading: At least one test failed when loading the modules.",
    ]);
    assert_eq!(r.version.as_ref().unwrap().version, Version::new(7, 0));
    // The backquoted TEST lines continue the FAIL record; 7.0 prints no shutdown marker and
    // "At least one test failed" replaces "Modules loaded.".
    assert_eq!(
        rules_and_lines(&r),
        [(TestFailure, 2), (TestsFailed, 7), (TestsFailed, 8)]
    );
    assert_eq!(r.findings[0].text.lines().count(), 4);
    assert_eq!(r.tests.run, 2);
}

#[test]
fn openerp_70_clean_test_run_passes_without_shutdown_marker() {
    let r = run_with(
        &[
            "2013-01-01 10:00:00,000 9 TEST db openerp.modules.module: test_ok (a.TestA) ... ok",
            "2013-01-01 10:00:00,005 9 TEST db openerp.modules.module: Ran 1 test in 0.010s",
            "2013-01-01 10:00:00,009 9 INFO db openerp.modules.loading: Modules loaded.",
        ],
        Options {
            tests: TestsExpectation::Requested,
            ..Options::default()
        },
    );
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.findings);
}

#[test]
fn odoo_8_to_12_backquote_records_attach_to_their_write() {
    let r = run(&[
        "2016-01-01 10:00:00,000 9 ERROR db openerp.addons.m.tests.test_a: Traceback (most recent call last):",
        "2016-01-01 10:00:00,000 9 ERROR db openerp.addons.m.tests.test_a: `   File \"x.py\", line 3, in t",
        "2016-01-01 10:00:00,000 9 ERROR db openerp.addons.m.tests.test_a: ` ValueError: bad",
        LOADED_8,
        SHUTDOWN_8,
    ]);
    assert_eq!(rules_and_lines(&r), [(ErrorRecord, 1)]);
    assert_eq!(r.records, 3);
}

#[test]
fn backquoted_error_line_after_an_info_record_is_not_swallowed() {
    let r = run(&[
        "2016-01-01 10:00:00,000 9 INFO db openerp.addons.m.tests.test_a: test_x (m.TestA)",
        "2016-01-01 10:00:00,000 9 INFO db openerp.addons.m.tests.test_a: ` docstring of test_x",
        "2016-01-01 10:00:00,001 9 ERROR db openerp.addons.m.tests.test_a: ` AssertionError: 1 != 2",
        LOADED_8,
        SHUTDOWN_8,
    ]);
    assert_eq!(rules_and_lines(&r), [(ErrorRecord, 3)]);
    assert_eq!(r.records, 4);
}

#[test]
fn odoo_13_fail_with_traceback_as_continuation_lines() {
    let r = run(&[
        "2020-01-01 10:00:00,000 9 INFO db odoo.addons.m.tests.test_a: Starting TestA.test_x ...",
        "2020-01-01 10:00:00,100 9 INFO db odoo.addons.m.tests.test_a: ======================================================================",
        "2020-01-01 10:00:00,100 9 ERROR db odoo.addons.m.tests.test_a: FAIL: TestA.test_x",
        "Traceback (most recent call last):",
        "  File \"/srv/m/tests/test_a.py\", line 12, in test_x",
        "AssertionError: 1 != 2",
        "2020-01-01 10:00:00,200 9 ERROR db odoo.modules.module: Module m: 1 failures, 0 errors",
        "2020-01-01 10:00:01,000 9 INFO db odoo.modules.loading: Modules loaded.",
        "2020-01-01 10:00:02,000 9 INFO db odoo.service.server: Initiating shutdown",
    ]);
    assert_eq!(r.version.as_ref().unwrap().version, Version::new(10, 0));
    assert_eq!(rules_and_lines(&r), [(TestFailure, 3), (TestsFailed, 7)]);
    assert!(r.findings[0].text.ends_with("AssertionError: 1 != 2"));
    assert_eq!(r.tests.run, 1);
}

#[test]
fn odoo_14_trailing_space_and_summary() {
    let r = run_with(
        &[
            "2021-01-01 10:00:00,000 9 INFO db odoo.addons.m.tests.test_a: Starting TestA.test_x ... ",
            LOADED_14,
            "2021-01-01 10:00:02,000 9 INFO db odoo.tests.runner: 0 failed, 0 error(s) of 1 tests when loading database 'db'",
            SHUTDOWN_14,
        ],
        Options { tests: TestsExpectation::Requested, ..Options::default() },
    );
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.findings);
    assert_eq!(r.version.unwrap().version, Version::new(14, 0));
    assert_eq!(r.tests.run, 1);
}

#[test]
fn ansi_coloured_levels_are_recognised() {
    let r = run(&[
        "2021-01-01 10:00:00,000 9 \x1b[1;31m\x1b[1;49mERROR\x1b[0m db odoo.x: coloured failure ",
        "2021-01-01 10:00:00,000 9 \x1b[1;33m\x1b[1;49mWARNING\x1b[0m db odoo.y: coloured warning ",
        "2021-01-01 10:00:01,000 9 \x1b[1;32m\x1b[1;49mINFO\x1b[0m db odoo.modules.loading: Modules loaded. ",
        SHUTDOWN_14,
    ]);
    assert_eq!(rules_and_lines(&r), [(ErrorRecord, 1), (WarningRecord, 2)]);
    assert!(
        !r.findings[0].text.contains('\x1b'),
        "ANSI codes removed from the kept text"
    );
    assert_eq!(r.findings[0].level, Some(Level::Error));
}

#[test]
fn openerp_and_odoo_loggers_both_give_modules_loaded() {
    for (loaded, shutdown) in [(LOADED_8, SHUTDOWN_8), (LOADED_14, SHUTDOWN_14)] {
        let r = run(&[loaded, shutdown]);
        assert_eq!(r.verdict, Verdict::Pass, "{loaded}: {:?}", r.findings);
    }
}

#[test]
fn crlf_line_endings() {
    let text = format!(
        "{LOADED_8}\r\n2015-01-01 10:00:01,500 9 WARNING db openerp.x: w\r\n{SHUTDOWN_8}\r\n"
    );
    let r = analyze(text.as_bytes(), &Options::default());
    assert_eq!(rules_and_lines(&r), [(WarningRecord, 2)]);
    assert_eq!(r.findings[0].message, "w");
}

#[test]
fn upgrade_script_lines_without_pid() {
    let r = run(&[
        LOADED_8,
        "2020-01-01 10:00:00,000 ERROR  Please check logs at /srv/upgrade.log",
        SHUTDOWN_8,
    ]);
    assert_eq!(rules_and_lines(&r), [(ErrorRecord, 2)]);
}

// ---- retried tests (16+) ------------------------------------------------------------------

#[test]
fn retry_lowered_records_and_tracebacks_do_not_fail() {
    let r = run(&[
        "2024-01-01 10:00:00,000 9 _ERROR db odoo.addons.m.tests.test_a: FAIL: TestA.test_flaky ",
        "Traceback (most recent call last):",
        "  File \"/srv/m/tests/test_a.py\", line 12, in test_flaky",
        "AssertionError: timing",
        "2024-01-01 10:00:00,001 9 _WARNING db odoo.addons.m.tests.test_a: slow _Traceback_ (most recent call last): ",
        "2024-01-01 10:00:00,002 9 _CRITICAL db odoo.addons.m.tests.test_a: boom ",
        "2024-01-01 10:00:00,003 9 INFO db odoo.tests.suite: Retrying a failed test: TestA.test_flaky ",
        LOADED_14,
        SUMMARY_17_OK,
        SHUTDOWN_14,
    ]);
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.findings);
    assert_eq!(r.count(RetriedRecord), 3);
    assert_eq!(r.version.unwrap().version, Version::new(17, 0));
}

#[test]
fn a_retried_test_that_fails_again_fails() {
    let r = run(&[
        "2024-01-01 10:00:00,000 9 _ERROR db odoo.addons.m.tests.test_a: FAIL: TestA.test_x ",
        "2024-01-01 10:00:01,000 9 ERROR db odoo.addons.m.tests.test_a: FAIL: TestA.test_x ",
        LOADED_14,
        "2024-01-01 10:00:02,000 9 ERROR db odoo.tests.result: 1 failed, 0 error(s) of 5 tests when loading database 'db' ",
        SHUTDOWN_14,
    ]);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(rules(&r), [RetriedRecord, TestFailure, TestsFailed]);
}

// ---- the traps ------------------------------------------------------------------------

#[test]
fn info_message_quoting_traceback_is_not_a_traceback() {
    let r = run(&[
        "2021-01-01 10:00:00,000 9 INFO db odoo.addons.m.tests.test_c: {'debug': 'Traceback (most recent call last):\\n  File \"x\"'} ",
        LOADED_14,
        SHUTDOWN_14,
    ]);
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.findings);
}

#[test]
fn raw_traceback_after_an_info_record_fails() {
    let r = run(&[
        LOADED_14,
        "2021-01-01 10:00:01,500 9 INFO db odoo.http: request done ",
        "Traceback (most recent call last):",
        "  File \"/srv/x.py\", line 1, in <module>",
        "ZeroDivisionError: division by zero",
        SHUTDOWN_14,
    ]);
    assert_eq!(rules_and_lines(&r), [(Traceback, 2)]);
    assert!(r.findings[0]
        .text
        .ends_with("ZeroDivisionError: division by zero"));
}

#[test]
fn traceback_inside_a_warning_record_only_warns() {
    let r = run(&[
        LOADED_14,
        "2021-01-01 10:00:01,500 9 WARNING db odoo.x: something odd ",
        "Traceback (most recent call last):",
        "ValueError: x",
        SHUTDOWN_14,
    ]);
    assert_eq!(r.verdict, Verdict::Warnings);
    assert_eq!(rules_and_lines(&r), [(WarningRecord, 2)]);
}

#[test]
fn ten_failed_is_not_zero_failed() {
    let failing = "2021-01-01 10:00:02,000 9 ERROR db odoo.tests.runner: 10 failed, 0 error(s) of 12 tests when loading database 'db' ";
    let ignore = IgnoreList::from_patterns([r" 0 failed, 0 error\(s\)"], "test").unwrap();
    let r = run_with(
        &[LOADED_14, failing, SHUTDOWN_14],
        Options {
            ignore,
            ..Options::default()
        },
    );
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(rules_and_lines(&r), [(TestsFailed, 2)]);
    assert_eq!((r.tests.failed, r.tests.run), (10, 12));
    // The sloppy pattern from the OCA review does match it (and so hides the failure),
    // which is why patterns are matched exactly as checklog-odoo does.
    let sloppy = IgnoreList::from_patterns([r"0 failed, 0 error\(s\)"], "test").unwrap();
    let r = run_with(
        &[LOADED_14, failing, SHUTDOWN_14],
        Options {
            ignore: sloppy,
            ..Options::default()
        },
    );
    assert_eq!(r.ignored_count, 1);
}

#[test]
fn zero_tests_summary_is_not_a_pass() {
    let zero = "2021-01-01 10:00:02,000 9 WARNING db odoo.tests.runner: 0 failed, 0 error(s) of 0 tests when loading database 'db' ";
    let r = run(&[LOADED_14, zero, SHUTDOWN_14]);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(rules_and_lines(&r), [(NoTestsRun, 2)]);
    // Install-only runs may say so.
    let r = run_with(
        &[LOADED_14, zero, SHUTDOWN_14],
        Options {
            tests: TestsExpectation::NotExpected,
            ..Options::default()
        },
    );
    assert_eq!(r.verdict, Verdict::Warnings);
}

#[test]
fn ignoring_the_zero_test_summary_does_not_hide_a_test_request() {
    let zero = "2021-01-01 10:00:02,000 9 WARNING db odoo.tests.runner: 0 failed, 0 error(s) of 0 tests when loading database 'db' ";
    let ignore = IgnoreList::from_patterns([r"WARNING.* 0 failed, 0 error\(s\)"], "test").unwrap();
    // Unknown expectation: the user's pattern accepts a run without tests.
    let r = run_with(
        &[LOADED_14, zero, SHUTDOWN_14],
        Options {
            ignore: ignore.clone(),
            ..Options::default()
        },
    );
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.findings);
    assert_eq!(r.ignored_count, 1);
    // Tests explicitly requested: zero tests still fails.
    let r = run_with(
        &[LOADED_14, zero, SHUTDOWN_14],
        Options {
            ignore,
            tests: TestsExpectation::Requested,
            ..Options::default()
        },
    );
    assert_eq!(rules_and_lines(&r), [(NoTestsRun, 0)]);
}

#[test]
fn requested_tests_without_any_test_evidence_fail() {
    let requested = Options {
        tests: TestsExpectation::Requested,
        ..Options::default()
    };
    let r = run_with(&[LOADED_8, SHUTDOWN_8], requested.clone());
    assert_eq!(rules_and_lines(&r), [(NoTestsRun, 0)]);
    // 14+ must also print its summary when tests were requested.
    let r = run_with(&[LOADED_14, SHUTDOWN_14], requested);
    assert_eq!(rules_and_lines(&r), [(NoTestSummary, 0), (NoTestsRun, 0)]);
    // Unknown expectation: a clean install log passes.
    assert_eq!(run(&[LOADED_14, SHUTDOWN_14]).verdict, Verdict::Pass);
}

#[test]
fn non_zero_exit_status_fails_a_clean_log() {
    let r = run_with(
        &[LOADED_8, SHUTDOWN_8],
        Options {
            exit_status: Some(1),
            ..Options::default()
        },
    );
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(rules_and_lines(&r), [(ExitStatus, 0)]);
    assert!(r.findings[0].message.contains("status 1"));
    let r = run_with(
        &[LOADED_8, SHUTDOWN_8],
        Options {
            exit_status: Some(0),
            ..Options::default()
        },
    );
    assert_eq!(r.verdict, Verdict::Pass);
}

#[test]
fn empty_or_blank_log_fails_as_empty() {
    for text in ["", "\n", "  \n\t\n"] {
        let r = analyze(text.as_bytes(), &Options::default());
        assert_eq!(rules_and_lines(&r), [(EmptyLog, 0)], "{text:?}");
    }
}

#[test]
fn truncated_log_fails_unless_it_is_an_excerpt() {
    let r = run(&[LOADED_14]);
    assert_eq!(rules_and_lines(&r), [(TruncatedLog, 0)]);
    let r = run_with(
        &[LOADED_14],
        Options {
            require_shutdown: Some(false),
            ..Options::default()
        },
    );
    assert_eq!(r.verdict, Verdict::Pass);
}

#[test]
fn given_version_overrides_detection() {
    // A 7.0 run prints no shutdown marker; told so, the analyser does not require it.
    let lines = [LOADED_8];
    assert_eq!(run(&lines).verdict, Verdict::Fail);
    let r = run_with(
        &lines,
        Options {
            version: Some(Version::new(7, 0)),
            ..Options::default()
        },
    );
    assert_eq!(r.verdict, Verdict::Pass);
    let v = r.version.unwrap();
    assert_eq!(
        (v.version, v.exact, &*v.evidence),
        (Version::new(7, 0), true, "given")
    );
}

// ---- each failing rule once ------------------------------------------------------------

#[test]
fn load_failures() {
    for msg in [
        "CRITICAL db odoo.service.server: Failed to initialize database `db`.",
        "CRITICAL db openerp.modules.module: Couldn't load module web",
        "ERROR db odoo.modules.registry: Failed to load registry",
        "ERROR db odoo.modules.module: Can not `import m`.",
        "ERROR db odoo.modules.loading: Some modules are not loaded, some dependency may be missing: ['x']",
        "CRITICAL db odoo.modules.module: module base cannot be loaded! (hint: verify addons-path)",
        "ERROR ? odoo.modules.registry: Database db not initialized, you can force it with `-i base`",
    ] {
        let line = format!("2020-01-01 10:00:00,000 9 {msg}");
        let r = run(&[&line, LOADED_8, SHUTDOWN_8]);
        assert_eq!(rules_and_lines(&r), [(LoadFailure, 1)], "{msg}");
    }
}

#[test]
fn exception_in_a_yaml_or_xml_test() {
    let r = run(&[
        "2016-01-01 10:00:00,000 9 ERROR db openerp.tests: module m: an exception occurred in a test",
        "Traceback (most recent call last):",
        "ValueError: x",
        LOADED_8,
        SHUTDOWN_8,
    ]);
    assert_eq!(rules_and_lines(&r), [(TestsFailed, 1)]);
}

#[test]
fn test_suite_halted() {
    let r = run(&[
        "2024-01-01 10:00:00,000 9 ERROR db odoo.tests.result: Test suite halted: max failed tests already reached (5) ",
        LOADED_14,
        SHUTDOWN_14,
    ]);
    assert_eq!(rules_and_lines(&r), [(TestsFailed, 1)]);
}

#[test]
fn warnings_fail_option() {
    let lines = [
        LOADED_8,
        "2015-01-01 10:00:01,500 9 WARNING db openerp.x: w",
        SHUTDOWN_8,
    ];
    assert_eq!(run(&lines).verdict, Verdict::Warnings);
    let r = run_with(
        &lines,
        Options {
            warnings_fail: true,
            ..Options::default()
        },
    );
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.decisive().count(), 1);
}

#[test]
fn ignore_file_patterns_match_the_whole_record_text() {
    let cfg = "[checklog-odoo]\nignore =\n    WARNING .* has no access rules\n    ^ValueError: expected$\n";
    let ignore = IgnoreList::parse_config(cfg, "checklog-odoo.cfg").unwrap();
    let r = run_with(
        &[
            "2016-01-01 10:00:00,000 9 WARNING db openerp.modules.loading: The model x has no access rules, consider adding one.",
            "2016-01-01 10:00:00,100 9 ERROR db openerp.x: known failure",
            "Traceback (most recent call last):",
            "ValueError: expected",
            LOADED_8,
            SHUTDOWN_8,
        ],
        Options { ignore, ..Options::default() },
    );
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.findings);
    assert_eq!(r.ignored_count, 2);
    assert_eq!(
        r.ignored[1].ignored_by.as_deref(),
        Some("^ValueError: expected$")
    );
}

// ---- robustness and bounded state ----------------------------------------------------------

#[test]
fn invalid_utf8_is_decoded_lossily() {
    let mut bytes = b"2016-01-01 10:00:00,000 9 ERROR db openerp.x: caf\xe9 \xff\xfe\n".to_vec();
    bytes.extend_from_slice(format!("{LOADED_8}\n{SHUTDOWN_8}\n").as_bytes());
    let r = analyze(&bytes, &Options::default());
    assert_eq!(rules_and_lines(&r), [(ErrorRecord, 1)]);
    assert_eq!(r.findings[0].message, "caf\u{fffd} \u{fffd}\u{fffd}");
}

#[test]
fn findings_are_capped_but_all_counted() {
    let mut lines: Vec<String> = (0..1000)
        .map(|i| format!("2016-01-01 10:00:00,000 9 WARNING db openerp.x: warning number {i}"))
        .collect();
    lines.push(LOADED_8.into());
    lines.push(SHUTDOWN_8.into());
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let r = run(&refs);
    assert_eq!(r.count(WarningRecord), 1000);
    assert_eq!(r.findings.len(), oebb_analyze::analyzer::MAX_KEPT_PER_RULE);
    // Same message but for its number: one fingerprint.
    assert!(r
        .findings
        .windows(2)
        .all(|w| w[0].fingerprint == w[1].fingerprint));
}

#[test]
fn fingerprint_is_stable_across_builds() {
    let a = run(&[
        "2016-01-01 10:00:00,000 9 ERROR build_1 openerp.x: cannot read /srv/build-1/file.csv line 12",
        LOADED_8,
        SHUTDOWN_8,
    ]);
    let b = run(&[
        "",
        "2017-02-02 11:11:11,111 42 ERROR build_2 openerp.x: cannot read /srv/build-2/file.csv line 97",
        LOADED_8,
        SHUTDOWN_8,
    ]);
    assert_eq!(a.findings[0].fingerprint, b.findings[0].fingerprint);
    // Pinned value: the hash must not change between runs, platforms or releases.
    assert_eq!(a.findings[0].fingerprint, "9ebbab9e2aa72201");
}

#[test]
fn a_status_word_names_its_test_only_after_that_test_of_the_same_logger() {
    let r = run(&[
        "2013-01-01 10:00:00,000 9 TEST db openerp.modules.module: test_x (openerp.addons.m.tests.test_a.TestA)",
        "2013-01-01 10:00:00,001 9 TEST db openerp.modules.module: FAIL",
        "2013-01-01 10:00:00,002 9 TEST db other.logger: test_y (m.TestB)",
        "2013-01-01 10:00:00,003 9 TEST db openerp.modules.module: ERROR",
        "2013-01-01 10:00:00,004 9 TEST db openerp.modules.module: Ran 2 tests in 0.010s",
        "2013-01-01 10:00:00,005 9 TEST db openerp.modules.module: FAILED (failures=1, errors=1)",
    ]);
    let messages: Vec<(&str, bool)> = r
        .findings_of(TestFailure)
        .map(|f| (f.message.as_str(), f.restates()))
        .collect();
    assert_eq!(
        messages,
        [
            (
                "test_x (openerp.addons.m.tests.test_a.TestA) ... FAIL",
                true
            ),
            ("ERROR", true),
            ("FAILED (failures=1, errors=1)", true),
        ],
        "{:?}",
        r.findings
    );
}

/// Real openerp-core 7.0.406 lines (crates/oebb/tests/openerp7.rs, `import` variant).
#[test]
fn a_module_that_cannot_be_loaded_says_why_in_its_finding() {
    let r = run(&[
        "2026-12-02 10:21:30,606 20417 CRITICAL db openerp.modules.module: Couldn't load module ci_import",
        "2026-12-02 10:21:30,606 20417 CRITICAL db openerp.modules.module: No module named ci_no_such_module",
        "2026-12-02 10:21:30,607 20417 ERROR db openerp: Failed to initialize database `db`.",
    ]);
    let load: Vec<&str> = r
        .findings_of(LoadFailure)
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(
        load,
        [
            "Couldn't load module ci_import: No module named ci_no_such_module",
            "Failed to initialize database `db`."
        ],
        "{:?}",
        r.findings
    );
    assert_eq!(r.count(ErrorRecord), 0, "{:?}", r.findings);
}
