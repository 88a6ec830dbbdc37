//! Turning a command's raw output into whole lines, as the stock worker's `LineBuffer` does:
//! `newline_re` matches become `\n`, over-long lines are split, partial lines wait.

use regex::{Regex, RegexBuilder};

/// The `newline_re` of `set_worker_settings`, compiled for Rust.
#[derive(Debug, Clone)]
pub(crate) struct NewlineRe(Option<Regex>);

impl NewlineRe {
    /// Compiles the master's Python pattern. Python's `\r(?=.)` lookahead has no Rust
    /// equivalent; without it a lone `\r` becomes a newline, and [`LineBuffer`] holds back a
    /// trailing `\r` so that `\r\n` split across two reads still counts once.
    pub(crate) fn new(pattern: &str) -> NewlineRe {
        let rust = pattern.replace("(?=.)", "");
        match RegexBuilder::new(&rust).octal(true).build() {
            Ok(re) => NewlineRe(Some(re)),
            Err(e) => {
                tracing::warn!(
                    "newline_re {pattern:?} not usable here ({e}); only \\n splits lines"
                );
                NewlineRe(None)
            }
        }
    }
}

/// Bytes of one output stream in, whole lines out.
#[derive(Debug)]
pub(crate) struct LineBuffer {
    newline_re: NewlineRe,
    max_line_length: usize,
    /// Bytes of an incomplete UTF-8 sequence at the end of the last read.
    undecoded: Vec<u8>,
    /// Text after the last newline.
    partial: String,
}

impl LineBuffer {
    pub(crate) fn new(newline_re: NewlineRe, max_line_length: u64) -> LineBuffer {
        LineBuffer {
            newline_re,
            max_line_length: usize::try_from(max_line_length.max(1)).unwrap_or(usize::MAX),
            undecoded: Vec::new(),
            partial: String::new(),
        }
    }

    /// Adds output and returns the lines it completed, each ending with `\n`.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> String {
        self.undecoded.extend_from_slice(bytes);
        let text = decode_prefix(&mut self.undecoded);
        let mut text = std::mem::take(&mut self.partial) + &text;
        // A trailing \r may be the first half of \r\n.
        let held = if text.ends_with('\r') {
            text.pop();
            "\r"
        } else {
            ""
        };
        let mut out = self.complete_lines(&text);
        self.partial.push_str(held);
        if self.partial.chars().count() > self.max_line_length {
            let long = std::mem::take(&mut self.partial);
            out.push_str(&self.split_long(&long));
        }
        out
    }

    /// Everything still held, as lines (the last one gets a `\n`): the command has ended.
    pub(crate) fn finish(&mut self) -> String {
        let mut rest = std::mem::take(&mut self.partial);
        if !self.undecoded.is_empty() {
            rest.push_str(&String::from_utf8_lossy(&std::mem::take(
                &mut self.undecoded,
            )));
        }
        if rest.is_empty() {
            return rest;
        }
        let mut out = self.complete_lines(&rest);
        let last = std::mem::take(&mut self.partial);
        if !last.is_empty() {
            out.push_str(&self.split_long(&last));
        }
        out
    }

    /// Translates newlines and returns the complete lines, keeping the rest in `partial`.
    fn complete_lines(&mut self, text: &str) -> String {
        let translated = match &self.newline_re.0 {
            Some(re) => re.replace_all(text, "\n"),
            None => text.into(),
        };
        let mut out = String::with_capacity(translated.len());
        let mut rest: &str = &translated;
        while let Some(end) = rest.find('\n') {
            out.push_str(&self.split_long(&rest[..end]));
            rest = &rest[end + 1..];
        }
        self.partial = rest.to_string();
        out
    }

    /// One line (without its `\n`) as one or more lines of at most `max_line_length` chars.
    fn split_long(&self, line: &str) -> String {
        let mut out = String::with_capacity(line.len() + 1);
        let mut count = 0;
        for c in line.chars() {
            if count == self.max_line_length {
                out.push('\n');
                count = 0;
            }
            out.push(c);
            count += 1;
        }
        out.push('\n');
        out
    }
}

/// Takes the longest decodable prefix of `bytes`, leaving an incomplete trailing sequence;
/// invalid bytes become U+FFFD because the protocol carries text.
fn decode_prefix(bytes: &mut Vec<u8>) -> String {
    let mut out = String::new();
    let mut start = 0;
    loop {
        match std::str::from_utf8(&bytes[start..]) {
            Ok(s) => {
                out.push_str(s);
                start = bytes.len();
                break;
            }
            Err(e) => {
                let valid = start + e.valid_up_to();
                out.push_str(std::str::from_utf8(&bytes[start..valid]).unwrap_or_default());
                match e.error_len() {
                    Some(bad) => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        start = valid + bad;
                    }
                    None => {
                        start = valid;
                        break;
                    }
                }
            }
        }
    }
    bytes.drain(..start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stock() -> LineBuffer {
        let re = oebb_protocol::WorkerSettings::default().newline_re;
        LineBuffer::new(NewlineRe::new(&re), 10)
    }

    #[test]
    fn holds_partial_lines_until_their_newline() {
        let mut lines = stock();
        assert_eq!(lines.push(b"hel"), "");
        assert_eq!(lines.push(b"lo\nwor"), "hello\n");
        assert_eq!(lines.finish(), "wor\n");
        assert_eq!(lines.finish(), "");
    }

    #[test]
    fn carriage_returns_become_newlines_once() {
        let mut lines = stock();
        assert_eq!(lines.push(b"a\r"), "");
        assert_eq!(lines.push(b"\nb\rc\n"), "a\nb\nc\n");
        assert_eq!(lines.push(b"\x1b[2Jd\n"), "\nd\n");
    }

    #[test]
    fn long_lines_are_split_and_utf8_survives_split_reads() {
        let mut lines = stock();
        assert_eq!(lines.push(b"0123456789abc\n"), "0123456789\nabc\n");
        let e_acute = "é".as_bytes();
        assert_eq!(lines.push(&e_acute[..1]), "");
        assert_eq!(lines.push(&e_acute[1..]), "");
        assert_eq!(lines.push(b"\xff\n"), "é\u{fffd}\n");
    }
}
