//! Login and who may act: web users of `[users]` (argon2 hashes) log in with a form and get a
//! stored session; forms carry the session's CSRF token; the API takes HTTP Basic with a
//! user's password or the master's bearer token. Passwords are checked by
//! [`super::passwords`], at a bounded cost.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use oebb_protocol::parse_basic_authorization;
use serde::Deserialize;
use std::time::Duration;
use subtle::ConstantTimeEq;

pub use super::passwords::PasswordCheck;
use super::session::{self, Session};
use super::view::Layout;
use super::{message, render, store_failed, Web};

/// The user name the API token acts as.
pub const TOKEN_USER: &str = "api-token";

/// How long an attempt refused because too many wait should wait ([`PasswordCheck::Busy`]).
const BUSY_WAIT: Duration = Duration::from_secs(1);

/// Checks `password` for web user `user` (see [`super::passwords::Passwords::check`]).
pub async fn check_password(web: &Web, user: &str, password: &str) -> PasswordCheck {
    web.passwords.check(user, password).await
}

/// A user name as the log shows it: escaped (no newline or terminal escape gets through) and
/// cut after 64 characters, since anyone may send any name.
fn shown(user: &str) -> String {
    let mut text: String = user.chars().take(64).flat_map(char::escape_debug).collect();
    if user.chars().nth(64).is_some() {
        text.push('…');
    }
    text
}

/// The `Retry-After` value of a wait: whole seconds, rounded up.
fn retry_after(wait: Duration) -> String {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).to_string()
}

/// `response` with `status` (429, 503), saying when to try again.
fn try_again_after(mut response: Response, status: StatusCode, wait: Duration) -> Response {
    *response.status_mut() = status;
    let seconds = retry_after(wait)
        .parse()
        .expect("digits make a header value");
    response.headers_mut().insert(header::RETRY_AFTER, seconds);
    response
}

/// The user a form acts as: logged in, with the session's CSRF token; else a 403 page.
pub fn form_user(web: &Web, session: &Session, csrf: &str, here: &str) -> Result<String, Response> {
    let layout = Layout::new(web, session, here);
    if !session.csrf_matches(csrf) {
        return Err(message(
            StatusCode::FORBIDDEN,
            layout,
            "Refused",
            "The form's CSRF token is missing or wrong; reload the page and try again.",
        ));
    }
    match &session.user {
        Some(user) => Ok(user.clone()),
        None => Err(message(
            StatusCode::FORBIDDEN,
            layout,
            "Log in first",
            "Only logged-in users may do this; use the log in link above.",
        )),
    }
}

/// The user an API call acts as: `Authorization: Bearer TOKEN` (the master's token) or
/// `Basic` with a web user's password; else a 401 JSON answer.
pub async fn api_user(web: &Web, headers: &HeaderMap) -> Result<String, Response> {
    let refused = |why: &str| {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"oebb\"")],
            axum::Json(serde_json::json!({ "error": why })),
        )
            .into_response()
    };
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(refused(
            "this action needs HTTP Basic with a [users] account of oebb.cfg, or the bearer \
             token of DIR/.oebb-api-token",
        ));
    };
    if let Some(token) = value.strip_prefix("Bearer ") {
        let same: bool = web
            .api_token
            .as_bytes()
            .ct_eq(token.trim().as_bytes())
            .into();
        return if same {
            Ok(TOKEN_USER.to_string())
        } else {
            Err(refused("wrong bearer token"))
        };
    }
    let credentials = match parse_basic_authorization(Some(value.as_bytes())) {
        Ok(c) => c,
        Err(e) => {
            let why = format!("{e}: use Basic with a [users] account, or Bearer");
            return Err(refused(&why));
        }
    };
    let user = credentials.name.as_str();
    match check_password(web, user, &credentials.password).await {
        PasswordCheck::Right => Ok(user.to_string()),
        PasswordCheck::Wrong => Err(refused("wrong user or password")),
        PasswordCheck::TooSoon(wait) => {
            let why = format!(
                "too many wrong passwords for {user:?}: retry in {} s",
                retry_after(wait)
            );
            let status = StatusCode::TOO_MANY_REQUESTS;
            Err(try_again_after(refused(&why), status, wait))
        }
        PasswordCheck::Busy => {
            let why = "too many logins are being checked: retry in a second";
            let status = StatusCode::SERVICE_UNAVAILABLE;
            Err(try_again_after(refused(why), status, BUSY_WAIT))
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    next: String,
    error: Option<String>,
}

/// Where to go after logging in.
#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only paths of this site, so the login cannot send anybody elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.into(),
        _ => "/".into(),
    }
}

/// `GET /login`.
pub async fn login_page(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Query(q): Query<NextQuery>,
) -> Response {
    let page = LoginPage {
        layout: Layout::new(&web, &session, "/"),
        next: safe_next(q.next.as_deref()),
        error: None,
    };
    render(&page)
}

/// The login form.
#[derive(Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

/// `POST /login`: a new session for the user, then back to where they were.
pub async fn login(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let layout = Layout::new(&web, &session, "/");
    if !session.csrf_matches(&form.csrf) {
        return message(
            StatusCode::FORBIDDEN,
            layout,
            "Refused",
            "The form's CSRF token is missing or wrong; reload the login page and try again.",
        );
    }
    let next = safe_next(form.next.as_deref());
    let refusal = match check_password(&web, &form.user, &form.password).await {
        PasswordCheck::Right => None,
        PasswordCheck::Wrong => Some((
            StatusCode::UNAUTHORIZED,
            "Wrong user or password.".to_string(),
            None,
        )),
        PasswordCheck::TooSoon(wait) => Some((
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many wrong passwords for this user: try again in {} s.",
                retry_after(wait)
            ),
            Some(wait),
        )),
        PasswordCheck::Busy => Some((
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many logins are being checked right now: try again in a second.".to_string(),
            Some(BUSY_WAIT),
        )),
    };
    if let Some((status, error, wait)) = refusal {
        tracing::warn!(user = %shown(&form.user), %status, "web login refused");
        let page = LoginPage {
            layout,
            next,
            error: Some(error),
        };
        let mut response = render(&page);
        *response.status_mut() = status;
        return match wait {
            Some(wait) => try_again_after(response, status, wait),
            None => response,
        };
    }
    let fresh = match session::log_in(&web, &form.user).await {
        Ok(fresh) => fresh,
        Err(e) => return store_failed(layout, e),
    };
    tracing::info!(user = %shown(&form.user), "web login");
    let mut response = Redirect::to(&next).into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    response
        .headers_mut()
        .append(header::SET_COOKIE, fresh.set_cookie(&web.session_key));
    response
}

/// The logout form.
#[derive(Deserialize, Default)]
pub struct CsrfForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
}

/// `POST /logout`: ends the user's stored session; an anonymous one replaces it.
pub async fn logout(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    if !session.csrf_matches(&form.csrf) {
        let layout = Layout::new(&web, &session, "/");
        return message(
            StatusCode::FORBIDDEN,
            layout,
            "Refused",
            "Wrong CSRF token.",
        );
    }
    if let Err(e) = session::log_out(&web, &session).await {
        return store_failed(Layout::new(&web, &session, "/"), e);
    }
    let mut response = Redirect::to("/").into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    response.headers_mut().append(
        header::SET_COOKIE,
        Session::anonymous().set_cookie(&web.session_key),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_the_log_are_escaped_and_short() {
        assert_eq!(shown("alice"), "alice");
        assert_eq!(shown("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        let long = shown(&"x".repeat(10_000));
        assert_eq!(long, format!("{}…", "x".repeat(64)));
    }

    #[test]
    fn the_login_sends_only_to_this_site() {
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/builds/3")), "/builds/3");
    }
}
