//! The oebb master: build requests stored first, one scheduler loop that owns the queue and
//! the dispatch decisions, runners that execute steps over worker connections, and the store.
//!
//! ```text
//!   connections.rs: each port's budget and timeouts (workers: logins; web: hyper, 503 when full)
//! workers.rs (accept, keepalive, route) ──events──▶ scheduler.rs ◀──events── web/ (pages, API)
//!                                                   │  logins.rs settles duplicate logins
//!                                                   │  dispatcher.rs picks the worker
//!                                                   ▼
//!                            runner.rs (steps, flags, locks.rs) ─▶ command.rs (one command)
//!                                                   │
//!                                                   ▼
//!                                   store/ (SQLite or PostgreSQL; SQL in queries.rs and
//!                                   │        web_queries.rs)
//!                                   ▼ each write of a running build
//!                                   live.rs ──▶ web/live.rs (Server-Sent Events to pages)
//!
//! watch/: pollers (git, hg, brz mirrors) ──Event::Watch──▶ scheduler.rs (tree-stable timers,
//!         auto-watch); web/watch.rs: /changes, /pollers, push hooks ──poll now──▶ pollers
//! notify/: a build's result or a worker's absence and its mail stored in one transaction;
//!          the mail task sends the queue (see notify/mod.rs)
//! ```

#![warn(missing_docs)]

pub mod command;
pub mod configuration;
pub mod connections;
pub mod dispatcher;
pub mod findings;
pub mod ids;
pub mod live;
pub mod locks;
pub mod logins;
pub mod master;
mod master_steps;
pub mod notify;
pub mod properties;
pub mod reconfig;
pub mod results;
pub mod runner;
pub mod scheduler;
pub mod step;
pub mod store;
pub mod transfer;
pub mod watch;
pub mod web;
pub mod workers;

pub use ids::{BuildId, BuildRequestId, ChangeId, ConnectionId, StepId};
pub use master::{Master, MasterError, MasterOptions};
pub use oebb_config::{BuilderName, WorkerName};
pub use results::Results;
pub use scheduler::{ForceError, StepSource};
pub use step::{LockAccess, Step, StepCommand};
pub use store::{Store, StoreError};
