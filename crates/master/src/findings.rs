//! What made a build red, found while it runs: the cause of each failed step read from the end
//! of its log ([`oebb_analyze::step_cause`]), the analyzer's findings, which steps are not run
//! because an earlier one failed, and the build's summary naming its first failure.

use std::collections::BTreeSet;
use std::time::Duration;

use oebb_analyze::step_cause::{self, Cause, CauseRule, Scanner, StepEnd};
use oebb_analyze::{Report, Severity};

use crate::command::{CommandEnd, StepLog};
use crate::ids::StepId;
use crate::results::Results;
use crate::runner::BuildRun;
use crate::step::{Step, StepCommand};
use crate::store::{FindingRecord, NewFinding, Store, StoreError};

/// How much of the end of a failed step's log is read for its cause.
pub const CAUSE_TAIL_BYTES: i64 = 1 << 20;
/// Longest cause quoted in a build's summary, in characters.
const SUMMARY_CAUSE_CHARS: usize = 300;

/// What the steps run so far did, for the steps after them and the build's summary.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The first step that failed the build.
    pub first_failed: Option<String>,
    /// Steps whose command was sent to the worker (whatever came of it).
    pub ran: BTreeSet<String>,
    /// Steps that succeeded.
    pub succeeded: BTreeSet<String>,
    /// Steps that only warned.
    pub warned: Vec<String>,
    /// The build's findings stored so far.
    pub findings: Vec<FindingRecord>,
}

impl Outcome {
    /// Why `step` is not run: it acts on the log or the database of a step that did not run
    /// or did not succeed, because an earlier step failed.
    pub fn not_run(&self, step: &Step) -> Option<String> {
        let missing = match &step.command {
            StepCommand::Analyze {
                exit_status_of: Some(writer),
                ..
            } if !self.ran.contains(writer) => Some(writer.clone()),
            _ if !step.needs_success_of.is_empty()
                && !step
                    .needs_success_of
                    .iter()
                    .any(|s| self.succeeded.contains(s)) =>
            {
                Some(step.needs_success_of.join(" or "))
            }
            _ => None,
        }?;
        Some(match &self.first_failed {
            Some(first) => format!("not run: {first} failed"),
            None => format!("not run: {missing} did not run"),
        })
    }

    /// Notes a step's result (`flunks`: its failure fails the build).
    pub fn step_done(&mut self, step: &Step, result: Results) {
        match result {
            Results::Success => {
                self.succeeded.insert(step.name.clone());
            }
            Results::Warnings => self.warned.push(step.name.clone()),
            Results::Failure if !step.flunk_on_failure => self.warned.push(step.name.clone()),
            Results::Failure | Results::Exception => {
                self.first_failed.get_or_insert_with(|| step.name.clone());
            }
            Results::Skipped | Results::Cancelled | Results::Retry => {}
        }
    }

    /// The most telling finding so far.
    pub fn first_finding(&self) -> Option<&FindingRecord> {
        self.findings.iter().min_by_key(|f| (f.weight, f.seq))
    }

    /// The build's state text: the first failed step and its cause; the steps that warned.
    pub fn summary(&self, result: Results) -> String {
        match result {
            Results::Success => "build successful".to_string(),
            Results::Retry => "retry: the worker was lost".to_string(),
            Results::Cancelled => "stopped".to_string(),
            Results::Warnings | Results::Skipped if self.warned.is_empty() => result.to_string(),
            Results::Warnings | Results::Skipped => {
                format!("{result} in {}", self.warned.join(", "))
            }
            Results::Failure | Results::Exception => {
                let Some(first) = &self.first_failed else {
                    return result.to_string();
                };
                match self.first_finding() {
                    Some(f) if &f.step_name == first => {
                        format!("{first} failed: {}", short(&f.message))
                    }
                    Some(f) => format!("{first} failed; {}: {}", f.step_name, short(&f.message)),
                    None => format!("{first} failed"),
                }
            }
        }
    }
}

fn short(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(SUMMARY_CAUSE_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// How a command ended, as the cause reader sees it; `None` when there is nothing to read
/// (stopped by somebody, or the log itself could not be kept).
pub fn step_end(end: &CommandEnd, timeout: Option<Duration>) -> Option<StepEnd> {
    match end {
        CommandEnd::Completed {
            failure: Some(f), ..
        } => Some(StepEnd::Exception(
            f.lines().last().unwrap_or(f).to_string(),
        )),
        CommandEnd::Completed { rc: Some(rc), .. } => Some(StepEnd::Exit(*rc)),
        CommandEnd::Completed { rc: None, .. } => {
            Some(StepEnd::Exception("no exit code".to_string()))
        }
        CommandEnd::TimedOut => Some(StepEnd::TimedOut(timeout.map_or(0, |t| t.as_secs()))),
        CommandEnd::Lost(why) => Some(StepEnd::WorkerLost(why.clone())),
        CommandEnd::Stopped(_) | CommandEnd::StoreFailed(_) => None,
    }
}

/// A step's causes as findings of its `stdio` log.
pub fn cause_findings(number: i64, step: &Step, causes: Vec<Cause>) -> Vec<NewFinding> {
    causes
        .into_iter()
        .map(|c| {
            let (severity, weight) = match (c.rule, step.flunk_on_failure) {
                (_, false) => ("warning", 1),
                (CauseRule::LastLines, true) => ("fail", 2),
                (_, true) => ("fail", 0),
            };
            NewFinding {
                step_number: number,
                step_name: step.name.clone(),
                log: "stdio".to_string(),
                line: c.line,
                rule: c.rule.name().to_string(),
                severity: severity.to_string(),
                weight,
                message: c.message,
                detail: c.text,
                fingerprint: c.fingerprint,
            }
        })
        .collect()
}

/// The analyzer's findings of the Odoo log as findings of the analysing step's `file`.
pub fn report_findings(step: &str, report: &Report) -> Vec<NewFinding> {
    report
        .findings
        .iter()
        .map(|f| NewFinding {
            step_number: 0,
            step_name: step.to_string(),
            log: "file".to_string(),
            line: f.line,
            rule: f.rule.name().to_string(),
            severity: serde_json::to_value(f.severity)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            weight: match f.severity {
                Severity::Fail if f.restates() => 2,
                Severity::Fail => 0,
                Severity::Warn => 1,
                _ => 3,
            },
            message: f.message.clone(),
            detail: f.text.clone(),
            fingerprint: f.fingerprint.clone(),
        })
        .collect()
}

/// The finding of a step the master refused to run (a bad path, a property out of bounds).
pub fn refused_finding(number: i64, step: &Step, text: &str) -> NewFinding {
    NewFinding {
        step_number: number,
        step_name: step.name.clone(),
        log: "stdio".to_string(),
        line: 0,
        rule: "refused".to_string(),
        severity: "fail".to_string(),
        weight: 0,
        message: text.to_string(),
        detail: String::new(),
        fingerprint: oebb_analyze::fingerprint::fingerprint("refused", "", text, "", ""),
    }
}

/// The line a step's log starts with: the timeout oebb applies (the worker is given none,
/// the master interrupts the command itself).
pub fn timeout_line(timeout: Option<Duration>) -> String {
    match timeout {
        Some(t) => format!(
            "step timeout: {} s (oebb interrupts the command then)\n",
            t.as_secs()
        ),
        None => "step timeout: none\n".to_string(),
    }
}

/// The last `max` bytes (about: whole chunks, then cut) of a step's `stdio`, and how many
/// lines came before them.
async fn stdio_tail(
    store: &Store,
    step: StepId,
    total_lines: u64,
    max: i64,
) -> Result<(Vec<u8>, u64), StoreError> {
    let extents = store.log_extents(step).await?;
    let (mut size, mut first) = (0, extents.len());
    while first > 0 && size < max {
        first -= 1;
        size += extents[first].raw_size;
    }
    let (Some(from), Some(last)) = (extents.get(first), extents.last()) else {
        return Ok((Vec::new(), total_lines));
    };
    let mut text = Vec::new();
    let mut next = from.seq;
    while next <= last.seq {
        let (chunks, after) = store.read_log_page(step, next).await?;
        if chunks.is_empty() {
            break;
        }
        for chunk in chunks.iter().take((last.seq - next + 1) as usize) {
            text.extend_from_slice(chunk);
        }
        next = after;
    }
    let cut = text.len().saturating_sub(max as usize);
    text.drain(..cut);
    let kept_lines = text.iter().filter(|b| **b == b'\n').count() as u64;
    Ok((text, total_lines.saturating_sub(kept_lines)))
}

/// The build property saying what a failed build left for a post-mortem.
pub const POST_MORTEM: &str = "post_mortem";

impl BuildRun {
    /// Does not run a step that would remove what a failed build leaves for a post-mortem
    /// (its test database), and says what is kept in the build property [`POST_MORTEM`].
    pub(crate) async fn keep_for_post_mortem(
        &mut self,
        id: StepId,
        step: &Step,
        kept: &str,
        log: &mut StepLog,
    ) -> Result<Results, StoreError> {
        let kept = self.properties.interpolate(kept);
        log.append(&format!("not run: the build failed; {kept}\n"))
            .await?;
        let value = serde_json::Value::from(kept.clone());
        self.store
            .set_build_property(self.build, POST_MORTEM, &value.to_string(), &step.name)
            .await?;
        self.properties.set(POST_MORTEM, value, &step.name);
        let text = format!("not run: {kept}");
        self.store.finish_step(id, Results::Skipped, &text).await?;
        Ok(Results::Skipped)
    }

    /// Reads the cause of a failed step from the end of its log and stores it.
    pub(crate) async fn record_causes(
        &mut self,
        (id, number): (StepId, i64),
        step: &Step,
        end: &CommandEnd,
        log: &StepLog,
        outcome: &mut Outcome,
    ) -> Result<(), StoreError> {
        let Some(end) = step_end(end, step.timeout) else {
            return Ok(());
        };
        let (tail, before) = stdio_tail(&self.store, id, log.lines, CAUSE_TAIL_BYTES).await?;
        let program = match &step.command {
            StepCommand::Argv(argv) => argv.first().map(String::as_str),
            _ => None,
        };
        let kind = step_cause::step_kind(&step.name, program);
        let db = self.properties.interpolate("%(prop:testing_db)s");
        let causes = tokio::task::spawn_blocking(move || {
            let mut scanner = Scanner::after_lines(before);
            scanner.feed(&tail);
            scanner.finish(kind, &end, &db)
        })
        .await
        .unwrap_or_default();
        let found = cause_findings(number, step, causes);
        self.store_findings(found, outcome).await
    }

    /// Stores findings of this build and keeps them for its summary.
    pub(crate) async fn store_findings(
        &mut self,
        found: Vec<NewFinding>,
        outcome: &mut Outcome,
    ) -> Result<(), StoreError> {
        if found.is_empty() {
            return Ok(());
        }
        let stored = self
            .store
            .add_findings(self.build, self.builder.as_str(), &found)
            .await?;
        outcome.findings.extend(stored);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::BuildId;

    fn finding(step: &str, weight: i64, seq: i64, message: &str) -> FindingRecord {
        FindingRecord {
            build_id: BuildId(1),
            seq,
            step_number: 0,
            step_name: step.into(),
            log: "stdio".into(),
            line: 1,
            rule: "r".into(),
            severity: "fail".into(),
            weight,
            message: message.into(),
            detail: String::new(),
            fingerprint: "f".into(),
            first_build: BuildId(1),
            seen_builds: 1,
        }
    }

    #[test]
    fn the_summary_names_the_first_failed_step_and_the_best_cause() {
        let mut o = Outcome::default();
        o.step_done(&Step::script("buildout", "x"), Results::Failure);
        o.step_done(&Step::script("analyze", "x"), Results::Failure);
        assert_eq!(o.summary(Results::Failure), "buildout failed");
        o.findings
            .push(finding("buildout", 2, 0, "exit code 1 after: x"));
        o.findings
            .push(finding("buildout", 0, 1, "Error: conflict"));
        assert_eq!(
            o.summary(Results::Failure),
            "buildout failed: Error: conflict"
        );
        o.findings.insert(0, finding("analyze", 0, 0, "boom"));
        assert_eq!(
            o.summary(Results::Failure),
            "buildout failed; analyze: boom"
        );
    }

    #[test]
    fn warnings_never_read_warnings_with_empty_brackets() {
        let mut o = Outcome::default();
        assert_eq!(o.summary(Results::Warnings), "warnings");
        let drop = Step::script("final_dropdb", "x").flunk_on_failure(false);
        o.step_done(&drop, Results::Failure);
        assert_eq!(o.summary(Results::Warnings), "warnings in final_dropdb");
    }

    #[test]
    fn consequential_steps_are_not_run() {
        let analyze = Step::new(
            "analyze",
            StepCommand::Analyze {
                logfile: "test.log".into(),
                exit_status_of: Some("test".into()),
                odoo_version: None,
                tests_requested: true,
                ignore_file: None,
                warnings_fail: false,
                known_noise: true,
            },
        );
        let drop = Step::script("final_dropdb", "x").needs_success_of(&["createdb"]);
        let mut o = Outcome::default();
        o.step_done(&Step::script("buildout", "x"), Results::Failure);
        assert_eq!(
            o.not_run(&analyze).as_deref(),
            Some("not run: buildout failed")
        );
        assert_eq!(
            o.not_run(&drop).as_deref(),
            Some("not run: buildout failed")
        );
        o.ran.insert("test".into());
        o.succeeded.insert("createdb".into());
        assert_eq!(o.not_run(&analyze), None);
        assert_eq!(o.not_run(&drop), None);
        assert_eq!(o.not_run(&Step::script("other", "x")), None);
    }
}
