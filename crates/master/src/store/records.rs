//! What the store hands back: one plain struct per table.

use serde::Serialize;

use crate::ids::{BuildId, BuildRequestId, StepId};
use crate::results::Results;

/// A stored build request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BuildRequestRecord {
    /// Its id.
    pub id: BuildRequestId,
    /// The builder to build.
    pub builder: String,
    /// Why (forced by whom, which change).
    pub reason: String,
    /// When it was stored (ms since the epoch).
    pub submitted_at: i64,
    /// The build running it now.
    pub claimed_by: Option<BuildId>,
    /// When its last build finished for good.
    pub complete_at: Option<i64>,
    /// That build's result.
    pub result: Option<Results>,
    /// Properties given with a force (`buildout-tag`, …), set on its builds.
    pub properties: serde_json::Map<String, serde_json::Value>,
}

/// A stored build.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BuildRecord {
    /// Its id.
    pub id: BuildId,
    /// The request it runs.
    pub request_id: BuildRequestId,
    /// Its builder.
    pub builder: String,
    /// The worker it ran on.
    pub worker: String,
    /// When it started (ms since the epoch).
    pub started_at: i64,
    /// When it finished; `None` while running.
    pub finished_at: Option<i64>,
    /// Its result once finished.
    pub result: Option<Results>,
    /// A short text saying how it went.
    pub state_text: String,
}

/// A stored step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepRecord {
    /// Its id.
    pub id: StepId,
    /// The build it belongs to.
    pub build_id: BuildId,
    /// Its place in the build, from 0.
    pub number: i64,
    /// Its name.
    pub name: String,
    /// When it started (ms since the epoch).
    pub started_at: i64,
    /// When it finished; `None` while running.
    pub finished_at: Option<i64>,
    /// Its result once finished.
    pub result: Option<Results>,
    /// A short text saying how it went.
    pub state_text: String,
}

/// A stored build property.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PropertyRecord {
    /// Its name.
    pub name: String,
    /// Its value as JSON text.
    pub value_json: String,
    /// Who set it (builder, worker, a step's name).
    pub source: String,
}

/// A change to store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewChange {
    /// The repository's URL.
    pub repository: String,
    /// The branch, if the repository has them.
    pub branch: Option<String>,
    /// The revision.
    pub revision: String,
    /// Who made it.
    pub author: Option<String>,
    /// Its message.
    pub comments: Option<String>,
    /// Its VCS (`git`, `hg`, `bzr`), when a poller saw it.
    pub vcs: Option<String>,
    /// The commit's own date (ms since the epoch).
    pub changed_at: Option<i64>,
    /// The files it touched, one per line.
    pub files: Option<String>,
}
