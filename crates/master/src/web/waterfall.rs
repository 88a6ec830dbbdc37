//! The waterfall: the most recent builds of every builder, newest first.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;

use super::session::Session;
use super::view::{self, Layout};
use super::{render, store_failed, Web};
use crate::ids::BuildId;

/// One build as a row of a list of builds.
pub struct BuildRow {
    /// Its id.
    pub id: i64,
    /// Its builder.
    pub builder: String,
    /// `data-result`.
    pub result: &'static str,
    /// Its worker.
    pub worker: String,
    /// When it started.
    pub started: String,
    /// How long it ran (so far).
    pub duration: String,
    /// Its state text.
    pub text: String,
    /// The change it built, as `revision by author`.
    pub change: String,
}

impl BuildRow {
    /// The row of a stored build.
    pub fn of(b: &crate::store::BuildRecord) -> BuildRow {
        BuildRow {
            id: b.id.0,
            builder: b.builder.clone(),
            result: view::build_result(b),
            worker: b.worker.clone(),
            started: view::time(b.started_at),
            duration: view::duration(b.started_at, b.finished_at),
            text: b.state_text.clone(),
            change: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "waterfall.html")]
struct WaterfallPage {
    layout: Layout,
    builds: Vec<BuildRow>,
    older: Option<i64>,
}

/// Paging of the waterfall.
#[derive(Deserialize, Default)]
pub struct WaterfallQuery {
    /// Only builds older than this one.
    pub before: Option<i64>,
}

/// Builds on one page.
const PAGE: i64 = 100;

/// `GET /waterfall`.
pub async fn page(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Query(q): Query<WaterfallQuery>,
) -> Response {
    let layout = Layout::new(&web, &session, "/waterfall");
    let builds = match web
        .store
        .builds_before(None, q.before.map(BuildId), PAGE)
        .await
    {
        Ok(b) => b,
        Err(e) => return store_failed(layout, e),
    };
    let older = (builds.len() as i64 == PAGE)
        .then(|| builds.last().map(|b| b.id.0))
        .flatten();
    render(&WaterfallPage {
        layout,
        builds: builds.iter().map(BuildRow::of).collect(),
        older,
    })
}
