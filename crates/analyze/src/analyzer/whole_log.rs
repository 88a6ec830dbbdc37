//! Rules about the log as a whole, decided at its end: empty, truncated, markers missing,
//! no tests, exit status.

use super::facts::Facts;
use super::tally::Tally;
use crate::options::{Options, TestsExpectation};
use crate::rules::Rule;
use crate::version::Version;

/// What the scan saw, beyond the facts: whether anything but blanks, and how many lines.
pub(super) struct Seen {
    /// Some line had a non-blank byte.
    pub nonblank: bool,
    /// Lines read.
    pub lines: u64,
}

/// Adds the whole-log findings to `tally`.
pub(super) fn whole_log_rules(
    facts: &Facts,
    seen: &Seen,
    options: &Options,
    version: Option<Version>,
    tally: &mut Tally,
) {
    if !seen.nonblank {
        tally.whole_log(
            Rule::EmptyLog,
            "the log is empty: the server wrote nothing".into(),
        );
    } else {
        if !facts.modules_loaded
            && !facts.loading_tests_failed
            && version.is_none_or(|v| v.prints_modules_loaded())
        {
            tally.whole_log(
                Rule::ModulesNotLoaded,
                "no '.modules.loading: Modules loaded.': the registry did not finish loading"
                    .into(),
            );
        }
        let shutdown_expected = options
            .require_shutdown
            .unwrap_or_else(|| version.is_none_or(|v| v.prints_shutdown()));
        if shutdown_expected && !facts.shutdown {
            let msg = format!(
                "no 'Initiating shutdown' in {} lines: the run was killed, timed out, or the log is truncated",
                seen.lines
            );
            tally.whole_log(Rule::TruncatedLog, msg);
        }
        test_rules(facts, options, version, tally);
    }
    if let Some(status) = options.exit_status.filter(|s| *s != 0) {
        tally.whole_log(
            Rule::ExitStatus,
            format!("the command exited with status {status} (non-zero always fails, whatever the log says)"),
        );
    }
}

/// When tests were requested, the log must show some, and 14+ its summary. An explicit
/// request wins over ignore patterns: an ignored 0-test summary still fails.
fn test_rules(facts: &Facts, options: &Options, version: Option<Version>, tally: &mut Tally) {
    if options.tests != TestsExpectation::Requested {
        return;
    }
    if version.is_some_and(|v| v.prints_test_summary()) && !facts.summary_seen {
        tally.whole_log(
            Rule::NoTestSummary,
            "tests were requested but no '… failed, … error(s) of N tests' summary was logged"
                .into(),
        );
    }
    let c = &tally.counts;
    let failures = [Rule::TestFailure, Rule::TestsFailed, Rule::YamlAssertion]
        .iter()
        .map(|r| c[r.index()])
        .sum::<u64>();
    let evidence = facts.tests_run() + facts.yaml_files + failures;
    if evidence == 0 && c[Rule::NoTestsRun.index()] == 0 {
        tally.whole_log(
            Rule::NoTestsRun,
            "tests were requested but the log shows no test run (zero tests is not a pass)".into(),
        );
    }
}
