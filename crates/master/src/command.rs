//! Running one command on a worker: start it, store its output as it comes, answer its file
//! transfer requests, interrupt it on stop or timeout, and notice when the worker goes away.

use std::time::Duration;

use oebb_protocol::{Command, IncomingRequest, Request, RequestError, Response, Untrusted, Update};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::ids::StepId;
use crate::store::{Store, StoreError};
pub use crate::transfer::Transfer;
use crate::transfer::TransferState;
use crate::workers::{WorkerHandle, CONTROL_TIMEOUT};

/// How long a worker may take to finish a command after it was asked to interrupt it.
const INTERRUPT_GRACE: Duration = Duration::from_secs(20);

/// How a command ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandEnd {
    /// It ran to its end (`rc` as the worker reported it; `failure` when it raised).
    Completed {
        /// The exit code.
        rc: Option<i64>,
        /// The worker's exception text.
        failure: Option<String>,
    },
    /// It ran longer than the step's timeout and was interrupted.
    TimedOut,
    /// Somebody stopped the build.
    Stopped(String),
    /// The worker went away.
    Lost(String),
    /// The master could not keep the command's log.
    StoreFailed(String),
}

/// Where a step's output goes: the store, chunk by chunk, each chunk written before the
/// worker's update is acknowledged. The command's output is the `stdio` log; the files the
/// step keeps as logs (`Step::log_files`) are logs of their own names.
pub struct StepLog {
    store: Store,
    step: StepId,
    seq: i64,
    /// Next chunk number of each named log.
    named_seq: std::collections::BTreeMap<String, i64>,
    /// Standard output kept for `property_from_stdout`, when asked.
    pub captured_stdout: Option<String>,
    /// Newlines written to `stdio`, so a cause read from its end knows its line number.
    pub lines: u64,
}

/// The most standard output kept for a property.
const MAX_CAPTURE: usize = 1 << 20;

impl StepLog {
    /// A log for a new step.
    pub fn new(store: Store, step: StepId, capture_stdout: bool) -> StepLog {
        StepLog {
            store,
            step,
            seq: 0,
            named_seq: Default::default(),
            captured_stdout: capture_stdout.then(String::new),
            lines: 0,
        }
    }

    /// Appends text.
    pub async fn append(&mut self, text: &str) -> Result<(), StoreError> {
        if text.is_empty() {
            return Ok(());
        }
        self.store
            .append_log(self.step, self.seq, text.as_bytes())
            .await?;
        self.seq += 1;
        self.lines += text.bytes().filter(|b| *b == b'\n').count() as u64;
        Ok(())
    }

    /// Appends text to the step's log `name`.
    pub async fn append_named(&mut self, name: &str, text: &str) -> Result<(), StoreError> {
        if text.is_empty() {
            return Ok(());
        }
        let seq = self.named_seq.entry(name.to_string()).or_insert(0);
        self.store
            .append_named_log(self.step, name, *seq, text.as_bytes())
            .await?;
        *seq += 1;
        Ok(())
    }

    async fn update(&mut self, update: &Update, rc: &mut Option<i64>) -> Result<(), StoreError> {
        match update {
            Update::Stdout(chunk) => {
                if let Some(captured) = &mut self.captured_stdout {
                    if captured.len() + chunk.text.len() <= MAX_CAPTURE {
                        captured.push_str(&chunk.text);
                    }
                }
                self.append(&chunk.text).await
            }
            Update::Stderr(chunk) | Update::Header(chunk) => self.append(&chunk.text).await,
            Update::Log { name, chunk } => self.append_named(name, &chunk.text).await,
            Update::Rc(code) => {
                *rc = Some(*code);
                Ok(())
            }
            Update::FailureReason(reason) => {
                self.append(&format!("command failed: {reason}\n")).await
            }
            _ => Ok(()),
        }
    }
}

/// Runs `command` on the worker until it completes, is interrupted or the worker is lost.
pub async fn run_command(
    worker: &WorkerHandle,
    builder: &str,
    command: Command,
    transfer: Transfer,
    log: &mut StepLog,
    stop: &mut watch::Receiver<Option<String>>,
    timeout: Option<Duration>,
) -> CommandEnd {
    let mut transfer = match TransferState::open(transfer).await {
        Ok(t) => t,
        Err(e) => {
            let _ = log.append(&format!("{e}\n")).await;
            return CommandEnd::Completed {
                rc: None,
                failure: Some(e),
            };
        }
    };
    let Some((command_id, mut incoming)) = worker.open_command() else {
        return CommandEnd::Lost("the worker's connection has closed".to_string());
    };
    let start = worker.connection.request(
        Request::StartCommand {
            command_id: command_id.clone(),
            command,
            builder_name: Some(builder.to_string()),
        },
        CONTROL_TIMEOUT,
    );
    tokio::pin!(start);
    let mut started = false;
    let mut rc = None;
    let far = Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
    let mut deadline = timeout.map_or(far, |t| Instant::now() + t);
    let mut interrupted: Option<CommandEnd> = None;
    let mut stop_gone = false;
    let end = loop {
        tokio::select! {
            answer = &mut start, if !started => {
                started = true;
                match answer {
                    Ok(_) => {}
                    Err(RequestError::Exception { message, .. }) => {
                        let _ = log.append(&format!("the worker refused the command: {message}\n")).await;
                        break CommandEnd::Completed { rc: None, failure: Some(message) };
                    }
                    Err(e) => break CommandEnd::Lost(e.to_string()),
                }
            }
            request = incoming.recv() => {
                let Some(IncomingRequest { request, responder, .. }) = request else {
                    break CommandEnd::Lost("the worker's connection closed".to_string());
                };
                match &request {
                    Request::Update { updates, .. } => {
                        let mut stored = Ok(());
                        for update in updates {
                            stored = log.update(update, &mut rc).await;
                            if stored.is_err() {
                                break;
                            }
                        }
                        match stored {
                            Ok(()) => responder.respond(Response::ok()),
                            Err(e) => {
                                tracing::error!(worker = %worker.name, "cannot store a step log: {}", Untrusted(&e.to_string()));
                                responder.respond(Response::Exception(e.to_string()));
                                if interrupted.is_none() {
                                    interrupt(worker, &command_id, "the master cannot store the log").await;
                                    interrupted = Some(CommandEnd::StoreFailed(e.to_string()));
                                    deadline = Instant::now() + INTERRUPT_GRACE;
                                }
                            }
                        }
                    }
                    Request::Complete { failure, .. } => {
                        responder.respond(Response::ok());
                        if let Some(end) = interrupted.take() {
                            break end;
                        }
                        break CommandEnd::Completed { rc, failure: failure.clone() };
                    }
                    other => match transfer.answer(other).await {
                        Ok(value) => responder.respond(Response::Result(value)),
                        Err(message) => {
                            let _ = log.append(&format!("file transfer failed: {message}\n")).await;
                            responder.respond(Response::Exception(message));
                        }
                    },
                }
            }
            changed = stop.changed(), if interrupted.is_none() && !stop_gone => {
                if changed.is_err() {
                    stop_gone = true;
                    continue;
                }
                let why = stop.borrow().clone();
                let Some(why) = why else { continue };
                let _ = log.append(&format!("\nstopping: {why}\n")).await;
                interrupt(worker, &command_id, &why).await;
                interrupted = Some(CommandEnd::Stopped(why));
                deadline = Instant::now() + INTERRUPT_GRACE;
            }
            _ = tokio::time::sleep_until(deadline) => {
                if let Some(end) = interrupted.take() {
                    let _ = log.append("\nthe worker did not end the command after an interrupt\n").await;
                    break end;
                }
                let _ = log.append(&format!("\ntimed out after {:?}\n", timeout.unwrap_or_default())).await;
                interrupt(worker, &command_id, "step timeout").await;
                interrupted = Some(CommandEnd::TimedOut);
                deadline = Instant::now() + INTERRUPT_GRACE;
            }
        }
    };
    worker.close_command(&command_id);
    transfer.abandon().await;
    end
}

async fn interrupt(worker: &WorkerHandle, command_id: &oebb_protocol::CommandId, why: &str) {
    let request = Request::InterruptCommand {
        command_id: command_id.clone(),
        why: why.to_string(),
    };
    if let Err(e) = worker.connection.request(request, CONTROL_TIMEOUT).await {
        tracing::warn!(worker = %worker.name, command = %command_id, "interrupt failed: {}", Untrusted(&e.to_string()));
    }
}
