//! The verdict: pass, warnings or fail, from the counts per rule.

use crate::rules::{Rule, Severity};
use serde::{Deserialize, Serialize};

/// The outcome of an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing wrong.
    Pass,
    /// Only WARNING-level findings.
    Warnings,
    /// At least one failing finding.
    Fail,
}

impl Verdict {
    /// Exit code of `oebb analyze-log`: 0 pass, 1 fail, 2 warnings only.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Warnings => 2,
        }
    }

    /// Upper-case name for human reports.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warnings => "WARNINGS",
            Verdict::Fail => "FAIL",
        }
    }
}

/// Decides from the number of (non-ignored) findings per rule, indexed by [`Rule::index`].
pub fn decide(counts: &[u64; Rule::ALL.len()], warnings_fail: bool) -> Verdict {
    let any = |severity| {
        Rule::ALL
            .iter()
            .any(|r| r.severity() == severity && counts[r.index()] > 0)
    };
    if any(Severity::Fail) || (warnings_fail && any(Severity::Warn)) {
        Verdict::Fail
    } else if any(Severity::Warn) {
        Verdict::Warnings
    } else {
        Verdict::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(rules: &[Rule]) -> [u64; Rule::ALL.len()] {
        let mut c = [0; Rule::ALL.len()];
        for r in rules {
            c[r.index()] += 1;
        }
        c
    }

    #[test]
    fn severities_decide() {
        assert_eq!(decide(&counts(&[]), false), Verdict::Pass);
        assert_eq!(
            decide(&counts(&[Rule::RetriedRecord]), false),
            Verdict::Pass
        );
        assert_eq!(
            decide(&counts(&[Rule::WarningRecord]), false),
            Verdict::Warnings
        );
        assert_eq!(decide(&counts(&[Rule::WarningRecord]), true), Verdict::Fail);
        assert_eq!(
            decide(&counts(&[Rule::WarningRecord, Rule::ExitStatus]), false),
            Verdict::Fail
        );
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Verdict::Pass.exit_code(), 0);
        assert_eq!(Verdict::Fail.exit_code(), 1);
        assert_eq!(Verdict::Warnings.exit_code(), 2);
    }
}
