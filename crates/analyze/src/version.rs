//! Odoo/OpenERP versions, and detection of the version from the log itself.

use crate::level::Level;
use crate::record::grammar::{Grammar, Header};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// An Odoo/OpenERP series such as 6.0, 7.0, 14.0 or 17.2 (saas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major number (6 for OpenERP 6.1).
    pub major: u16,
    /// Minor number (1 for OpenERP 6.1).
    pub minor: u16,
}

impl Version {
    /// Makes a version.
    pub const fn new(major: u16, minor: u16) -> Version {
        Version { major, minor }
    }

    /// Parses `8`, `8.0`, `17.2`, `saas~17.2`, `16.0+e`, `7.0-20130101`: the first `X[.Y]`.
    pub fn parse_lenient(text: &[u8]) -> Option<Version> {
        let start = text.iter().position(|c| c.is_ascii_digit())?;
        let (major, rest) = crate::record::signals::number(&text[start..])?;
        let minor = match rest.strip_prefix(b".") {
            Some(r) => crate::record::signals::number(r).map_or(0, |(m, _)| m),
            None => 0,
        };
        let major = u16::try_from(major).ok()?;
        Some(Version::new(major, u16::try_from(minor).ok()?))
    }

    /// Strict parse of a user-given version (`--odoo-version`): `X`, `X.Y` or `saas~X.Y`.
    pub fn parse(text: &str) -> Option<Version> {
        let t = text.trim();
        let t = t.strip_prefix("saas~").unwrap_or(t);
        let mut parts = t.splitn(2, '.');
        let major: u16 = parts.next()?.parse().ok()?;
        let minor: u16 = match parts.next() {
            Some(m) => m.parse().ok()?,
            None => 0,
        };
        (4..=99)
            .contains(&major)
            .then_some(Version::new(major, minor))
    }

    /// 6.1 and later print `….modules.loading: Modules loaded.` on success.
    pub fn prints_modules_loaded(self) -> bool {
        self >= Version::new(6, 1)
    }

    /// 8.0 and later log `Initiating shutdown` at the end of a `--stop-after-init` run.
    pub fn prints_shutdown(self) -> bool {
        self >= Version::new(8, 0)
    }

    /// 14.0 and later end a test run with the `F failed, E error(s) of N tests` summary.
    pub fn prints_test_summary(self) -> bool {
        self >= Version::new(14, 0)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Version::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not an Odoo version: {text:?}")))
    }
}

/// The version the analysis assumed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectedVersion {
    /// The version (a lower bound unless `exact`).
    pub version: Version,
    /// True when given by the user or read from the server's banner.
    pub exact: bool,
    /// What it was deduced from.
    pub evidence: Cow<'static, str>,
}

/// Clues about the version gathered while scanning; bounded (flags and counters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionClues {
    banner: Option<Version>,
    openerp60_grammar: bool,
    tests_result_logger: bool,
    tests_runner_logger: bool,
    retried_level: bool,
    test_level: bool,
    odoo_logger: bool,
    openerp_logger: bool,
    trailing_space: u64,
    no_trailing_space: u64,
}

impl VersionClues {
    /// Notes what a record header says about the version.
    pub fn observe(&mut self, h: &Header<'_>) {
        match h.grammar {
            Grammar::OpenErp60 => self.openerp60_grammar = true,
            Grammar::Standard => {
                if h.trailing_space {
                    self.trailing_space += 1;
                } else {
                    self.no_trailing_space += 1;
                }
            }
            Grammar::Bare => {}
        }
        match h.level {
            Level::Retried => self.retried_level = true,
            Level::Test => self.test_level = true,
            _ => {}
        }
        let logger = h.logger;
        if logger.starts_with(b"odoo.") || logger == b"odoo" {
            self.odoo_logger = true;
            if logger == b"odoo.tests.result" || logger == b"odoo.tests.stats" {
                self.tests_result_logger = true;
            } else if logger == b"odoo.tests.runner" {
                self.tests_runner_logger = true;
            }
        } else if logger.starts_with(b"openerp.") || logger == b"openerp" {
            self.openerp_logger = true;
        }
    }

    /// Notes the server's version banner.
    pub fn banner(&mut self, v: Version) {
        self.banner.get_or_insert(v);
    }

    /// The best guess, strongest clue first; `None` when the log says nothing.
    pub fn resolve(&self) -> Option<DetectedVersion> {
        let guess = |major, minor, evidence| {
            Some(DetectedVersion {
                version: Version::new(major, minor),
                exact: false,
                evidence: Cow::Borrowed(evidence),
            })
        };
        if let Some(v) = self.banner {
            return Some(DetectedVersion {
                version: v,
                exact: true,
                evidence: Cow::Borrowed("server version banner"),
            });
        }
        let standard = self.trailing_space + self.no_trailing_space;
        if self.openerp60_grammar {
            guess(6, 0, "OpenERP 6.0 line grammar")
        } else if self.tests_result_logger {
            guess(17, 0, "odoo.tests.result logger (17+)")
        } else if self.retried_level {
            guess(16, 0, "retry-lowered levels (16+)")
        } else if self.tests_runner_logger {
            guess(14, 0, "odoo.tests.runner logger (14–15)")
        } else if standard > 0 && self.trailing_space * 10 >= standard * 9 {
            guess(14, 0, "trailing space on record lines (14+)")
        } else if self.odoo_logger {
            guess(10, 0, "odoo.* loggers (10+)")
        } else if self.test_level {
            guess(7, 0, "TEST level (6.1–7.0)")
        } else if self.openerp_logger {
            guess(8, 0, "openerp.* loggers (6.1–9.0)")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::grammar::parse_header;

    fn detect(lines: &[&str]) -> Option<DetectedVersion> {
        let mut clues = VersionClues::default();
        for l in lines {
            clues.observe(&parse_header(l.as_bytes()).unwrap());
        }
        clues.resolve()
    }

    #[test]
    fn parses_user_versions() {
        assert_eq!(Version::parse("8.0"), Some(Version::new(8, 0)));
        assert_eq!(Version::parse("17"), Some(Version::new(17, 0)));
        assert_eq!(Version::parse("saas~17.2"), Some(Version::new(17, 2)));
        assert_eq!(Version::parse("eight"), None);
        assert_eq!(Version::parse("8.x"), None);
        assert!(Version::new(6, 1) > Version::new(6, 0));
        assert!(Version::new(10, 0) > Version::new(9, 0));
    }

    #[test]
    fn detects_each_era() {
        let v = |lines: &[&str]| detect(lines).map(|d| d.version);
        assert_eq!(
            v(&["[2011-05-05 10:00:00,123][db] INFO:init:x"]),
            Some(Version::new(6, 0))
        );
        assert_eq!(
            v(&["2013-01-01 10:00:00,000 1 TEST db openerp.modules.module: x"]),
            Some(Version::new(7, 0))
        );
        assert_eq!(
            v(&["2015-01-01 10:00:00,000 1 INFO db openerp.modules.module: x"]),
            Some(Version::new(8, 0))
        );
        assert_eq!(
            v(&["2017-01-01 10:00:00,000 1 INFO db odoo.modules.module: x"]),
            Some(Version::new(10, 0))
        );
        assert_eq!(
            v(&["2021-01-01 10:00:00,000 1 INFO db odoo.modules.module: x "]),
            Some(Version::new(14, 0))
        );
        assert_eq!(
            v(&["2025-01-01 10:00:00,000 1 _ERROR db odoo.x: FAIL: y"]),
            Some(Version::new(16, 0))
        );
        assert_eq!(v(&["2025-01-01 10:00:00,000 1 INFO db odoo.tests.result: 0 failed, 0 error(s) of 3 tests "]), Some(Version::new(17, 0)));
        assert_eq!(
            v(&["2025-01-01 10:00:00,000 1 INFO db path.to.test: x"]),
            None
        );
    }
}
