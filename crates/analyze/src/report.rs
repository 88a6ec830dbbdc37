//! The result of an analysis, and its short human rendering.

use crate::level::Level;
use crate::rules::{Rule, Severity};
use crate::verdict::Verdict;
use crate::version::DetectedVersion;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One reason found in the log (or about the run) that counts towards the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule that matched.
    pub rule: Rule,
    /// The rule's weight.
    pub severity: Severity,
    /// 1-based line of the record (or of the traceback); 0 for findings about the whole log.
    pub line: u64,
    /// Level of the record, if the finding is a record.
    pub level: Option<Level>,
    /// Logger of the record (empty if none).
    pub logger: String,
    /// First line of the message, or the explanation of a whole-log finding.
    pub message: String,
    /// The record's text, ANSI codes removed, capped at a few dozen lines.
    pub text: String,
    /// Stable hash of the normalised message: the same error in another build has the same.
    pub fingerprint: String,
    /// The ignore pattern that matched, for ignored records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored_by: Option<String>,
}

impl Finding {
    /// Whether the finding only restates a failure that another finding tells in full: a
    /// test's status word (`test_x (…) ... FAIL`, `FAILED (failures=1)`) or a summary
    /// (`at least one error occurred in a test`). Shown after the ones that tell.
    pub fn restates(&self) -> bool {
        match self.rule {
            Rule::TestsFailed => true,
            Rule::TestFailure => {
                let m = self.message.as_bytes();
                crate::rules::is_status_word(m)
                    || m.ends_with(b" ... FAIL")
                    || m.ends_with(b" ... ERROR")
            }
            _ => false,
        }
    }
}

/// Test counts read from the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCounts {
    /// Tests that ran, best estimate: the 14+ summary, else `Ran N tests` or `Starting …`.
    pub run: u64,
    /// Failed tests from the 14+ summary.
    pub failed: u64,
    /// Tests in error from the 14+ summary.
    pub errors: u64,
    /// Whether a 14+ summary line was seen.
    pub summary_seen: bool,
    /// YAML test files loaded (6.x/7.0).
    pub yaml_files: u64,
}

/// Everything an analysis found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Pass, warnings or fail.
    pub verdict: Verdict,
    /// The version assumed for version-dependent rules.
    pub version: Option<DetectedVersion>,
    /// Bytes read.
    pub bytes: u64,
    /// Lines read.
    pub lines: u64,
    /// Records (timestamped header lines) read.
    pub records: u64,
    /// Test counts.
    pub tests: TestCounts,
    /// Number of findings per rule (ignored records not included), by rule name.
    pub counts: BTreeMap<String, u64>,
    /// The findings kept (a capped number per rule), in log order; whole-log findings last.
    pub findings: Vec<Finding>,
    /// Records that matched an ignore pattern.
    pub ignored_count: u64,
    /// The first of those records.
    pub ignored: Vec<Finding>,
}

impl Report {
    /// The kept findings of one rule.
    pub fn findings_of(&self, rule: Rule) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.rule == rule)
    }

    /// The number of findings of one rule.
    pub fn count(&self, rule: Rule) -> u64 {
        self.counts.get(rule.name()).copied().unwrap_or(0)
    }

    /// The findings whose severity decided the verdict (warnings, when they failed it).
    pub fn decisive(&self) -> impl Iterator<Item = &Finding> {
        let has_fail = self.findings.iter().any(|f| f.severity == Severity::Fail);
        let wanted = match self.verdict {
            Verdict::Pass => None,
            Verdict::Fail if has_fail => Some(Severity::Fail),
            Verdict::Fail | Verdict::Warnings => Some(Severity::Warn),
        };
        self.findings
            .iter()
            .filter(move |f| Some(f.severity) == wanted)
    }
}

const SHOWN_PER_RULE: usize = 3;
const SHOWN_LINES: usize = 4;
/// Characters shown of each line; the JSON report has the full text.
const SHOWN_CHARS: usize = 240;

/// A short human report: verdict, then findings grouped by rule with their first lines.
pub fn render_text(report: &Report, name: &str) -> String {
    let mut out = String::new();
    let version = match &report.version {
        Some(v) if v.exact => format!("Odoo {} ({})", v.version, v.evidence),
        Some(v) => format!("Odoo {}+ ({})", v.version, v.evidence),
        None => "version unknown".to_string(),
    };
    let _ = writeln!(
        out,
        "{name}: {} — {version}; {} lines, {} records, {} tests run",
        report.verdict.label(),
        report.lines,
        report.records,
        report.tests.run
    );
    for rule in Rule::ALL {
        let count = report.count(rule);
        if count == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "  [{}] {} ({count}): {}",
            severity_label(rule.severity()),
            rule.name(),
            rule.description()
        );
        let shown: Vec<&Finding> = report.findings_of(rule).take(SHOWN_PER_RULE).collect();
        for f in &shown {
            write_finding(&mut out, f);
        }
        if count > shown.len() as u64 {
            let _ = writeln!(out, "      … and {} more", count - shown.len() as u64);
        }
    }
    if report.ignored_count > 0 {
        let _ = writeln!(
            out,
            "  ignored by patterns: {} record(s)",
            report.ignored_count
        );
        for f in report.ignored.iter().take(SHOWN_PER_RULE) {
            let _ = writeln!(
                out,
                "    line {}: [{}] {}",
                f.line,
                f.rule.name(),
                f.message
            );
            if let Some(noise) = f.ignored_by.as_deref().and_then(crate::noise::explain) {
                let _ = writeln!(
                    out,
                    "      known environment noise: {} (`analyze.known-noise = false` in the \
                     MANIFEST section counts it)",
                    noise.why
                );
            }
        }
    }
    out
}

fn write_finding(out: &mut String, f: &Finding) {
    if f.line == 0 {
        let _ = writeln!(out, "    {}", f.message);
        return;
    }
    let mut lines = f.text.lines();
    let first = lines.next().unwrap_or(&f.message);
    let _ = writeln!(out, "    line {}: {}", f.line, clip(first));
    for l in lines.by_ref().take(SHOWN_LINES - 1) {
        let _ = writeln!(out, "      {}", clip(l));
    }
    if let Some(cause) = cause(&f.text, SHOWN_LINES) {
        let _ = writeln!(out, "      … {}", clip(&cause));
    }
}

/// What ends a finding's text after its first `shown` lines: its last exception line
/// (`ValueError: …`, `AssertionError: {1: 4} != {1: 5}`, OpenERP's `except_orm: …`), else its
/// last line with something to say; record headers and 6.1–12.0 `` ` `` marks taken off. A
/// traceback's exception is often far below the lines shown, and Python 2.7's `assertEqual`
/// follows it with a diff.
fn cause(text: &str, shown: usize) -> Option<String> {
    let inner = inner_lines(text, shown);
    last_exception(&inner).or(inner.last()).cloned()
}

/// The last exception line of a finding's text after its first `skip` lines (see [`cause`]).
pub(crate) fn exception_in(text: &str, skip: usize) -> Option<String> {
    last_exception(&inner_lines(text, skip)).cloned()
}

fn last_exception(inner: &[String]) -> Option<&String> {
    inner.iter().rev().find(|l| EXCEPTION_LINE.is_match(l))
}

/// The lines of a finding's text after its first `skip`, headers and `` ` `` marks taken off,
/// blank ones and the elision mark left out.
fn inner_lines(text: &str, skip: usize) -> Vec<String> {
    text.lines()
        .skip(skip)
        .map(|line| {
            let message = crate::record::grammar::parse_header(line.as_bytes())
                .map_or(line.as_bytes(), |h| h.message);
            let inner = String::from_utf8_lossy(message);
            inner.trim_start_matches('`').trim().to_string()
        })
        .filter(|l| !l.is_empty() && l != "[…]")
        .collect()
}

/// The last line of a Python traceback: an exception's (dotted) name, then its message.
static EXCEPTION_LINE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r"^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception|Failure|Exit|except_orm|except_osv)(: |$)",
    )
    .expect("valid regex")
});

fn clip(line: &str) -> std::borrow::Cow<'_, str> {
    match line.char_indices().nth(SHOWN_CHARS) {
        Some((i, _)) => format!("{}…", &line[..i]).into(),
        None => line.into(),
    }
}

fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Fail => "fail",
        Severity::Warn => "warn",
        Severity::Note => "note",
    }
}
