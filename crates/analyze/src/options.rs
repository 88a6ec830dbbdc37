//! What the caller knows about the run that wrote the log.

use crate::ignore::IgnoreList;
use crate::version::Version;
use serde::{Deserialize, Serialize};

/// Whether the run was asked to run tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestsExpectation {
    /// Unknown: fail on zero tests only when the log itself proves tests were enabled
    /// (a 14+ summary of 0 tests); do not require the summary.
    #[default]
    Auto,
    /// Tests were requested (`--test-enable`, `--log-level=test`): the run must show at least
    /// one test, and 14+ must print its summary.
    Requested,
    /// Install only: no test evidence required, a 0-test summary is a mere warning.
    NotExpected,
}

/// Settings of one analysis.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The Odoo/OpenERP version, when known; otherwise detected from the log.
    pub version: Option<Version>,
    /// Exit status of the command that wrote the log; non-zero always fails.
    pub exit_status: Option<i32>,
    /// Whether tests were requested.
    pub tests: TestsExpectation,
    /// WARNING records fail the build instead of giving the `warnings` verdict.
    pub warnings_fail: bool,
    /// Require `Initiating shutdown`; `None` means "when the version prints it" (8.0+ or
    /// unknown). Set `Some(false)` for excerpts.
    pub require_shutdown: Option<bool>,
    /// Records matching one of these patterns do not count.
    pub ignore: IgnoreList,
}
