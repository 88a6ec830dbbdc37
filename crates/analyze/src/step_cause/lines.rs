//! Lines of a step's log, bounded: a line longer than [`MAX_LINE`] bytes is cut (the rest of
//! it is dropped until its newline), and only the last [`TAIL_LINES`] lines are kept.

use std::collections::VecDeque;

use super::{Hit, StepEnd};
use crate::record::grammar::strip_ansi_into;

/// The longest line kept, in bytes; the rest of a longer line is dropped.
pub const MAX_LINE: usize = 4096;
/// How many of the last lines are kept for a step whose log matches no pattern.
pub const TAIL_LINES: usize = 20;
/// How many of them a "last lines" cause shows.
const SHOWN_LINES: usize = 6;

/// Splits bytes into lines (`\n`, with a `\r` before it dropped), each at most [`MAX_LINE`].
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Gives every line completed by `bytes`.
    pub fn feed(&mut self, mut bytes: &[u8], mut line: impl FnMut(String)) {
        while let Some(end) = memchr::memchr(b'\n', bytes) {
            self.keep(&bytes[..end]);
            line(self.take());
            bytes = &bytes[end + 1..];
        }
        self.keep(bytes);
    }

    /// Gives the last line when the log does not end with a newline.
    pub fn finish(&mut self, mut line: impl FnMut(String)) {
        if !self.partial.is_empty() {
            line(self.take());
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn take(&mut self) -> String {
        let mut bytes = std::mem::take(&mut self.partial);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        // A carriage return inside a line is a progress bar redrawing itself: its last state.
        let start = bytes.iter().rposition(|b| *b == b'\r').map_or(0, |i| i + 1);
        let mut plain = Vec::with_capacity(bytes.len() - start);
        strip_ansi_into(&bytes[start..], &mut plain);
        String::from_utf8_lossy(&plain).into_owned()
    }
}

/// The last lines read, with their numbers.
#[derive(Debug, Default)]
pub struct Tail {
    lines: VecDeque<(u64, String)>,
}

impl Tail {
    /// Keeps a line, forgetting the oldest beyond [`TAIL_LINES`].
    pub fn push(&mut self, number: u64, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back((number, line.to_string()));
    }

    /// The last lines as a cause, saying how the command ended.
    pub(super) fn last_lines(&self, end: &StepEnd) -> Option<Hit> {
        let shown: Vec<&(u64, String)> = self
            .lines
            .iter()
            .skip(self.lines.len().saturating_sub(SHOWN_LINES))
            .collect();
        let ending = match end {
            StepEnd::Exit(code) => format!("exit code {code}"),
            _ => return None,
        };
        let (line, message) = match shown.last() {
            Some((n, last)) => (*n, format!("{ending} after: {}", last.trim())),
            None => (0, format!("{ending}, without output")),
        };
        Some(Hit {
            line,
            message,
            context: shown.iter().map(|(_, l)| l.clone()).collect(),
        })
    }
}
