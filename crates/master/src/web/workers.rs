//! The workers page: each configured worker, connected or missing since when, its running
//! builds, capabilities and when it was last seen.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use serde::Serialize;

use super::session::Session;
use super::view::{self, Layout};
use super::{render, store_failed, Web};
use crate::store::StoreError;

/// A worker as shown.
#[derive(Clone, Debug, Serialize)]
pub struct WorkerView {
    /// Its name.
    pub name: String,
    /// `connected` or `missing`.
    pub state: &'static str,
    /// Since when (UTC), empty when never seen.
    pub since: String,
    /// When it was last heard of (UTC), empty when never seen.
    pub last_seen: String,
    /// Its capabilities, e.g. `postgresql 16 (port=5432)`.
    pub capabilities: Vec<String>,
    /// Its running builds.
    pub running: Vec<i64>,
    /// Why its last connection ended.
    pub reason: String,
    /// Whether it is in the workers file.
    pub configured: bool,
}

/// Every worker of the configuration and every worker the store has seen.
pub async fn workers(web: &Web) -> Result<Vec<WorkerView>, StoreError> {
    let stored: HashMap<String, crate::store::web_queries::WorkerRecord> = web
        .store
        .workers()
        .await?
        .into_iter()
        .map(|w| (w.name.clone(), w))
        .collect();
    let mut running: HashMap<String, Vec<i64>> = HashMap::new();
    for b in web.store.running_builds().await? {
        running.entry(b.worker).or_default().push(b.id.0);
    }
    let mut names: Vec<(String, bool)> = web
        .config
        .workers
        .iter()
        .map(|w| (w.name.as_str().to_string(), true))
        .collect();
    for name in stored.keys() {
        if !names.iter().any(|(n, _)| n == name) {
            names.push((name.clone(), false));
        }
    }
    Ok(names
        .into_iter()
        .map(|(name, configured)| {
            let record = stored.get(&name);
            let connected =
                record.is_some_and(|r| r.connected_at.is_some() && r.disconnected_at.is_none());
            let since = record
                .and_then(|r| {
                    if connected {
                        r.connected_at
                    } else {
                        r.disconnected_at
                    }
                })
                .map(view::time)
                .unwrap_or_default();
            let capabilities = web
                .config
                .workers
                .iter()
                .find(|w| w.name.as_str() == name)
                .map(|w| {
                    w.capabilities
                        .iter()
                        .flat_map(|(cap, versions)| {
                            versions.iter().map(move |v| {
                                let mut text = cap.clone();
                                if let Some(version) = &v.version {
                                    text.push_str(&format!(" {version}"));
                                }
                                let options: Vec<String> =
                                    v.options.iter().map(|(k, v)| format!("{k}={v}")).collect();
                                if !options.is_empty() {
                                    text.push_str(&format!(" ({})", options.join(", ")));
                                }
                                text
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            WorkerView {
                state: if connected { "connected" } else { "missing" },
                since,
                // A connected worker answers keepalives, so it is seen now; a missing one was
                // last seen when its connection ended.
                last_seen: match record {
                    _ if connected => view::time(crate::store::now_millis()),
                    Some(r) => view::time(r.disconnected_at.unwrap_or(r.last_seen_at)),
                    None => String::new(),
                },
                capabilities,
                running: running.remove(&name).unwrap_or_default(),
                reason: record
                    .filter(|_| !connected)
                    .and_then(|r| r.disconnect_reason.clone())
                    .unwrap_or_default(),
                configured,
                name,
            }
        })
        .collect())
}

#[derive(Template)]
#[template(path = "workers.html")]
struct WorkersPage {
    layout: Layout,
    workers: Vec<WorkerView>,
}

/// `GET /workers`.
pub async fn page(State(web): State<Web>, Extension(session): Extension<Session>) -> Response {
    let layout = Layout::new(&web, &session, "/workers");
    match workers(&web).await {
        Ok(workers) => render(&WorkersPage { layout, workers }),
        Err(e) => store_failed(layout, e),
    }
}
