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
use crate::results::Results;
use crate::store::{FindingRecord, PropertyRecord, StepRecord};

/// One finding, as shown.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FindingView {
    /// The step it was found in.
    pub step: String,
    /// The rule that matched.
    pub rule: String,
    /// Its severity.
    pub severity: String,
    /// The line in its log (0: about the whole step).
    pub line: u64,
    /// `stdio` (the step's output) or `file` (the analysed Odoo log).
    pub log: String,
    /// What was found.
    pub message: String,
    /// The lines that explain it.
    pub detail: String,
    /// Same in another build for the same cause.
    pub fingerprint: String,
    /// Whether this build is the first of its builder to have it.
    pub new: bool,
    /// The builder's first build with it.
    pub first_build: Option<i64>,
    /// How many of the builder's builds had it, from the first to this one.
    pub seen_builds: i64,
    /// "new in this build" or "known: first seen in build #N, …".
    pub novelty: String,
    /// Link to the line in its log.
    pub href: Option<String>,
}

/// Where a finding's line is shown.
pub fn finding_href(build: BuildId, number: Option<i64>, log: &str, line: u64) -> Option<String> {
    match (number, line) {
        (Some(n), l) if l > 0 && log == "file" => Some(format!(
            "/builds/{build}/steps/{n}/file?page={}#L{l}",
            (l - 1) / log_file::FILE_PAGE_LINES
        )),
        (Some(n), l) if l > 0 => Some(format!("/builds/{build}/steps/{n}/log?line={l}#L{l}")),
        (Some(n), _) => Some(format!("/builds/{build}/steps/{n}/log")),
        _ => None,
    }
}

impl From<&FindingRecord> for FindingView {
    fn from(f: &FindingRecord) -> FindingView {
        let line = f.line.max(0) as u64;
        FindingView {
            step: f.step_name.clone(),
            rule: f.rule.clone(),
            severity: f.severity.clone(),
            line,
            log: f.log.clone(),
            message: f.message.clone(),
            detail: f.detail.clone(),
            fingerprint: f.fingerprint.clone(),
            new: f.is_new(),
            first_build: Some(f.first_build.0),
            seen_builds: f.seen_builds,
            novelty: f.novelty(),
            href: finding_href(f.build_id, Some(f.step_number), &f.log, line),
        }
    }
}

/// A build's findings, the most telling first: the stored ones, or for a build stored before
/// they were, the analyzer's findings kept in its `<step>_report` properties.
pub async fn build_findings(
    store: &crate::store::Store,
    build: BuildId,
    properties: &[PropertyRecord],
    steps: &[StepRecord],
) -> Result<Vec<FindingView>, crate::StoreError> {
    let stored = store.findings(build).await?;
    if stored.is_empty() {
        return Ok(findings(build, properties, steps));
    }
    Ok(stored.iter().map(FindingView::from).collect())
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
            out.push(FindingView {
                step: step.to_string(),
                rule: text("rule"),
                severity: text("severity"),
                line,
                log: "file".to_string(),
                message: text("message"),
                detail: String::new(),
                fingerprint: text("fingerprint"),
                new: false,
                first_build: None,
                seen_builds: 0,
                novelty: String::new(),
                href: finding_href(build, number, "file", line).filter(|_| line > 0),
            });
        }
    }
    out
}

/// A duration in ms as a rough age: `40 s`, `12 min`, `3 h`, `5 days`.
pub fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86400),
    }
}

/// What the top of a red build's page says when every finding is known.
pub fn all_known(findings: &[FindingView]) -> Option<String> {
    let failing: Vec<&FindingView> = findings.iter().filter(|f| f.severity == "fail").collect();
    if failing.is_empty() || failing.iter().any(|f| f.new || f.first_build.is_none()) {
        return None;
    }
    let first = failing.iter().filter_map(|f| f.first_build).min()?;
    Some(format!(
        "Nothing new: every failure of this build was known (the oldest since build #{first})."
    ))
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
    all_known: Option<String>,
    /// What a failed build kept for a post-mortem (its test database and cluster).
    post_mortem: Option<String>,
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
    let findings = match build_findings(&web.store, id, &properties, &steps).await {
        Ok(f) => f,
        Err(e) => return store_failed(layout, e),
    };
    let all_known = match build.result {
        Some(Results::Failure | Results::Exception) => all_known(&findings),
        _ => None,
    };
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
    let post_mortem = properties
        .iter()
        .find(|p| p.name == crate::findings::POST_MORTEM)
        .and_then(|p| serde_json::from_str::<Value>(&p.value_json).ok())
        .and_then(|v| v.as_str().map(str::to_string));
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
        all_known,
        post_mortem,
        steps: views,
    })
}
