//! Sessions: who is logged in and the session's CSRF token.
//!
//! - A logged-in session is a row of the store (`web_sessions`), found by the random 256-bit
//!   id its cookie carries: logging out deletes the row, and a row whose user is no longer in
//!   `[users]`, or whose password hash changed since the login, is refused (and deleted). The
//!   id is not signed: 256 random bits cannot be guessed, and the row, not the cookie, says
//!   who it is; the store keeps only the id's SHA-256.
//! - An anonymous visitor (who needs a CSRF token for the login form) gets a cookie signed
//!   with HMAC-SHA256 under the master's key holding just that token and its expiry, and no
//!   row: page views by anonymous visitors write nothing.

use axum::extract::{Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::Web;
use crate::store::{NewWebSession, StoreError};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "oebb_session";
/// How long a login lasts.
const LOGIN_SECONDS: i64 = 7 * 24 * 3600;
/// How long an anonymous session (its CSRF token) lasts.
const ANONYMOUS_SECONDS: i64 = 24 * 3600;
/// Session cookies of one request looked at, at most (a client may send many).
const MAX_COOKIES: usize = 4;

/// One visitor's session.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// The logged-in user; `None` for an anonymous visitor.
    pub user: Option<String>,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// The stored session's id (the cookie's value); `None` for an anonymous visitor.
    id: Option<String>,
    /// Expiry, seconds since the epoch.
    expires: i64,
}

/// What an anonymous session's cookie holds, signed.
#[derive(Serialize, Deserialize)]
struct AnonymousCookie {
    /// The CSRF token.
    c: String,
    /// Expiry, seconds since the epoch.
    e: i64,
}

fn now_seconds() -> i64 {
    crate::store::now_millis() / 1000
}

impl Session {
    /// A new anonymous session with a fresh CSRF token.
    pub fn anonymous() -> Session {
        Session {
            user: None,
            csrf: super::secrets::random_token(),
            id: None,
            expires: now_seconds() + ANONYMOUS_SECONDS,
        }
    }

    /// Whether `token` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, token: &str) -> bool {
        self.csrf.as_bytes().ct_eq(token.as_bytes()).into()
    }

    /// The cookie value: the stored session's id, or the anonymous session signed.
    fn cookie_value(&self, key: &[u8]) -> String {
        match &self.id {
            Some(id) => id.clone(),
            None => {
                let cookie = AnonymousCookie {
                    c: self.csrf.clone(),
                    e: self.expires,
                };
                let payload =
                    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cookie).unwrap_or_default());
                let signature = URL_SAFE_NO_PAD.encode(sign(key, payload.as_bytes()));
                format!("{payload}.{signature}")
            }
        }
    }

    /// The `Set-Cookie` header value carrying this session.
    pub fn set_cookie(&self, key: &[u8]) -> HeaderValue {
        let value = format!(
            "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
            self.cookie_value(key),
            (self.expires - now_seconds()).max(0)
        );
        HeaderValue::from_str(&value).expect("a cookie of base64 text is a valid header")
    }
}

fn sign(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The anonymous session of a signed cookie value, if its signature is good and it has not
/// expired. (A cookie signed by an older master that named a user counts as anonymous: the
/// user is not read.)
pub fn decode_anonymous(value: &str, key: &[u8]) -> Option<Session> {
    let (payload, signature) = value.split_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(payload.as_bytes());
    mac.verify_slice(&signature).ok()?;
    let cookie: AnonymousCookie =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    (cookie.e > now_seconds()).then_some(Session {
        user: None,
        csrf: cookie.c,
        id: None,
        expires: cookie.e,
    })
}

/// Whether a cookie value has the shape of a stored session's id (32 bytes, URL-safe
/// base64), so other values cost no database lookup.
fn is_session_id(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new logged-in session of `user`, stored; its cookie goes with the answer.
pub async fn log_in(web: &Web, user: &str) -> Result<Session, StoreError> {
    let fingerprint = web.passwords.fingerprint(user).unwrap_or_default();
    let session = Session {
        user: Some(user.to_string()),
        csrf: super::secrets::random_token(),
        id: Some(super::secrets::random_token()),
        expires: now_seconds() + LOGIN_SECONDS,
    };
    web.store
        .add_web_session(&NewWebSession {
            id: session.id.as_deref().unwrap_or_default(),
            user,
            csrf: &session.csrf,
            password_fingerprint: &fingerprint,
            expires_at: session.expires * 1000,
        })
        .await?;
    Ok(session)
}

/// Ends `session` if it is a stored one.
pub async fn log_out(web: &Web, session: &Session) -> Result<(), StoreError> {
    match &session.id {
        Some(id) => web.store.end_web_session(id).await,
        None => Ok(()),
    }
}

/// What the cookies of a request name.
enum Found {
    /// A valid session.
    Session(Session),
    /// No valid session: the request gets a new anonymous one.
    Nothing,
    /// The store could not say: anonymous for this request, without replacing the cookie.
    Unknown,
}

/// The session named by a request's cookies: a signed anonymous one, or a stored one whose
/// user still has the password hash of the login.
async fn find(web: &Web, headers: &HeaderMap) -> Found {
    let mut found = Found::Nothing;
    for value in cookie_values(headers) {
        if let Some(session) = decode_anonymous(value, &web.session_key) {
            return Found::Session(session);
        }
        if !is_session_id(value) {
            continue;
        }
        match stored(web, value).await {
            Ok(Some(session)) => return Found::Session(session),
            Ok(None) => {}
            Err(e) => {
                tracing::error!("web: reading a session failed: {e}");
                found = Found::Unknown;
            }
        }
    }
    found
}

/// The values of the session cookies a request sends, the first [`MAX_COOKIES`] of them.
pub fn cookie_values(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
        .take(MAX_COOKIES)
}

/// The stored session of id `id`, if any and still its user's.
async fn stored(web: &Web, id: &str) -> Result<Option<Session>, StoreError> {
    let Some(record) = web.store.web_session(id).await? else {
        return Ok(None);
    };
    if web.passwords.fingerprint(&record.user).as_deref()
        != Some(record.password_fingerprint.as_str())
    {
        tracing::info!(
            user = %record.user.escape_debug(),
            "web session refused: the user is no longer in [users] or has a new password"
        );
        web.store.end_web_session(id).await?;
        return Ok(None);
    }
    Ok(Some(Session {
        user: Some(record.user),
        csrf: record.csrf,
        id: Some(id.to_string()),
        expires: record.expires_at / 1000,
    }))
}

/// Gives every request its session (a new anonymous one when it has none) as an extension,
/// and sets the cookie of a new session unless the handler set one itself (login, logout).
pub async fn layer(State(web): State<Web>, mut request: Request, next: Next) -> Response {
    let https = came_over_https(request.headers());
    let key = web.session_key.clone();
    let (session, is_new) = match find(&web, request.headers()).await {
        Found::Session(session) => (session, false),
        Found::Nothing => (Session::anonymous(), true),
        Found::Unknown => (Session::anonymous(), false),
    };
    request.extensions_mut().insert(session.clone());
    let mut response = next.run(request).await;
    let handler_set = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(COOKIE_NAME.as_bytes()));
    // Only pages need a session (their forms carry its token); the API, metrics, badges and
    // streams answer without setting cookies.
    let is_page = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    if is_new && !handler_set && is_page {
        response
            .headers_mut()
            .append(SET_COOKIE, session.set_cookie(&key));
    }
    if https {
        secure_session_cookie(response.headers_mut());
    }
    response
}

/// Whether the TLS proxy in front of the master says the browser used HTTPS
/// (`X-Forwarded-Proto: https` or `Forwarded: …proto=https`). A client that claims it falsely
/// only gets a cookie its browser will not send back over plain HTTP.
fn came_over_https(headers: &axum::http::HeaderMap) -> bool {
    let values = |name: &'static str| {
        headers
            .get_all(name)
            .into_iter()
            .filter_map(|v| v.to_str().ok())
    };
    let https = |p: &str| p.trim().trim_matches('"').eq_ignore_ascii_case("https");
    values("x-forwarded-proto").any(|v| v.split(',').next().is_some_and(https))
        || values("forwarded").any(|v| {
            v.split([';', ','])
                .filter_map(|pair| pair.split_once('='))
                .any(|(key, proto)| key.trim().eq_ignore_ascii_case("proto") && https(proto))
        })
}

/// Marks the session cookie of a response `Secure`, so browsers send it over HTTPS only.
fn secure_session_cookie(headers: &mut axum::http::HeaderMap) {
    let cookies: Vec<HeaderValue> = headers.get_all(SET_COOKIE).iter().cloned().collect();
    if !cookies
        .iter()
        .any(|c| c.as_bytes().starts_with(COOKIE_NAME.as_bytes()))
    {
        return;
    }
    headers.remove(SET_COOKIE);
    for cookie in cookies {
        let value = if cookie.as_bytes().starts_with(COOKIE_NAME.as_bytes()) {
            let mut text = cookie.as_bytes().to_vec();
            text.extend_from_slice(b"; Secure");
            HeaderValue::from_bytes(&text).expect("a cookie with `; Secure` is a valid header")
        } else {
            cookie
        };
        headers.append(SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_what_the_proxy_says() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = axum::http::HeaderMap::new();
            for (k, v) in pairs {
                h.append(*k, HeaderValue::from_static(v));
            }
            h
        };
        assert!(came_over_https(&headers(&[("x-forwarded-proto", "https")])));
        assert!(came_over_https(&headers(&[(
            "x-forwarded-proto",
            "HTTPS, http"
        )])));
        assert!(came_over_https(&headers(&[(
            "forwarded",
            "for=1.2.3.4;proto=https;by=x"
        )])));
        assert!(came_over_https(&headers(&[(
            "forwarded",
            "proto=\"https\""
        )])));
        assert!(!came_over_https(&headers(&[("x-forwarded-proto", "http")])));
        assert!(!came_over_https(&headers(&[("forwarded", "for=https")])));
        assert!(!came_over_https(&headers(&[])));
    }

    #[test]
    fn an_anonymous_session_comes_back_signed_and_a_forged_one_does_not() {
        let key = b"0123456789abcdef0123456789abcdef";
        let session = Session::anonymous();
        let cookie = session.cookie_value(key);
        assert_eq!(decode_anonymous(&cookie, key), Some(session.clone()));
        assert_eq!(
            decode_anonymous(&cookie, b"another key of the same length!!"),
            None
        );
        let (payload, signature) = cookie.split_once('.').unwrap();
        let other = Session::anonymous().cookie_value(key);
        let (other_payload, _) = other.split_once('.').unwrap();
        assert_eq!(
            decode_anonymous(&format!("{other_payload}.{signature}"), key),
            None
        );
        assert!(decode_anonymous(&format!("{payload}.{signature}"), key).is_some());
        assert!(session.csrf_matches(&session.csrf.clone()));
        assert!(!session.csrf_matches("nope"));
        assert!(!session.csrf_matches(""));
    }

    #[test]
    fn a_signed_cookie_naming_a_user_is_anonymous() {
        // What masters before stored sessions signed for a login.
        let key = b"0123456789abcdef0123456789abcdef";
        let payload = URL_SAFE_NO_PAD.encode(
            format!(r#"{{"u":"alice","c":"token","e":{}}}"#, now_seconds() + 60).as_bytes(),
        );
        let signature = URL_SAFE_NO_PAD.encode(sign(key, payload.as_bytes()));
        let session = decode_anonymous(&format!("{payload}.{signature}"), key).unwrap();
        assert_eq!(session.user, None);
    }

    #[test]
    fn only_session_id_shaped_values_are_looked_up() {
        let id = super::super::secrets::random_token();
        assert!(is_session_id(&id), "{id}");
        assert!(!is_session_id(&format!("{id}x")));
        assert!(!is_session_id(&"!".repeat(43)));
        assert!(!is_session_id("e30.AAAA"));
    }
}
