//! Runs one build: its steps in order on one worker, with Buildbot's flags, locks, timeouts
//! and properties, every step and log line stored as it happens.

use std::collections::BTreeMap;
use std::sync::Arc;

use oebb_protocol::{
    Arg, Command, CommandLine, Compression, DownloadFileArgs, EnvValue, LogFileSpec, ShellArgs,
    UploadDirectoryArgs, UploadFileArgs,
};
use serde_json::Value;
use tokio::sync::watch;

use crate::command::{run_command, CommandEnd, StepLog, Transfer};
use crate::findings::{refused_finding, timeout_line, Outcome};
use crate::ids::BuildId;
use crate::locks::WorkerLocks;
use crate::properties::Properties;
use crate::results::Results;
use crate::step::{Step, StepCommand};
use crate::store::Store;
use crate::workers::WorkerHandle;
use oebb_config::paths::{self, PathError, RootedPath, Subject};
use oebb_config::BuilderName;
use std::path::Path;

/// Everything a build needs to run.
pub struct BuildRun {
    /// Where steps, logs and results go.
    pub store: Store,
    /// The worker it runs on.
    pub worker: Arc<WorkerHandle>,
    /// Every worker's locks.
    pub locks: Arc<WorkerLocks>,
    /// The stored build.
    pub build: BuildId,
    /// Its builder.
    pub builder: BuilderName,
    /// The steps to run.
    pub steps: Vec<Step>,
    /// The master directory: uploads and fetched logs go under it.
    pub master_dir: std::path::PathBuf,
    /// Properties known before the first step.
    pub properties: Properties,
    /// Set to a reason to stop the build.
    pub stop: watch::Receiver<Option<String>>,
    /// The mail notifications, when `[mail]` is set: the result is stored with its mail.
    pub notify: Option<Arc<crate::notify::Notifier>>,
}

/// Exit status of every command step run so far in a build, by step name, for the analyses
/// that judge a step's log together with its status.
pub(crate) type ExitStatuses = BTreeMap<String, i32>;

/// Block size of file transfers.
const TRANSFER_BLOCK: u64 = 65536;

impl BuildRun {
    /// Runs the build and stores its result; returns it with a short text.
    pub async fn run(mut self) -> (Results, String) {
        let (result, text) = self.run_steps().await;
        let stored = match &self.notify {
            Some(n) => {
                let (store, build, builder) = (&self.store, self.build, &self.builder);
                crate::notify::build::finish_build(store, n, build, builder, result, &text).await
            }
            None => self.store.finish_build(self.build, result, &text).await,
        };
        if let Err(e) = stored {
            tracing::error!(build = %self.build, "cannot store the build's result: {e}");
        }
        tracing::info!(build = %self.build, builder = %self.builder, worker = %self.worker.name, %result, "build finished: {text}");
        (result, text)
    }

    async fn run_steps(&mut self) -> (Results, String) {
        for (name, value, source) in self.properties.iter() {
            if let Err(e) = self
                .store
                .set_build_property(self.build, name, &value.to_string(), source)
                .await
            {
                return (Results::Exception, format!("cannot store properties: {e}"));
            }
        }
        let mut result = Results::Success;
        let mut halted = false;
        let mut outcome = Outcome::default();
        let steps = std::mem::take(&mut self.steps);
        let mut statuses = ExitStatuses::new();
        for (number, step) in steps.iter().enumerate() {
            if halted && !step.always_run {
                continue;
            }
            if result == Results::Retry {
                break; // the worker is gone: not even always-run steps can run
            }
            let step_result = match self
                .run_step(number as i64, step, &mut statuses, &mut outcome)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(build = %self.build, step = %step.name, "store failed: {e}");
                    Results::Exception
                }
            };
            match step_result {
                Results::Success | Results::Skipped => {}
                Results::Warnings => result = result.worst(Results::Warnings),
                Results::Failure => {
                    if step.flunk_on_failure {
                        result = result.worst(Results::Failure);
                    } else if step.warn_on_failure {
                        result = result.worst(Results::Warnings);
                    }
                    if step.halt_on_failure {
                        halted = true;
                    }
                }
                Results::Exception | Results::Cancelled | Results::Retry => {
                    result = result.worst(step_result);
                    halted = true;
                }
            }
            outcome.step_done(step, step_result);
        }
        (result, outcome.summary(result))
    }

    async fn run_step(
        &mut self,
        number: i64,
        step: &Step,
        statuses: &mut ExitStatuses,
        outcome: &mut Outcome,
    ) -> Result<Results, crate::StoreError> {
        let id = self
            .store
            .start_step(self.build, number, &step.name)
            .await?;
        let mut log = StepLog::new(self.store.clone(), id, step.property_from_stdout.is_some());
        let stopped = self.stop.borrow().clone();
        if let Some(why) = stopped {
            log.append(&format!("not run: the build was stopped ({why})\n"))
                .await?;
            self.store
                .finish_step(id, Results::Cancelled, "stopped")
                .await?;
            return Ok(Results::Cancelled);
        }
        if let Some(skip) = &step.skip_if {
            if self.already_done(skip, &step.name).await? {
                let why = self.properties.interpolate(&skip.reason);
                log.append(&format!("{why}\n")).await?;
                self.store.finish_step(id, Results::Skipped, &why).await?;
                return Ok(Results::Skipped);
            }
        }
        if let Some(why) = outcome.not_run(step) {
            // Its log or database was never made: a consequence, not another failure.
            log.append(&format!("{why}\n")).await?;
            self.store.finish_step(id, Results::Skipped, &why).await?;
            return Ok(Results::Skipped);
        }
        if let (Some(kept), Some(_)) = (&step.kept_on_failure, &outcome.first_failed) {
            return self.keep_for_post_mortem(id, step, kept, &mut log).await;
        }
        if let StepCommand::SetProperties(values) = &step.command {
            return self.set_properties(id, &step.name, values, &mut log).await;
        }
        let (command, transfer) = match self.command(step) {
            Ok(c) => c,
            Err(e) => {
                // Nothing was sent to the worker and nothing on the master was touched.
                log.append(&format!("refused: {e}\nnothing was run\n"))
                    .await?;
                let text = format!("refused: {e}");
                let refused = refused_finding(number, step, &text);
                self.store_findings(vec![refused], outcome).await?;
                self.store
                    .finish_step(id, Results::Exception, &text)
                    .await?;
                return Ok(Results::Exception);
            }
        };
        let waiting = std::time::Instant::now();
        let held = {
            let acquire = self.locks.acquire(&self.worker.name, &step.locks);
            tokio::pin!(acquire);
            loop {
                tokio::select! {
                    held = &mut acquire => break Some(held),
                    changed = self.stop.changed() => {
                        let stopped = self.stop.borrow().is_some();
                        if changed.is_err() || stopped {
                            break None;
                        }
                    }
                }
            }
        };
        let Some(held) = held else {
            log.append("stopped while waiting for locks\n").await?;
            self.store
                .finish_step(id, Results::Cancelled, "stopped")
                .await?;
            return Ok(Results::Cancelled);
        };
        let locks = lock_names(step);
        if !locks.is_empty() {
            // Times in the store's unit, so a reader can check two steps never held an
            // exclusive lock at once (the step's own start includes the wait).
            log.append(&format!(
                "locks {locks} acquired at {} ms after waiting {:.1} s\n",
                crate::store::now_millis(),
                waiting.elapsed().as_secs_f64()
            ))
            .await?;
        }
        log.append(&timeout_line(step.timeout)).await?;
        outcome.ran.insert(step.name.clone());
        let end = run_command(
            &self.worker,
            self.builder.as_str(),
            command,
            transfer,
            &mut log,
            &mut self.stop,
            step.timeout,
        )
        .await;
        let released_at = crate::store::now_millis();
        if let CommandEnd::Completed { rc: Some(rc), .. } = &end {
            // Clamped, not wrapped: a non-zero status stays non-zero.
            let status = (*rc).clamp(i32::MIN.into(), i32::MAX.into()) as i32;
            statuses.insert(step.name.clone(), status);
        }
        drop(held);
        if !locks.is_empty() {
            log.append(&format!("locks {locks} released at {released_at} ms\n"))
                .await?;
        }
        let (mut result, mut text) = match &end {
            CommandEnd::Completed {
                rc: Some(0),
                failure: None,
            } => (Results::Success, "success".to_string()),
            CommandEnd::Completed {
                rc: Some(rc),
                failure: None,
            } => (Results::Failure, format!("failed (exit code {rc})")),
            CommandEnd::Completed {
                failure: Some(f), ..
            } => (Results::Exception, format!("exception: {}", last_line(f))),
            CommandEnd::Completed {
                rc: None,
                failure: None,
            } => (Results::Exception, "no exit code".to_string()),
            CommandEnd::TimedOut => (Results::Failure, "timed out".to_string()),
            CommandEnd::Stopped(why) => (Results::Cancelled, format!("stopped: {why}")),
            CommandEnd::Lost(why) => (Results::Retry, format!("worker lost: {why}")),
            CommandEnd::StoreFailed(why) => (Results::Exception, format!("log not stored: {why}")),
        };
        if let StepCommand::Analyze { .. } = &step.command {
            let mut found = Vec::new();
            (result, text) = self
                .judge_log(step, result, statuses, &mut log, &mut found)
                .await?;
            found.iter_mut().for_each(|f| f.step_number = number);
            self.store_findings(found, outcome).await?;
        } else if matches!(
            result,
            Results::Failure | Results::Exception | Results::Retry
        ) {
            self.record_causes((id, number), step, &end, &log, outcome)
                .await?;
        }
        if result == Results::Success {
            if let (Some(property), Some(out)) = (&step.property_from_stdout, &log.captured_stdout)
            {
                let value = Value::from(out.trim());
                self.store
                    .set_build_property(self.build, property, &value.to_string(), &step.name)
                    .await?;
                self.properties.set(property, value, &step.name);
            }
        }
        self.store.finish_step(id, result, &text).await?;
        Ok(result)
    }

    /// Whether an earlier step found the work of a step with `skip_if` done (its property is
    /// set and not empty); records the answer in the `records` property.
    async fn already_done(
        &mut self,
        skip: &crate::step::SkipIf,
        step: &str,
    ) -> Result<bool, crate::StoreError> {
        let done = match self.properties.get(&skip.property) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(_) => true,
        };
        if let Some(property) = &skip.records {
            let value = Value::Bool(done);
            self.store
                .set_build_property(self.build, property, &value.to_string(), step)
                .await?;
            self.properties.set(property, value, step);
        }
        Ok(done)
    }

    /// The protocol command of a step, with absolute worker paths and properties filled in.
    /// Every path goes through [`oebb_config::paths`]: a property value is one name, a
    /// relative worker path stays in the builder's directory, a master path under its root.
    fn command(&self, step: &Step) -> Result<(Command, Transfer), PathError> {
        let props = &self.properties;
        let builder_dir = paths::builder_dir(self.worker.basedir(), self.builder.as_str())?;
        let on_worker = |what: &'static str, dir: &Path, template: &str| {
            let interpolated = props.interpolate_path(template)?;
            paths::worker_path(
                Subject::Path(what),
                &builder_dir,
                dir,
                template,
                &interpolated,
            )
        };
        let workdir = on_worker("workdir", builder_dir.path(), &step.workdir)?;
        let worker_path =
            |what, template: &str| on_worker(what, workdir.path(), template).map(|p| p.to_text());
        let on_master = |what, template: &str| {
            let interpolated = props.interpolate_path(template)?;
            paths::master_path(
                Subject::Path(what),
                &self.master_dir,
                template,
                &interpolated,
            )
        };
        Ok(match &step.command {
            StepCommand::Argv(argv) => {
                let line = CommandLine::Argv(
                    argv.iter()
                        .map(|a| Arg::Plain(props.interpolate(a)))
                        .collect(),
                );
                (
                    self.shell(step, &builder_dir, &workdir, line)?,
                    Transfer::None,
                )
            }
            StepCommand::Script(script) => {
                let line = CommandLine::Script(props.interpolate(script));
                (
                    self.shell(step, &builder_dir, &workdir, line)?,
                    Transfer::None,
                )
            }
            StepCommand::Download { source, dest, mode } => {
                let template = source.to_string_lossy();
                let interpolated = props.interpolate_path(&template)?;
                // As the configuration wrote it: relative to the master's working directory.
                let source = paths::master_source(
                    Subject::Path("download source"),
                    &template,
                    &interpolated,
                )?;
                let command = Command::DownloadFile(DownloadFileArgs {
                    path: worker_path("download destination", dest)?,
                    blocksize: TRANSFER_BLOCK,
                    maxsize: Transfer::max_size(),
                    mode: *mode,
                });
                (command, Transfer::Send(source.path().to_path_buf()))
            }
            StepCommand::UploadDirectory { source, dest, .. } => {
                let interpolated = props.interpolate_path(dest)?;
                let dir = paths::master_upload_dir(&self.master_dir, dest, &interpolated)?;
                let command = Command::UploadDirectory(UploadDirectoryArgs {
                    path: worker_path("upload source", source)?,
                    blocksize: TRANSFER_BLOCK,
                    maxsize: Transfer::max_size(),
                    compress: Some(Compression::Gz),
                });
                (command, Transfer::ReceiveDirectory(dir))
            }
            StepCommand::Analyze { logfile, .. } => (
                Command::UploadFile(UploadFileArgs {
                    path: worker_path("log file", logfile)?,
                    blocksize: TRANSFER_BLOCK,
                    maxsize: Transfer::max_size(),
                    keepstamp: false,
                }),
                Transfer::Receive(self.fetched_log(step)?.path().to_path_buf()),
            ),
            // Runs on the master; `run_step` never asks for its worker command.
            StepCommand::SetProperties(_) => unreachable!("SetProperties has no worker command"),
            StepCommand::Upload { source, dest } => {
                let dest = on_master("upload destination", &dest.to_string_lossy())?;
                let command = Command::UploadFile(UploadFileArgs {
                    path: worker_path("upload source", source)?,
                    blocksize: TRANSFER_BLOCK,
                    maxsize: Transfer::max_size(),
                    keepstamp: false,
                });
                (command, Transfer::Receive(dest.path().to_path_buf()))
            }
        })
    }

    fn shell(
        &self,
        step: &Step,
        builder_dir: &RootedPath,
        workdir: &RootedPath,
        line: CommandLine,
    ) -> Result<Command, PathError> {
        let mut args = ShellArgs::new(workdir.to_text(), line);
        args.env = step
            .env
            .iter()
            .map(|(k, v)| (k.clone(), EnvValue::Set(self.properties.interpolate(v))))
            .collect::<BTreeMap<_, _>>();
        // The master enforces the step timeout itself; the worker's own no-output timeout
        // would otherwise kill quiet commands after 20 minutes.
        args.timeout = None;
        // The worker sends the step's own log files as they grow; each is a log of its name.
        let mut logfiles = BTreeMap::new();
        for (name, template) in &step.log_files {
            let interpolated = self.properties.interpolate_path(template)?;
            let subject = Subject::Path("log file");
            let path = paths::worker_path(
                subject,
                builder_dir,
                workdir.path(),
                template,
                &interpolated,
            )?;
            let spec = LogFileSpec {
                filename: path.to_text(),
                follow: false,
            };
            logfiles.insert(name.clone(), spec);
        }
        args.logfiles = logfiles;
        Ok(Command::from(args))
    }
}

/// The step's locks as `buildout (exclusive), db`.
fn lock_names(step: &Step) -> String {
    step.locks
        .iter()
        .map(|l| {
            if l.exclusive {
                format!("{} (exclusive)", l.lock)
            } else {
                l.lock.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The last line of a Python traceback is the exception itself.
fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or(text)
}
