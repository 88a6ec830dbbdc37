//! Newtypes for the names that identify workers and builders.

use serde::{Serialize, Serializer};
use std::fmt;
use std::sync::Arc;

/// The name of a worker: its section in the workers file, and its login.
///
/// Shared (`Arc`) because every builder lists its workers: cloning must be cheap.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkerName(Arc<str>);

impl WorkerName {
    /// A worker name.
    pub fn new(name: &str) -> Self {
        WorkerName(Arc::from(name))
    }
}

impl Serialize for WorkerName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for WorkerName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// The name of a builder: `<buildout>[-<abbrev><version>…]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct BuilderName(pub String);

macro_rules! name_impls {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl $t {
            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

name_impls!(WorkerName);
name_impls!(BuilderName);

/// What makes `name` unusable as a worker, buildout or builder name, if anything: names end up
/// in builder names, URLs, database names and directory names (a builder's directory on its
/// workers), so a name must be one path component.
pub fn name_problem(name: &str) -> Option<&'static str> {
    use crate::paths::{component_problem, Problem};
    if name.chars().any(char::is_whitespace) {
        return Some("whitespace");
    }
    if name.contains('/') || name.contains('\\') {
        return Some("a slash");
    }
    Some(match component_problem(name)? {
        Problem::Empty => "nothing",
        Problem::CurrentDir => "nothing but `.`, a directory's name for itself",
        Problem::ParentDir => "nothing but `..`, the name of the parent directory",
        Problem::TooLong(_) => "more than 255 bytes, too long for a directory name",
        _ => "a control character",
    })
}

#[cfg(test)]
mod tests {
    use super::name_problem;

    #[test]
    fn names_are_single_path_components() {
        for good in ["odoo-16.0", "w1", "a.b_c", "...", "x".repeat(255).as_str()] {
            assert_eq!(name_problem(good), None, "{good:?}");
        }
        for (bad, what) in [
            ("a b", "whitespace"),
            ("a/b", "a slash"),
            ("a\\b", "a slash"),
            ("a\0b", "a control character"),
            ("", "nothing"),
            (".", "nothing but `.`, a directory's name for itself"),
            ("..", "nothing but `..`, the name of the parent directory"),
        ] {
            assert_eq!(name_problem(bad), Some(what), "{bad:?}");
        }
        assert!(name_problem(&"x".repeat(256)).is_some());
    }
}
