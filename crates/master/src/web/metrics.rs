//! `/metrics` in Prometheus' text format: builds by result (counted in the store), queue
//! length, workers connected, running builds, and step durations since the master started.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;

use super::Web;
use crate::live::DURATION_BUCKETS;
use crate::results::Results;

const RESULTS: [Results; 7] = [
    Results::Success,
    Results::Warnings,
    Results::Failure,
    Results::Skipped,
    Results::Exception,
    Results::Retry,
    Results::Cancelled,
];

/// A label value with Prometheus' escapes.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics text.
pub async fn render(web: &Web) -> Result<String, crate::StoreError> {
    let counts = web.store.build_counts().await?;
    let queued = web.store.queued_count(None).await?;
    let connected = web.store.connected_workers().await?.len();
    let mut out = String::new();
    let _ = writeln!(out, "# HELP oebb_builds_total Finished builds by result.");
    let _ = writeln!(out, "# TYPE oebb_builds_total counter");
    for r in RESULTS {
        let n: i64 = counts
            .iter()
            .filter(|(c, _)| *c == Some(r))
            .map(|(_, n)| n)
            .sum();
        let _ = writeln!(out, "oebb_builds_total{{result=\"{}\"}} {n}", r.name());
    }
    let running: i64 = counts
        .iter()
        .filter(|(c, _)| c.is_none())
        .map(|(_, n)| n)
        .sum();
    let _ = writeln!(out, "# HELP oebb_builds_running Builds running now.");
    let _ = writeln!(out, "# TYPE oebb_builds_running gauge");
    let _ = writeln!(out, "oebb_builds_running {running}");
    let _ = writeln!(
        out,
        "# HELP oebb_build_requests_queued Build requests waiting for a worker."
    );
    let _ = writeln!(out, "# TYPE oebb_build_requests_queued gauge");
    let _ = writeln!(out, "oebb_build_requests_queued {queued}");
    let _ = writeln!(out, "# HELP oebb_workers_connected Workers connected now.");
    let _ = writeln!(out, "# TYPE oebb_workers_connected gauge");
    let _ = writeln!(out, "oebb_workers_connected {connected}");
    let _ = writeln!(
        out,
        "# HELP oebb_workers_configured Workers of the workers file."
    );
    let _ = writeln!(out, "# TYPE oebb_workers_configured gauge");
    let _ = writeln!(
        out,
        "oebb_workers_configured {}",
        web.config().workers.len()
    );
    if let Some(watch) = &web.watch {
        crate::watch::write_metrics(&mut out, watch);
    }
    mail_metrics(&mut out, &web.store.mail_counts().await?);
    let _ = writeln!(
        out,
        "# HELP oebb_step_duration_seconds Durations of steps finished since the master started."
    );
    let _ = writeln!(out, "# TYPE oebb_step_duration_seconds histogram");
    for (step, h) in web.store.live().step_durations() {
        let step = label(&step);
        for (bound, count) in DURATION_BUCKETS.iter().zip(h.buckets) {
            let _ = writeln!(
                out,
                "oebb_step_duration_seconds_bucket{{step=\"{step}\",le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "oebb_step_duration_seconds_bucket{{step=\"{step}\",le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(
            out,
            "oebb_step_duration_seconds_sum{{step=\"{step}\"}} {}",
            h.sum
        );
        let _ = writeln!(
            out,
            "oebb_step_duration_seconds_count{{step=\"{step}\"}} {}",
            h.count
        );
    }
    Ok(out)
}

/// The mail queue's figures.
fn mail_metrics(out: &mut String, c: &crate::store::mail::MailCounts) {
    let figures = [
        (
            "oebb_mail_queued",
            "gauge",
            "Mails waiting to be sent.",
            c.unsent,
        ),
        (
            "oebb_mail_failing",
            "gauge",
            "Mails waiting after a failed attempt.",
            c.failing,
        ),
        (
            "oebb_mail_sent_total",
            "counter",
            "Mails the relay accepted.",
            c.sent,
        ),
        (
            "oebb_mail_dropped_total",
            "counter",
            "Mails dropped because the queue was full.",
            c.dropped,
        ),
        (
            "oebb_mail_failed_attempts_total",
            "counter",
            "Attempts to send a mail that failed.",
            c.failed_attempts,
        ),
    ];
    for (name, kind, help, value) in figures {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    }
}

/// `GET /metrics`.
pub async fn metrics(State(web): State<Web>) -> Response {
    match render(&web).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("store failed: {e}\n"),
        )
            .into_response(),
    }
}
