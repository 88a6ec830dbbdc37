//! Sessions in signed cookies: who is logged in and the session's CSRF token, signed with
//! HMAC-SHA256 under the master's key. Every visitor gets a session (anonymous at first), so
//! the login form has a CSRF token too.

use axum::extract::{Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::Web;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "oebb_session";
/// How long a login lasts.
const LOGIN_SECONDS: i64 = 7 * 24 * 3600;
/// How long an anonymous session (its CSRF token) lasts.
const ANONYMOUS_SECONDS: i64 = 24 * 3600;

/// One visitor's session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The logged-in user; `None` for an anonymous visitor.
    #[serde(rename = "u")]
    pub user: Option<String>,
    /// The token every form of this session must carry.
    #[serde(rename = "c")]
    pub csrf: String,
    /// Expiry, seconds since the epoch.
    #[serde(rename = "e")]
    expires: i64,
}

fn now_seconds() -> i64 {
    crate::store::now_millis() / 1000
}

impl Session {
    /// A new session for `user` (or an anonymous one) with a fresh CSRF token.
    pub fn new(user: Option<String>) -> Session {
        let lifetime = if user.is_some() {
            LOGIN_SECONDS
        } else {
            ANONYMOUS_SECONDS
        };
        Session {
            user,
            csrf: super::secrets::random_token(),
            expires: now_seconds() + lifetime,
        }
    }

    /// Whether `token` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, token: &str) -> bool {
        let (a, b) = (self.csrf.as_bytes(), token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// The cookie value: payload and signature.
    pub fn encode(&self, key: &[u8]) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default());
        let signature = URL_SAFE_NO_PAD.encode(sign(key, payload.as_bytes()));
        format!("{payload}.{signature}")
    }

    /// The session of a cookie value, if its signature is good and it has not expired.
    pub fn decode(value: &str, key: &[u8]) -> Option<Session> {
        let (payload, signature) = value.split_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature).ok()?;
        let session: Session =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (session.expires > now_seconds()).then_some(session)
    }

    /// The `Set-Cookie` header value carrying this session.
    pub fn set_cookie(&self, key: &[u8]) -> HeaderValue {
        let value = format!(
            "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
            self.encode(key),
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

/// The session cookie of a request, verified.
pub fn from_headers(headers: &axum::http::HeaderMap, key: &[u8]) -> Option<Session> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE_NAME)
        .find_map(|(_, value)| Session::decode(value, key))
}

/// Gives every request its session (a new anonymous one when it has none) as an extension,
/// and sets the cookie of a new session unless the handler set one itself (login, logout).
pub async fn layer(State(web): State<Web>, mut request: Request, next: Next) -> Response {
    let https = came_over_https(request.headers());
    let key = web.session_key.clone();
    let existing = from_headers(request.headers(), &key);
    let is_new = existing.is_none();
    let session = existing.unwrap_or_else(|| Session::new(None));
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
    fn a_signed_session_comes_back_and_a_forged_one_does_not() {
        let key = b"0123456789abcdef0123456789abcdef";
        let session = Session::new(Some("alice".into()));
        let cookie = session.encode(key);
        assert_eq!(Session::decode(&cookie, key), Some(session.clone()));
        assert_eq!(
            Session::decode(&cookie, b"another key of the same length!!"),
            None
        );
        // A payload changed to another user keeps the old signature: refused.
        let forged = Session::new(Some("mallory".into())).encode(key);
        let (payload, _) = forged.split_once('.').unwrap();
        let (_, signature) = cookie.split_once('.').unwrap();
        assert_eq!(
            Session::decode(&format!("{payload}.{signature}"), key),
            None
        );
        assert!(session.csrf_matches(&session.csrf.clone()));
        assert!(!session.csrf_matches("nope"));
    }
}
