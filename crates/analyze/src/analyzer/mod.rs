//! The streaming analyzer: feed it chunks of any size, then ask for the report.
//!
//! Memory stays flat: one partial line (capped), one open record (capped), a capped number of
//! findings per rule and counters. Line ends are found 64 bytes at a time; only header lines of
//! WARNING-or-worse records, and raw lines, get more than a prefix check.

mod candidate;
mod facts;
mod tally;
mod whole_log;

use candidate::{set, Candidate};
use facts::Facts;
use tally::Tally;
use whole_log::{whole_log_rules, Seen};

use crate::fingerprint::fingerprint;
use crate::level::Level;
use crate::options::Options;
use crate::record::grammar::{parse_header, Header};
use crate::record::is_traceback_start;
use crate::record::signals::signal;
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
pub use tally::MAX_KEPT_PER_RULE;

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

/// Where the open plain record's header line lives. Copying every header line would cost
/// a memcpy per record; it is copied only when the buffer it is in goes away.
#[derive(Debug, Clone, Copy)]
enum HeaderSpot {
    /// `buf[start..end]` of the buffer being scanned.
    InBuffer(usize, usize),
    /// In `owned_header`.
    Owned,
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
                evidence: "given".into(),
            }),
            None => self.clues.resolve(),
        };
        let seen = Seen {
            nonblank: self.nonblank,
            lines: self.line_no,
        };
        let v = version.as_ref().map(|d| d.version);
        whole_log_rules(&self.facts, &seen, &self.options, v, &mut self.tally);
        let verdict = decide(&self.tally.counts, self.options.warnings_fail);
        let counts = Rule::ALL
            .iter()
            .filter(|r| self.tally.counts[r.index()] > 0)
            .map(|r| (r.name().to_string(), self.tally.counts[r.index()]))
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
        if self.is_traceback_of_kept_failure(h) {
            // 6.1/7.0 log a failed unittest's traceback as records of their own after its
            // `FAIL:` record: kept with it, so its finding ends with the assertion.
            self.continuation(buf, line, line);
            return;
        }
        if self.is_reason_of_kept_load_failure(h) {
            // 6.1–10.0 log why a module could not be loaded as the next CRITICAL record
            // (`No module named x`): it is that finding's cause.
            self.kept.reason(h.message);
            self.continuation(buf, line, line);
            return;
        }
        let rule = classify(h.level, h.message, self.options.tests);
        let described = match rule {
            Some(Rule::TestFailure) => self.described_status(buf, h),
            _ => None,
        };
        self.close();
        self.records += 1;
        if let Some(s) = signal(h.logger, h.message) {
            self.facts.note(s, &mut self.clues);
        }
        match rule {
            Some(rule) => {
                self.kept.collect = self.needs_text(rule);
                let message = described.as_deref().unwrap_or(h.message);
                self.kept
                    .start(rule, self.line_no, Some(h.level), h.db, h.logger, message);
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

    /// A test's bare status word (`FAIL`, `ERROR`) with the test it is about, from the record
    /// just before it (`test_x (module.Class)` of the same logger): `test_x (…) ... FAIL`, as
    /// unittest's verbose runner prints it. `None` for other records.
    fn described_status(&self, buf: &[u8], h: &Header<'_>) -> Option<Vec<u8>> {
        if h.message != b"FAIL" && h.message != b"ERROR" {
            return None;
        }
        let header = match (self.open, self.plain_header) {
            (Open::Plain, HeaderSpot::InBuffer(s, e)) => &buf[s..e],
            (Open::Plain, HeaderSpot::Owned) => &self.owned_header[..],
            _ => return None,
        };
        let test = parse_header(header)?;
        if test.logger != h.logger || !crate::rules::is_test_description(test.message) {
            return None;
        }
        let description = crate::record::grammar::trim_end(test.message);
        Some([description, b" ... ", h.message].concat())
    }

    /// Whether `h` starts the traceback of the `FAIL:`/`ERROR:` test record being kept: a
    /// record of the same logger and level after it (6.1/7.0's unittest stream logs it at
    /// `TEST`, 8.0–12.0's at ERROR), kept with it so that its finding says the exception.
    fn is_traceback_of_kept_failure(&self, h: &Header<'_>) -> bool {
        self.open == Open::Kept
            && matches!(h.level, Level::Test | Level::Error)
            && self.kept.rule == Some(Rule::TestFailure)
            && self.kept.level == Some(h.level)
            && (self.kept.message.starts_with(b"FAIL:") || self.kept.message.starts_with(b"ERROR:"))
            && (!self.kept.collect || self.kept.logger == h.logger)
            && crate::record::grammar::trim_end(h.message) == b"Traceback (most recent call last):"
    }

    /// Whether `h` says why the module of the `Couldn't load module x` record being kept could
    /// not be loaded: the record right after it, same logger and level, not a failure itself.
    fn is_reason_of_kept_load_failure(&self, h: &Header<'_>) -> bool {
        self.open == Open::Kept
            && self.kept.rule == Some(Rule::LoadFailure)
            && self.kept.level == Some(h.level)
            && self.kept.text_lines == 1
            && self.kept.message.starts_with(b"Couldn't load ")
            && (!self.kept.collect || self.kept.logger == h.logger)
            && classify(h.level, h.message, self.options.tests) == Some(Rule::ErrorRecord)
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
        let mut message = String::from_utf8_lossy(&k.message).into_owned();
        let db = String::from_utf8_lossy(&k.db);
        let last = if k.text_lines > 1 {
            String::from_utf8_lossy(&k.last_line)
        } else {
            "".into()
        };
        let mut text = text.into_owned();
        if k.elided {
            text.push_str("\n[…]");
            // The last line is usually the exception: the cause, kept whatever the length.
            if !k.last_line.is_empty() {
                text.push('\n');
                text.push_str(&String::from_utf8_lossy(&k.last_line));
            }
        }
        let fingerprint = fingerprint(rule.name(), &logger, &message, last.trim(), &db);
        if k.text_lines > 1 {
            // A test's name or `Parse error in data.xml:8:` does not say what failed: the
            // exception its traceback ends with, often hundreds of lines down, does.
            let cause = crate::report::exception_in(&text, 1).or_else(|| {
                (!k.reason.is_empty()).then(|| String::from_utf8_lossy(&k.reason).into_owned())
            });
            if let Some(exception) = cause {
                if !message.contains(exception.as_str()) {
                    let end = exception.floor_char_boundary(candidate::MAX_LAST_LINE);
                    let head = message.trim_end().trim_end_matches(':');
                    message = format!("{head}: {}", &exception[..end]);
                }
            }
        }
        let finding = Finding {
            rule,
            severity: rule.severity(),
            line: k.line,
            level: k.level,
            fingerprint,
            logger,
            message,
            text,
            ignored_by,
        };
        self.tally.keep(finding);
    }
}
