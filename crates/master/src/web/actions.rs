//! What logged-in users may do: force a builder (reason and properties such as
//! `buildout-tag`), stop a running build, rebuild one, cancel a queued request. The forms
//! here and the JSON API share these functions; each form needs the session's CSRF token.

use std::collections::HashMap;

use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use super::auth::form_user;
use super::session::Session;
use super::view::{self, Layout};
use super::{limits, message, store_failed, Web};
use crate::ids::{BuildId, BuildRequestId};
use crate::scheduler::{Event, ForceError};

/// Why an action did not happen, with the HTTP status that says so.
#[derive(Debug)]
pub struct Refusal {
    /// The status.
    pub status: StatusCode,
    /// What went wrong and what to do.
    pub message: String,
    /// Seconds after which trying again may work (`Retry-After`).
    pub retry_after: Option<u64>,
}

fn refusal(status: StatusCode, message: impl ToString) -> Refusal {
    Refusal {
        status,
        message: message.to_string(),
        retry_after: None,
    }
}

/// `Retry-After` of a force refused because the builder's queue is full: about the time a
/// short build takes to free a place.
const QUEUE_FULL_RETRY_AFTER: u64 = 60;

impl Refusal {
    /// `response` with the refusal's `Retry-After`, if it has one.
    pub fn with_retry_after(&self, mut response: Response) -> Response {
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Properties the master sets on every build; a force may not change them.
const RESERVED: &[&str] = &[
    "buildername",
    "workername",
    "buildnumber",
    "reason",
    "owner",
];

/// Queues a build of `builder` for `user`; the `owner` property says who.
pub async fn force(
    web: &Web,
    builder: &str,
    reason: &str,
    mut properties: Map<String, Value>,
    user: &str,
) -> Result<BuildRequestId, Refusal> {
    if let Err(e) = limits::check_force(reason, &properties) {
        return Err(refusal(StatusCode::BAD_REQUEST, e));
    }
    if let Some(reserved) = properties.keys().find(|n| RESERVED.contains(&n.as_str())) {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            format!("property {reserved:?} is set by the master; choose another name"),
        ));
    }
    properties.insert("owner".into(), Value::from(user));
    let reason = if reason.trim().is_empty() {
        format!("forced by {user}")
    } else {
        reason.trim().to_string()
    };
    match crate::master::force(&web.events, builder, &reason, properties).await {
        Ok(id) => Ok(id),
        Err(e @ ForceError::UnknownBuilder(_)) => Err(refusal(StatusCode::NOT_FOUND, e)),
        Err(e @ ForceError::BadProperty(_)) => Err(refusal(StatusCode::BAD_REQUEST, e)),
        Err(e @ ForceError::QueueFull { .. }) => Err(Refusal {
            retry_after: Some(QUEUE_FULL_RETRY_AFTER),
            ..refusal(StatusCode::TOO_MANY_REQUESTS, e)
        }),
        Err(e) => Err(refusal(StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
}

/// Asks the scheduler to stop a running build.
pub async fn stop(web: &Web, build: BuildId, reason: &str) -> Result<(), Refusal> {
    match web.store.build(build).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(refusal(StatusCode::NOT_FOUND, format!("no build {build}"))),
        Err(e) => return Err(refusal(StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
    let (reply, answer) = oneshot::channel();
    let event = Event::StopBuild {
        build,
        reason: reason.to_string(),
        reply,
    };
    if web.events.send(event).is_err() {
        return Err(refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "the master is stopping",
        ));
    }
    match answer.await {
        Ok(true) => Ok(()),
        _ => Err(refusal(
            StatusCode::CONFLICT,
            format!("build {build} is not running"),
        )),
    }
}

/// Queues the build request of `build` again: same builder, same forced properties.
pub async fn rebuild(web: &Web, build: BuildId, user: &str) -> Result<BuildRequestId, Refusal> {
    let internal = |e: crate::StoreError| refusal(StatusCode::INTERNAL_SERVER_ERROR, e);
    let Some(record) = web.store.build(build).await.map_err(internal)? else {
        return Err(refusal(StatusCode::NOT_FOUND, format!("no build {build}")));
    };
    let request = web
        .store
        .build_request(record.request_id)
        .await
        .map_err(internal)?;
    let mut properties = request.map(|r| r.properties).unwrap_or_default();
    properties.remove("owner");
    let reason = format!("rebuild of build {build} by {user}");
    force(web, &record.builder, &reason, properties, user).await
}

/// Cancels a queued build request.
pub async fn cancel(web: &Web, request: BuildRequestId) -> Result<(), Refusal> {
    match web.store.build_request(request).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(refusal(
                StatusCode::NOT_FOUND,
                format!("no build request {request}"),
            ))
        }
        Err(e) => return Err(refusal(StatusCode::INTERNAL_SERVER_ERROR, e)),
    }
    let (reply, answer) = oneshot::channel();
    if web
        .events
        .send(Event::CancelRequest { request, reply })
        .is_err()
    {
        return Err(refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "the master is stopping",
        ));
    }
    match answer.await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(refusal(
            StatusCode::CONFLICT,
            format!("build request {request} is not queued (it runs or has run)"),
        )),
        Ok(Err(e)) => Err(refusal(StatusCode::INTERNAL_SERVER_ERROR, e)),
        Err(_) => Err(refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "the master is stopping",
        )),
    }
}

fn see_other(to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    response
}

fn refused_page(web: &Web, session: &Session, r: Refusal) -> Response {
    let page = message(
        r.status,
        Layout::new(web, session, "/"),
        "Not done",
        &r.message,
    );
    r.with_retry_after(page)
}

/// The page refusing a form too large to read (see [`limits::MAX_BODY`]).
fn form_too_large(web: &Web, session: &Session) -> Response {
    let text = limits::body_too_large();
    refused_page(web, session, refusal(StatusCode::PAYLOAD_TOO_LARGE, text))
}

/// `POST /builders/{name}/force`: fields `csrf`, `reason`, and properties (`buildout-tag`,
/// any other non-empty field); then to the build request's page.
pub async fn force_form(
    web: &Web,
    session: &Session,
    name: &str,
    mut fields: HashMap<String, String>,
) -> Response {
    let here = format!("/builders/{}", view::url_segment(name));
    let csrf = fields.remove("csrf").unwrap_or_default();
    let user = match form_user(web, session, &csrf, &here) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let reason = fields.remove("reason").unwrap_or_default();
    let properties: Map<String, Value> = fields
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k, Value::from(v.trim())))
        .collect();
    match force(web, name, &reason, properties, &user).await {
        Ok(id) => see_other(&format!("/buildrequests/{id}")),
        Err(r) => refused_page(web, session, r),
    }
}

/// Route of [`force_form`].
pub async fn force_route(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    fields: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let fields = match fields {
        Ok(Form(fields)) => fields,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return form_too_large(&web, &session)
        }
        Err(_) => HashMap::new(),
    };
    force_form(&web, &session, &name, fields).await
}

/// A form with only its CSRF token.
#[derive(serde::Deserialize, Default)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// The logged-in user posting a form that holds only its CSRF token; otherwise the refusal
/// page, whose login link leads back to the page the form was on (the action's path without
/// its last segment: `/builds/7/stop` was on `/builds/7`).
pub struct FormUser(String);

impl FromRequest<Web> for FormUser {
    type Rejection = Response;

    async fn from_request(request: Request, web: &Web) -> Result<Self, Response> {
        let session = request
            .extensions()
            .get::<Session>()
            .cloned()
            .ok_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())?;
        let path = request.uri().path();
        let here = path
            .rsplit_once('/')
            .map_or(path, |(page, _)| page)
            .to_string();
        let form = match Form::<CsrfOnly>::from_request(request, web).await {
            Ok(Form(form)) => form,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(form_too_large(web, &session))
            }
            Err(_) => CsrfOnly::default(),
        };
        form_user(web, &session, &form.csrf, &here).map(FormUser)
    }
}

/// `POST /builds/{id}/stop`.
pub async fn stop_route(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
    FormUser(user): FormUser,
) -> Response {
    match stop(&web, BuildId(id), &format!("stopped by {user}")).await {
        Ok(()) => see_other(&format!("/builds/{id}")),
        Err(r) => refused_page(&web, &session, r),
    }
}

/// `POST /builds/{id}/rebuild`.
pub async fn rebuild_route(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
    FormUser(user): FormUser,
) -> Response {
    match rebuild(&web, BuildId(id), &user).await {
        Ok(request) => see_other(&format!("/buildrequests/{request}")),
        Err(r) => refused_page(&web, &session, r),
    }
}

/// `POST /buildrequests/{id}/cancel`.
pub async fn cancel_route(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
    _: FormUser,
) -> Response {
    match cancel(&web, BuildRequestId(id)).await {
        Ok(()) => see_other(&format!("/buildrequests/{id}")),
        Err(r) => refused_page(&web, &session, r),
    }
}

/// `GET /buildrequests/{id}`: to its latest build once it has one; otherwise a page that
/// says it is queued (reloading itself) or how it ended.
pub async fn request_page(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
) -> Response {
    let here = format!("/buildrequests/{id}");
    let layout = Layout::new(&web, &session, &here);
    let request = match web.store.build_request(BuildRequestId(id)).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                layout,
                "No such build request",
                &format!("There is no build request {id}."),
            )
        }
        Err(e) => return store_failed(layout, e),
    };
    match web.store.builds_of_request(request.id).await {
        Ok(builds) => {
            if let Some(last) = builds.last() {
                return see_other(&format!("/builds/{}", last.id));
            }
        }
        Err(e) => return store_failed(layout, e),
    }
    let page = super::view::RequestPage {
        layout,
        id,
        builder: request.builder,
        reason: request.reason,
        submitted: view::time(request.submitted_at),
        queued: request.complete_at.is_none(),
        result: view::result_name(request.result, request.complete_at.is_some()),
    };
    super::render(&page)
}
