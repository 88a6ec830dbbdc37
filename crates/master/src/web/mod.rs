//! The web side of the master: server-rendered pages (askama templates, autoescaped), live
//! logs over Server-Sent Events, login with sessions kept in the store, the JSON API, metrics
//! and badges. Routes, element ids and attributes the browser tests rely on are listed in
//! `README.md` beside this file.
//!
//! ```text
//! request ─▶ session::layer (cookie → Session) ─▶ page / api handler ─▶ Store (web_queries)
//!                                                       │ actions ─▶ scheduler events
//!                                  live.rs ◀── Store::live() (runner's log chunks, results)
//! ```

// Handlers return early with a ready `Response` (a refusal page, a 404); boxing it in every
// `Err` would only add noise.
#![allow(clippy::result_large_err)]

pub mod about;
pub mod actions;
pub mod api;
pub mod auth;
pub mod badges;
pub mod build;
pub mod builder;
pub mod grid;
pub mod limits;
pub mod live;
pub mod log_file;
pub mod logs;
pub mod mail;
pub mod metrics;
pub mod paging;
pub mod passwords;
pub mod secrets;
pub mod session;
pub mod throttle;
pub mod view;
pub mod watch;
pub mod waterfall;
pub mod workers;

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use oebb_config::MasterConfig;
use tokio::sync::mpsc;

use crate::configuration::CurrentConfig;
use crate::reconfig::Reconfig;
use crate::scheduler::Event;
use crate::store::Store;

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct Web {
    /// The master's store.
    pub store: Store,
    /// The scheduler's events (force, stop, cancel).
    pub events: mpsc::UnboundedSender<Event>,
    /// The running configuration (builders, workers, users, title): read it with
    /// [`Web::config`], once per request, as a reconfig may replace it.
    pub current: CurrentConfig,
    /// Signs session cookies.
    pub session_key: Arc<[u8]>,
    /// Bearer token of the API for the master's own machine.
    pub api_token: Arc<str>,
    /// The web users' passwords, checked at a bounded cost and throttled per name.
    pub passwords: Arc<passwords::Passwords>,
    /// Reconfigs of the master (`POST /api/reconfig`).
    pub reconfig: Reconfig,
    /// The pollers' board and the push hooks' secret (none: the master watches nothing).
    pub watch: Option<crate::watch::WatchHandle>,
}

impl Web {
    /// The web state of a master: reads (or makes) the session key and the API token in the
    /// master directory.
    pub fn new(
        store: Store,
        events: mpsc::UnboundedSender<Event>,
        current: CurrentConfig,
        reconfig: Reconfig,
    ) -> std::io::Result<Web> {
        let config = current.get().config.clone();
        let key = secrets::load_or_create(&config.dir, secrets::SESSION_KEY_FILE)?;
        let token = secrets::load_or_create(&config.dir, secrets::API_TOKEN_FILE)?;
        Ok(Web {
            store,
            events,
            current,
            reconfig,
            session_key: Arc::from(key.into_bytes()),
            api_token: Arc::from(token),
            passwords: Arc::new(passwords::Passwords::new(&config.settings.users)),
            watch: None,
        })
    }

    /// The running configuration.
    pub fn config(&self) -> Arc<MasterConfig> {
        self.current.get().config.clone()
    }
}

/// Every route of the web address.
pub fn router(web: Web) -> Router {
    let pages = Router::new()
        .route("/", get(grid::page))
        .route("/waterfall", get(waterfall::page))
        .route("/builders/{name}", get(builder::page))
        .route("/builders/{name}/force", post(actions::force_route))
        .route("/builds/{id}", get(build::page))
        .route("/builds/{id}/stop", post(actions::stop_route))
        .route("/builds/{id}/rebuild", post(actions::rebuild_route))
        .route("/builds/{id}/stream", get(live::build_stream))
        .route("/builds/{id}/steps/{number}/stream", get(live::step_stream))
        .route("/builds/{id}/steps/{number}/log", get(logs::page))
        .route("/builds/{id}/steps/{number}/log.txt", get(logs::download))
        .route(
            "/builds/{id}/steps/{number}/file",
            get(log_file::fetched_file),
        )
        .route("/buildrequests/{id}", get(actions::request_page))
        .route("/buildrequests/{id}/cancel", post(actions::cancel_route))
        .route("/workers", get(workers::page))
        .route("/changes", get(watch::changes_page))
        .route("/changes/{id}", get(watch::change_page))
        .route("/pollers", get(watch::pollers_page))
        .route("/api/changes", get(watch::api_changes))
        .route("/api/changes/{id}", get(watch::api_change))
        .route("/api/pollers", get(watch::api_pollers))
        .route("/hooks/github", post(watch::github))
        .route("/hooks/gitlab", post(watch::gitlab))
        .route("/hooks/gitea", post(watch::gitea))
        .route("/mail", get(mail::page))
        .route("/api/mail", get(mail::api))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/metrics", get(metrics::metrics))
        .route("/badges/builders/{file}", get(badges::builder))
        .route("/badges/buildouts/{file}", get(badges::buildout))
        .route("/about", get(about::page))
        .route("/api/about", get(about::json))
        .route("/api/reconfig", post(about::reconfig))
        .route("/static/live.js", get(live_script))
        .route("/static/style.css", get(style_sheet))
        .fallback(not_found);
    pages
        .merge(api::router())
        // Every body the handlers read (forms, API JSON) stops at this size: a 413.
        .layer(axum::extract::DefaultBodyLimit::max(limits::MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            web.clone(),
            session::layer,
        ))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(web)
}

/// What the pages load: their own script and style sheet, the badges, and the live logs
/// (EventSource); no inline script, style or handler, no frame, forms posted here only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

/// Headers of every response: no MIME sniffing (a log served as text stays text), the
/// policy above, no framing (clickjacking of the force and stop buttons), and no page
/// address sent to other sites.
async fn security_headers(mut response: Response) -> Response {
    use axum::http::HeaderValue;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

async fn not_found(
    axum::extract::State(web): axum::extract::State<Web>,
    axum::Extension(session): axum::Extension<session::Session>,
    uri: axum::http::Uri,
) -> Response {
    if uri.path().starts_with("/api/") {
        let error = format!("no route {}; see /api/openapi.json", uri.path());
        return (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({ "error": error })),
        )
            .into_response();
    }
    let layout = view::Layout::new(&web, &session, "/");
    message(
        StatusCode::NOT_FOUND,
        layout,
        "Not found",
        &format!(
            "There is no page {}; the grid links to everything.",
            uri.path()
        ),
    )
}

async fn live_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("static/live.js"),
    )
        .into_response()
}

async fn style_sheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("static/style.css"),
    )
        .into_response()
}

/// A rendered template as a page, or a 500 saying why not.
pub fn render(template: &impl askama::Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!("rendering a page failed: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot render the page: {e}"),
            )
                .into_response()
        }
    }
}

/// A short page with a status, a title and a message (escaped).
pub fn message(status: StatusCode, layout: view::Layout, title: &str, text: &str) -> Response {
    let page = view::MessagePage {
        layout,
        heading: title.to_string(),
        text: text.to_string(),
    };
    let mut response = render(&page);
    *response.status_mut() = status;
    response
}

/// A store failure as a page.
pub fn store_failed(layout: view::Layout, e: impl std::fmt::Display) -> Response {
    tracing::error!("web: store failed: {e}");
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        layout,
        "The store failed",
        &e.to_string(),
    )
}
