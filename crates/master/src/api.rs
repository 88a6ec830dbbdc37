//! The JSON API on the web address: force a builder, list builds, read a step's log.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::ids::{BuildId, BuildRequestId};
use crate::scheduler::{Event, ForceError};
use crate::store::{Store, STDIO};

#[derive(Clone)]
struct Api {
    store: Store,
    events: mpsc::UnboundedSender<Event>,
}

/// The API's routes.
pub fn router(store: Store, events: mpsc::UnboundedSender<Event>) -> Router {
    Router::new()
        .route("/api/builders/{name}/force", post(force))
        .route("/api/buildrequests/{id}", get(build_request))
        .route("/api/builds", get(builds))
        .route("/api/builds/{id}", get(build))
        .route("/api/builds/{id}/stop", post(stop))
        .route("/api/builds/{id}/steps/{step}/log", get(log))
        .route("/api/builds/{id}/steps/{step}/logs", get(log_names))
        .route("/api/builds/{id}/steps/{step}/logs/{name}", get(named_log))
        .with_state(Api { store, events })
}

fn error(status: StatusCode, message: impl ToString) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

fn internal(e: impl ToString) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, e)
}

#[derive(Deserialize, Default)]
struct ForceBody {
    reason: Option<String>,
}

async fn force(State(api): State<Api>, Path(name): Path<String>, body: Bytes) -> Response {
    // An empty body is a force without a reason.
    let body: ForceBody = if body.is_empty() {
        ForceBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("bad JSON body: {e}")),
        }
    };
    let reason = body.reason.unwrap_or_else(|| "forced".to_string());
    match crate::master::force(&api.events, &name, &reason).await {
        Ok(id) => (StatusCode::CREATED, Json(json!({ "request": id }))).into_response(),
        Err(e @ ForceError::UnknownBuilder(_)) => error(StatusCode::NOT_FOUND, e),
        Err(e) => internal(e),
    }
}

async fn build_request(State(api): State<Api>, Path(id): Path<i64>) -> Response {
    let id = BuildRequestId(id);
    let request = match api.store.build_request(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no build request {id}")),
        Err(e) => return internal(e),
    };
    match api.store.builds_of_request(id).await {
        Ok(builds) => Json(json!({ "request": request, "builds": builds })).into_response(),
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
struct BuildsQuery {
    builder: Option<String>,
    limit: Option<i64>,
}

async fn builds(State(api): State<Api>, Query(q): Query<BuildsQuery>) -> Response {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    match api.store.builds(q.builder.as_deref(), limit).await {
        Ok(builds) => Json(builds).into_response(),
        Err(e) => internal(e),
    }
}

async fn build(State(api): State<Api>, Path(id): Path<i64>) -> Response {
    let id = BuildId(id);
    let build = match api.store.build(id).await {
        Ok(Some(b)) => b,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no build {id}")),
        Err(e) => return internal(e),
    };
    let steps = match api.store.steps(id).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let properties = match api.store.build_properties(id).await {
        Ok(p) => p,
        Err(e) => return internal(e),
    };
    Json(json!({ "build": build, "steps": steps, "properties": properties })).into_response()
}

#[derive(Deserialize, Default)]
struct StopBody {
    reason: Option<String>,
}

async fn stop(State(api): State<Api>, Path(id): Path<i64>, body: Bytes) -> Response {
    let body: StopBody = if body.is_empty() {
        StopBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("bad JSON body: {e}")),
        }
    };
    let reason = body
        .reason
        .unwrap_or_else(|| "stopped through the API".to_string());
    let (reply, answer) = tokio::sync::oneshot::channel();
    let event = Event::StopBuild {
        build: BuildId(id),
        reason,
        reply,
    };
    if api.events.send(event).is_err() {
        return internal("the master is stopping");
    }
    match answer.await {
        Ok(true) => Json(json!({ "stopped": id })).into_response(),
        _ => error(StatusCode::CONFLICT, format!("build {id} is not running")),
    }
}

/// Streams the log page by page, so a large log is never whole in memory.
async fn log(State(api): State<Api>, Path((id, step)): Path<(i64, String)>) -> Response {
    named_log(State(api), Path((id, step, STDIO.to_string()))).await
}

/// A step's log names: `stdio` first, then the files it kept as logs.
async fn log_names(State(api): State<Api>, Path((id, step)): Path<(i64, String)>) -> Response {
    let step = match api.store.find_step(BuildId(id), &step).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("build {id} has no step {step:?}"),
            )
        }
        Err(e) => return internal(e),
    };
    match api.store.log_names(step.id).await {
        Ok(names) => {
            let all: Vec<String> = std::iter::once(STDIO.to_string()).chain(names).collect();
            Json(json!({ "logs": all })).into_response()
        }
        Err(e) => internal(e),
    }
}

/// One of a step's logs, streamed page by page.
async fn named_log(
    State(api): State<Api>,
    Path((id, step, name)): Path<(i64, String, String)>,
) -> Response {
    let step = match api.store.find_step(BuildId(id), &step).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("build {id} has no step {step:?}"),
            )
        }
        Err(e) => return internal(e),
    };
    if name != STDIO {
        match api.store.log_names(step.id).await {
            Ok(names) if names.contains(&name) => {}
            Ok(names) => {
                return error(
                    StatusCode::NOT_FOUND,
                    format!(
                        "step {:?} of build {id} has no log {name:?}; its logs: {}",
                        step.name,
                        std::iter::once(STDIO.to_string())
                            .chain(names)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            }
            Err(e) => return internal(e),
        }
    }
    let store = api.store.clone();
    let pages = futures_util::stream::unfold(Some(0i64), move |next| {
        let store = store.clone();
        let name = name.clone();
        async move {
            let from = next?;
            match store.read_named_log_page(step.id, &name, from).await {
                Ok((chunks, _)) if chunks.is_empty() => None,
                Ok((chunks, after)) => Some((Ok(Bytes::from(chunks.concat())), Some(after))),
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(pages),
    )
        .into_response()
}
