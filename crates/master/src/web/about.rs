//! The master itself: which configuration runs, since when, and how the last reconfig ended
//! (`GET /about`, `GET /api/about`); and the reconfig action (`POST /api/reconfig`), which
//! only the master's API token may ask for: it is the `oebb reconfig` of the master's machine.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use super::session::Session;
use super::view::{self, Layout};
use super::{render, Web};
use crate::configuration::Running;

#[derive(Template)]
#[template(path = "about.html")]
struct AboutPage {
    layout: Layout,
    loaded_at: String,
    files: Vec<String>,
    builders: usize,
    workers: usize,
    users: usize,
    /// `applied`, `refused`, or `none` before the first reconfig.
    outcome: &'static str,
    reconfig_at: String,
    /// What changed, or every error.
    lines: Vec<String>,
}

/// The files of the running configuration, as shown: relative to the master directory.
fn files(running: &Running) -> Vec<String> {
    let c = &running.config;
    let mut files = vec![c.dir.join("oebb.cfg"), c.workers_file.clone()];
    files.extend(c.manifest_files.iter().cloned());
    let shown = |f: &std::path::PathBuf| f.strip_prefix(&c.dir).unwrap_or(f).display().to_string();
    files.iter().map(shown).collect()
}

/// Lines shown on the page at most; `oebb check DIR` prints them all.
const MAX_LINES: usize = 100;

/// `GET /about`.
pub async fn page(State(web): State<Web>, Extension(session): Extension<Session>) -> Response {
    let layout = Layout::new(&web, &session, "/about");
    let running = web.current.get();
    let c = &running.config;
    let last = running.last_reconfig.as_ref().map(|o| o.public(&c.dir));
    let (outcome, reconfig_at, mut lines) = match last {
        None => ("none", String::new(), Vec::new()),
        Some(last) => (last.outcome, view::time(last.at), last.lines),
    };
    if outcome == "applied" && lines.is_empty() {
        lines.push("nothing changed".to_string());
    }
    if lines.len() > MAX_LINES {
        let more = lines.len() - MAX_LINES;
        lines.truncate(MAX_LINES);
        lines.push(format!(
            "… and {more} more: `oebb check DIR` prints them all"
        ));
    }
    render(&AboutPage {
        layout,
        loaded_at: view::time(running.loaded_at),
        files: files(&running),
        builders: c.matrix.builders.len(),
        workers: c.workers.len(),
        users: c.settings.users.len(),
        outcome,
        reconfig_at,
        lines,
    })
}

/// `GET /api/about`: the same as the page (where each error is, not its message).
pub async fn json(State(web): State<Web>) -> Response {
    let running = web.current.get();
    let c = &running.config;
    Json(json!({
        "loaded_at": running.loaded_at,
        "files": files(&running),
        "builders": c.matrix.builders.len(),
        "workers": c.workers.len(),
        "last_reconfig": running.last_reconfig.as_ref().map(|o| o.public(&c.dir)),
    }))
    .into_response()
}

/// Whether the request carries the master's API token (compared in constant time).
fn has_token(web: &Web, headers: &HeaderMap) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    given.is_some_and(|t| web.api_token.as_bytes().ct_eq(t.trim().as_bytes()).into())
}

/// `POST /api/reconfig`: reads the master directory again; 200 with what changed, or 422
/// with every error (the running configuration stays). Only the master's API token: web
/// users force and stop builds, the configuration is the administrator's; a password is not
/// even checked here.
pub async fn reconfig(State(web): State<Web>, headers: HeaderMap) -> Response {
    let error = |status: StatusCode, why: &str| (status, Json(json!({ "error": why })));
    if !has_token(&web, &headers) {
        let why = "a reconfig takes the master's bearer token (DIR/.oebb-api-token): run \
                   `oebb reconfig DIR` on the master's machine";
        return error(StatusCode::UNAUTHORIZED, why).into_response();
    }
    match web.reconfig.run().await {
        Ok(outcome) => {
            let status = if outcome.applied() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let mut body: Value = serde_json::to_value(&outcome).unwrap_or_default();
            if let crate::configuration::Outcome::Applied { changes, .. } = &outcome {
                // What `oebb reconfig` prints, one line per kind of change.
                body["summary"] = json!(changes.lines());
            }
            (status, Json(body)).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()).into_response(),
    }
}
