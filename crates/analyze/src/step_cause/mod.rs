//! The cause of a failed step, read from its log: what a person looks for first when a build is
//! red. A Python traceback's exception and the frame that raised it; zc.buildout's `While:`
//! block and its `Error:` line; pip and setuptools errors; `psql`/`createdb`/`dropdb` errors;
//! `git`/`hg`/`brz` errors; a timeout or a lost worker; otherwise the last lines before the exit.
//!
//! Streaming and bounded: [`Scanner::feed`] takes the log in pieces of any size, keeps a line
//! of at most [`MAX_LINE`] bytes, the last [`TAIL_LINES`] lines and the last match of each
//! pattern, whatever the log's size.
//!
//! ```
//! use oebb_analyze::step_cause::{extract, CauseRule, StepEnd, StepKind};
//! let log = b"While:\n  Installing openerp.\nError: Couldn't find a distribution for 'x'.\n";
//! let causes = extract(log, StepKind::Buildout, &StepEnd::Exit(1), "");
//! assert_eq!(causes[0].rule, CauseRule::Buildout);
//! assert_eq!(causes[0].line, 3);
//! assert!(causes[0].message.starts_with("Error: Couldn't find"));
//! ```

mod lines;
mod patterns;
#[cfg(test)]
mod tests;
mod traceback;

use serde::{Deserialize, Serialize};

use crate::fingerprint;
use lines::{LineSplitter, Tail};
use patterns::Pattern;
use traceback::{Traceback, TracebackState};

pub use lines::{MAX_LINE, TAIL_LINES};

/// What kind of step wrote the log: which causes come first when several are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// `bin/buildout` or its bootstrap.
    Buildout,
    /// A checkout or update of a repository.
    Vcs,
    /// `psql`, `createdb`, `dropdb` and friends.
    Database,
    /// Anything else (an Odoo run, a script).
    Other,
}

/// How the step's command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepEnd {
    /// It exited with this status.
    Exit(i64),
    /// It ran longer than its timeout (seconds) and was interrupted.
    TimedOut(u64),
    /// The worker went away while it ran.
    WorkerLost(String),
    /// The worker raised instead of running it.
    Exception(String),
}

/// Which kind of cause was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CauseRule {
    /// The step timed out.
    Timeout,
    /// The worker was lost.
    WorkerLost,
    /// The worker could not run the command.
    WorkerException,
    /// zc.buildout's `Error:` (or internal error) with its `While:` block.
    Buildout,
    /// A Python traceback's exception line.
    PythonException,
    /// pip's `ERROR:` or setuptools' `error:`.
    Pip,
    /// A PostgreSQL client's error.
    Postgresql,
    /// `fatal:` (git), `abort:` (hg), `brz: ERROR:`.
    Vcs,
    /// No known pattern: the last lines before the exit.
    LastLines,
}

impl CauseRule {
    /// The rule's name, as stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            CauseRule::Timeout => "timeout",
            CauseRule::WorkerLost => "worker-lost",
            CauseRule::WorkerException => "worker-exception",
            CauseRule::Buildout => "buildout-error",
            CauseRule::PythonException => "python-exception",
            CauseRule::Pip => "pip-error",
            CauseRule::Postgresql => "postgresql-error",
            CauseRule::Vcs => "vcs-error",
            CauseRule::LastLines => "last-lines",
        }
    }

    /// A specific cause, rather than the last lines of the log.
    pub fn is_specific(self) -> bool {
        self != CauseRule::LastLines
    }
}

/// One cause found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    /// Which kind.
    pub rule: CauseRule,
    /// 1-based line of the log to look at (0: about the whole step).
    pub line: u64,
    /// One line saying what went wrong.
    pub message: String,
    /// The few lines around it that explain it (the `While:` block, the raising frame).
    pub text: String,
    /// Stable across builds: the same cause in another build has the same.
    pub fingerprint: String,
}

/// At most this many causes are given for one step.
pub const MAX_CAUSES: usize = 3;

/// Lines kept of a `While:` block.
const MAX_WHILE_LINES: usize = 12;

/// A match waiting to become a cause.
#[derive(Debug, Clone, Default)]
struct Hit {
    line: u64,
    message: String,
    context: Vec<String>,
}

/// Reads a step's log piece by piece and gives its causes at the end.
#[derive(Debug)]
pub struct Scanner {
    splitter: LineSplitter,
    tail: Tail,
    line: u64,
    traceback: TracebackState,
    /// The last complete traceback.
    last_traceback: Option<Traceback>,
    /// The `While:` block being read, or the last one.
    while_block: Vec<String>,
    in_while: bool,
    /// zc.buildout said a recipe or itself raised: the next traceback is its error.
    internal_error: bool,
    buildout: Option<Hit>,
    pip: Option<Hit>,
    postgresql: Option<Hit>,
    vcs: Option<Hit>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

impl Scanner {
    /// A scanner for a new log.
    pub fn new() -> Scanner {
        Scanner {
            splitter: LineSplitter::default(),
            tail: Tail::default(),
            line: 0,
            traceback: TracebackState::default(),
            last_traceback: None,
            while_block: Vec::new(),
            in_while: false,
            internal_error: false,
            buildout: None,
            pip: None,
            postgresql: None,
            vcs: None,
        }
    }

    /// A scanner for the end of a log whose first `lines` lines it will not see: the line
    /// numbers it gives count them.
    pub fn after_lines(lines: u64) -> Scanner {
        Scanner {
            line: lines,
            ..Scanner::new()
        }
    }

    /// Reads the next piece of the log.
    pub fn feed(&mut self, bytes: &[u8]) {
        let mut done = Vec::new();
        self.splitter.feed(bytes, |line| done.push(line));
        for line in done {
            self.line_done(&line);
        }
    }

    /// Lines read so far (a last line without its newline counts once the log ends).
    pub fn lines(&self) -> u64 {
        self.line
    }

    fn line_done(&mut self, line: &str) {
        self.line += 1;
        let n = self.line;
        if patterns::is_noise(line) {
            return;
        }
        self.tail.push(n, line);
        if let Some(tb) = self.traceback.line(n, line) {
            self.traceback_done(tb);
        }
        if self.in_while {
            if let Some(step) = line.strip_prefix("  ") {
                if self.while_block.len() < MAX_WHILE_LINES {
                    self.while_block.push(step.trim().to_string());
                }
                return;
            }
            self.in_while = false;
        }
        match patterns::classify(line) {
            Some(Pattern::While) => {
                self.in_while = true;
                self.while_block.clear();
                self.internal_error = false;
            }
            Some(Pattern::BuildoutInternalError) => self.internal_error = true,
            Some(Pattern::BuildoutError(message)) => {
                self.buildout = Some(Hit {
                    line: n,
                    message,
                    context: self.while_context(),
                });
            }
            Some(Pattern::Pip(message)) => self.pip = Some(hit(n, message)),
            Some(Pattern::Postgresql(message)) => self.postgresql = Some(hit(n, message)),
            Some(Pattern::Vcs(message)) => self.vcs = Some(hit(n, message)),
            None => {}
        }
    }

    fn while_context(&self) -> Vec<String> {
        if self.while_block.is_empty() {
            return Vec::new();
        }
        vec![format!("While: {}", self.while_block.join(" / "))]
    }

    fn traceback_done(&mut self, tb: Traceback) {
        if self.internal_error {
            let mut context = self.while_context();
            context.extend(tb.frame_lines());
            self.buildout = Some(Hit {
                line: tb.exception_line,
                message: tb.exception.clone(),
                context,
            });
            // The same exception: one cause, not two.
            self.internal_error = false;
            return;
        }
        self.last_traceback = Some(tb);
    }

    /// The causes of the step's failure, most telling first, at most [`MAX_CAUSES`]; `db` is
    /// the build's database name, left out of the fingerprints.
    pub fn finish(mut self, kind: StepKind, end: &StepEnd, db: &str) -> Vec<Cause> {
        let mut last = Vec::new();
        self.splitter.finish(|line| last.push(line));
        for line in last {
            self.line_done(&line);
        }
        if let Some(tb) = self.traceback.finish() {
            self.traceback_done(tb);
        }
        let mut causes: Vec<Cause> = Vec::new();
        let mut push = |rule: CauseRule, hit: Hit| {
            let fingerprint = fingerprint::fingerprint(rule.name(), "", &hit.message, "", db);
            if causes.iter().any(|c| c.fingerprint == fingerprint) {
                return;
            }
            causes.push(Cause {
                rule,
                line: hit.line,
                message: hit.message,
                text: hit.context.join("\n"),
                fingerprint,
            });
        };
        match end {
            StepEnd::TimedOut(secs) => push(
                CauseRule::Timeout,
                hit(0, format!("timed out: still running after {secs} s")),
            ),
            StepEnd::WorkerLost(why) => push(
                CauseRule::WorkerLost,
                hit(0, format!("the worker was lost while the step ran: {why}")),
            ),
            StepEnd::Exception(why) => push(
                CauseRule::WorkerException,
                hit(0, format!("the worker could not run the command: {why}")),
            ),
            StepEnd::Exit(_) => {}
        }
        let traceback = self.last_traceback.take().map(|tb| Hit {
            line: tb.exception_line,
            context: tb.frame_lines(),
            message: tb.exception,
        });
        let found = [
            (CauseRule::Buildout, self.buildout.take()),
            (CauseRule::PythonException, traceback),
            (CauseRule::Pip, self.pip.take()),
            (CauseRule::Postgresql, self.postgresql.take()),
            (CauseRule::Vcs, self.vcs.take()),
        ];
        let mut found: Vec<(CauseRule, Hit)> = found
            .into_iter()
            .filter_map(|(rule, hit)| hit.map(|h| (rule, h)))
            .collect();
        let subprocess = subprocess_failure(&found);
        for (rule, hit) in &mut found {
            if let (Some((line, context)), true) = (&subprocess, is_tool(*rule)) {
                if hit.line < *line && hit.context.is_empty() {
                    hit.context = context.clone();
                }
            }
        }
        found.sort_by_key(|(rule, hit)| {
            let told_by_a_tool = subprocess
                .as_ref()
                .is_some_and(|(line, _)| !is_tool(*rule) || hit.line > *line);
            (told_by_a_tool, priority(kind, *rule), u64::MAX - hit.line)
        });
        let specific = !found.is_empty();
        for (rule, hit) in found {
            push(rule, hit);
        }
        if !specific {
            if let Some(hit) = self.tail.last_lines(end) {
                push(CauseRule::LastLines, hit);
            }
        }
        causes.truncate(MAX_CAUSES);
        causes
    }
}

/// A program's own error line: git's, pip's, PostgreSQL's.
fn is_tool(rule: CauseRule) -> bool {
    matches!(
        rule,
        CauseRule::Vcs | CauseRule::Pip | CauseRule::Postgresql
    )
}

/// When a Python exception only says that a command failed (`CalledProcessError`) and that
/// command wrote its own error before it: the exception's line and context. That error is
/// then the cause, with what zc.buildout was doing.
fn subprocess_failure(found: &[(CauseRule, Hit)]) -> Option<(u64, Vec<String>)> {
    let (_, hit) = found.iter().find(|(rule, hit)| {
        matches!(rule, CauseRule::Buildout | CauseRule::PythonException)
            && hit.message.contains("CalledProcessError")
    })?;
    let before = found
        .iter()
        .any(|(rule, other)| is_tool(*rule) && other.line < hit.line);
    let context = hit
        .context
        .iter()
        .filter(|l| l.starts_with("While: "))
        .cloned()
        .collect();
    before.then_some((hit.line, context))
}

fn hit(line: u64, message: String) -> Hit {
    Hit {
        line,
        message,
        context: Vec::new(),
    }
}

/// Lower first: what the kind of step makes most likely to be the cause.
fn priority(kind: StepKind, rule: CauseRule) -> u8 {
    let first = match kind {
        StepKind::Buildout => CauseRule::Buildout,
        StepKind::Vcs => CauseRule::Vcs,
        StepKind::Database => CauseRule::Postgresql,
        StepKind::Other => CauseRule::PythonException,
    };
    if rule == first {
        return 0;
    }
    match rule {
        CauseRule::Buildout => 1,
        CauseRule::PythonException => 2,
        CauseRule::Pip => 3,
        CauseRule::Vcs => 4,
        CauseRule::Postgresql => 5,
        _ => 9,
    }
}

/// The causes of a whole log held in memory.
pub fn extract(log: &[u8], kind: StepKind, end: &StepEnd, db: &str) -> Vec<Cause> {
    let mut scanner = Scanner::new();
    scanner.feed(log);
    scanner.finish(kind, end, db)
}

/// The kind of a step from its name and program, for [`priority`]: the recipe's names
/// (`checkout`, `bootstrap`, `buildout`, `createdb`…) and the programs they run.
pub fn step_kind(name: &str, program: Option<&str>) -> StepKind {
    let program = program
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or("");
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w) || program == *w);
    if has(&["buildout", "bootstrap"]) {
        StepKind::Buildout
    } else if has(&["checkout", "git", "hg", "bzr", "brz", "update"]) {
        StepKind::Vcs
    } else if has(&[
        "createdb",
        "dropdb",
        "psql",
        "pg_restore",
        "pg_dump",
        "pg_remote_copy",
    ]) {
        StepKind::Database
    } else {
        StepKind::Other
    }
}
