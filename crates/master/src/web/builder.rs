//! A builder's page: what it builds where, its queued requests, its recent builds with
//! result, duration, change and worker, and the force form for logged-in users. Builds and
//! queued requests show a page at a time, each with a link to the next.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;

use super::session::Session;
use super::view::{self, Layout};
use super::waterfall::BuildRow;
use super::{message, paging, render, store_failed, Web};
use crate::ids::{BuildId, BuildRequestId};
use crate::results::Results;
use crate::scheduler::ForceError;
use crate::store::RecurringFinding;
use serde::Deserialize;

/// A queued build request as shown.
pub struct QueuedRow {
    /// Its id.
    pub id: i64,
    /// Why.
    pub reason: String,
    /// When it was stored.
    pub submitted: String,
}

#[derive(Template)]
#[template(path = "builder.html")]
struct BuilderPage {
    layout: Layout,
    name: String,
    /// Not in the running configuration (a reconfig removed it).
    removed: bool,
    buildout: String,
    category: String,
    column: String,
    workers: Vec<String>,
    queued: Vec<QueuedRow>,
    /// All queued requests of the builder.
    queued_count: i64,
    /// `max-queued-requests`.
    max_queued: usize,
    /// The next page of queued requests.
    queued_next: Option<String>,
    /// Why a force would be refused now: the queue is full.
    queue_full: Option<String>,
    /// Each build with the first finding of a failed one.
    builds: Vec<(BuildRow, String)>,
    older: Option<i64>,
    /// Findings met in more than one build, the most recent first.
    recurring: Vec<RecurringFinding>,
}

/// Recurring findings shown on a builder's page.
const RECURRING: i64 = 20;

/// Paging of a builder's page: its builds (`before`) and queued requests (`queued_after`)
/// page separately.
#[derive(Deserialize, Default)]
pub struct BuilderQuery {
    /// Only builds older than this one.
    pub before: Option<i64>,
    /// Only queued requests younger than this one.
    pub queued_after: Option<i64>,
}

/// Builds on one page.
const PAGE: i64 = 50;

/// Queued requests on one page.
const QUEUED_PAGE: i64 = 50;

/// `GET /builders/{name}`.
pub async fn page(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Query(q): Query<BuilderQuery>,
) -> Response {
    let here = format!("/builders/{}", view::url_segment(&name));
    let layout = Layout::new(&web, &session, &here);
    let config = web.config();
    // A builder a reconfig removed still shows its builds and the requests that wait for it.
    let builder = config.matrix.builder(&name);
    let builds = match web
        .store
        .builds_before(Some(&name), q.before.map(BuildId), PAGE)
        .await
    {
        Ok(b) => b,
        Err(e) => return store_failed(layout, e),
    };
    let requests: Vec<_> = builds.iter().map(|b| b.request_id).collect();
    let changes = match web.store.changes_of_requests(&requests).await {
        Ok(c) => c,
        Err(e) => return store_failed(layout, e),
    };
    let queued = web.store.queued_requests(
        Some(&name),
        q.queued_after.map(BuildRequestId),
        paging::rows_to_read(QUEUED_PAGE),
    );
    let (queued, queued_count) = match tokio::try_join!(queued, web.store.queued_count(Some(&name)))
    {
        Ok(q) => q,
        Err(e) => return store_failed(layout, e),
    };
    if builder.is_none() && builds.is_empty() && queued_count == 0 {
        return message(
            StatusCode::NOT_FOUND,
            layout,
            "No such builder",
            &format!("There is no builder {name:?}; the grid lists them all."),
        );
    }
    let (queued, more_queued) = paging::cut(queued, QUEUED_PAGE);
    let queued_next = queued.last().filter(|_| more_queued).map(|last| {
        let after = Some(last.id.0.to_string());
        paging::url(&here, &[("queued_after", after)])
    });
    let max_queued = config.settings.max_queued_requests;
    let queue_full = (queued_count >= max_queued as i64).then(|| {
        let queued = usize::try_from(queued_count).unwrap_or(usize::MAX);
        let builder = name.clone();
        ForceError::QueueFull { builder, queued }.to_string()
    });
    let older = (builds.len() as i64 == PAGE)
        .then(|| builds.last().map(|b| b.id.0))
        .flatten();
    let failed: Vec<BuildId> = builds
        .iter()
        .filter(|b| matches!(b.result, Some(Results::Failure | Results::Exception)))
        .map(|b| b.id)
        .collect();
    let (firsts, recurring) = match tokio::try_join!(
        web.store.first_findings(&failed),
        web.store.recurring_findings(&name, RECURRING)
    ) {
        Ok(f) => f,
        Err(e) => return store_failed(layout, e),
    };
    let rows = builds
        .iter()
        .map(|b| {
            let mut row = BuildRow::of(b);
            if let Some(c) = changes.get(&b.request_id) {
                row.change = match &c.author {
                    Some(a) => format!("{} by {a}", c.revision),
                    None => c.revision.clone(),
                };
            }
            let cause = firsts
                .get(&b.id)
                .map(|f| format!("{}: {}", f.step_name, f.message))
                .unwrap_or_default();
            (row, cause)
        })
        .collect();
    render(&BuilderPage {
        layout,
        name: name.clone(),
        removed: builder.is_none(),
        buildout: builder.map(|b| b.buildout.clone()).unwrap_or_default(),
        category: builder.map(|b| b.category.clone()).unwrap_or_default(),
        column: builder.map(super::grid::column_of).unwrap_or_default(),
        workers: builder
            .iter()
            .flat_map(|b| &b.workers)
            .map(|w| w.as_str().to_string())
            .collect(),
        queued: queued
            .into_iter()
            .map(|r| QueuedRow {
                id: r.id.0,
                reason: r.reason,
                submitted: view::time(r.submitted_at),
            })
            .collect(),
        queued_count,
        max_queued,
        queued_next,
        queue_full,
        builds: rows,
        older,
        recurring,
    })
}
