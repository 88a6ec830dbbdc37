//! The text of the mails, from plain facts: the cause of a failure first (the analyzer's
//! findings, then the failing step's last lines), the changes and their authors, the link to
//! the build. Plain text and HTML (an askama template, autoescaped). Bounded: a build's
//! findings, lines and changes are cut to a few dozen, each line to a few hundred bytes.

use askama::Template;

use crate::ids::BuildId;
use crate::results::Results;

/// Findings shown at most.
pub const MAX_FINDINGS: usize = 20;
/// Log lines of the failing step shown at most.
pub const MAX_LOG_LINES: usize = 30;
/// Changes shown at most.
pub const MAX_CHANGES: usize = 20;
/// Bytes of one line (finding, log line, comment) at most.
pub const MAX_LINE: usize = 400;

/// One finding of the analyzer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The analysing step.
    pub step: String,
    /// `error`, `warning`, …
    pub severity: String,
    /// Line in the analysed log (0: the whole log).
    pub line: u64,
    /// What was found.
    pub message: String,
}

/// The step that failed first, with the end of its log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedStep {
    /// Its name.
    pub name: String,
    /// Its state text (`failed (exit 1)`).
    pub text: String,
    /// The last lines of its log.
    pub last_lines: Vec<String>,
}

/// One change built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeLine {
    /// The repository.
    pub repository: String,
    /// The revision.
    pub revision: String,
    /// Its author as the change gives it.
    pub author: Option<String>,
    /// The first line of its comments.
    pub comments: Option<String>,
}

/// Everything a build's mail says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildFacts {
    /// The master's title (`title`).
    pub title: String,
    /// The builder.
    pub builder: String,
    /// The build.
    pub build: BuildId,
    /// Its result.
    pub result: Results,
    /// The builder's previous verdict.
    pub previous: Option<Results>,
    /// The build's state text.
    pub state_text: String,
    /// The worker it ran on.
    pub worker: String,
    /// The analyzer's findings.
    pub findings: Vec<Finding>,
    /// The first failed step.
    pub failed_step: Option<FailedStep>,
    /// The changes built.
    pub changes: Vec<ChangeLine>,
    /// `public-url` of `oebb.cfg`, when set.
    pub public_url: Option<String>,
}

/// A mail's subject and parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Composed {
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
}

/// A line as shown: control characters (escape sequences of colored logs) replaced, cut to
/// [`MAX_LINE`] bytes.
pub fn clean(line: &str) -> String {
    let mut out: String = line
        .chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    if out.len() > MAX_LINE {
        let mut end = MAX_LINE;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

/// The page of `path` (`/builds/12`) under `public-url`, when set.
pub fn link(public_url: Option<&str>, path: &str) -> Option<String> {
    public_url.map(|u| format!("{}{path}", u.trim_end_matches('/')))
}

/// What happened, in a few words.
fn what(result: Results, previous: Option<Results>) -> &'static str {
    let was_broken = matches!(previous, Some(Results::Failure | Results::Exception));
    match result {
        Results::Success if was_broken => "is fixed",
        Results::Warnings if was_broken => "is fixed, with warnings",
        Results::Success => "passed",
        Results::Warnings => "passed with warnings",
        Results::Failure if was_broken => "failed again",
        Results::Failure => "failed",
        Results::Exception => "broke (exception)",
        Results::Cancelled => "was stopped",
        Results::Skipped | Results::Retry => "did not run",
    }
}

#[derive(Template)]
#[template(path = "mail_build.html")]
struct BuildHtml<'a> {
    f: &'a BuildFacts,
    headline: String,
    findings: Vec<(String, String)>,
    more_findings: usize,
    changes: Vec<String>,
    url: Option<String>,
}

/// A finding as one line: `[error] test, line 12: message`.
fn finding_line(f: &Finding) -> (String, String) {
    let at = if f.line > 0 {
        format!("{}, line {}", f.step, f.line)
    } else {
        f.step.clone()
    };
    (format!("[{}] {at}", clean(&f.severity)), clean(&f.message))
}

fn change_line(c: &ChangeLine) -> String {
    let mut line = format!("{} {}", clean(&c.repository), clean(&c.revision));
    if let Some(a) = &c.author {
        line.push_str(&format!(" by {}", clean(a)));
    }
    if let Some(m) = c.comments.as_deref().and_then(|m| m.lines().next()) {
        line.push_str(&format!(": {}", clean(m)));
    }
    line
}

/// The mail of a finished build.
pub fn build_mail(f: &BuildFacts) -> Composed {
    let headline = format!(
        "Build #{} of {} {}: {}.",
        f.build,
        f.builder,
        what(f.result, f.previous),
        clean(&f.state_text)
    );
    let findings: Vec<(String, String)> = f
        .findings
        .iter()
        .take(MAX_FINDINGS)
        .map(finding_line)
        .collect();
    let more_findings = f.findings.len().saturating_sub(MAX_FINDINGS);
    let changes: Vec<String> = f
        .changes
        .iter()
        .take(MAX_CHANGES)
        .map(change_line)
        .collect();
    let url = link(f.public_url.as_deref(), &format!("/builds/{}", f.build));
    let mut text = format!("{headline}\n");
    if !findings.is_empty() || f.failed_step.is_some() {
        text.push_str("\nThe cause\n---------\n");
    }
    for (at, message) in &findings {
        text.push_str(&format!("{at}: {message}\n"));
    }
    if more_findings > 0 {
        text.push_str(&format!(
            "… and {more_findings} more findings on the build page.\n"
        ));
    }
    if let Some(s) = &f.failed_step {
        text.push_str(&format!(
            "\nLast lines of step {} ({}):\n",
            s.name,
            clean(&s.text)
        ));
        for l in &s.last_lines {
            text.push_str(&format!("    {l}\n"));
        }
    }
    if !changes.is_empty() {
        text.push_str("\nChanges\n-------\n");
        for c in &changes {
            text.push_str(&format!("* {c}\n"));
        }
    }
    text.push('\n');
    match &url {
        Some(u) => text.push_str(&format!("Build: {u}\n")),
        None => text.push_str(&format!(
            "Build: #{} (set public-url in oebb.cfg for a link)\n",
            f.build
        )),
    }
    text.push_str(&format!("Worker: {}\n", f.worker));
    if let Some(p) = f.previous {
        text.push_str(&format!("Previous build: {p}\n"));
    }
    let html = BuildHtml {
        f,
        headline,
        findings,
        more_findings,
        changes,
        url,
    }
    .render()
    .unwrap_or_else(|e| format!("<p>cannot render this mail: {e}</p>"));
    Composed {
        subject: format!(
            "[{}] {} {} (build #{})",
            f.title,
            f.builder,
            what(f.result, f.previous),
            f.build
        ),
        text,
        html,
    }
}

/// Facts of a worker's missing or back mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerFacts {
    /// The master's title.
    pub title: String,
    /// The worker.
    pub worker: String,
    /// True: it came back; false: it is missing.
    pub back: bool,
    /// When it left (UTC text).
    pub left_at: String,
    /// Its grace period in seconds.
    pub grace: u64,
    /// `public-url`.
    pub public_url: Option<String>,
}

#[derive(Template)]
#[template(path = "mail_worker.html")]
struct WorkerHtml<'a> {
    text: &'a str,
    url: Option<String>,
}

/// The mail telling a worker is missing, or back.
pub fn worker_mail(f: &WorkerFacts) -> Composed {
    let (subject, body) = if f.back {
        (
            format!("[{}] worker {} is back", f.title, f.worker),
            format!(
                "Worker {} is connected again; it had been away since {} UTC.",
                f.worker, f.left_at
            ),
        )
    } else {
        (
            format!("[{}] worker {} is missing", f.title, f.worker),
            format!(
                "Worker {} has been disconnected since {} UTC, longer than its {} s \
                 (missing_timeout). Its builds wait until it comes back; another mail will \
                 say when it does.",
                f.worker, f.left_at, f.grace
            ),
        )
    };
    let url = link(f.public_url.as_deref(), "/workers");
    let mut text = format!("{body}\n");
    if let Some(u) = &url {
        text.push_str(&format!("\nWorkers: {u}\n"));
    }
    let html = WorkerHtml { text: &body, url }
        .render()
        .unwrap_or_else(|e| format!("<p>cannot render this mail: {e}</p>"));
    Composed {
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> BuildFacts {
        BuildFacts {
            title: "CI".into(),
            builder: "shop-pg16".into(),
            build: BuildId(12),
            result: Results::Failure,
            previous: Some(Results::Success),
            state_text: "failure (test)".into(),
            worker: "w1".into(),
            findings: vec![Finding {
                step: "test".into(),
                severity: "error".into(),
                line: 42,
                message: "FAIL: test_total <b>".into(),
            }],
            failed_step: Some(FailedStep {
                name: "test".into(),
                text: "failed (exit 1)".into(),
                last_lines: vec!["Traceback".into(), "AssertionError".into()],
            }),
            changes: vec![ChangeLine {
                repository: "https://git.example.com/shop".into(),
                revision: "abc123".into(),
                author: Some("Jane <jane@example.com>".into()),
                comments: Some("fix totals\nlong story".into()),
            }],
            public_url: Some("https://ci.example.com/".into()),
        }
    }

    #[test]
    fn a_failure_mail_says_the_cause_first_then_changes_then_the_link() {
        let m = build_mail(&facts());
        assert_eq!(m.subject, "[CI] shop-pg16 failed (build #12)");
        assert_eq!(
            m.text,
            "Build #12 of shop-pg16 failed: failure (test).\n\
             \n\
             The cause\n\
             ---------\n\
             [error] test, line 42: FAIL: test_total <b>\n\
             \n\
             Last lines of step test (failed (exit 1)):\n    Traceback\n    AssertionError\n\
             \n\
             Changes\n\
             -------\n\
             * https://git.example.com/shop abc123 by Jane <jane@example.com>: fix totals\n\
             \n\
             Build: https://ci.example.com/builds/12\n\
             Worker: w1\n\
             Previous build: success\n"
        );
        assert!(
            m.html.contains("FAIL: test_total &#60;b&#62;")
                || m.html.contains("FAIL: test_total &lt;b&gt;"),
            "{}",
            m.html
        );
        assert!(m.html.contains("href=\"https://ci.example.com/builds/12\""));
        let cause = m.html.find("FAIL: test_total").unwrap();
        assert!(cause < m.html.find("abc123").unwrap());
    }

    #[test]
    fn a_fix_is_named_and_findings_and_lines_are_bounded() {
        let mut f = facts();
        f.result = Results::Success;
        f.previous = Some(Results::Failure);
        f.failed_step = None;
        f.findings = (0..100)
            .map(|i| Finding {
                step: "test".into(),
                severity: "warning".into(),
                line: i,
                message: format!("{}\u{1b}[31m", "x".repeat(1000)),
            })
            .collect();
        f.public_url = None;
        let m = build_mail(&f);
        assert_eq!(m.subject, "[CI] shop-pg16 is fixed (build #12)");
        assert!(m.text.contains("… and 80 more findings"));
        assert!(m.text.contains("Build: #12 (set public-url"));
        assert!(!m.text.contains('\u{1b}'));
        assert!(m.text.lines().all(|l| l.len() < 2 * MAX_LINE));
        assert!(m.text.len() < 64 * 1024 && m.html.len() < 128 * 1024);
    }

    #[test]
    fn worker_mails_say_since_when() {
        let mut f = WorkerFacts {
            title: "CI".into(),
            worker: "w1".into(),
            back: false,
            left_at: "2026-12-02 10:00:00".into(),
            grace: 600,
            public_url: Some("https://ci.example.com".into()),
        };
        let m = worker_mail(&f);
        assert_eq!(m.subject, "[CI] worker w1 is missing");
        assert!(m
            .text
            .starts_with("Worker w1 has been disconnected since 2026-12-02 10:00:00 UTC"));
        assert!(m
            .text
            .ends_with("Workers: https://ci.example.com/workers\n"));
        f.back = true;
        assert_eq!(worker_mail(&f).subject, "[CI] worker w1 is back");
    }
}
