//! Python tracebacks in a command's output: the exception line and the frame that raised it.

use super::patterns::message;

/// A complete traceback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traceback {
    /// Its exception line (`ValueError: …`).
    pub exception: String,
    /// That line's number.
    pub exception_line: u64,
    /// The last frame: its `File "…", line N, in f` line and its code line.
    pub frame: Option<(String, Option<String>)>,
}

impl Traceback {
    /// The raising frame, as one line: `File "x.py", line 6, in install: raise ValueError(…)`.
    pub fn frame_lines(&self) -> Vec<String> {
        match &self.frame {
            Some((file, Some(code))) => vec![format!("{file}: {code}")],
            Some((file, None)) => vec![file.clone()],
            None => Vec::new(),
        }
    }
}

/// Where the reader is: outside a traceback or inside one.
#[derive(Debug, Default)]
pub struct TracebackState {
    inside: bool,
    frame: Option<(String, Option<String>)>,
}

impl TracebackState {
    /// Reads line `n`; gives the traceback it completes.
    pub fn line(&mut self, n: u64, line: &str) -> Option<Traceback> {
        let trimmed = line.trim();
        if trimmed == "Traceback (most recent call last):" {
            self.inside = true;
            self.frame = None;
            return None;
        }
        if !self.inside {
            return None;
        }
        if trimmed.is_empty() {
            return None;
        }
        if line.starts_with("  File ") {
            self.frame = Some((message(trimmed), None));
            return None;
        }
        if line.starts_with(char::is_whitespace) {
            if let Some((_, code @ None)) = &mut self.frame {
                // Python 3.11 underlines the failing expression with `^` and `~`.
                if !trimmed.chars().all(|c| matches!(c, '^' | '~')) {
                    *code = Some(message(trimmed));
                }
            }
            return None;
        }
        self.inside = false;
        Some(Traceback {
            exception: message(trimmed),
            exception_line: n,
            frame: self.frame.take(),
        })
    }

    /// A log that ends inside a traceback gives none.
    pub fn finish(&mut self) -> Option<Traceback> {
        self.inside = false;
        None
    }
}
