//! Counts per rule, and the findings kept (a capped number per rule).

use crate::fingerprint::fingerprint;
use crate::report::Finding;
use crate::rules::Rule;

/// At most this many findings are kept per rule (all are counted).
pub const MAX_KEPT_PER_RULE: usize = 20;

const RULES: usize = Rule::ALL.len();

/// Counts per rule and the findings kept.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) counts: [u64; RULES],
    pub(super) kept_per_rule: [usize; RULES],
    pub(super) findings: Vec<Finding>,
    pub(super) ignored_count: u64,
    pub(super) ignored: Vec<Finding>,
}

impl Tally {
    /// Counts one finding; returns whether its details should be kept.
    pub(super) fn count(&mut self, rule: Rule, ignored: bool) -> bool {
        if ignored {
            self.ignored_count += 1;
            self.ignored.len() < MAX_KEPT_PER_RULE
        } else {
            self.counts[rule.index()] += 1;
            self.kept_per_rule[rule.index()] < MAX_KEPT_PER_RULE
        }
    }

    /// Whether a (not ignored) finding of `rule` would still be kept.
    pub(super) fn would_keep(&self, rule: Rule) -> bool {
        self.kept_per_rule[rule.index()] < MAX_KEPT_PER_RULE
    }

    pub(super) fn keep(&mut self, f: Finding) {
        if f.ignored_by.is_some() {
            self.ignored.push(f);
        } else {
            self.kept_per_rule[f.rule.index()] += 1;
            self.findings.push(f);
        }
    }

    pub(super) fn whole_log(&mut self, rule: Rule, message: String) {
        if self.count(rule, false) {
            let fp = fingerprint(rule.name(), "", &message, "", "");
            self.keep(Finding {
                rule,
                severity: rule.severity(),
                line: 0,
                level: None,
                logger: String::new(),
                message,
                text: String::new(),
                fingerprint: fp,
                ignored_by: None,
            });
        }
    }
}
