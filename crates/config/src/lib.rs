//! Configuration: INI reader, workers, buildouts, requirements and the builder matrix.
//!
//! Pure: reads only the files it is given, no async. [`load`] reads a master directory and
//! returns a [`MasterConfig`] whose [`Matrix`] lists every builder with its workers, properties
//! and per-worker environment, or every error found, each with file and line.

#![warn(missing_docs)]

pub mod buildout;
pub mod error;
pub mod ini;
pub mod load;
pub mod master_settings;
pub mod matrix;
pub mod names;
pub mod paths;
pub mod requirement;
pub mod version;
pub mod watching;
pub mod worker;

#[cfg(test)]
mod testutil;

pub use buildout::{Buildout, BuildoutSource};
pub use error::{ConfigError, ErrorKind, Location, Warning};
pub use load::{load, MasterConfig, Overrides};
pub use master_settings::MasterSettings;
pub use matrix::{build_matrix, Builder, Env, Matrix, PropertyValue, Split};
pub use names::{BuilderName, WorkerName};
pub use requirement::Requirement;
pub use version::Version;
pub use worker::{CapabilityVersion, Worker};
