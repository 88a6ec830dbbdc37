//! Log levels as Odoo and OpenERP print them, including the odd ones.

use serde::{Deserialize, Serialize};

/// The level of a log record, normalised across versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    /// `DEBUG` and OpenERP 6.0's `DEBUG_RPC`, `DEBUG_SQL`, `DEBUG_RPC_ANSWER`, `NOTSET`.
    Debug,
    /// `INFO` (and `RUNBOT`, level 25, should it ever be printed by name).
    Info,
    /// OpenERP 6.x/7.0 `TEST` level (15): unittest and YAML test chatter.
    Test,
    /// `WARNING` (or `WARN`).
    Warning,
    /// `ERROR`.
    Error,
    /// `CRITICAL` (or `FATAL`).
    Critical,
    /// `_WARNING`, `_ERROR`, `_CRITICAL`: lowered by Odoo 16+ during a retried test attempt.
    Retried,
    /// Any other word in the level position; treated as harmless.
    Other,
}

impl Level {
    /// Parses a level token (ANSI codes already removed).
    pub fn parse(token: &[u8]) -> Level {
        // Dispatch on the length first: this runs once per record.
        match (token.len(), token) {
            (4, b"INFO") => Level::Info,
            (5, b"ERROR") => Level::Error,
            (7, b"WARNING") => Level::Warning,
            (5, b"DEBUG") => Level::Debug,
            (4, b"TEST") => Level::Test,
            (8, b"CRITICAL") => Level::Critical,
            (6, b"_ERROR") | (8, b"_WARNING") | (9, b"_CRITICAL") => Level::Retried,
            (6, b"RUNBOT") => Level::Info,
            (9, b"DEBUG_RPC") | (9, b"DEBUG_SQL") | (16, b"DEBUG_RPC_ANSWER") | (6, b"NOTSET") => {
                Level::Debug
            }
            (4, b"WARN") => Level::Warning,
            (5, b"FATAL") => Level::Critical,
            _ => Level::Other,
        }
    }

    /// True for ERROR and CRITICAL: the levels that fail a build by themselves.
    pub fn is_error(self) -> bool {
        matches!(self, Level::Error | Level::Critical)
    }

    /// True for levels whose records are kept for inspection (never for INFO chatter).
    pub fn is_notable(self) -> bool {
        matches!(
            self,
            Level::Warning | Level::Error | Level::Critical | Level::Retried
        )
    }

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Test => "TEST",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
            Level::Retried => "RETRIED",
            Level::Other => "OTHER",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_known_spelling() {
        assert_eq!(Level::parse(b"INFO"), Level::Info);
        assert_eq!(Level::parse(b"DEBUG_RPC"), Level::Debug);
        assert_eq!(Level::parse(b"TEST"), Level::Test);
        assert_eq!(Level::parse(b"WARNING"), Level::Warning);
        assert_eq!(Level::parse(b"ERROR"), Level::Error);
        assert_eq!(Level::parse(b"CRITICAL"), Level::Critical);
        assert_eq!(Level::parse(b"_ERROR"), Level::Retried);
        assert_eq!(Level::parse(b"_WARNING"), Level::Retried);
        assert_eq!(Level::parse(b"_CRITICAL"), Level::Retried);
        assert_eq!(Level::parse(b"error"), Level::Other);
    }

    #[test]
    fn only_error_and_critical_are_errors() {
        assert!(Level::Error.is_error());
        assert!(Level::Critical.is_error());
        assert!(!Level::Retried.is_error());
        assert!(!Level::Warning.is_error());
    }
}
