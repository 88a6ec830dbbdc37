//! Steps that run on the master: `SetProperties`, and the judging half of `Analyze` (the
//! worker only sends the log file; oebb-analyze decides on the master).

use std::collections::BTreeMap;
use std::path::Path;

use oebb_analyze::{IgnoreList, Options, TestsExpectation, Verdict, Version};
use oebb_config::paths::{Component, PathError, RootedPath, Subject};
use serde_json::Value;

use crate::command::StepLog;
use crate::ids::StepId;
use crate::results::Results;
use crate::runner::BuildRun;
use crate::step::{Step, StepCommand};
use crate::StoreError;

impl BuildRun {
    /// Sets build properties (values interpolated); nothing runs on the worker.
    pub(crate) async fn set_properties(
        &mut self,
        id: StepId,
        step: &str,
        values: &BTreeMap<String, String>,
        log: &mut StepLog,
    ) -> Result<Results, StoreError> {
        for (name, value) in values {
            let value = Value::from(self.properties.interpolate(value));
            self.store
                .set_build_property(self.build, name, &value.to_string(), step)
                .await?;
            log.append(&format!("{name} = {value}\n")).await?;
            self.properties.set(name, value, step);
        }
        self.store.finish_step(id, Results::Success, "set").await?;
        Ok(Results::Success)
    }

    /// Where an `Analyze` step's log file is kept: the build's directory under the master
    /// directory, so the whole log stays with the build (`builds/<build>/<step>/<file name>`,
    /// each one path component).
    pub(crate) fn fetched_log(&self, step: &Step) -> Result<RootedPath, PathError> {
        let StepCommand::Analyze { logfile, .. } = &step.command else {
            unreachable!("only Analyze steps fetch a log")
        };
        let logfile = self.properties.interpolate_path(logfile)?;
        let file = Path::new(&logfile)
            .file_name()
            .map_or_else(|| "log".into(), |n| n.to_string_lossy());
        let builds = RootedPath::root(Subject::Path("master directory"), &self.master_dir)?;
        Ok(builds
            .child(&Component::new(Subject::Path("builds"), "builds")?)
            .child(&Component::new(
                Subject::Path("build"),
                &self.build.0.to_string(),
            )?)
            .child(&Component::new(Subject::Name("step"), &step.name)?)
            .child(&Component::new(Subject::Path("log file name"), &file)?))
    }

    /// Judges the fetched log with the exit status of the step that wrote it: the verdict is
    /// the step's result; the report's text goes to the
    /// step's log and its JSON to the build property `<step>_report`.
    pub(crate) async fn judge_log(
        &mut self,
        step: &Step,
        fetched: Results,
        statuses: &crate::runner::ExitStatuses,
        log: &mut StepLog,
        found: &mut Vec<crate::store::NewFinding>,
    ) -> Result<(Results, String), StoreError> {
        let StepCommand::Analyze {
            logfile,
            exit_status_of,
            odoo_version,
            tests_requested,
            ignore_file,
            warnings_fail,
            known_noise,
        } = &step.command
        else {
            unreachable!("only Analyze steps are judged")
        };
        if fetched != Results::Success {
            if matches!(fetched, Results::Failure) {
                log.append(&format!(
                    "no {logfile} on the worker: the step writing it did not run\n"
                ))
                .await?;
                return Ok((
                    Results::Failure,
                    "no log: the step writing it did not run".into(),
                ));
            }
            return Ok((fetched, "the log could not be fetched".into()));
        }
        // A writer that never ran, or was interrupted, has no status: the log alone is judged
        // (and that step has failed the build already).
        let exit_status = exit_status_of
            .as_ref()
            .and_then(|writer| statuses.get(writer).copied());
        if let (Some(writer), Some(status)) = (exit_status_of, exit_status) {
            log.append(&format!("exit status of step {writer}: {status}\n"))
                .await?;
        }
        let mut options = Options {
            version: odoo_version.as_deref().and_then(Version::parse),
            exit_status,
            tests: if *tests_requested {
                TestsExpectation::Requested
            } else {
                TestsExpectation::NotExpected
            },
            warnings_fail: *warnings_fail,
            ..Options::default()
        };
        if let Some(file) = ignore_file {
            let parsed = oebb_config::load::read_file(file)
                .map_err(|e| e.to_string())
                .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string()))
                .and_then(|text| {
                    IgnoreList::parse_config(&text, &file.display().to_string())
                        .map_err(|e| e.to_string())
                });
            match parsed {
                Ok(list) => options.ignore = list,
                Err(e) => {
                    log.append(&format!("ignore file {}: {e}\n", file.display()))
                        .await?;
                    return Ok((Results::Exception, "bad ignore file".into()));
                }
            }
        }
        if *known_noise {
            options.ignore.extend(oebb_analyze::noise::known_noise());
        }
        let path = match self.fetched_log(step) {
            Ok(p) => p.path().to_path_buf(),
            Err(e) => {
                // `command` checked the same path before the log was fetched.
                log.append(&format!("{e}\n")).await?;
                return Ok((Results::Exception, "bad log path".into()));
            }
        };
        let report = tokio::task::spawn_blocking(move || {
            std::fs::File::open(&path).and_then(|f| oebb_analyze::analyze_reader(f, &options))
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                log.append(&format!("cannot read the fetched {logfile}: {e}\n"))
                    .await?;
                return Ok((Results::Exception, "log not readable".into()));
            }
        };
        log.append(&oebb_analyze::render_text(&report, logfile))
            .await?;
        let json = serde_json::to_value(&report).unwrap_or(Value::Null);
        let property = format!("{}_report", step.name);
        self.store
            .set_build_property(self.build, &property, &json.to_string(), &step.name)
            .await?;
        self.properties.set(&property, json, &step.name);
        *found = crate::findings::report_findings(&step.name, &report);
        Ok(match report.verdict {
            Verdict::Pass => (Results::Success, "log: pass".into()),
            Verdict::Warnings => (Results::Warnings, "log: warnings".into()),
            Verdict::Fail => (Results::Failure, "log: fail".into()),
        })
    }
}
