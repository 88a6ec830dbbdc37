//! `oebb force --wait`: a build's steps as they start and end, the running step's elapsed
//! time on a status line when stdout is a terminal, its log with `--follow`, and at the end
//! the cause block and the build page's address.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use serde_json::Value;

/// What the terminal has been told of a build.
pub struct Progress {
    tty: bool,
    follow: bool,
    /// Steps by number: whether their start and their end were printed.
    told: BTreeMap<i64, (bool, bool)>,
    /// Bytes of the running step's log printed (`--follow`), by step number.
    followed: BTreeMap<i64, i64>,
    status_shown: bool,
}

impl Progress {
    /// Progress for stdout; `follow` streams the running step's log.
    pub fn new(follow: bool) -> Progress {
        Progress {
            tty: std::io::stdout().is_terminal(),
            follow,
            told: BTreeMap::new(),
            followed: BTreeMap::new(),
            status_shown: false,
        }
    }

    /// Prints what changed in `detail` (`GET /api/builds/{id}`) since the last call;
    /// `log` reads bytes of a step's log from an offset (`--follow`).
    pub fn update(
        &mut self,
        detail: &Value,
        now_ms: i64,
        mut log: impl FnMut(i64, i64) -> Option<Vec<u8>>,
    ) {
        let steps = detail["steps"].as_array().cloned().unwrap_or_default();
        let mut running = None;
        for step in &steps {
            let number = step["number"].as_i64().unwrap_or(0);
            let finished = !step["finished_at"].is_null();
            let (start_told, end_told) = self.told.get(&number).copied().unwrap_or_default();
            if end_told {
                continue;
            }
            if !start_told {
                self.clear_status();
                print_line(&started_line(step));
            }
            if self.follow {
                let offset = self.followed.get(&number).copied().unwrap_or(0);
                if let Some(bytes) = log(number, offset).filter(|b| !b.is_empty()) {
                    self.clear_status();
                    *self.followed.entry(number).or_default() += bytes.len() as i64;
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&bytes);
                    let _ = out.flush();
                }
            }
            if finished {
                self.clear_status();
                print_line(&ended_line(step));
            } else {
                running = Some(step.clone());
            }
            self.told.insert(number, (true, finished));
        }
        if let (true, false, Some(step)) = (self.tty, self.follow, running) {
            let started = step["started_at"].as_i64().unwrap_or(now_ms);
            let name = step["name"].as_str().unwrap_or("?");
            let secs = (now_ms - started).max(0) / 1000;
            print!("\r\x1b[K  {name}: running for {secs} s");
            let _ = std::io::stdout().flush();
            self.status_shown = true;
        }
    }

    /// Removes the status line, before a plain line or at the end.
    pub fn clear_status(&mut self) {
        if self.status_shown {
            print!("\r\x1b[K");
            let _ = std::io::stdout().flush();
            self.status_shown = false;
        }
    }
}

fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn started_line(step: &Value) -> String {
    format!(
        "[{:>2}] {} started",
        step["number"].as_i64().unwrap_or(0),
        step["name"].as_str().unwrap_or("?")
    )
}

fn ended_line(step: &Value) -> String {
    let duration = match (step["started_at"].as_i64(), step["finished_at"].as_i64()) {
        (Some(a), Some(b)) => seconds(b - a),
        _ => "-".to_string(),
    };
    format!(
        "[{:>2}] {} {}: {} ({})",
        step["number"].as_i64().unwrap_or(0),
        step["name"].as_str().unwrap_or("?"),
        step["result"].as_str().unwrap_or("?"),
        duration,
        printable(step["state_text"].as_str().unwrap_or(""))
    )
}

/// Text from a build (a worker's log, a step's state) made safe for a terminal: control
/// characters (escape sequences, carriage returns) are shown as `\u{..}`, not obeyed.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' => "    ".to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// A duration in ms as `1.2 s`, or `3 min 4 s`.
pub fn seconds(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// The cause block of a finished build: its findings, the most telling first (at most
/// `max`), each with where it is and whether it is new.
pub fn cause_block(detail: &Value, max: usize) -> Vec<String> {
    let findings = detail["findings"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for f in findings.iter().take(max) {
        let text = |k: &str| printable(f[k].as_str().unwrap_or(""));
        let line = f["line"].as_u64().unwrap_or(0);
        let place = if line > 0 {
            format!("{} line {line}", text("step"))
        } else {
            text("step")
        };
        out.push(format!("cause: {}", text("message")));
        let mut about = format!("  in {place} ({}, {})", text("rule"), text("severity"));
        if !text("novelty").is_empty() {
            about.push_str(&format!("; {}", text("novelty")));
        }
        out.push(about);
        let detail = f["detail"].as_str().unwrap_or("");
        for detail_line in detail.lines().take(6).map(printable) {
            out.push(format!("    {detail_line}"));
        }
    }
    if findings.len() > max {
        out.push(format!(
            "({} more findings on the build page)",
            findings.len() - max
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_cause_block_says_what_where_and_whether_new() {
        let detail = json!({"findings": [
            {"message": "Error: conflict", "step": "buildout", "line": 23, "rule": "buildout-error",
             "severity": "fail", "novelty": "new in this build", "detail": "While: Installing openerp."},
            {"message": "x", "step": "test", "line": 0, "rule": "r", "severity": "fail", "novelty": "", "detail": ""},
        ]});
        assert_eq!(
            cause_block(&detail, 1),
            [
                "cause: Error: conflict",
                "  in buildout line 23 (buildout-error, fail); new in this build",
                "    While: Installing openerp.",
                "(1 more findings on the build page)",
            ]
        );
        assert!(cause_block(&json!({}), 3).is_empty());
    }

    #[test]
    fn a_log_cannot_drive_the_terminal() {
        assert_eq!(
            printable("a\x1b]0;title\x07b\rc"),
            "a\\u{1b}]0;title\\u{7}b\\u{d}c"
        );
        assert_eq!(printable("é\tx"), "é    x");
    }

    #[test]
    fn durations() {
        assert_eq!(seconds(1234), "1.2 s");
        assert_eq!(seconds(125_000), "2 min 5 s");
    }
}
