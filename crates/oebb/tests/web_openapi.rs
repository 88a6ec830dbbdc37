//! The OpenAPI document the master serves at `/api/openapi.json`, checked against the same
//! running master: every documented GET answers the documented status with a body matching
//! the documented schema (path parameters filled with real ids), and every documented POST
//! answers as documented without credentials and with them.

mod web_common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use web_common::http::{self, Response};
use web_common::schema::{resolve, validate};
use web_common::{gated_script, wait_until, Buildout, TestMaster};

/// Routes the pages and `oebb force` rely on; each must be documented.
const REQUIRED: &[(&str, &str)] = &[
    ("get", "/api/builds"),
    ("get", "/api/builds/{id}"),
    ("get", "/api/buildrequests/{id}"),
    ("post", "/api/builders/{name}/force"),
    ("post", "/api/builds/{id}/stop"),
    ("post", "/api/buildrequests/{id}/cancel"),
];

/// Ids of real things on the master, to fill path parameters with.
struct Ids {
    /// A finished, successful build of `x`, its request, and its one step.
    finished_build: i64,
    finished_request: i64,
    /// A build of `blocker`, running until the test ends.
    running_build: i64,
    /// A request of `queued-pg9.6`, queued for a worker that never connects.
    queued_request: i64,
}

/// A path parameter's value: the real thing it names, picked from the segment before it.
/// `action` is the POST's last segment (`stop`, `cancel`, …), so a stop gets a running build.
fn fill(path: &str, ids: &Ids, action: Option<&str>, missing: bool) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        if !(seg.starts_with('{') && seg.ends_with('}')) {
            out.push(seg.to_string());
            continue;
        }
        let before = if i > 0 { segments[i - 1] } else { "" };
        let value = match (before, action, missing) {
            ("builders", _, true) => "no-such-builder".to_string(),
            ("builders", _, false) => "x".to_string(),
            ("builds", _, true) => "999999".to_string(),
            ("builds", Some("stop"), false) => ids.running_build.to_string(),
            ("builds", _, false) => ids.finished_build.to_string(),
            ("buildrequests", _, true) => "999999".to_string(),
            ("buildrequests", Some("cancel"), false) => ids.queued_request.to_string(),
            ("buildrequests", _, false) => ids.finished_request.to_string(),
            // Step 0 of the build, by number or by name (the builds' only step).
            ("steps", _, true) => "99".to_string(),
            ("steps", _, false) => {
                if seg.contains("name") {
                    "script".to_string()
                } else {
                    "0".to_string()
                }
            }
            // A step's logs: `stdio` always exists.
            ("logs", _, true) => "no-such-log".to_string(),
            ("logs", _, false) => "stdio".to_string(),
            ("workers", _, true) => "no-such-worker".to_string(),
            ("workers", _, false) => web_common::WORKER.to_string(),
            _ => panic!(
                "{path}: this test does not know what to put in {seg}; teach `fill` in {}",
                file!()
            ),
        };
        out.push(value);
    }
    out.join("/")
}

/// The schema of `status`'s JSON response of an operation, if it documents one.
fn response_schema(op: &Value, status: u16) -> Option<&Value> {
    op["responses"][status.to_string()].pointer("/content/application~1json/schema")
}

/// The documented statuses of an operation, as numbers.
fn statuses(op: &Value) -> Vec<u16> {
    op["responses"]
        .as_object()
        .map(|r| r.keys().filter_map(|k| k.parse().ok()).collect())
        .unwrap_or_default()
}

/// Checks `r` against the documented response `status` of `op`: the status, the media type,
/// and for JSON the schema; every mismatch goes to `errors`.
fn check_response(
    doc: &Value,
    what: &str,
    op: &Value,
    status: u16,
    r: &Response,
    errors: &mut Vec<String>,
) {
    if r.status != status {
        errors.push(format!(
            "{what}: documented {status}, got {}: {}",
            r.status,
            r.text()
        ));
        return;
    }
    let content = &op["responses"][status.to_string()]["content"];
    let Some(media) = content.as_object() else {
        return; // no body documented
    };
    let got = r.header("content-type").unwrap_or("");
    if !media.keys().any(|m| got.starts_with(m.as_str())) {
        errors.push(format!(
            "{what}: documented {:?}, got content-type {got:?}",
            media.keys().collect::<Vec<_>>()
        ));
        return;
    }
    if let Some(schema) = response_schema(op, status) {
        match serde_json::from_slice::<Value>(&r.body) {
            Ok(body) => {
                for e in validate(doc, schema, &body) {
                    errors.push(format!("{what}: {e}\n    body: {body}"));
                }
            }
            Err(e) => errors.push(format!("{what}: not JSON ({e}): {}", r.text())),
        }
    }
}

/// A JSON request body for `op` built from its documented schema: required properties with
/// their example, default, first enum value, or a plain value of their type.
fn body_for(doc: &Value, op: &Value) -> Option<Value> {
    let schema = op.pointer("/requestBody/content/application~1json/schema")?;
    Some(sample(doc, schema))
}

fn sample(doc: &Value, schema: &Value) -> Value {
    if let Some(r) = schema["$ref"].as_str() {
        return sample(doc, resolve(doc, r).unwrap_or(&Value::Null));
    }
    for key in ["example", "default"] {
        if let Some(v) = schema.get(key) {
            return v.clone();
        }
    }
    if let Some(v) = schema["enum"].get(0) {
        return v.clone();
    }
    let kind = match &schema["type"] {
        Value::Array(types) => types
            .iter()
            .find(|t| *t != "null")
            .cloned()
            .unwrap_or(Value::Null),
        t => t.clone(),
    };
    match kind.as_str() {
        Some("object") => {
            let mut object = serde_json::Map::new();
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap_or_default();
                object.insert(name.into(), sample(doc, &schema["properties"][name]));
            }
            // An optional reason makes the forced request recognisable.
            if schema["properties"].get("reason").is_some() {
                object.insert("reason".into(), json!("openapi test"));
            }
            Value::Object(object)
        }
        Some("array") => json!([]),
        Some("string") => json!("openapi"),
        Some("integer") | Some("number") => json!(1),
        Some("boolean") => json!(false),
        _ => json!({}),
    }
}

#[test]
fn every_documented_route_answers_as_the_openapi_document_says() {
    let m = TestMaster::start_with_workers(
        &[
            Buildout::plain("x", "echo built\n"),
            Buildout::plain("blocker", gated_script("started", "never", "-", 0)),
            // Only w2 can build it, and w2 never connects: its requests stay queued.
            Buildout {
                name: "queued",
                options: "build-for = postgresql == 9.6",
                script: "echo never\n".into(),
            },
        ],
        "[w2]\npassword = pw2\ncapability = postgresql 9.6\n",
    );
    let token = m.api_token();
    let auth = format!("Bearer {token}");
    let authorised = [("Authorization", auth.as_str())];
    let force = |builder: &str| -> i64 {
        let r = http::request(
            m.web,
            "POST",
            &format!("/api/builders/{builder}/force"),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            br#"{"reason": "openapi setup"}"#,
        );
        assert_eq!(r.status, 201, "force {builder}: {}", r.text());
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        v["request"]
            .as_i64()
            .unwrap_or_else(|| panic!("force {builder} answered {v}"))
    };
    let finished_request = force("x");
    let finished_build = m.build_of_request(finished_request);
    m.wait_build_finished(finished_build);
    let running_build = m.build_of_request(force("blocker"));
    wait_until("the blocker's step to start", || {
        let v = m.api(&format!("/api/builds/{running_build}"));
        (v["steps"].as_array().is_some_and(|s| !s.is_empty()), v)
    });
    let queued_request = force("queued-pg9.6");
    let ids = Ids {
        finished_build,
        finished_request,
        running_build,
        queued_request,
    };

    let r = m.get("/api/openapi.json");
    assert_eq!(r.status, 200, "{}", r.text());
    let doc: Value = serde_json::from_slice(&r.body).expect("openapi.json is JSON");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "not an OpenAPI 3 document: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("the document has paths");
    for (method, path) in REQUIRED {
        assert!(
            paths.get(*path).is_some_and(|p| p.get(*method).is_some()),
            "{} {path} is not documented",
            method.to_uppercase()
        );
    }

    let mut errors = Vec::new();
    let mut checked = 0;
    // GETs, anonymous: the API's reads are public, like the pages.
    for (path, item) in paths {
        let Some(op) = item.get("get") else { continue };
        let ok = statuses(op)
            .into_iter()
            .filter(|s| (200..300).contains(s))
            .min();
        let Some(ok) = ok else {
            errors.push(format!("GET {path}: no 2xx response documented"));
            continue;
        };
        let url = fill(path, &ids, None, false);
        let streams = op["responses"][ok.to_string()]["content"]
            .get("text/event-stream")
            .is_some();
        let r = if streams {
            http::head_of(m.web, &url, &[])
        } else {
            m.get(&url)
        };
        check_response(&doc, &format!("GET {url}"), op, ok, &r, &mut errors);
        checked += 1;
        if statuses(op).contains(&404) && path.contains('{') {
            let url = fill(path, &ids, None, true);
            let r = m.get(&url);
            check_response(&doc, &format!("GET {url}"), op, 404, &r, &mut errors);
            checked += 1;
        }
    }
    // POSTs: without credentials first (nothing may happen), then with the token.
    for (path, item) in paths {
        let Some(op) = item.get("post") else { continue };
        let action = path.rsplit('/').next();
        let url = fill(path, &ids, action, false);
        let body = body_for(&doc, op)
            .map(|b| b.to_string())
            .unwrap_or_default();
        let json_type = [("Content-Type", "application/json")];
        let refused: Vec<u16> = statuses(op)
            .into_iter()
            .filter(|s| *s == 401 || *s == 403)
            .collect();
        let r = http::request(m.web, "POST", &url, &json_type, body.as_bytes());
        match refused.first() {
            Some(&status) => {
                check_response(
                    &doc,
                    &format!("POST {url} anonymous"),
                    op,
                    status,
                    &r,
                    &mut errors,
                );
                // Wrong credentials are refused the same way.
                for wrong in ["Bearer not-the-token", "Basic YWxpY2U6d3Jvbmc="] {
                    let headers = [("Authorization", wrong), json_type[0]];
                    let r = http::request(m.web, "POST", &url, &headers, body.as_bytes());
                    let what = format!("POST {url} with {wrong}");
                    check_response(&doc, &what, op, status, &r, &mut errors);
                    checked += 1;
                }
            }
            None => errors.push(format!(
                "POST {path}: no 401/403 documented for a request without credentials \
                 (the server answered {})",
                r.status
            )),
        }
        checked += 1;
        let ok = statuses(op)
            .into_iter()
            .filter(|s| (200..300).contains(s))
            .min();
        let Some(ok) = ok else {
            errors.push(format!("POST {path}: no 2xx response documented"));
            continue;
        };
        let headers = [authorised[0], json_type[0]];
        if statuses(op).contains(&404) {
            let missing = fill(path, &ids, action, true);
            let r = http::request(m.web, "POST", &missing, &headers, body.as_bytes());
            check_response(&doc, &format!("POST {missing}"), op, 404, &r, &mut errors);
            checked += 1;
        }
        if statuses(op).contains(&400) && op.get("requestBody").is_some() {
            let r = http::request(m.web, "POST", &url, &headers, b"{not json");
            check_response(
                &doc,
                &format!("POST {url} bad JSON"),
                op,
                400,
                &r,
                &mut errors,
            );
            checked += 1;
        }
        let r = http::request(m.web, "POST", &url, &headers, body.as_bytes());
        check_response(
            &doc,
            &format!("POST {url} with the token"),
            op,
            ok,
            &r,
            &mut errors,
        );
        checked += 1;
        // Stopping a stopped build, cancelling a cancelled request: the documented conflict.
        if statuses(op).contains(&409) {
            if action == Some("stop") {
                // A stop is asked of the worker; the build ends a moment later.
                m.wait_build_finished(ids.running_build);
            }
            let r = http::request(m.web, "POST", &url, &headers, body.as_bytes());
            check_response(&doc, &format!("POST {url} again"), op, 409, &r, &mut errors);
            checked += 1;
        }
    }
    assert!(
        errors.is_empty(),
        "{} of {checked} checks failed:\n{}",
        errors.len(),
        errors.join("\n")
    );
    assert!(checked >= REQUIRED.len(), "only {checked} checks ran");
    eprintln!(
        "{checked} checks of {} documented paths passed",
        paths.len()
    );

    // A web user's password works as HTTP Basic too.
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", web_common::USER, web_common::PASSWORD))
    );
    let r = http::request(
        m.web,
        "POST",
        "/api/builders/x/force",
        &[("Authorization", &basic)],
        b"",
    );
    assert_eq!(r.status, 201, "force with a user's password: {}", r.text());

    // The actions happened: the stop ended the running build, the cancel the queued request.
    let stopped = m.wait_build_finished(running_build);
    assert_eq!(stopped["build"]["result"], json!("cancelled"), "{stopped}");
    let cancelled = m.api(&format!("/api/buildrequests/{queued_request}"));
    assert!(
        !cancelled["request"]["complete_at"].is_null(),
        "the cancelled request is still queued: {cancelled}"
    );
}
