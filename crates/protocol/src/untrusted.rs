//! Strings from the other side of a connection (worker names, login names, paths, messages)
//! shown in the master's log: escaped, so a newline cannot forge a log line and a terminal
//! escape cannot repaint the operator's screen.

use std::fmt;

/// Displays a string with its control, line-separating and bidirectional-override characters
/// escaped as Rust does (`\n`, `\u{1b}`, `\u{202e}`), and backslashes doubled so an escape
/// cannot be forged either. Everything else is shown as is.
#[derive(Clone, Copy)]
pub struct Untrusted<'a>(pub &'a str);

/// Characters that change how the following text is laid out or read without being control
/// characters: line and paragraph separators, bidirectional marks, overrides and isolates.
fn is_layout_changing(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) =
            rest.find(|c: char| c == '\\' || c.is_control() || is_layout_changing(c))
        {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().expect("found at a char boundary");
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c => write!(f, "\\u{{{:x}}}", c as u32)?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

impl fmt::Debug for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::Untrusted;

    fn shown(s: &str) -> String {
        Untrusted(s).to_string()
    }

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(shown("worker-1 é ✓"), "worker-1 é ✓");
        assert_eq!(shown(""), "");
    }

    #[test]
    fn newlines_and_terminal_escapes_are_escaped() {
        assert_eq!(shown("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(shown("\x1b[31mred"), "\\u{1b}[31mred");
        assert_eq!(shown("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(shown("x\0y\x7f"), "x\\u{0}y\\u{7f}");
    }

    #[test]
    fn separators_and_bidi_overrides_are_escaped() {
        assert_eq!(shown("a\u{2028}b"), "a\\u{2028}b");
        assert_eq!(shown("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
    }

    #[test]
    fn a_backslash_cannot_forge_an_escape() {
        assert_eq!(shown("a\\nb"), "a\\\\nb");
        assert_ne!(shown("a\\nb"), shown("a\nb"));
    }

    #[test]
    fn debug_quotes_it() {
        assert_eq!(format!("{:?}", Untrusted("a\nb")), "\"a\\nb\"");
    }
}
