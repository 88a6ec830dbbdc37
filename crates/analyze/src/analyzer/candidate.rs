//! The record being collected for a finding: its header fields and its text, capped.

use crate::level::Level;
use crate::record::grammar::strip_ansi_into;
use crate::rules::Rule;

/// At most this many lines of a record's text are kept in its finding.
const MAX_TEXT_LINES: u32 = 40;
/// At most this many bytes of a record's text are kept in its finding.
const MAX_TEXT_BYTES: usize = 8 * 1024;
/// Bytes kept of a record's first and last lines' text, for its fingerprint.
pub(super) const MAX_LAST_LINE: usize = 512;

/// The record being collected for a finding.
#[derive(Debug, Default)]
pub(super) struct Candidate {
    /// The rule the record falls under; taken when the record is closed.
    pub(super) rule: Option<Rule>,
    /// Line of the record's first line.
    pub(super) line: u64,
    /// Level of the record (none for a traceback before any record).
    pub(super) level: Option<Level>,
    /// Database, logger and first message line, for the finding and its fingerprint.
    pub(super) db: Vec<u8>,
    pub(super) logger: Vec<u8>,
    pub(super) message: Vec<u8>,
    /// The record's lines, ANSI codes removed, joined by `\n`, capped.
    pub(super) text: Vec<u8>,
    pub(super) text_lines: u32,
    /// Lines were dropped by the cap.
    pub(super) elided: bool,
    /// Last non-blank line (usually the exception), for the fingerprint.
    pub(super) last_line: Vec<u8>,
    /// Why the record's failure happened, told by the record after it (see `reason`).
    pub(super) reason: Vec<u8>,
    /// Whether the text is needed (for a kept finding or for ignore patterns); when not,
    /// collecting it would only cost time. Set before `start`.
    pub(super) collect: bool,
}

impl Candidate {
    /// Starts collecting a new record (only the counting fields when `collect` is off).
    pub(super) fn start(
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
        self.reason.clear();
    }

    /// Keeps `message`, a record after this one that says why it failed, capped.
    pub(super) fn reason(&mut self, message: &[u8]) {
        if self.collect {
            set(
                &mut self.reason,
                &message[..message.len().min(MAX_LAST_LINE)],
            );
        }
    }

    /// Adds one line of the record's text.
    pub(super) fn append(&mut self, line: &[u8]) {
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

/// Replaces the contents of `v`, keeping its allocation.
pub(super) fn set(v: &mut Vec<u8>, bytes: &[u8]) {
    v.clear();
    v.extend_from_slice(bytes);
}
