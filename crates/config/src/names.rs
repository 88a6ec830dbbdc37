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

/// What makes `name` unusable as a worker or buildout name, if anything: names end up in
/// builder names, URLs, file names and database names.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.chars().any(char::is_whitespace) {
        Some("whitespace")
    } else if name.contains('/') || name.contains('\\') {
        Some("a slash")
    } else if name.chars().any(|c| c.is_control()) {
        Some("a control character")
    } else {
        None
    }
}
