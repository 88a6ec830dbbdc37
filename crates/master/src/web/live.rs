//! Server-Sent Events for pages that follow a running build: a step's log (the stored part
//! from `?from=` on, then each chunk as the runner stores it) and the build's step and result
//! changes. A follower holds a broadcast receiver and a page of chunks at most.

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};

use super::session::Session;
use super::view::{self, Layout};
use super::{logs, Web};
use crate::ids::{BuildId, StepId};
use crate::live::{BuildEvent, LogEvent};
use crate::store::Store;

/// Where a log stream starts.
#[derive(Deserialize, Default)]
pub struct FromQuery {
    /// The first chunk to send (0 when not given).
    pub from: Option<i64>,
}

/// Stored chunks a follower reads at a time while catching up.
const FOLLOWER_CHUNKS: i64 = 4;

fn log_event(text: &[u8]) -> Event {
    // JSON keeps newlines and carriage returns intact through SSE's line format.
    Event::default()
        .event("log")
        .data(serde_json::Value::from(String::from_utf8_lossy(text)).to_string())
}

fn end_event(result: &str) -> Event {
    Event::default()
        .event("end")
        .data(json!({ "result": result }).to_string())
}

struct StepFollower {
    store: Store,
    step: StepId,
    next_seq: i64,
    live: Option<broadcast::Receiver<LogEvent>>,
    /// Reading stored chunks (true) or waiting for live ones.
    catching_up: bool,
    /// The step's result, once the live channel told it.
    result: Option<&'static str>,
    done: bool,
}

impl StepFollower {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, StepFollower)> {
        loop {
            if self.done {
                return None;
            }
            if self.catching_up || self.live.is_none() {
                match self
                    .store
                    .read_log_chunks(self.step, self.next_seq, FOLLOWER_CHUNKS)
                    .await
                {
                    Ok((chunks, after)) if !chunks.is_empty() => {
                        self.next_seq = after;
                        return Some((Ok(log_event(&chunks.concat())), self));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(step = %self.step, "live log: {e}");
                        self.done = true;
                        return Some((Ok(end_event("exception")), self));
                    }
                }
                self.catching_up = false;
                if self.live.is_none() {
                    self.done = true;
                    let result = match self.result {
                        Some(r) => r,
                        None => self.stored_result().await,
                    };
                    return Some((Ok(end_event(result)), self));
                }
            }
            let received = match self.live.as_mut() {
                Some(rx) => rx.recv().await,
                None => continue,
            };
            match received {
                Ok(LogEvent::Chunk { seq, text }) => {
                    if seq < self.next_seq {
                        continue; // already sent from the store
                    }
                    if seq > self.next_seq {
                        self.catching_up = true; // a gap: read it from the store
                        continue;
                    }
                    self.next_seq = seq + 1;
                    return Some((Ok(log_event(&text)), self));
                }
                Ok(LogEvent::End(result)) => {
                    // Anything stored but not yet sent goes first, then this result.
                    self.live = None;
                    self.catching_up = true;
                    self.result = Some(result.name());
                }
                Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => {
                    self.live = None;
                    self.catching_up = true;
                }
            }
        }
    }

    async fn stored_result(&self) -> &'static str {
        match self.store.find_step_by_id(self.step).await {
            Ok(Some(s)) => view::result_name(s.result, s.finished_at.is_some()),
            _ => "none",
        }
    }
}

fn sse(stream: impl Stream<Item = Result<Event, Infallible>> + Send + 'static) -> Response {
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `GET /builds/{id}/steps/{number}/stream`: the step's log from chunk `?from=`, live until
/// the step ends (`log` events hold JSON strings; `end` holds the result).
pub async fn step_stream(
    State(web): State<Web>,
    Extension(session): Extension<Session>,
    Path((build, number)): Path<(i64, String)>,
    Query(q): Query<FromQuery>,
) -> Response {
    let layout = Layout::new(&web, &session, "/");
    let step = match logs::find_step(&web, &layout, build, &number).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Follow first, then read the store: no chunk can fall between the two.
    let live = web.store.live().follow_step(step.id);
    let follower = StepFollower {
        store: web.store.clone(),
        step: step.id,
        next_seq: q.from.unwrap_or(0).max(0),
        live,
        catching_up: true,
        result: None,
        done: false,
    };
    sse(stream::unfold(follower, StepFollower::next))
}

struct BuildFollower {
    store: Store,
    build: BuildId,
    live: Option<broadcast::Receiver<BuildEvent>>,
    /// Events about steps that started before the follower did.
    pending: std::collections::VecDeque<Event>,
    done: bool,
}

impl BuildFollower {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, BuildFollower)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            if self.done {
                return None;
            }
            let Some(rx) = self.live.as_mut() else {
                self.done = true;
                let result = match self.store.build(self.build).await {
                    Ok(Some(b)) => view::build_result(&b),
                    _ => "none",
                };
                return Some((Ok(end_event(result)), self));
            };
            match rx.recv().await {
                Ok(BuildEvent::StepStarted { number, name }) => {
                    let data = json!({ "number": number, "name": name }).to_string();
                    return Some((Ok(Event::default().event("step").data(data)), self));
                }
                Ok(BuildEvent::StepFinished { number, result }) => {
                    let data = json!({ "number": number, "result": result.name() }).to_string();
                    return Some((Ok(Event::default().event("stepend").data(data)), self));
                }
                Ok(BuildEvent::Finished(result)) => {
                    self.done = true;
                    return Some((Ok(end_event(result.name())), self));
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => self.live = None,
            }
        }
    }
}

/// `GET /builds/{id}/stream`: `step` (a step started), `stepend` and `end` (the build's
/// result) events while the build runs; just `end` once it has finished.
pub async fn build_stream(State(web): State<Web>, Path(build): Path<i64>) -> Response {
    let build = BuildId(build);
    let live = web.store.live().follow_build(build);
    // Steps that started before the page followed the build: the page may not show them
    // yet. Repeats are harmless (the page ignores steps it has).
    let mut pending = std::collections::VecDeque::new();
    if live.is_some() {
        for step in web.store.steps(build).await.unwrap_or_default() {
            let data = json!({ "number": step.number, "name": step.name }).to_string();
            pending.push_back(Event::default().event("step").data(data));
            if let Some(result) = step.result {
                let data = json!({ "number": step.number, "result": result.name() }).to_string();
                pending.push_back(Event::default().event("stepend").data(data));
            }
        }
    }
    let follower = BuildFollower {
        store: web.store.clone(),
        build,
        live,
        pending,
        done: false,
    };
    sse(stream::unfold(follower, BuildFollower::next))
}
