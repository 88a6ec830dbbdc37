//! SVG status badges: a builder's last build, and a buildout's worst last build over its
//! builders, to embed in READMEs.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::Web;
use crate::results::Results;
use crate::store::BuildRecord;

fn color(status: &str) -> &'static str {
    match status {
        "success" => "#4c1",
        "warnings" => "#dfb317",
        "failure" => "#e05d44",
        "exception" => "#9f4fbf",
        "running" => "#007ec6",
        _ => "#9f9f9f",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A flat two-part badge `label | status`, widths from a rough glyph width.
pub fn svg(label: &str, status: &str) -> String {
    svg_with_cause(label, status, None)
}

/// A badge whose tooltip also says why it is red (`builder: step: cause`).
pub fn svg_with_cause(label: &str, status: &str, cause: Option<&str>) -> String {
    let width = |t: &str| 10 + 7 * t.chars().count();
    let (lw, sw) = (width(label), width(status));
    let total = lw + sw;
    let title = match cause {
        Some(c) => escape(&format!("{label}: {status}: {c}")),
        None => escape(&format!("{label}: {status}")),
    };
    let (label, status_text) = (escape(label), escape(status));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total}\" height=\"20\" role=\"img\" \
         aria-label=\"{label}: {status_text}\"><title>{title}</title>\
         <rect width=\"{lw}\" height=\"20\" fill=\"#555\"/>\
         <rect x=\"{lw}\" width=\"{sw}\" height=\"20\" fill=\"{}\"/>\
         <g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,DejaVu Sans,sans-serif\" \
         font-size=\"11\"><text x=\"{}\" y=\"14\">{label}</text>\
         <text x=\"{}\" y=\"14\">{status_text}</text></g></svg>",
        color(status),
        lw / 2,
        lw + sw / 2
    )
}

fn badge(label: &str, status: &str, cause: Option<&str>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        svg_with_cause(label, status, cause),
    )
        .into_response()
}

/// The first finding of the first failed build among `builds`, as a tooltip line.
async fn cause(web: &Web, builds: &[BuildRecord]) -> Option<String> {
    let failed = builds
        .iter()
        .find(|b| matches!(b.result, Some(Results::Failure | Results::Exception)))?;
    let firsts = web.store.first_findings(&[failed.id]).await.ok()?;
    let f = firsts.get(&failed.id)?;
    Some(format!(
        "{}: {}: {}",
        failed.builder, f.step_name, f.message
    ))
}

fn status_of(builds: &[BuildRecord]) -> &'static str {
    if builds.iter().any(|b| b.finished_at.is_none()) && builds.iter().all(|b| b.result.is_none()) {
        return "running";
    }
    builds
        .iter()
        .filter_map(|b| b.result)
        .reduce(Results::worst)
        .map_or("unknown", Results::name)
}

fn strip_svg(file: &str) -> Option<&str> {
    file.strip_suffix(".svg").filter(|n| !n.is_empty())
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("no {what}\n")).into_response()
}

/// `GET /badges/builders/{name}.svg`.
pub async fn builder(State(web): State<Web>, Path(file): Path<String>) -> Response {
    let Some(name) = strip_svg(&file) else {
        return not_found("badge: ask for NAME.svg");
    };
    if !web
        .config()
        .matrix
        .builders
        .iter()
        .any(|b| b.name.as_str() == name)
    {
        return not_found(&format!("builder {name:?}"));
    }
    match web.store.last_builds(&[name]).await {
        Ok(builds) => badge(
            name,
            status_of(&builds),
            cause(&web, &builds).await.as_deref(),
        ),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `GET /badges/buildouts/{name}.svg`.
pub async fn buildout(State(web): State<Web>, Path(file): Path<String>) -> Response {
    let Some(name) = strip_svg(&file) else {
        return not_found("badge: ask for NAME.svg");
    };
    let config = web.config();
    let builders: Vec<&str> = config
        .matrix
        .builders
        .iter()
        .filter(|b| b.buildout == name)
        .map(|b| b.name.as_str())
        .collect();
    if builders.is_empty() {
        return not_found(&format!("buildout {name:?}"));
    }
    match web.store.last_builds(&builders).await {
        Ok(builds) => badge(
            name,
            status_of(&builds),
            cause(&web, &builds).await.as_deref(),
        ),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
