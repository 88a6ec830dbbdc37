//! The rules: what makes a record, or the log as a whole, fail the build or warn.

use crate::level::Level;
use crate::options::TestsExpectation;
use crate::record::{is_traceback_start, signals};
use memchr::memmem;
use regex::bytes::Regex;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// How much a rule weighs in the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Reported for information; never changes the verdict.
    Note,
    /// Gives the `warnings` verdict (or `fail` with `warnings_fail`).
    Warn,
    /// Fails the build.
    Fail,
}

/// One rule of the analysis; its kebab-case name appears in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The command that wrote the log exited with a non-zero status.
    ExitStatus,
    /// The log has no content at all.
    EmptyLog,
    /// `Initiating shutdown` is missing: the run was killed, timed out or the log is cut.
    TruncatedLog,
    /// `Modules loaded.` is missing (6.1+), and no test failure replaced it.
    ModulesNotLoaded,
    /// Tests were requested but the 14+ summary `… failed, … error(s) of N tests` is missing.
    NoTestSummary,
    /// Tests were requested (or a summary was printed) but none ran.
    NoTestsRun,
    /// A module, the registry or the database could not be loaded or initialised.
    LoadFailure,
    /// A test failed or raised: unittest `FAIL:`/`ERROR:` lines (7.0 `TEST` level included).
    TestFailure,
    /// A per-module or global summary says tests failed.
    TestsFailed,
    /// An OpenERP 6.x/7.0 YAML test assertion failed (logged at WARNING by default).
    YamlAssertion,
    /// Any other ERROR or CRITICAL record.
    ErrorRecord,
    /// A Python traceback outside any ERROR/WARNING record (e.g. after an INFO line).
    Traceback,
    /// A WARNING record.
    WarningRecord,
    /// A record lowered to `_ERROR`/`_WARNING`/`_CRITICAL` by Odoo 16+ during a retried test.
    RetriedRecord,
}

impl Rule {
    /// Every rule, in report order.
    pub const ALL: [Rule; 14] = [
        Rule::ExitStatus,
        Rule::EmptyLog,
        Rule::TruncatedLog,
        Rule::ModulesNotLoaded,
        Rule::NoTestSummary,
        Rule::NoTestsRun,
        Rule::LoadFailure,
        Rule::TestFailure,
        Rule::TestsFailed,
        Rule::YamlAssertion,
        Rule::ErrorRecord,
        Rule::Traceback,
        Rule::WarningRecord,
        Rule::RetriedRecord,
    ];

    /// Index into per-rule tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The kebab-case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Rule::ExitStatus => "exit-status",
            Rule::EmptyLog => "empty-log",
            Rule::TruncatedLog => "truncated-log",
            Rule::ModulesNotLoaded => "modules-not-loaded",
            Rule::NoTestSummary => "no-test-summary",
            Rule::NoTestsRun => "no-tests-run",
            Rule::LoadFailure => "load-failure",
            Rule::TestFailure => "test-failure",
            Rule::TestsFailed => "tests-failed",
            Rule::YamlAssertion => "yaml-assertion",
            Rule::ErrorRecord => "error-record",
            Rule::Traceback => "traceback",
            Rule::WarningRecord => "warning-record",
            Rule::RetriedRecord => "retried-record",
        }
    }

    /// How the rule weighs in the verdict.
    pub fn severity(self) -> Severity {
        match self {
            Rule::WarningRecord => Severity::Warn,
            Rule::RetriedRecord => Severity::Note,
            _ => Severity::Fail,
        }
    }

    /// One line saying what the rule means, for reports.
    pub fn description(self) -> &'static str {
        match self {
            Rule::ExitStatus => "the command exited with a non-zero status",
            Rule::EmptyLog => "the log is empty",
            Rule::TruncatedLog => {
                "no 'Initiating shutdown': the run was killed, timed out, or the log is truncated"
            }
            Rule::ModulesNotLoaded => "no '.modules.loading: Modules loaded.' in the log",
            Rule::NoTestSummary => "tests were requested but the final test summary is missing",
            Rule::NoTestsRun => "tests were requested but none ran",
            Rule::LoadFailure => "a module, the registry or the database failed to load",
            Rule::TestFailure => "a test failed or raised an error",
            Rule::TestsFailed => "a test summary reports failures",
            Rule::YamlAssertion => "a YAML test assertion failed",
            Rule::ErrorRecord => "ERROR or CRITICAL record",
            Rule::Traceback => "Python traceback outside an error or warning record",
            Rule::WarningRecord => "WARNING record",
            Rule::RetriedRecord => "record lowered during a retried test (ignored)",
        }
    }
}

/// The rule a record falls under, judged on its header; `None` for ordinary chatter.
/// The first matching rule wins, from the most specific to the most general.
pub fn classify(level: Level, message: &[u8], tests: TestsExpectation) -> Option<Rule> {
    match level {
        Level::Retried => return Some(Rule::RetriedRecord),
        Level::Info | Level::Debug | Level::Other => {
            return is_traceback_start(message).then_some(Rule::Traceback);
        }
        Level::Test => {
            return is_unittest_failure(message).then_some(Rule::TestFailure);
        }
        Level::Warning | Level::Error | Level::Critical => {}
    }
    // Cheap prefix tests first; they are also the most specific.
    if level.is_error() && is_unittest_failure(message) {
        return Some(Rule::TestFailure);
    }
    if let Some(signals::Signal::Summary {
        failed,
        errors,
        tests: n,
    }) = signals::summary(message)
    {
        if failed > 0 || errors > 0 {
            return Some(Rule::TestsFailed);
        }
        if n == 0 && tests != TestsExpectation::NotExpected {
            return Some(Rule::NoTestsRun);
        }
    }
    // One pass over the message finds whichever known phrase it contains.
    let phrase = PHRASES
        .shortest_match(message)
        .map(|end| phrase_rule(&message[..end]));
    if phrase == Some(Rule::LoadFailure) {
        return Some(Rule::LoadFailure);
    }
    if phrase == Some(Rule::TestsFailed) || is_failed_module_result(message) {
        return Some(Rule::TestsFailed);
    }
    if phrase == Some(Rule::YamlAssertion) || is_yaml_assertion_failed(message) {
        return Some(Rule::YamlAssertion);
    }
    Some(if level.is_error() {
        Rule::ErrorRecord
    } else {
        Rule::WarningRecord
    })
}

/// unittest per-test lines: `FAIL: test_x (…)`, `ERROR: Class.test_y`, and the bare
/// status words that 6.1–12.0's unittest streams log one per record.
fn is_unittest_failure(m: &[u8]) -> bool {
    m.starts_with(b"FAIL:") || m.starts_with(b"ERROR:") || is_status_word(m)
}

/// A bare unittest status word: `FAIL`/`ERROR` after a test's name, `FAILED (failures=1)`
/// after the run. It says that something failed; the `FAIL:` record with its traceback says what.
pub fn is_status_word(m: &[u8]) -> bool {
    m == b"FAIL" || m == b"ERROR" || m == b"FAILED" || m.starts_with(b"FAILED (")
}

/// Whether `m` is unittest's description of a test, `test_x (module.Class)`: the record a
/// verbose runner writes before the test's status word.
pub fn is_test_description(m: &[u8]) -> bool {
    static DESCRIPTION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\w+ \([\w.]+\)$").expect("valid regex"));
    DESCRIPTION.is_match(crate::record::grammar::trim_end(m))
}

const LOAD_FAILURES: [&str; 9] = [
    "Failed to initialize database",
    "Couldn't load module",
    "Failed to load",
    "Can not `import",
    "Some modules are not loaded",
    "Some module have inconsistent state",
    "Some modules have inconsistent states",
    "cannot be loaded! (hint: verify addons-path)",
    "not initialized, you can force it with",
];

const TESTS_FAILED: [&str; 5] = [
    "At least one test failed",
    "at least one error occurred in a test",
    "an exception occurred in a test",
    "Tests failed to execute",
    "Test suite halted",
];

const YAML_PYTHON_FAILURE: &str = "AssertionError in Python code";

/// All the phrases above in one alternation: a single pass over a message.
static PHRASES: LazyLock<Regex> = LazyLock::new(|| {
    let all: Vec<String> = LOAD_FAILURES
        .iter()
        .chain(TESTS_FAILED.iter())
        .chain(std::iter::once(&YAML_PYTHON_FAILURE))
        .map(|l| regex::escape(l))
        .collect();
    Regex::new(&all.join("|")).expect("escaped literals form a valid regex")
});

/// The rule of the phrase that `upto` (a message up to the end of a match) ends with.
fn phrase_rule(upto: &[u8]) -> Rule {
    if LOAD_FAILURES.iter().any(|p| upto.ends_with(p.as_bytes())) {
        Rule::LoadFailure
    } else if TESTS_FAILED.iter().any(|p| upto.ends_with(p.as_bytes())) {
        Rule::TestsFailed
    } else {
        Rule::YamlAssertion
    }
}

fn is_failed_module_result(m: &[u8]) -> bool {
    matches!(
        signals::signal(b"", m),
        Some(signals::Signal::ModuleResult { failed }) if failed > 0
    )
}

/// 6.x/7.0 `!assert` failure: `Assertion "<expr>" FAILED`.
fn is_yaml_assertion_failed(m: &[u8]) -> bool {
    m.starts_with(b"Assertion \"") && memmem::find(m, b"FAILED").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use TestsExpectation::Auto;

    fn c(level: Level, m: &str) -> Option<Rule> {
        classify(level, m.as_bytes(), Auto)
    }

    #[test]
    fn info_chatter_is_not_a_finding() {
        assert_eq!(c(Level::Info, "Modules loaded."), None);
        assert_eq!(
            c(
                Level::Info,
                "{'debug': 'Traceback (most recent call last):\\n'}"
            ),
            None
        );
        assert_eq!(c(Level::Test, "test_x (a.b.TestX) ... ok"), None);
    }

    #[test]
    fn specific_rules_win_over_error_record() {
        assert_eq!(
            c(Level::Critical, "Failed to initialize database `x`."),
            Some(Rule::LoadFailure)
        );
        assert_eq!(
            c(Level::Error, "Failed to load registry"),
            Some(Rule::LoadFailure)
        );
        assert_eq!(
            c(Level::Error, "FAIL: test_it (m.tests.T)"),
            Some(Rule::TestFailure)
        );
        assert_eq!(
            c(Level::Test, "FAIL: test_it (m.tests.T)"),
            Some(Rule::TestFailure)
        );
        assert_eq!(
            c(Level::Test, "ERROR: test_it (m.tests.T)"),
            Some(Rule::TestFailure)
        );
        assert_eq!(
            c(Level::Error, "Module m: 1 failures, 0 errors"),
            Some(Rule::TestsFailed)
        );
        assert_eq!(
            c(
                Level::Error,
                "module m: at least one error occurred in a test"
            ),
            Some(Rule::TestsFailed)
        );
        assert_eq!(
            c(Level::Error, "module m: an exception occurred in a test"),
            Some(Rule::TestsFailed)
        );
        assert_eq!(
            c(
                Level::Error,
                "10 failed, 0 error(s) of 12 tests when loading database 'd'"
            ),
            Some(Rule::TestsFailed)
        );
        assert_eq!(c(Level::Error, "boom"), Some(Rule::ErrorRecord));
        assert_eq!(c(Level::Critical, "boom"), Some(Rule::ErrorRecord));
    }

    #[test]
    fn yaml_assertions_fail_even_at_warning() {
        assert_eq!(
            c(Level::Warning, "AssertionError in Python code sale: x"),
            Some(Rule::YamlAssertion)
        );
        assert_eq!(
            c(Level::Warning, "Assertion \"state == 'done'\" FAILED"),
            Some(Rule::YamlAssertion)
        );
        assert_eq!(
            c(Level::Warning, "The model x has no access rules"),
            Some(Rule::WarningRecord)
        );
    }

    #[test]
    fn zero_tests_summary_fails_unless_no_tests_are_expected() {
        let m = b"0 failed, 0 error(s) of 0 tests when loading database 'd'";
        assert_eq!(classify(Level::Warning, m, Auto), Some(Rule::NoTestsRun));
        assert_eq!(
            classify(Level::Warning, m, TestsExpectation::Requested),
            Some(Rule::NoTestsRun)
        );
        assert_eq!(
            classify(Level::Warning, m, TestsExpectation::NotExpected),
            Some(Rule::WarningRecord)
        );
    }

    #[test]
    fn retried_records_are_notes() {
        assert_eq!(
            c(Level::Retried, "FAIL: T.test_x"),
            Some(Rule::RetriedRecord)
        );
        assert_eq!(Rule::RetriedRecord.severity(), Severity::Note);
        assert_eq!(Rule::WarningRecord.severity(), Severity::Warn);
        assert_eq!(Rule::Traceback.severity(), Severity::Fail);
    }

    #[test]
    fn rule_table_is_in_index_order() {
        for (i, r) in Rule::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
    }
}
