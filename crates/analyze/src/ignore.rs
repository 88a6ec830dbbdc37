//! Ignore patterns, in checklog-odoo's configuration format.
//!
//! ```ini
//! [checklog-odoo]
//! ignore =
//!     WARNING .* 0 failed, 0 error\(s\)
//!     Killing chrome descendants-or-self
//! ```
//! Each non-empty line of `ignore` is a regular expression searched (multi-line mode) in the
//! whole text of a record: its header line, ANSI codes removed, and its continuation lines.

use regex::{Regex, RegexBuilder};

/// Why an ignore file or pattern was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IgnoreError {
    /// A pattern is not a valid regular expression (or uses look-around/back-references).
    #[error("{origin}:{line}: invalid ignore pattern {pattern:?}: {reason}")]
    BadPattern {
        /// File name or other origin.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// The pattern as written.
        pattern: String,
        /// The regex engine's explanation, first line.
        reason: String,
    },
    /// The INI text is malformed.
    #[error("{origin}:{line}: {reason}")]
    Syntax {
        /// File name or other origin.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// A list of compiled ignore patterns.
#[derive(Debug, Clone, Default)]
pub struct IgnoreList {
    patterns: Vec<Regex>,
}

const SECTIONS: [&str; 2] = ["checklog-odoo", "checklog"];

impl IgnoreList {
    /// Compiles patterns given one by one (e.g. from the command line).
    pub fn from_patterns<'a>(
        patterns: impl IntoIterator<Item = &'a str>,
        origin: &str,
    ) -> Result<IgnoreList, IgnoreError> {
        let mut list = IgnoreList::default();
        for (i, p) in patterns.into_iter().enumerate() {
            list.push(p, origin, i + 1)?;
        }
        Ok(list)
    }

    /// Reads the `ignore` option of the `[checklog-odoo]` (or `[checklog]`) section of an
    /// INI text; a text without that section gives an empty list.
    pub fn parse_config(text: &str, origin: &str) -> Result<IgnoreList, IgnoreError> {
        let mut list = IgnoreList::default();
        let mut in_section = false;
        let mut in_ignore = false;
        let mut seen_ignore = false;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let stripped = raw.trim();
            // ConfigParser: full-line comments anywhere, even inside a multi-line value.
            if stripped.starts_with('#') || stripped.starts_with(';') {
                continue;
            }
            let indented = raw.starts_with([' ', '\t']);
            if stripped.is_empty() {
                continue;
            }
            if indented && in_ignore {
                list.push(stripped, origin, line_no)?;
                continue;
            }
            if indented && !in_section {
                continue;
            }
            in_ignore = false;
            if let Some(name) = stripped.strip_prefix('[') {
                let name = name.strip_suffix(']').ok_or_else(|| IgnoreError::Syntax {
                    origin: origin.to_string(),
                    line: line_no,
                    reason: format!("section header {stripped:?} lacks its closing ']'"),
                })?;
                in_section = SECTIONS.contains(&name.trim());
                continue;
            }
            if !in_section || indented {
                continue;
            }
            let Some(eq) = stripped.find(['=', ':']) else {
                return Err(IgnoreError::Syntax {
                    origin: origin.to_string(),
                    line: line_no,
                    reason: format!("expected 'name = value', found {stripped:?}"),
                });
            };
            let (key, value) = (stripped[..eq].trim(), stripped[eq + 1..].trim());
            if key.eq_ignore_ascii_case("ignore") {
                if seen_ignore {
                    return Err(IgnoreError::Syntax {
                        origin: origin.to_string(),
                        line: line_no,
                        reason: "option 'ignore' given twice; put all patterns under one".into(),
                    });
                }
                seen_ignore = true;
                in_ignore = true;
                if !value.is_empty() {
                    list.push(value, origin, line_no)?;
                }
            }
        }
        Ok(list)
    }

    fn push(&mut self, pattern: &str, origin: &str, line: usize) -> Result<(), IgnoreError> {
        let re = RegexBuilder::new(pattern)
            .multi_line(true)
            .build()
            .map_err(|e| IgnoreError::BadPattern {
                origin: origin.to_string(),
                line,
                pattern: pattern.to_string(),
                reason: e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim()
                    .to_string(),
            })?;
        self.patterns.push(re);
        Ok(())
    }

    /// Adds every pattern of `other`.
    pub fn extend(&mut self, other: IgnoreList) {
        self.patterns.extend(other.patterns);
    }

    /// The first pattern found in `record_text`, if any.
    pub fn matching(&self, record_text: &str) -> Option<&str> {
        self.patterns
            .iter()
            .find(|re| re.is_match(record_text))
            .map(Regex::as_str)
    }

    /// Number of patterns.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// True when there is no pattern.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_multi_line_ignore_with_comments() {
        let cfg = "[other]\nignore = nope\n\n[checklog-odoo]\necho = true\nignore =\n    WARNING .* 0 failed, 0 error\\(s\\)\n    # a comment\n\n    Killing chrome\nafter = x\n";
        let list = IgnoreList::parse_config(cfg, "c.cfg").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            list.matching("x WARNING db odoo.tests.runner: 0 failed, 0 error(s) of 0 tests"),
            Some("WARNING .* 0 failed, 0 error\\(s\\)")
        );
        assert_eq!(list.matching("nope"), None);
        assert_eq!(
            list.matching("Killing chrome descendants-or-self"),
            Some("Killing chrome")
        );
    }

    #[test]
    fn first_line_value_and_checklog_test_file() {
        let list = IgnoreList::parse_config("[checklog-odoo]\nignore=ERROR\n", "t").unwrap();
        assert_eq!(list.len(), 1);
        assert!(list.matching("1 ERROR x").is_some());
    }

    #[test]
    fn precise_pattern_does_not_ignore_ten_failures() {
        let list = IgnoreList::from_patterns([r" 0 failed, 0 error\(s\)"], "cli").unwrap();
        assert!(list.matching("2024-01-01 10:00:00,000 1 WARNING d odoo.tests.runner: 0 failed, 0 error(s) of 0 tests").is_some());
        assert!(list.matching("2024-01-01 10:00:00,000 1 ERROR d odoo.tests.runner: 10 failed, 0 error(s) of 12 tests").is_none());
    }

    #[test]
    fn multi_line_mode_anchors_on_each_line() {
        let list = IgnoreList::from_patterns(["^OSError"], "cli").unwrap();
        assert!(list
            .matching("ERROR header\nTraceback\nOSError: x")
            .is_some());
    }

    #[test]
    fn errors_name_origin_and_line() {
        let err = IgnoreList::parse_config(
            "[checklog-odoo]\nignore =\n    ok\n    (unclosed\n",
            "b.cfg",
        )
        .unwrap_err();
        assert!(
            matches!(err, IgnoreError::BadPattern { line: 4, .. }),
            "{err}"
        );
        assert!(err
            .to_string()
            .starts_with("b.cfg:4: invalid ignore pattern"));
        let err = IgnoreList::parse_config("[checklog-odoo\n", "b.cfg").unwrap_err();
        assert!(matches!(err, IgnoreError::Syntax { line: 1, .. }));
        let err = IgnoreList::parse_config("[checklog-odoo]\nignore = a\nignore = b\n", "b.cfg")
            .unwrap_err();
        assert!(matches!(err, IgnoreError::Syntax { line: 3, .. }));
    }

    #[test]
    fn file_without_the_section_is_empty() {
        assert!(IgnoreList::parse_config("[buildout]\nparts = x\n", "x")
            .unwrap()
            .is_empty());
    }
}
