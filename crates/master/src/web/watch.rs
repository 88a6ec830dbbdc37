//! Changes, pollers and push hooks: `/changes` (and `/api/changes`, paged like the other
//! lists), `/changes/{id}` with the change's files, `/pollers` (and `/api/pollers`) with each
//! repository's last poll, last error and next poll, and `POST /hooks/{github,gitlab,gitea}`.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::session::Session;
use super::view::{self, Layout};
use super::{message, paging, render, store_failed, Web};
use crate::ids::ChangeId;
use crate::store::watch::ChangeRow;
use crate::watch::hooks::{self, Forge};
use crate::watch::{PollerCommand, PollerView};

/// A change as the pages show it.
#[derive(Clone, Debug, Serialize)]
pub struct ChangeView {
    /// Its id.
    pub id: i64,
    /// Repository URL.
    pub repository: String,
    /// VCS.
    pub vcs: String,
    /// Branch.
    pub branch: String,
    /// Revision.
    pub revision: String,
    /// Author.
    pub author: String,
    /// First line of the comments.
    pub title: String,
    /// Whole comments.
    pub comments: String,
    /// Files touched.
    pub files: Vec<String>,
    /// When the master saw it (UTC).
    pub seen: String,
    /// The commit's date (UTC).
    pub date: String,
}

impl From<&ChangeRow> for ChangeView {
    fn from(c: &ChangeRow) -> ChangeView {
        ChangeView {
            id: c.id.0,
            repository: c.repository.clone(),
            vcs: c.vcs.clone().unwrap_or_default(),
            branch: c.branch.clone().unwrap_or_default(),
            revision: c.revision.clone(),
            author: c.author.clone().unwrap_or_default(),
            title: c.title().to_string(),
            comments: c.comments.clone().unwrap_or_default(),
            files: c
                .files
                .as_deref()
                .unwrap_or("")
                .lines()
                .map(String::from)
                .collect(),
            seen: view::time(c.seen_at),
            date: c.changed_at.map(view::time).unwrap_or_default(),
        }
    }
}

/// Paging of the changes.
#[derive(Deserialize, Default)]
pub struct ChangesQuery {
    /// Only changes older than this one.
    pub before: Option<i64>,
    /// Page size (API).
    pub limit: Option<i64>,
}

#[derive(Template)]
#[template(path = "changes.html")]
struct ChangesPage {
    layout: Layout,
    changes: Vec<ChangeView>,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "change.html")]
struct ChangePage {
    layout: Layout,
    c: ChangeView,
}

/// `GET /changes`.
pub async fn changes_page(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Query(q): Query<ChangesQuery>,
) -> Response {
    let layout = Layout::new(&web, &session, "/changes");
    let limit = paging::DEFAULT_LIMIT;
    match web
        .store
        .changes(q.before.map(ChangeId), paging::rows_to_read(limit))
        .await
    {
        Ok(rows) => {
            let (rows, more) = paging::cut(rows, limit);
            let next = rows
                .last()
                .filter(|_| more)
                .map(|c| paging::url("/changes", &[("before", Some(c.id.0.to_string()))]));
            let changes = rows.iter().map(ChangeView::from).collect();
            render(&ChangesPage {
                layout,
                changes,
                next,
            })
        }
        Err(e) => store_failed(layout, e),
    }
}

/// `GET /changes/{id}`.
pub async fn change_page(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
) -> Response {
    let layout = Layout::new(&web, &session, &format!("/changes/{id}"));
    match web.store.change(ChangeId(id)).await {
        Ok(Some(c)) => render(&ChangePage {
            layout,
            c: ChangeView::from(&c),
        }),
        Ok(None) => message(
            StatusCode::NOT_FOUND,
            layout,
            "No such change",
            &format!("There is no change {id}; /changes lists them."),
        ),
        Err(e) => store_failed(layout, e),
    }
}

fn api_error(status: StatusCode, error: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": error.to_string() }))).into_response()
}

/// `GET /api/changes?before=ID&limit=N`: newest first.
pub async fn api_changes(State(web): State<Web>, Query(q): Query<ChangesQuery>) -> Response {
    let limit = paging::limit(q.limit);
    match web
        .store
        .changes(q.before.map(ChangeId), paging::rows_to_read(limit))
        .await
    {
        Ok(rows) => paging::json_page(
            paging::cut(rows, limit),
            limit,
            "/api/changes",
            &[],
            "before",
            |c| c.id.0.to_string(),
        ),
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// `GET /api/changes/{id}`.
pub async fn api_change(State(web): State<Web>, Path(id): Path<i64>) -> Response {
    match web.store.change(ChangeId(id)).await {
        Ok(Some(c)) => Json(c).into_response(),
        Ok(None) => api_error(StatusCode::NOT_FOUND, format!("no change {id}")),
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// A poller as the page shows it.
struct PollerLine {
    repository: String,
    vcs: String,
    fetch_url: String,
    heads: Vec<(String, String)>,
    last_poll: String,
    next_poll: String,
    failures: u32,
    last_error: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "pollers.html")]
struct PollersPage {
    layout: Layout,
    interval: u64,
    pollers: Vec<PollerLine>,
}

fn pollers(web: &Web) -> Vec<PollerView> {
    match &web.watch {
        Some(w) => w.board.lock().unwrap().values().cloned().collect(),
        None => Vec::new(),
    }
}

/// `GET /pollers`.
pub async fn pollers_page(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
) -> Response {
    let layout = Layout::new(&web, &session, "/pollers");
    let lines = pollers(&web)
        .into_iter()
        .map(|p| PollerLine {
            state: if p.last_error.is_some() {
                "failing"
            } else if p.last_poll_at.is_some() {
                "ok"
            } else {
                "new"
            },
            heads: if p.vcs == "bzr" {
                p.heads.into_values().map(|r| ("revno".into(), r)).collect()
            } else {
                p.heads.into_iter().collect()
            },
            last_poll: p.last_poll_at.map(view::time).unwrap_or_default(),
            next_poll: p.next_poll_at.map(view::time).unwrap_or_default(),
            last_error: p.last_error.unwrap_or_default(),
            repository: p.repository,
            vcs: p.vcs,
            fetch_url: p.fetch_url,
            failures: p.failures,
        })
        .collect();
    render(&PollersPage {
        layout,
        interval: web.config().settings.watch.poll_interval,
        pollers: lines,
    })
}

/// `GET /api/pollers`.
pub async fn api_pollers(State(web): State<Web>) -> Response {
    Json(pollers(&web)).into_response()
}

/// `POST /hooks/github`.
pub async fn github(State(web): State<Web>, headers: HeaderMap, body: Bytes) -> Response {
    hook(&web, Forge::GitHub, &headers, &body)
}

/// `POST /hooks/gitlab`.
pub async fn gitlab(State(web): State<Web>, headers: HeaderMap, body: Bytes) -> Response {
    hook(&web, Forge::GitLab, &headers, &body)
}

/// `POST /hooks/gitea`.
pub async fn gitea(State(web): State<Web>, headers: HeaderMap, body: Bytes) -> Response {
    hook(&web, Forge::Gitea, &headers, &body)
}

/// Checks a hook and asks for a poll of the repositories it names; nothing else happens.
fn hook(web: &Web, forge: Forge, headers: &HeaderMap, body: &[u8]) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let Some(watch) = &web.watch else {
        return api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this master watches nothing",
        );
    };
    let Some(secret) = watch.hook_secret.get() else {
        return api_error(
            StatusCode::FORBIDDEN,
            "push hooks are off: set hook-secret-file in [watch] of oebb.cfg",
        );
    };
    if !hooks::authentic(forge, &secret, header(forge.auth_header()), body) {
        tracing::warn!(?forge, "push hook refused: bad signature or token");
        return api_error(
            StatusCode::UNAUTHORIZED,
            format!(
                "the {} header does not match the hook secret",
                forge.auth_header()
            ),
        );
    }
    let event = header(forge.event_header());
    if !forge.is_push(event) {
        return (StatusCode::OK, Json(json!({ "ignored": event }))).into_response();
    }
    let urls = match hooks::push_urls(forge, body) {
        Ok(u) => u,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, e),
    };
    let keys: Vec<String> = urls.iter().map(|u| hooks::repository_key(u)).collect();
    let matching: Vec<String> = watch
        .board
        .lock()
        .unwrap()
        .values()
        .filter(|p| {
            keys.contains(&hooks::repository_key(&p.repository))
                || keys.contains(&hooks::repository_key(&p.fetch_url))
        })
        .map(|p| p.repository.clone())
        .collect();
    if matching.is_empty() {
        return api_error(
            StatusCode::NOT_FOUND,
            format!("no watched repository has the URL {}", urls.join(" or ")),
        );
    }
    tracing::info!(?forge, repositories = ?matching, "push hook: polling now");
    let _ = watch
        .commands
        .send(PollerCommand::PollNow(matching.clone()));
    (StatusCode::ACCEPTED, Json(json!({ "polling": matching }))).into_response()
}
