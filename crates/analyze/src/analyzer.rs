//! The streaming analyzer: feed it chunks of any size, then ask for the report.
//!
//! Memory stays flat: one partial line (capped), one open record (capped), a capped number of
//! findings per rule and counters. Lines are found with `memchr`; only header lines of
//! WARNING-or-worse records, and raw lines, get more than a prefix check.

use crate::fingerprint::fingerprint;
use crate::level::Level;
use crate::options::{Options, TestsExpectation};
use crate::record::grammar::{parse_header, strip_ansi_into, Header};
use crate::record::is_traceback_start;
use crate::record::signals::{signal, Signal};
use crate::report::{Finding, Report, TestCounts};
use crate::rules::{classify, Rule, Severity};
use crate::verdict::decide;
use crate::version::{DetectedVersion, VersionClues};
use memchr::memmem;
use regex::bytes::Regex;
use std::sync::LazyLock;

static SHUTDOWN: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"Initiating shutdown"));
static MODULES_LOADED: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b".modules.loading: Modules loaded."));

/// The markers runbot greps for on any line, records or not.
static RAW_MARKERS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Initiating shutdown|\.modules\.loading: Modules loaded\.").expect("valid regex")
});

/// Lines longer than this are analysed on their first `MAX_LINE` bytes only.
pub const MAX_LINE: usize = 64 * 1024;
/// At most this many findings are kept per rule (all are counted).
pub const MAX_KEPT_PER_RULE: usize = 20;
/// At most this many lines of a record's text are kept in its finding.
const MAX_TEXT_LINES: u32 = 40;
/// At most this many bytes of a record's text are kept in its finding.
const MAX_TEXT_BYTES: usize = 8 * 1024;
/// Bytes kept of a record's last line, for its fingerprint.
const MAX_LAST_LINE: usize = 512;

const RULES: usize = Rule::ALL.len();

/// Streaming Odoo log analyzer. `feed` it bytes, then `finish` it.
pub struct Analyzer {
    options: Options,
    /// The start of a line not yet ended by `\n` (capped at `MAX_LINE`).
    carry: Vec<u8>,
    bytes: u64,
    line_no: u64,
    records: u64,
    nonblank: bool,
    open: Open,
    /// Where the open plain record's header line is: in the buffer being scanned, or copied.
    plain_header: HeaderSpot,
    owned_header: Vec<u8>,
    plain_level: Level,
    plain_line: u64,
    kept: Candidate,
    facts: Facts,
    clues: VersionClues,
    tally: Tally,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// No record yet.
    Nothing,
    /// An ordinary record (INFO…), not kept unless a traceback follows it.
    Plain,
    /// A record under some rule, its text being collected in `kept`.
    Kept,
}

#[derive(Debug, Clone, Copy)]
enum HeaderSpot {
    InBuffer(usize, usize),
    Owned,
}

/// The record being collected for a finding.
#[derive(Debug, Default)]
struct Candidate {
    rule: Option<Rule>,
    line: u64,
    level: Option<Level>,
    db: Vec<u8>,
    logger: Vec<u8>,
    message: Vec<u8>,
    text: Vec<u8>,
    text_lines: u32,
    elided: bool,
    last_line: Vec<u8>,
    /// Whether the text is needed (for a kept finding or for ignore patterns); when not,
    /// collecting it would only cost time. Set before `start`.
    collect: bool,
}

impl Candidate {
    fn start(
        &mut self,
        rule: Rule,
        line: u64,
        level: Option<Level>,
        db: &[u8],
        logger: &[u8],
        message: &[u8],
    ) {
        self.rule = Some(rule);
        self.line = line;
        self.level = level;
        if !self.collect {
            // Only counted: the details would be thrown away.
            return;
        }
        set(&mut self.db, db);
        set(&mut self.logger, logger);
        set(
            &mut self.message,
            &message[..message.len().min(MAX_LAST_LINE)],
        );
        self.text.clear();
        self.text_lines = 0;
        self.elided = false;
        self.last_line.clear();
    }

    fn append(&mut self, line: &[u8]) {
        if !self.collect {
            return;
        }
        if self.text_lines < MAX_TEXT_LINES && self.text.len() < MAX_TEXT_BYTES {
            if self.text_lines > 0 {
                self.text.push(b'\n');
            }
            let room = MAX_TEXT_BYTES - self.text.len();
            strip_ansi_into(&line[..line.len().min(room)], &mut self.text);
            self.text_lines += 1;
        } else {
            self.elided = true;
        }
        if line.iter().any(|c| !c.is_ascii_whitespace()) {
            set(&mut self.last_line, &line[..line.len().min(MAX_LAST_LINE)]);
        }
    }
}

fn set(v: &mut Vec<u8>, bytes: &[u8]) {
    v.clear();
    v.extend_from_slice(bytes);
}

/// Facts about the run as a whole, gathered from signals.
#[derive(Debug, Default)]
struct Facts {
    modules_loaded: bool,
    loading_tests_failed: bool,
    shutdown: bool,
    summary_seen: bool,
    summary_failed: u64,
    summary_errors: u64,
    summary_tests: u64,
    ran: u64,
    started: u64,
    yaml_files: u64,
}

impl Facts {
    fn note(&mut self, s: Signal, clues: &mut VersionClues) {
        match s {
            Signal::ModulesLoaded => self.modules_loaded = true,
            Signal::LoadingTestsFailed => self.loading_tests_failed = true,
            Signal::Shutdown => self.shutdown = true,
            Signal::Summary {
                failed,
                errors,
                tests,
            } => {
                self.summary_seen = true;
                self.summary_failed = self.summary_failed.saturating_add(failed);
                self.summary_errors = self.summary_errors.saturating_add(errors);
                self.summary_tests = self.summary_tests.saturating_add(tests);
            }
            Signal::Ran(n) => self.ran = self.ran.saturating_add(n),
            Signal::TestStarted => self.started += 1,
            Signal::YamlTestFile => self.yaml_files += 1,
            Signal::ModuleResult { .. } => {}
            Signal::Version(v) => clues.banner(v),
        }
    }

    fn tests_run(&self) -> u64 {
        self.summary_tests.max(self.ran).max(self.started)
    }
}

/// Counts per rule and the findings kept.
#[derive(Debug, Default)]
struct Tally {
    counts: [u64; RULES],
    kept_per_rule: [usize; RULES],
    findings: Vec<Finding>,
    ignored_count: u64,
    ignored: Vec<Finding>,
}

impl Tally {
    /// Counts one finding; returns whether its details should be kept.
    fn count(&mut self, rule: Rule, ignored: bool) -> bool {
        if ignored {
            self.ignored_count += 1;
            self.ignored.len() < MAX_KEPT_PER_RULE
        } else {
            self.counts[rule.index()] += 1;
            self.kept_per_rule[rule.index()] < MAX_KEPT_PER_RULE
        }
    }

    /// Whether a (not ignored) finding of `rule` would still be kept.
    fn would_keep(&self, rule: Rule) -> bool {
        self.kept_per_rule[rule.index()] < MAX_KEPT_PER_RULE
    }

    fn keep(&mut self, f: Finding) {
        if f.ignored_by.is_some() {
            self.ignored.push(f);
        } else {
            self.kept_per_rule[f.rule.index()] += 1;
            self.findings.push(f);
        }
    }

    fn whole_log(&mut self, rule: Rule, message: String) {
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

impl Analyzer {
    /// A fresh analyzer.
    pub fn new(options: Options) -> Analyzer {
        Analyzer {
            options,
            carry: Vec::new(),
            bytes: 0,
            line_no: 0,
            records: 0,
            nonblank: false,
            open: Open::Nothing,
            plain_header: HeaderSpot::Owned,
            owned_header: Vec::new(),
            plain_level: Level::Info,
            plain_line: 0,
            kept: Candidate::default(),
            facts: Facts::default(),
            clues: VersionClues::default(),
            tally: Tally::default(),
        }
    }

    /// Analyses the next bytes of the log; a line may span any number of chunks.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        let mut rest = chunk;
        if !self.carry.is_empty() {
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                self.append_carry(rest);
                return;
            };
            self.append_carry(&rest[..nl]);
            let line = std::mem::take(&mut self.carry);
            self.line(&line, 0, line.len());
            self.detach(&line);
            self.carry = line;
            self.carry.clear();
            rest = &rest[nl + 1..];
        }
        let mut start = 0;
        crate::newlines::for_each_newline(rest, |nl| {
            self.line(rest, start, nl);
            start = nl + 1;
        });
        self.detach(rest);
        self.append_carry(&rest[start..]);
    }

    /// Ends the log and gives the report.
    pub fn finish(mut self) -> Report {
        if !self.carry.is_empty() {
            let line = std::mem::take(&mut self.carry);
            self.line(&line, 0, line.len());
        }
        self.close();
        let version = match self.options.version {
            Some(v) => Some(DetectedVersion {
                version: v,
                exact: true,
                evidence: "given",
            }),
            None => self.clues.resolve(),
        };
        self.whole_log_rules(version.as_ref());
        let verdict = decide(&self.tally.counts, self.options.warnings_fail);
        let counts = Rule::ALL
            .iter()
            .filter(|r| self.tally.counts[r.index()] > 0)
            .map(|r| (r.name(), self.tally.counts[r.index()]))
            .collect();
        Report {
            verdict,
            version,
            bytes: self.bytes,
            lines: self.line_no,
            records: self.records,
            tests: TestCounts {
                run: self.facts.tests_run(),
                failed: self.facts.summary_failed,
                errors: self.facts.summary_errors,
                summary_seen: self.facts.summary_seen,
                yaml_files: self.facts.yaml_files,
            },
            counts,
            findings: self.tally.findings,
            ignored_count: self.tally.ignored_count,
            ignored: self.tally.ignored,
        }
    }

    fn append_carry(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.carry.len());
        self.carry
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Copies the open plain record's header out of `buf` before `buf` goes away.
    fn detach(&mut self, buf: &[u8]) {
        if let HeaderSpot::InBuffer(s, e) = self.plain_header {
            set(&mut self.owned_header, &buf[s..e]);
            self.plain_header = HeaderSpot::Owned;
        }
    }

    fn line(&mut self, buf: &[u8], start: usize, end: usize) {
        self.line_no += 1;
        let mut end = end.min(start + MAX_LINE);
        if end > start && buf[end - 1] == b'\r' {
            end -= 1;
        }
        let line = &buf[start..end];
        if !self.nonblank && line.iter().any(|c| !c.is_ascii_whitespace()) {
            self.nonblank = true;
        }
        match parse_header(line) {
            Some(h) => self.header_line(buf, &h, start, end),
            None => {
                self.raw_markers(line);
                self.continuation(buf, line, line);
            }
        }
    }

    fn header_line(&mut self, buf: &[u8], h: &Header<'_>, start: usize, end: usize) {
        self.clues.observe(h);
        let line = &buf[start..end];
        if let Some(inner) = h.message.strip_prefix(b"`") {
            // 8.0–12.0 TestStream: a backquote marks the next line of the same write, logged
            // at the level of its first line. A WARNING-or-worse one after an ordinary
            // record cannot belong to it (another thread wrote in between): not swallowed.
            let same_write = match self.open {
                Open::Kept => true,
                Open::Plain => !h.level.is_notable(),
                Open::Nothing => false,
            };
            if same_write {
                self.continuation(buf, line, inner);
                return;
            }
        }
        self.close();
        self.records += 1;
        if let Some(s) = signal(h.logger, h.message) {
            self.facts.note(s, &mut self.clues);
        }
        match classify(h.level, h.message, self.options.tests) {
            Some(rule) => {
                self.kept.collect = self.needs_text(rule);
                self.kept
                    .start(rule, self.line_no, Some(h.level), h.db, h.logger, h.message);
                self.kept.append(line);
                self.open = Open::Kept;
            }
            None => {
                self.open = Open::Plain;
                self.plain_level = h.level;
                self.plain_line = self.line_no;
                self.plain_header = HeaderSpot::InBuffer(start, end);
            }
        }
    }

    /// Markers that runbot greps anywhere, even on lines that are not records.
    fn raw_markers(&mut self, line: &[u8]) {
        // Indented lines are traceback frames and code, the bulk of raw lines: a marker
        // never starts with blanks.
        if line.len() < 19 || matches!(line[0], b' ' | b'\t') {
            return;
        }
        let facts = &mut self.facts;
        match (facts.shutdown, facts.modules_loaded) {
            (true, true) => {}
            (false, true) => facts.shutdown = SHUTDOWN.find(line).is_some(),
            (true, false) => facts.modules_loaded = MODULES_LOADED.find(line).is_some(),
            (false, false) => {
                // One pass for both markers.
                if let Some(end) = RAW_MARKERS.shortest_match(line) {
                    if line[..end].ends_with(b"Initiating shutdown") {
                        facts.shutdown = true;
                    } else {
                        facts.modules_loaded = true;
                    }
                    // Both on one line happens only in contrived logs: look after the match.
                    self.raw_markers(&line[end..]);
                }
            }
        }
    }

    /// A line that continues the open record: raw, or a `` ` `` record (`inner` is the text
    /// after the marker).
    fn continuation(&mut self, buf: &[u8], line: &[u8], inner: &[u8]) {
        match self.open {
            Open::Kept => self.kept.append(line),
            Open::Plain | Open::Nothing => {
                if is_traceback_start(inner) {
                    self.promote(buf, line);
                }
            }
        }
    }

    /// A traceback after an INFO record (or before any record): keep it, with that header.
    fn promote(&mut self, buf: &[u8], line: &[u8]) {
        let header: Option<&[u8]> = match (self.open, self.plain_header) {
            (Open::Plain, HeaderSpot::InBuffer(s, e)) => Some(&buf[s..e]),
            (Open::Plain, HeaderSpot::Owned) => Some(&self.owned_header),
            _ => None,
        };
        let parsed = header.and_then(parse_header);
        // The finding starts at the record's header, so that its line is its text's first.
        let (db, logger, level, first) = match &parsed {
            Some(h) => (h.db, h.logger, Some(self.plain_level), self.plain_line),
            None => (&b""[..], &b""[..], None, self.line_no),
        };
        let mut kept = std::mem::take(&mut self.kept);
        kept.collect = self.needs_text(Rule::Traceback);
        kept.start(
            Rule::Traceback,
            first,
            level,
            db,
            logger,
            crate::record::grammar::trim_end(line),
        );
        if let Some(h) = header {
            kept.append(h);
        }
        kept.append(line);
        self.kept = kept;
        self.open = Open::Kept;
        self.plain_header = HeaderSpot::Owned;
    }

    /// Whether a record under `rule` needs its text: to be kept, or matched against patterns.
    fn needs_text(&self, rule: Rule) -> bool {
        (rule.severity() != Severity::Note && !self.options.ignore.is_empty())
            || self.tally.would_keep(rule)
    }

    /// Ends the open record, turning a kept one into a finding.
    fn close(&mut self) {
        let was = std::mem::replace(&mut self.open, Open::Nothing);
        self.plain_header = HeaderSpot::Owned;
        if was != Open::Kept {
            return;
        }
        let Some(rule) = self.kept.rule.take() else {
            return;
        };
        if !self.kept.collect {
            self.tally.count(rule, false);
            return;
        }
        let text = String::from_utf8_lossy(&self.kept.text);
        let ignored_by = if rule.severity() == Severity::Note {
            None
        } else {
            self.options.ignore.matching(&text).map(str::to_string)
        };
        if !self.tally.count(rule, ignored_by.is_some()) {
            return;
        }
        let k = &self.kept;
        let logger = String::from_utf8_lossy(&k.logger).into_owned();
        let message = String::from_utf8_lossy(&k.message).into_owned();
        let db = String::from_utf8_lossy(&k.db);
        let last = if k.text_lines > 1 {
            String::from_utf8_lossy(&k.last_line)
        } else {
            "".into()
        };
        let mut text = text.into_owned();
        if k.elided {
            text.push_str("\n[…]");
        }
        let finding = Finding {
            rule,
            severity: rule.severity(),
            line: k.line,
            level: k.level,
            fingerprint: fingerprint(rule.name(), &logger, &message, last.trim(), &db),
            logger,
            message,
            text,
            ignored_by,
        };
        self.tally.keep(finding);
    }

    fn whole_log_rules(&mut self, version: Option<&DetectedVersion>) {
        let v = version.map(|d| d.version);
        if !self.nonblank {
            self.tally.whole_log(
                Rule::EmptyLog,
                "the log is empty: the server wrote nothing".into(),
            );
        } else {
            let facts = &self.facts;
            if !facts.modules_loaded
                && !facts.loading_tests_failed
                && v.is_none_or(|v| v.prints_modules_loaded())
            {
                self.tally.whole_log(
                    Rule::ModulesNotLoaded,
                    "no '.modules.loading: Modules loaded.': the registry did not finish loading"
                        .into(),
                );
            }
            let shutdown_expected = self
                .options
                .require_shutdown
                .unwrap_or_else(|| v.is_none_or(|v| v.prints_shutdown()));
            if shutdown_expected && !self.facts.shutdown {
                let msg = format!(
                    "no 'Initiating shutdown' in {} lines: the run was killed, timed out, or the log is truncated",
                    self.line_no
                );
                self.tally.whole_log(Rule::TruncatedLog, msg);
            }
            self.test_rules(v);
        }
        if let Some(status) = self.options.exit_status.filter(|s| *s != 0) {
            self.tally.whole_log(
                Rule::ExitStatus,
                format!("the command exited with status {status} (non-zero always fails, whatever the log says)"),
            );
        }
    }

    fn test_rules(&mut self, v: Option<crate::version::Version>) {
        if self.options.tests != TestsExpectation::Requested {
            return;
        }
        if v.is_some_and(|v| v.prints_test_summary()) && !self.facts.summary_seen {
            self.tally.whole_log(
                Rule::NoTestSummary,
                "tests were requested but no '… failed, … error(s) of N tests' summary was logged"
                    .into(),
            );
        }
        let c = &self.tally.counts;
        let failures = [Rule::TestFailure, Rule::TestsFailed, Rule::YamlAssertion]
            .iter()
            .map(|r| c[r.index()])
            .sum::<u64>();
        let evidence = self.facts.tests_run() + self.facts.yaml_files + failures;
        let already = c[Rule::NoTestsRun.index()] > 0
            || self
                .tally
                .ignored
                .iter()
                .any(|f| f.rule == Rule::NoTestsRun);
        if evidence == 0 && !already {
            self.tally.whole_log(
                Rule::NoTestsRun,
                "tests were requested but the log shows no test run (zero tests is not a pass)"
                    .into(),
            );
        }
    }
}
