//! A finished build's mail: its facts read from the store (the analyzer's findings, the first
//! failed step's last lines, the changes and their authors), then its result stored and its
//! mail queued in one transaction.

use oebb_config::BuilderName;

use super::message::{build_mail, BuildFacts, ChangeLine, FailedStep, Finding, MAX_LOG_LINES};
use super::rules::build_recipients;
use super::Notifier;
use crate::ids::BuildId;
use crate::results::Results;
use crate::store::mail::NewMail;
use crate::store::{Store, StoreError};

/// Bytes of the failed step's log read for its last lines.
const TAIL_BYTES: i64 = 16 * 1024;

/// Stores the build's result and, in the same transaction, the mail the rules call for.
pub async fn finish_build(
    store: &Store,
    notifier: &Notifier,
    build: BuildId,
    builder: &BuilderName,
    result: Results,
    state_text: &str,
) -> Result<(), StoreError> {
    let (facts, authors) = match facts(store, notifier, build, builder, result, state_text).await {
        Ok(f) => f,
        Err(e) => {
            // The result matters more than the mail's details.
            tracing::error!(%build, "mail: cannot read the build's facts: {e}");
            let facts = bare_facts(notifier, build, builder, result, state_text, "");
            (facts, Vec::new())
        }
    };
    let category = notifier
        .categories
        .get(builder.as_str())
        .map_or("", String::as_str);
    let rules = &notifier.settings.rules;
    let queued = store
        .finish_build_with_mail(build, result, state_text, &notifier.host, |previous| {
            let recipients = build_recipients(
                rules,
                builder.as_str(),
                category,
                result,
                previous,
                &authors,
            );
            if recipients.is_empty() {
                return None;
            }
            let composed = build_mail(&BuildFacts { previous, ..facts });
            Some(NewMail {
                kind: "build",
                build: Some(build),
                worker: None,
                recipients,
                subject: composed.subject,
                text: composed.text,
                html: composed.html,
            })
        })
        .await?;
    if let Some(q) = queued {
        tracing::info!(%build, ?q, "mail queued");
    }
    Ok(())
}

fn bare_facts(
    n: &Notifier,
    build: BuildId,
    builder: &BuilderName,
    result: Results,
    state_text: &str,
    worker: &str,
) -> BuildFacts {
    BuildFacts {
        title: n.title.clone(),
        builder: builder.as_str().to_string(),
        build,
        result,
        previous: None,
        state_text: state_text.to_string(),
        worker: worker.to_string(),
        findings: Vec::new(),
        failed_step: None,
        changes: Vec::new(),
        public_url: n.public_url.clone(),
    }
}

/// The build's facts and the authors of its changes.
async fn facts(
    store: &Store,
    n: &Notifier,
    build: BuildId,
    builder: &BuilderName,
    result: Results,
    state_text: &str,
) -> Result<(BuildFacts, Vec<String>), StoreError> {
    let record = store
        .build(build)
        .await?
        .ok_or_else(|| StoreError::Unexpected(format!("build {build} vanished")))?;
    let mut facts = bare_facts(n, build, builder, result, state_text, &record.worker);
    let steps = store.steps(build).await?;
    let properties = store.build_properties(build).await?;
    facts.findings = crate::web::build::findings(build, &properties, &steps)
        .into_iter()
        .map(|f| Finding {
            step: f.step,
            severity: f.severity,
            line: f.line,
            message: f.message,
        })
        .collect();
    let failed = steps
        .iter()
        .find(|s| matches!(s.result, Some(Results::Failure | Results::Exception)));
    if let Some(step) = failed {
        let tail = crate::web::logs::tail(store, step.id, TAIL_BYTES).await?;
        facts.failed_step = Some(FailedStep {
            name: step.name.clone(),
            text: step.state_text.clone(),
            last_lines: last_lines(&tail.text, tail.truncated),
        });
    }
    // The authors come from every change the build tested (a scheduled request lists all
    // the changes of its tree-stable window).
    let mut changes = store.changes_tested(&[record.request_id]).await?;
    let mut authors = Vec::new();
    for c in changes.remove(&record.request_id).unwrap_or_default() {
        authors.extend(c.author.clone());
        facts.changes.push(ChangeLine {
            repository: c.repository,
            revision: c.revision,
            author: c.author,
            comments: c.comments,
        });
    }
    Ok((facts, authors))
}

/// The last [`MAX_LOG_LINES`] non-empty lines of a log's tail, the first (cut) line of a
/// truncated tail left out.
pub fn last_lines(tail: &str, truncated: bool) -> Vec<String> {
    let mut lines: Vec<&str> = tail.lines().collect();
    if truncated && !lines.is_empty() {
        lines.remove(0);
    }
    // The worker's closing header lines (Buildbot's `elapsedTime=`, `program finished with
    // exit code`) say nothing the step's state text does not.
    let noise = |l: &str| {
        l.trim().is_empty()
            || l.starts_with("elapsedTime=")
            || l.starts_with("program finished with exit code ")
    };
    let lines: Vec<&str> = lines.into_iter().filter(|l| !noise(l)).collect();
    let from = lines.len().saturating_sub(MAX_LOG_LINES);
    lines[from..]
        .iter()
        .map(|l| super::message::clean(l))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_skip_the_cut_first_line_and_blank_lines() {
        let tail: String = (0..50).map(|i| format!("line {i}\n\n")).collect();
        let lines = last_lines(&format!("ne 99\n{tail}"), true);
        assert_eq!(lines.len(), MAX_LOG_LINES);
        assert_eq!(lines[0], "line 20");
        assert_eq!(lines.last().unwrap(), "line 49");
        assert_eq!(last_lines("a\nb\nelapsedTime=0.07\n", false), ["a", "b"]);
    }
}
