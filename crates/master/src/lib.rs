//! The oebb master: build requests stored first, one scheduler loop that owns the queue and
//! the dispatch decisions, runners that execute steps over worker connections, and the store.

#![warn(missing_docs)]

pub mod ids;
pub mod results;
pub mod store;

pub use ids::{BuildId, BuildRequestId, ChangeId, ConnectionId, StepId};
pub use oebb_config::{BuilderName, WorkerName};
pub use results::Results;
pub use store::{Store, StoreError};
