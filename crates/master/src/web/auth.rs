//! Login and who may act: web users of `[users]` (argon2 hashes) log in with a form and get a
//! session; forms carry the session's CSRF token; the API takes HTTP Basic with a user's
//! password or the master's bearer token.

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use std::time::{Duration, Instant};

use super::session::Session;
use super::view::Layout;
use super::{message, render, Web};

/// Checked for unknown users: an argon2 hash (default parameters) no password matches in
/// practice.
const UNKNOWN_USER_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$dW5rbm93bi11c2Vy$k5gVZ0mYyQxh4hJq5M1fJ0sWkG0rQ2c7mV4nZ8t1a3E";

/// The user name the API token acts as.
pub const TOKEN_USER: &str = "api-token";

/// What a login attempt gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The user's password.
    Right,
    /// Not the password, or no such user.
    Wrong,
    /// Too many wrong passwords for this name in a row: retry after this long; the password was
    /// not checked.
    TooSoon(Duration),
}

/// Checks `password` for web user `user`, throttled per name (see [`super::throttle`]); the hash
/// check runs off the async threads (argon2 is slow on purpose).
pub async fn check_password(web: &Web, user: &str, password: &str) -> PasswordCheck {
    if let Err(wait) = web.login_throttle.check(user, Instant::now()) {
        return PasswordCheck::TooSoon(wait);
    }
    let known = web
        .config
        .settings
        .users
        .iter()
        .find(|u| u.name == user)
        .map(|u| u.password.clone());
    // An unknown user costs a hash check too, so the answer's time does not tell whether a
    // user exists.
    let hash = known
        .clone()
        .unwrap_or_else(|| UNKNOWN_USER_HASH.to_string());
    let password = password.to_string();
    let matches = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false);
    if matches && known.is_some() {
        web.login_throttle.succeeded(user);
        PasswordCheck::Right
    } else {
        web.login_throttle.failed(user, Instant::now());
        PasswordCheck::Wrong
    }
}

/// The `Retry-After` value of a wait: whole seconds, rounded up.
fn retry_after(wait: Duration) -> String {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).to_string()
}

/// `response` as a 429 that says when to try again.
fn try_again_after(mut response: Response, wait: Duration) -> Response {
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
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
        let expected = web.api_token.as_bytes();
        let given = token.trim().as_bytes();
        let same = expected.len() == given.len()
            && expected
                .iter()
                .zip(given)
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                == 0;
        return if same {
            Ok(TOKEN_USER.to_string())
        } else {
            Err(refused("wrong bearer token"))
        };
    }
    if let Some(encoded) = value.strip_prefix("Basic ") {
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok());
        if let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
            match check_password(web, user, password).await {
                PasswordCheck::Right => return Ok(user.to_string()),
                PasswordCheck::Wrong => {}
                PasswordCheck::TooSoon(wait) => {
                    let why = format!(
                        "too many wrong passwords for {user}: retry in {} s",
                        retry_after(wait)
                    );
                    return Err(try_again_after(refused(&why), wait));
                }
            }
        }
        return Err(refused("wrong user or password"));
    }
    Err(refused(
        "unsupported Authorization scheme: use Basic or Bearer",
    ))
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
    let (status, error, wait) = match check_password(&web, &form.user, &form.password).await {
        PasswordCheck::Right => (StatusCode::OK, String::new(), None),
        PasswordCheck::Wrong => (
            StatusCode::UNAUTHORIZED,
            "Wrong user or password.".to_string(),
            None,
        ),
        PasswordCheck::TooSoon(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many wrong passwords for this user: try again in {} s.",
                retry_after(wait)
            ),
            Some(wait),
        ),
    };
    if status != StatusCode::OK {
        tracing::warn!(user = %form.user, %status, "web login refused");
        let page = LoginPage {
            layout,
            next,
            error: Some(error),
        };
        let mut response = render(&page);
        *response.status_mut() = status;
        return match wait {
            Some(wait) => try_again_after(response, wait),
            None => response,
        };
    }
    tracing::info!(user = %form.user, "web login");
    let fresh = Session::new(Some(form.user));
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

/// `POST /logout`: an anonymous session replaces the user's.
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
    let mut response = Redirect::to("/").into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    response.headers_mut().append(
        header::SET_COOKIE,
        Session::new(None).set_cookie(&web.session_key),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unknown_user_hash_is_checked_like_a_real_one() {
        let parsed = PasswordHash::new(UNKNOWN_USER_HASH).expect("a valid PHC string");
        assert!(Argon2::default().verify_password(b"", &parsed).is_err());
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/builds/3")), "/builds/3");
    }
}
