//! The extra suite on the reference corpus (`../shared/reference/odoo-logs`, public sample
//! logs that are never copied here): every sample gives the verdict that odoo-ci.md §3 says
//! a reasonable analyser gives, with the findings that decide it.
//!
//! Ignored by default, so that a clone without the corpus passes on the project's own
//! fixtures (tests/samples.rs); scripts/test runs it with `--ignored reference_corpus::`
//! when the corpus is there.

mod common;

mod reference_corpus {
    use crate::common::{reference_sample, reference_sample_names, rules_and_lines};
    use oebb_analyze::{analyze, Options, Rule, TestsExpectation, Verdict, Version};
    use Rule::*;

    fn default() -> Options {
        Options::default()
    }

    /// For excerpts (no end-of-run marker in the published extract).
    fn excerpt() -> Options {
        Options {
            require_shutdown: Some(false),
            ..Options::default()
        }
    }

    const RUNBOT: &str = "odoo+runbot__runbot_tests_test_build_config_step.py__";

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn every_sample_has_a_test_here() {
        let covered = [
            "acsone+checklog-odoo__tests_data_empty.log",
            "acsone+checklog-odoo__tests_data_test1.log",
            "lepistone+odoo-testing-on-steroids__steroids_slides.md__L159-220_odoo8_test_failure.log",
            "lepistone+odoo-testing-on-steroids__steroids_slides.md__L159-234_with_mqt_trailer.log",
            "lmignon+buildbot-utils__tests_ressources_no_access_rule_log.txt",
            "lmignon+buildbot-utils__tests_ressources_not_loaded_log.txt",
            "odoo+runbot__runbot_tests_test_build_config_step.py__L622_SYNTHETIC_ok.log",
            "odoo+runbot__runbot_tests_test_build_config_step.py__L655_SYNTHETIC_no_shutdown.log",
            "odoo+runbot__runbot_tests_test_build_config_step.py__L673_SYNTHETIC_no_modules_loaded.log",
            "odoo+runbot__runbot_tests_test_build_config_step.py__L690_SYNTHETIC_error_traceback.log",
            "odoo+runbot__runbot_tests_test_build_config_step.py__L714_SYNTHETIC_warning.log",
            "odoo+runbot__runbot_tests_test_build_config_step.py__newer_SYNTHETIC_traceback_after_INFO_FAIL_line.log",
            "odoo+runbot__runbot_tests_test_build_config_step.py__newer_SYNTHETIC_traceback_alone.log",
            "odoo+runbot__runbot_tests_test_build_config_step.py__newer_SYNTHETIC_traceback_retry_lowered_ERROR.log",
            "odoo+runbot__runbot_tests_test_build_config_step.py__newer_SYNTHETIC_two_ERROR_FAIL_lines.log",
            "ringace+odoo-14__README.md__odoo14_tests_pass.log",
        ];
        assert_eq!(
            reference_sample_names(),
            covered,
            "a sample was added or removed: add its test"
        );
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn checklog_empty_fails_as_empty() {
        let r = analyze(
            &reference_sample("acsone+checklog-odoo__tests_data_empty.log"),
            &default(),
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(rules_and_lines(&r), [(EmptyLog, 0)]);
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn checklog_test1_fails_on_its_two_error_records() {
        let r = analyze(
            &reference_sample("acsone+checklog-odoo__tests_data_test1.log"),
            &default(),
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(
            rules_and_lines(&r),
            [(LoadFailure, 5), (LoadFailure, 9), (ModulesNotLoaded, 0)]
        );
        assert!(r.findings[0].message.starts_with("Failed to load registry"));
        assert!(
            r.findings[0].text.contains("OSError: [Errno 2]"),
            "traceback kept with its record"
        );
        assert!(r.findings[1]
            .message
            .starts_with("Failed to initialize database"));
        let v = r.version.unwrap();
        assert_eq!((v.version, v.exact), (Version::new(10, 0), true));
    }

    fn steroids_findings() -> Vec<(Rule, u64)> {
        vec![
            (TestFailure, 19),
            (TestFailure, 21),
            (TestFailure, 27),
            (TestsFailed, 29),
            (TestsFailed, 34),
        ]
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn steroids_odoo8_failure_fails_on_the_unittest_failure() {
        let r = analyze(
            &reference_sample("lepistone+odoo-testing-on-steroids__steroids_slides.md__L159-220_odoo8_test_failure.log"),
            &default(),
        );
        assert_eq!(r.verdict, Verdict::Fail);
        // "At least one test failed" replaces "Modules loaded." in 8.0: no separate finding.
        assert_eq!(rules_and_lines(&r), steroids_findings());
        // The Traceback record and its backquoted lines belong to the FAIL: record.
        let fail = &r.findings[1];
        assert_eq!(fail.text.lines().count(), 5, "{}", fail.text);
        assert!(fail.text.ends_with("` AssertionError: 1 != 0"));
        assert!(
            fail.message.ends_with("): AssertionError: 1 != 0"),
            "{}",
            fail.message
        );
        assert_eq!(r.tests.run, 11);
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn steroids_with_mqt_trailer_is_unaffected_by_foreign_lines() {
        let r = analyze(
            &reference_sample(
                "lepistone+odoo-testing-on-steroids__steroids_slides.md__L159-234_with_mqt_trailer.log",
            ),
            &default(),
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(rules_and_lines(&r), steroids_findings());
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn buildbot_utils_no_access_rule_gives_warnings() {
        let log =
            reference_sample("lmignon+buildbot-utils__tests_ressources_no_access_rule_log.txt");
        let r = analyze(&log, &excerpt());
        assert_eq!(r.verdict, Verdict::Warnings);
        let expected: Vec<_> = (3..=10).map(|l| (WarningRecord, l)).collect();
        assert_eq!(rules_and_lines(&r), expected);
        // As a full log (the default), the missing end-of-run marker fails it.
        let r = analyze(&log, &default());
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(r.count(TruncatedLog), 1);
        assert_eq!(r.count(WarningRecord), 8);
        // And with --warnings-fail the excerpt fails too.
        let r = analyze(
            &log,
            &Options {
                warnings_fail: true,
                ..excerpt()
            },
        );
        assert_eq!(r.verdict, Verdict::Fail);
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn buildbot_utils_not_loaded_fails_on_the_missing_marker() {
        let r = analyze(
            &reference_sample("lmignon+buildbot-utils__tests_ressources_not_loaded_log.txt"),
            &excerpt(),
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(rules_and_lines(&r), [(ModulesNotLoaded, 0)]);
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn runbot_ok() {
        let r = analyze(
            &reference_sample(&format!("{RUNBOT}L622_SYNTHETIC_ok.log")),
            &default(),
        );
        assert_eq!(r.verdict, Verdict::Pass);
        assert_eq!(rules_and_lines(&r), []);
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn runbot_no_shutdown() {
        let r = analyze(
            &reference_sample(&format!("{RUNBOT}L655_SYNTHETIC_no_shutdown.log")),
            &default(),
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(rules_and_lines(&r), [(TruncatedLog, 0)]);
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn runbot_no_modules_loaded() {
        let r = analyze(
            &reference_sample(&format!("{RUNBOT}L673_SYNTHETIC_no_modules_loaded.log")),
            &default(),
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(
            rules_and_lines(&r),
            [(ModulesNotLoaded, 0), (TruncatedLog, 0)]
        );
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn runbot_error_traceback() {
        let r = analyze(
            &reference_sample(&format!("{RUNBOT}L690_SYNTHETIC_error_traceback.log")),
            &default(),
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(rules_and_lines(&r), [(TestFailure, 5)]);
        assert!(r.findings[0]
            .text
            .contains("Traceback (most recent call last):"));
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn runbot_warning() {
        let r = analyze(
            &reference_sample(&format!("{RUNBOT}L714_SYNTHETIC_warning.log")),
            &default(),
        );
        assert_eq!(r.verdict, Verdict::Warnings);
        assert_eq!(rules_and_lines(&r), [(WarningRecord, 5)]);
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn runbot_traceback_after_info_fail_line() {
        let r = analyze(
            &reference_sample(&format!(
                "{RUNBOT}newer_SYNTHETIC_traceback_after_INFO_FAIL_line.log"
            )),
            &default(),
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(
            rules_and_lines(&r),
            [(Traceback, 3), (ModulesNotLoaded, 0), (TruncatedLog, 0)]
        );
        let f = &r.findings[0];
        assert!(f
            .text
            .starts_with("2025-05-04 08:40:00,000 42 INFO test_runbot"));
        assert!(f
            .text
            .contains("AttributeError: module 'lxml.html.clean' has no attribute 'defs'"));
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn runbot_traceback_alone() {
        let r = analyze(
            &reference_sample(&format!("{RUNBOT}newer_SYNTHETIC_traceback_alone.log")),
            &default(),
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(
            rules_and_lines(&r),
            [(Traceback, 1), (ModulesNotLoaded, 0), (TruncatedLog, 0)]
        );
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn runbot_retry_lowered_error_passes() {
        let r = analyze(
            &reference_sample(&format!(
                "{RUNBOT}newer_SYNTHETIC_traceback_retry_lowered_ERROR.log"
            )),
            &default(),
        );
        assert_eq!(r.verdict, Verdict::Pass);
        assert_eq!(rules_and_lines(&r), [(RetriedRecord, 3)]);
        assert_eq!(r.version.unwrap().version, Version::new(16, 0));
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn runbot_two_error_fail_lines() {
        let r = analyze(
            &reference_sample(&format!("{RUNBOT}newer_SYNTHETIC_two_ERROR_FAIL_lines.log")),
            &default(),
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(rules_and_lines(&r), [(TestFailure, 5), (TestFailure, 7)]);
        assert_ne!(
            r.findings[0].fingerprint, r.findings[1].fingerprint,
            "two different tests"
        );
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn ringace_odoo14_pass() {
        let log = reference_sample("ringace+odoo-14__README.md__odoo14_tests_pass.log");
        let requested = Options {
            tests: TestsExpectation::Requested,
            ..excerpt()
        };
        let r = analyze(&log, &requested);
        assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.findings);
        assert_eq!(rules_and_lines(&r), []);
        assert_eq!((r.tests.run, r.tests.failed, r.tests.errors), (32, 0, 0));
        assert!(r.tests.summary_seen);
        assert_eq!(r.version.unwrap().version, Version::new(14, 0));
        // The excerpt has no "Initiating shutdown": as a full log it would be truncated.
        let r = analyze(&log, &default());
        assert_eq!(rules_and_lines(&r), [(TruncatedLog, 0)]);
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn every_sample_with_non_zero_exit_status_fails() {
        for name in reference_sample_names() {
            let r = analyze(
                &reference_sample(&name),
                &Options {
                    exit_status: Some(1),
                    ..excerpt()
                },
            );
            assert_eq!(r.verdict, Verdict::Fail, "{name}");
            assert_eq!(r.count(ExitStatus), 1, "{name}");
        }
    }
}
