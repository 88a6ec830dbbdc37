//! Buildbot's results of steps and builds, with its numbers and its order of badness.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The result of a step or a build (Buildbot's numbers, kept in the store).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Results {
    /// Everything went well.
    Success,
    /// Something was wrong but not enough to fail.
    Warnings,
    /// A step failed.
    Failure,
    /// The step did not run.
    Skipped,
    /// The master or the worker broke, not the thing under test.
    Exception,
    /// The build could not finish (its worker went away) and its request runs again.
    Retry,
    /// Somebody stopped the build.
    Cancelled,
}

impl Results {
    /// Buildbot's number for the result.
    pub fn code(self) -> i64 {
        match self {
            Results::Success => 0,
            Results::Warnings => 1,
            Results::Failure => 2,
            Results::Skipped => 3,
            Results::Exception => 4,
            Results::Retry => 5,
            Results::Cancelled => 6,
        }
    }

    /// The result of a Buildbot number, `None` for an unknown one.
    pub fn from_code(code: i64) -> Option<Results> {
        Some(match code {
            0 => Results::Success,
            1 => Results::Warnings,
            2 => Results::Failure,
            3 => Results::Skipped,
            4 => Results::Exception,
            5 => Results::Retry,
            6 => Results::Cancelled,
            _ => return None,
        })
    }

    /// The lower-case name, as shown to users.
    pub fn name(self) -> &'static str {
        match self {
            Results::Success => "success",
            Results::Warnings => "warnings",
            Results::Failure => "failure",
            Results::Skipped => "skipped",
            Results::Exception => "exception",
            Results::Retry => "retry",
            Results::Cancelled => "cancelled",
        }
    }

    /// The worse of two results, in Buildbot's `worst_status` order.
    pub fn worst(self, other: Results) -> Results {
        const ORDER: [Results; 7] = [
            Results::Cancelled,
            Results::Retry,
            Results::Exception,
            Results::Failure,
            Results::Warnings,
            Results::Skipped,
            Results::Success,
        ];
        *ORDER
            .iter()
            .find(|r| **r == self || **r == other)
            .unwrap_or(&self)
    }
}

impl fmt::Display for Results {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_follows_buildbot() {
        assert_eq!(Results::Success.worst(Results::Warnings), Results::Warnings);
        assert_eq!(Results::Failure.worst(Results::Warnings), Results::Failure);
        assert_eq!(
            Results::Failure.worst(Results::Cancelled),
            Results::Cancelled
        );
        assert_eq!(Results::Skipped.worst(Results::Success), Results::Skipped);
        for code in 0..7 {
            assert_eq!(Results::from_code(code).unwrap().code(), code);
        }
        assert_eq!(Results::from_code(7), None);
    }
}
