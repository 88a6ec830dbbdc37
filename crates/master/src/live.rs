//! What is happening now, for the web: each running step's log as it is stored, each running
//! build's step and result changes, and the durations of finished steps. The store feeds it
//! right after each write, so a page following a build sees nothing the store does not have.
//!
//! Broadcast channels with a few slots each: a follower that falls behind is told how far and
//! reads the gap back from the store, so memory stays small whatever the number of followers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::broadcast;

use crate::ids::{BuildId, StepId};
use crate::results::Results;

/// How many events a channel keeps for a follower that has not read them yet.
const CHANNEL_SLOTS: usize = 32;

/// Upper bounds (seconds) of the step duration histogram's buckets.
pub const DURATION_BUCKETS: [f64; 10] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0,
];

/// One event of a running step's log.
#[derive(Clone, Debug)]
pub enum LogEvent {
    /// Chunk `seq` of the log was stored.
    Chunk {
        /// Its number.
        seq: i64,
        /// Its text.
        text: Arc<[u8]>,
    },
    /// The step finished.
    End(Results),
}

/// One event of a running build.
#[derive(Clone, Debug)]
pub enum BuildEvent {
    /// Step `number` started.
    StepStarted {
        /// Its place in the build.
        number: i64,
        /// Its name.
        name: String,
    },
    /// Step `number` finished.
    StepFinished {
        /// Its place in the build.
        number: i64,
        /// Its result.
        result: Results,
    },
    /// The build finished.
    Finished(Results),
}

struct RunningStep {
    build: BuildId,
    number: i64,
    name: String,
    started: Instant,
    log: broadcast::Sender<LogEvent>,
}

/// Counts of finished steps per duration bucket, for `/metrics`.
#[derive(Clone, Debug, Default)]
pub struct DurationHistogram {
    /// Finished steps whose duration is at most each of [`DURATION_BUCKETS`].
    pub buckets: [u64; DURATION_BUCKETS.len()],
    /// Every finished step.
    pub count: u64,
    /// Their total duration in seconds.
    pub sum: f64,
}

#[derive(Default)]
struct Inner {
    steps: HashMap<StepId, RunningStep>,
    builds: HashMap<BuildId, broadcast::Sender<BuildEvent>>,
    durations: HashMap<String, DurationHistogram>,
}

/// The live state; one per store.
#[derive(Default)]
pub struct Live {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Live")
    }
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn build_started(&self, build: BuildId) {
        let (tx, _) = broadcast::channel(CHANNEL_SLOTS);
        self.lock().builds.insert(build, tx);
    }

    pub(crate) fn build_finished(&self, build: BuildId, result: Results) {
        if let Some(tx) = self.lock().builds.remove(&build) {
            let _ = tx.send(BuildEvent::Finished(result));
        }
    }

    pub(crate) fn step_started(&self, build: BuildId, step: StepId, number: i64, name: &str) {
        let (log, _) = broadcast::channel(CHANNEL_SLOTS);
        let mut inner = self.lock();
        inner.steps.insert(
            step,
            RunningStep {
                build,
                number,
                name: name.to_string(),
                started: Instant::now(),
                log,
            },
        );
        if let Some(tx) = inner.builds.get(&build) {
            let _ = tx.send(BuildEvent::StepStarted {
                number,
                name: name.to_string(),
            });
        }
    }

    pub(crate) fn log_appended(&self, step: StepId, seq: i64, text: &[u8]) {
        let inner = self.lock();
        if let Some(running) = inner.steps.get(&step) {
            // No copy of the text unless somebody follows the log.
            if running.log.receiver_count() > 0 {
                let _ = running.log.send(LogEvent::Chunk {
                    seq,
                    text: Arc::from(text),
                });
            }
        }
    }

    pub(crate) fn step_finished(&self, step: StepId, result: Results) {
        let mut inner = self.lock();
        let Some(running) = inner.steps.remove(&step) else {
            return;
        };
        let _ = running.log.send(LogEvent::End(result));
        if let Some(tx) = inner.builds.get(&running.build) {
            let _ = tx.send(BuildEvent::StepFinished {
                number: running.number,
                result,
            });
        }
        let seconds = running.started.elapsed().as_secs_f64();
        let histogram = inner.durations.entry(running.name).or_default();
        histogram.count += 1;
        histogram.sum += seconds;
        for (bucket, bound) in histogram.buckets.iter_mut().zip(DURATION_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// Follows a running step's log; `None` when the step is not running.
    pub fn follow_step(&self, step: StepId) -> Option<broadcast::Receiver<LogEvent>> {
        self.lock().steps.get(&step).map(|s| s.log.subscribe())
    }

    /// Follows a running build; `None` when the build is not running.
    pub fn follow_build(&self, build: BuildId) -> Option<broadcast::Receiver<BuildEvent>> {
        self.lock().builds.get(&build).map(|tx| tx.subscribe())
    }

    /// The duration histogram of finished steps since the master started, by step name.
    pub fn step_durations(&self) -> Vec<(String, DurationHistogram)> {
        let mut all: Vec<_> = self
            .lock()
            .durations
            .iter()
            .map(|(n, h)| (n.clone(), h.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}
