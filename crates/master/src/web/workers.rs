//! The workers page: each configured worker, connected or missing since when, its running
//! builds, capabilities and when it was last seen.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use serde::{Deserialize, Serialize};

use super::session::Session;
use super::view::{self, Layout};
use super::{paging, render, store_failed, Web};
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

/// The first `limit` names after `after` of two lists of names, each sorted, without
/// repeats; and whether more follow.
fn merge_page(configured: &[&str], stored: &[&str], limit: i64) -> (Vec<String>, bool) {
    let mut names: Vec<&str> = configured.iter().chain(stored).copied().collect();
    names.sort_unstable();
    names.dedup();
    let names = names.into_iter().map(str::to_string).collect();
    paging::cut(names, limit)
}

/// The workers of the configuration and those the store has seen, by name, the first
/// `limit` after `after` (`""`: from the first); and whether more follow.
pub async fn workers(
    web: &Web,
    after: &str,
    limit: i64,
) -> Result<(Vec<WorkerView>, bool), StoreError> {
    let read = paging::rows_to_read(limit);
    let stored: HashMap<String, crate::store::web_queries::WorkerRecord> = web
        .store
        .workers(after, read)
        .await?
        .into_iter()
        .map(|w| (w.name.clone(), w))
        .collect();
    let config = web.config();
    let mut configured: Vec<&str> = config
        .workers
        .iter()
        .map(|w| w.name.as_str())
        .filter(|n| *n > after)
        .collect();
    configured.sort_unstable();
    configured.truncate(read as usize);
    let stored_names: Vec<&str> = stored.keys().map(String::as_str).collect();
    let (names, more) = merge_page(&configured, &stored_names, limit);
    let mut running: HashMap<String, Vec<i64>> = HashMap::new();
    for b in web.store.running_builds().await? {
        running.entry(b.worker).or_default().push(b.id.0);
    }
    let views = names
        .into_iter()
        .map(|name| {
            let configured = configured.contains(&name.as_str());
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
            let capabilities = config
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
        .collect();
    Ok((views, more))
}

#[derive(Template)]
#[template(path = "workers.html")]
struct WorkersPage {
    layout: Layout,
    workers: Vec<WorkerView>,
    /// The next page's link.
    next: Option<String>,
}

/// Paging of the workers page.
#[derive(Deserialize, Default)]
pub struct WorkersQuery {
    /// Only workers whose name sorts after this one.
    pub after: Option<String>,
}

/// Workers on one page.
const PAGE: i64 = 100;

/// `GET /workers`.
pub async fn page(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Query(q): Query<WorkersQuery>,
) -> Response {
    let layout = Layout::new(&web, &session, "/workers");
    let after = q.after.unwrap_or_default();
    match workers(&web, &after, PAGE).await {
        Ok((workers, more)) => {
            let next = workers
                .last()
                .filter(|_| more)
                .map(|last| paging::url("/workers", &[("after", Some(last.name.clone()))]));
            render(&WorkersPage {
                layout,
                workers,
                next,
            })
        }
        Err(e) => store_failed(layout, e),
    }
}

#[cfg(test)]
mod tests {
    use super::merge_page;

    #[test]
    fn a_page_of_two_sorted_lists() {
        let (names, more) = merge_page(&["a", "c", "e"], &["b", "c", "d"], 3);
        assert_eq!(
            (names, more),
            (vec!["a".into(), "b".into(), "c".into()], true)
        );
        let (names, more) = merge_page(&["a"], &["a"], 3);
        assert_eq!((names, more), (vec!["a".to_string()], false));
    }
}
