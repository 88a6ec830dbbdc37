//! The JSON API under `/api/`: everything the pages show, and the actions (which need HTTP
//! Basic with a `[users]` account or the master's bearer token). Documented in
//! `openapi.json` beside this file, served at `/api/openapi.json`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::actions::{self, Refusal};
use super::auth::api_user;
use super::paging::{self, url, with_next};
use super::{build, grid, limits, logs, workers, Web};
use crate::ids::{BuildId, BuildRequestId};
use crate::store::watch::ChangeRow;
use crate::store::{BuildRecord, StepRecord, STDIO};

/// The API's routes.
pub fn router() -> Router<Web> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/grid", get(grid_json))
        .route("/api/builders", get(builders))
        .route("/api/builders/{name}", get(builder))
        .route("/api/builders/{name}/force", post(force))
        .route("/api/buildrequests", get(build_requests))
        .route("/api/buildrequests/{id}", get(build_request))
        .route("/api/buildrequests/{id}/cancel", post(cancel))
        .route("/api/builds", get(builds))
        .route("/api/builds/{id}", get(build_detail))
        .route("/api/builds/{id}/stop", post(stop))
        .route("/api/builds/{id}/rebuild", post(rebuild))
        .route("/api/builds/{id}/steps/{step}/log", get(log))
        .route("/api/builds/{id}/steps/{step}/logs", get(log_names))
        .route("/api/builds/{id}/steps/{step}/logs/{name}", get(named_log))
        .route("/api/workers", get(workers_json))
}

fn error(status: StatusCode, message: impl ToString) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

fn internal(e: impl ToString) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, e)
}

fn refused(r: Refusal) -> Response {
    r.with_retry_after(error(r.status, &r.message))
}

/// The user an API action acts as (see [`api_user`]); a 401 answer when there is none.
struct ApiUser(String);

impl FromRequestParts<Web> for ApiUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Response> {
        api_user(web, &parts.headers).await.map(ApiUser)
    }
}

/// A JSON body, or the empty object for an empty body; a 400 answer when it is not JSON.
struct JsonBody<T>(T);

impl<T: serde::de::DeserializeOwned + Default> FromRequest<Web> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(request: Request, web: &Web) -> Result<Self, Response> {
        let bytes = Bytes::from_request(request, web).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                error(e.status(), limits::body_too_large())
            } else {
                error(e.status(), e.body_text())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| error(StatusCode::BAD_REQUEST, format!("bad JSON body: {e}")))
    }
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

#[derive(Deserialize)]
struct GridQuery {
    category: Option<String>,
}

async fn grid_json(State(web): State<Web>, Query(q): Query<GridQuery>) -> Response {
    match grid::grid(&web, q.category.as_deref().filter(|c| !c.is_empty())).await {
        Ok(g) => Json(g).into_response(),
        Err(e) => internal(e),
    }
}

fn builder_json(b: &oebb_config::Builder, last: Option<&crate::store::BuildRecord>) -> Value {
    json!({
        "name": b.name.as_str(),
        "buildout": b.buildout,
        "category": b.category,
        "column": grid::column_of(b),
        "workers": b.workers.iter().map(|w| w.as_str()).collect::<Vec<_>>(),
        "last_build": last,
    })
}

/// Paging by name: the items after the one named `after`.
#[derive(Deserialize)]
struct AfterNameQuery {
    after: Option<String>,
    limit: Option<i64>,
}

/// The configured builders (in the configuration's order), a page at a time.
async fn builders(State(web): State<Web>, Query(q): Query<AfterNameQuery>) -> Response {
    let config = web.config();
    let all = &config.matrix.builders;
    let start = match &q.after {
        None => 0,
        Some(name) => match all.iter().position(|b| b.name.as_str() == name) {
            Some(at) => at + 1,
            None => {
                let message = format!("no builder named {name:?} to page after");
                return error(StatusCode::BAD_REQUEST, message);
            }
        },
    };
    let limit = paging::limit(q.limit);
    let rest = &all[start.min(all.len())..];
    let (page, more) = paging::cut(rest.iter().collect(), limit);
    let names: Vec<&str> = page.iter().map(|b| b.name.as_str()).collect();
    let last = match web.store.last_builds(&names).await {
        Ok(l) => l,
        Err(e) => return internal(e),
    };
    let list: Vec<Value> = page
        .iter()
        .map(|b| builder_json(b, last.iter().find(|l| l.builder == b.name.as_str())))
        .collect();
    let next = more.then(|| {
        let after = names.last().map(|n| n.to_string());
        url(
            "/api/builders",
            &[("after", after), ("limit", Some(limit.to_string()))],
        )
    });
    with_next(Json(list).into_response(), next)
}

async fn builder(State(web): State<Web>, Path(name): Path<String>) -> Response {
    let config = web.config();
    let Some(b) = config.matrix.builder(&name) else {
        return error(StatusCode::NOT_FOUND, format!("no builder named {name:?}"));
    };
    let (builds, queued, queued_count) = match tokio::try_join!(
        web.store.builds_before(Some(&name), None, 50),
        web.store
            .queued_requests(Some(&name), None, paging::DEFAULT_LIMIT),
        web.store.queued_count(Some(&name)),
    ) {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let mut answer = builder_json(b, builds.first());
    answer["builds"] = json!(builds);
    answer["queued"] = json!(queued);
    answer["queued_count"] = json!(queued_count);
    answer["max_queued"] = json!(config.settings.max_queued_requests);
    Json(answer).into_response()
}

#[derive(Deserialize, Default)]
struct ForceBody {
    reason: Option<String>,
    #[serde(default)]
    properties: Map<String, Value>,
}

async fn force(
    State(web): State<Web>,
    Path(name): Path<String>,
    ApiUser(user): ApiUser,
    JsonBody(body): JsonBody<ForceBody>,
) -> Response {
    let reason = body.reason.unwrap_or_else(|| "forced".to_string());
    match actions::force(&web, &name, &reason, body.properties, &user).await {
        Ok(id) => (StatusCode::CREATED, Json(json!({ "request": id }))).into_response(),
        Err(r) => refused(r),
    }
}

#[derive(Deserialize)]
struct RequestsQuery {
    builder: Option<String>,
    after: Option<i64>,
    limit: Option<i64>,
}

/// Queued requests, oldest first, a page at a time.
async fn build_requests(State(web): State<Web>, Query(q): Query<RequestsQuery>) -> Response {
    let limit = paging::limit(q.limit);
    let builder = q.builder.as_deref().filter(|b| !b.is_empty());
    let rows = web.store.queued_requests(
        builder,
        q.after.map(BuildRequestId),
        paging::rows_to_read(limit),
    );
    match rows.await {
        Ok(rows) => paging::json_page(
            paging::cut(rows, limit),
            limit,
            "/api/buildrequests",
            &[("builder", builder.map(str::to_string))],
            "after",
            |last| last.id.0.to_string(),
        ),
        Err(e) => internal(e),
    }
}

async fn build_request(State(web): State<Web>, Path(id): Path<i64>) -> Response {
    let id = BuildRequestId(id);
    let request = match web.store.build_request(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no build request {id}")),
        Err(e) => return internal(e),
    };
    match web.store.builds_of_request(id).await {
        Ok(builds) => Json(json!({ "request": request, "builds": builds })).into_response(),
        Err(e) => internal(e),
    }
}

async fn cancel(State(web): State<Web>, Path(id): Path<i64>, _: ApiUser) -> Response {
    match actions::cancel(&web, BuildRequestId(id)).await {
        Ok(()) => Json(json!({ "cancelled": id })).into_response(),
        Err(r) => refused(r),
    }
}

#[derive(Deserialize)]
struct BuildsQuery {
    builder: Option<String>,
    limit: Option<i64>,
    before: Option<i64>,
}

/// Builds, newest first, a page at a time.
async fn builds(State(web): State<Web>, Query(q): Query<BuildsQuery>) -> Response {
    let limit = paging::limit(q.limit);
    let builder = q.builder.as_deref().filter(|b| !b.is_empty());
    let loaded = async {
        let rows = web
            .store
            .builds_before(builder, q.before.map(BuildId), paging::rows_to_read(limit))
            .await?;
        let (page, more) = paging::cut(rows, limit);
        let requests: Vec<_> = page.iter().map(|b| b.request_id).collect();
        let tested = web.store.changes_tested(&requests).await?;
        Ok::<_, crate::StoreError>((page, more, tested))
    };
    match loaded.await {
        Ok((page, more, mut tested)) => {
            let items: Vec<BuildWithChanges> = page
                .into_iter()
                .map(|build| BuildWithChanges {
                    changes: tested.remove(&build.request_id).unwrap_or_default(),
                    build,
                })
                .collect();
            paging::json_page(
                (items, more),
                limit,
                "/api/builds",
                &[("builder", builder.map(str::to_string))],
                "before",
                |last| last.build.id.0.to_string(),
            )
        }
        Err(e) => internal(e),
    }
}

/// An item of `/api/builds`: the build's fields and the changes it tested.
#[derive(Serialize)]
struct BuildWithChanges {
    #[serde(flatten)]
    build: BuildRecord,
    changes: Vec<ChangeRow>,
}

async fn build_detail(State(web): State<Web>, Path(id): Path<i64>) -> Response {
    let id = BuildId(id);
    let b = match web.store.build(id).await {
        Ok(Some(b)) => b,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no build {id}")),
        Err(e) => return internal(e),
    };
    let loaded = async {
        let request = web.store.build_request(b.request_id).await?;
        let steps = web.store.steps(id).await?;
        let properties = web.store.build_properties(id).await?;
        let changes = web.store.changes_of_requests(&[b.request_id]).await?;
        let tested = web.store.changes_tested(&[b.request_id]).await?;
        Ok::<_, crate::StoreError>((request, steps, properties, changes, tested))
    };
    let (request, steps, properties, changes, mut tested) = match loaded.await {
        Ok(l) => l,
        Err(e) => return internal(e),
    };
    let findings = match build::build_findings(&web.store, id, &properties, &steps).await {
        Ok(f) => f,
        Err(e) => return internal(e),
    };
    Json(json!({
        "build": b,
        "request": request,
        "change": changes.get(&b.request_id),
        "changes": tested.remove(&b.request_id).unwrap_or_default(),
        "steps": steps,
        "properties": properties,
        "findings": findings,
    }))
    .into_response()
}

#[derive(Deserialize, Default)]
struct StopBody {
    reason: Option<String>,
}

async fn stop(
    State(web): State<Web>,
    Path(id): Path<i64>,
    ApiUser(user): ApiUser,
    JsonBody(body): JsonBody<StopBody>,
) -> Response {
    let reason = body
        .reason
        .unwrap_or_else(|| format!("stopped through the API by {user}"));
    match actions::stop(&web, BuildId(id), &reason).await {
        Ok(()) => Json(json!({ "stopped": id })).into_response(),
        Err(r) => refused(r),
    }
}

async fn rebuild(State(web): State<Web>, Path(id): Path<i64>, ApiUser(user): ApiUser) -> Response {
    match actions::rebuild(&web, BuildId(id), &user).await {
        Ok(request) => (StatusCode::CREATED, Json(json!({ "request": request }))).into_response(),
        Err(r) => refused(r),
    }
}

#[derive(Deserialize)]
struct LogQuery {
    offset: Option<i64>,
    limit: Option<i64>,
}

/// The whole log streamed, or with `offset`/`limit` one byte range of it; `X-Log-Size` gives
/// the log's size so far.
async fn log(
    State(web): State<Web>,
    Path((id, step)): Path<(i64, String)>,
    Query(q): Query<LogQuery>,
) -> Response {
    let step = match web.store.find_step(BuildId(id), &step).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("build {id} has no step {step:?}"),
            )
        }
        Err(e) => return internal(e),
    };
    if q.offset.is_none() && q.limit.is_none() {
        return logs::stream_log(web.store.clone(), step.id, STDIO.to_string());
    }
    let offset = q.offset.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(1 << 20).clamp(1, 16 << 20);
    match logs::byte_range(&web.store, step.id, offset, limit).await {
        Ok((text, size)) => (
            [
                (
                    header::CONTENT_TYPE,
                    "text/plain; charset=utf-8".to_string(),
                ),
                (
                    header::HeaderName::from_static("x-log-size"),
                    size.to_string(),
                ),
            ],
            text,
        )
            .into_response(),
        Err(e) => internal(e),
    }
}

/// The step `step` of build `id`, or the 404 answer naming what is missing.
async fn find_step(web: &Web, id: i64, step: &str) -> Result<StepRecord, Response> {
    match web.store.find_step(BuildId(id), step).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(error(
            StatusCode::NOT_FOUND,
            format!("build {id} has no step {step:?}"),
        )),
        Err(e) => Err(internal(e)),
    }
}

/// A step's log names: `stdio` first, then the files it kept as logs.
async fn log_names(State(web): State<Web>, Path((id, step)): Path<(i64, String)>) -> Response {
    let step = match find_step(&web, id, &step).await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    match web.store.log_names(step.id).await {
        Ok(names) => {
            let all: Vec<String> = std::iter::once(STDIO.to_string()).chain(names).collect();
            Json(json!({ "logs": all })).into_response()
        }
        Err(e) => internal(e),
    }
}

/// One of a step's logs, streamed page by page.
async fn named_log(
    State(web): State<Web>,
    Path((id, step, name)): Path<(i64, String, String)>,
) -> Response {
    let step = match find_step(&web, id, &step).await {
        Ok(s) => s,
        Err(answer) => return answer,
    };
    if name != STDIO {
        match web.store.log_names(step.id).await {
            Ok(names) if names.contains(&name) => {}
            Ok(names) => {
                let all: Vec<String> = std::iter::once(STDIO.to_string()).chain(names).collect();
                return error(
                    StatusCode::NOT_FOUND,
                    format!(
                        "step {:?} of build {id} has no log {name:?}; its logs: {}",
                        step.name,
                        all.join(", ")
                    ),
                );
            }
            Err(e) => return internal(e),
        }
    }
    logs::stream_log(web.store.clone(), step.id, name)
}

/// Workers by name, a page at a time.
async fn workers_json(State(web): State<Web>, Query(q): Query<AfterNameQuery>) -> Response {
    let limit = paging::limit(q.limit);
    let after = q.after.unwrap_or_default();
    match workers::workers(&web, &after, limit).await {
        Ok(page) => paging::json_page(page, limit, "/api/workers", &[], "after", |last| {
            last.name.clone()
        }),
        Err(e) => internal(e),
    }
}
