//! What an anonymous or logged-in web client sends that the master reads before any check:
//! API JSON bodies, form bodies through axum's real `Form` extractor, and the session cookie.
//! The first byte picks the reader, the rest is the input. Oracle: no panic, bounded time.
//!
//! The API's `ForceBody`/`StopBody` and its `JsonBody` rule (blank body = `{}`) are private to
//! `crates/master/src/web/api.rs`; they are mirrored here field for field.

#![no_main]

use std::collections::HashMap;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{header, HeaderMap, HeaderValue, Request};
use axum::Form;
use libfuzzer_sys::fuzz_target;
use oebb_master::web::auth::{CsrfForm, LoginForm};
use oebb_master::web::session;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Mirror of `api::ForceBody`.
#[derive(Deserialize, Default)]
#[allow(dead_code)]
struct ForceBody {
    reason: Option<String>,
    #[serde(default)]
    properties: Map<String, Value>,
}

/// Mirror of `api::StopBody`.
#[derive(Deserialize, Default)]
#[allow(dead_code)]
struct StopBody {
    reason: Option<String>,
}

/// Mirror of `api::JsonBody::from_request`'s decoding.
fn json_body<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| format!("bad JSON body: {e}"))
}

/// Runs a future that needs no I/O to completion (an extractor over an in-memory body).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("an in-memory extractor waited"),
    }
}

/// A form post as a browser sends it, through the handlers' extractor.
fn form<T: serde::de::DeserializeOwned + Send + 'static>(body: &[u8]) -> Option<T> {
    let request = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_vec()))
        .expect("a valid request");
    ready(Form::<T>::from_request(request, &()))
        .ok()
        .map(|f| f.0)
}

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    match mode % 7 {
        0 => {
            if let Ok(body) = json_body::<ForceBody>(input) {
                let _ = body.properties.keys().count();
            }
        }
        1 => {
            let _ = json_body::<StopBody>(input);
        }
        2 => {
            let _ = form::<HashMap<String, String>>(input);
        }
        3 => {
            let _ = form::<LoginForm>(input);
        }
        4 => {
            let _ = form::<CsrfForm>(input);
        }
        5 => {
            if let Ok(text) = std::str::from_utf8(input) {
                assert!(
                    session::decode_anonymous(text, KEY).is_none(),
                    "forged a session"
                );
            }
        }
        _ => {
            let mut headers = HeaderMap::new();
            for line in input.split(|&b| b == b'\n') {
                if let Ok(value) = HeaderValue::from_bytes(line) {
                    headers.append(header::COOKIE, value);
                }
            }
            let values: Vec<&str> = session::cookie_values(&headers).collect();
            assert!(values.len() <= 4, "read more cookies than the bound");
            assert!(
                values
                    .iter()
                    .all(|v| session::decode_anonymous(v, KEY).is_none()),
                "forged a session"
            );
        }
    }
});
