//! A build's page: its result, reason, changes and properties, the analyzer's findings
//! first (linked to the lines of the analysed log), then each step with its log; a running
//! build's page follows it live (`static/live.js`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::Value;

use super::session::Session;
use super::view::{self, Layout};
use super::{log_file, logs, message, render, store_failed, Web};
use crate::ids::BuildId;
use crate::store::{PropertyRecord, StepRecord};

/// One finding of the analyzer, as shown.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FindingView {
    /// The analysing step's name.
    pub step: String,
    /// The rule that matched.
    pub rule: String,
    /// Its severity.
    pub severity: String,
    /// The line in the analysed log (0: about the whole log).
    pub line: u64,
    /// What was found.
    pub message: String,
    /// Link to the line in the analysed log.
    pub href: Option<String>,
}

/// The analyzer's findings stored in a build's `<step>_report` properties.
pub fn findings(
    build: BuildId,
    properties: &[PropertyRecord],
    steps: &[StepRecord],
) -> Vec<FindingView> {
    let mut out = Vec::new();
    for p in properties {
        let Some(step) = p.name.strip_suffix("_report") else {
            continue;
        };
        let Ok(report) = serde_json::from_str::<Value>(&p.value_json) else {
            continue;
        };
        let Some(list) = report.get("findings").and_then(Value::as_array) else {
            continue;
        };
        let number = steps.iter().find(|s| s.name == step).map(|s| s.number);
        for f in list {
            let text = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let line = f.get("line").and_then(Value::as_u64).unwrap_or(0);
            let href = match (number, line) {
                (Some(n), l) if l > 0 => Some(format!(
                    "/builds/{build}/steps/{n}/file?page={}#L{l}",
                    (l - 1) / log_file::FILE_PAGE_LINES
                )),
                _ => None,
            };
            out.push(FindingView {
                step: step.to_string(),
                rule: text("rule"),
                severity: text("severity"),
                line,
                message: text("message"),
                href,
            });
        }
    }
    out
}

struct StepView {
    number: i64,
    name: String,
    result: &'static str,
    text: String,
    duration: String,
    log: String,
    next_seq: i64,
    truncated: bool,
    running: bool,
    has_file: bool,
    /// The files the step kept as logs of their own (the Odoo server's `--logfile` as `test`).
    named_logs: Vec<String>,
}

#[derive(Template)]
#[template(path = "build.html")]
struct BuildPage {
    layout: Layout,
    id: i64,
    builder: String,
    result: &'static str,
    running: bool,
    worker: String,
    started: String,
    duration: String,
    state_text: String,
    reason: String,
    owner: Option<String>,
    request: i64,
    change: Option<String>,
    /// The changes it tested (a scheduler's request lists every change it waited for).
    tested: Vec<super::watch::ChangeView>,
    properties: Vec<(String, String, String)>,
    findings: Vec<FindingView>,
    steps: Vec<StepView>,
}

/// `GET /builds/{id}`.
pub async fn page(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
) -> Response {
    let here = format!("/builds/{id}");
    let layout = Layout::new(&web, &session, &here);
    let id = BuildId(id);
    let build = match web.store.build(id).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                layout,
                "No such build",
                &format!("There is no build {id}; the waterfall lists the recent ones."),
            )
        }
        Err(e) => return store_failed(layout, e),
    };
    let loaded = async {
        let request = web.store.build_request(build.request_id).await?;
        let steps = web.store.steps(id).await?;
        let properties = web.store.build_properties(id).await?;
        let changes = web.store.changes_of_requests(&[build.request_id]).await?;
        let tested = web.store.changes_tested(&[build.request_id]).await?;
        Ok::<_, crate::StoreError>((request, steps, properties, changes, tested))
    };
    let (request, steps, properties, changes, mut tested) = match loaded.await {
        Ok(l) => l,
        Err(e) => return store_failed(layout, e),
    };
    let mut views = Vec::with_capacity(steps.len());
    for s in &steps {
        let tail = match logs::tail(&web.store, s.id, logs::TAIL_BYTES).await {
            Ok(t) => t,
            Err(e) => return store_failed(layout, e),
        };
        let named_logs = match web.store.log_names(s.id).await {
            Ok(names) => names,
            Err(e) => return store_failed(layout, e),
        };
        views.push(StepView {
            number: s.number,
            name: s.name.clone(),
            result: view::result_name(s.result, s.finished_at.is_some()),
            text: s.state_text.clone(),
            duration: view::duration(s.started_at, s.finished_at),
            log: tail.text,
            next_seq: tail.next_seq,
            truncated: tail.truncated,
            running: s.finished_at.is_none(),
            has_file: log_file::fetched_file_path(&web.config().dir, id, &s.name).is_some(),
            named_logs,
        });
    }
    let findings = findings(id, &properties, &steps);
    let change = changes.get(&build.request_id).map(|c| {
        let mut text = format!("{} {}", c.repository, c.revision);
        if let Some(a) = &c.author {
            text.push_str(&format!(" by {a}"));
        }
        if let Some(m) = &c.comments {
            text.push_str(&format!(": {m}"));
        }
        text
    });
    let owner = properties
        .iter()
        .find(|p| p.name == "owner")
        .and_then(|p| serde_json::from_str::<Value>(&p.value_json).ok())
        .and_then(|v| v.as_str().map(str::to_string));
    render(&BuildPage {
        layout,
        id: id.0,
        builder: build.builder.clone(),
        result: view::build_result(&build),
        running: build.finished_at.is_none(),
        worker: build.worker.clone(),
        started: view::time(build.started_at),
        duration: view::duration(build.started_at, build.finished_at),
        state_text: build.state_text.clone(),
        reason: request.map(|r| r.reason).unwrap_or_default(),
        owner,
        request: build.request_id.0,
        change,
        tested: tested
            .remove(&build.request_id)
            .unwrap_or_default()
            .iter()
            .map(super::watch::ChangeView::from)
            .collect(),
        properties: properties
            .into_iter()
            .filter(|p| !p.name.ends_with("_report"))
            .map(|p| (p.name, p.value_json, p.source))
            .collect(),
        findings,
        steps: views,
    })
}
