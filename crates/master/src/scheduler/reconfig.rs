//! A reconfig inside the scheduler loop: the configuration arrives read and checked (see
//! `crate::reconfig`), and [`Scheduler::apply_configuration`] swaps, in one event, everything
//! derived from it. Queued requests and running builds are not touched: a request of a
//! builder that is gone stays queued until the builder comes back or someone cancels it, a
//! running build finishes on its worker.

use std::collections::HashMap;
use std::sync::Arc;

use oebb_config::{MasterConfig, WorkerName};
use oebb_protocol::Untrusted;

use super::Scheduler;
use crate::configuration::{changes, Outcome, Running};
use crate::reconfig::LoadedConfiguration;
use crate::watch::WatchFiles;

/// Why a removed worker's connection is closed.
pub(super) const REMOVED: &str =
    "this worker is no longer in the master's workers file (removed at a reconfig)";

/// Errors of a refused configuration kept and answered, at most (the recipe check gives at
/// most one per buildout, and manifests may hold tens of thousands).
const MAX_ERRORS: usize = 1000;

/// Why a worker whose password changed is disconnected.
const NEW_PASSWORD: &str =
    "this worker's password changed at a reconfig of the master: log in again with the new one";

impl Scheduler {
    /// Applies a configuration read and checked off the loop, or records why it was refused;
    /// either way the outcome is logged and kept for the web.
    pub(super) fn reconfigure(
        &mut self,
        loaded: Result<Box<LoadedConfiguration>, Vec<String>>,
    ) -> Outcome {
        let at = crate::store::now_millis();
        let (new, watch_files) = match loaded {
            Ok(new) => (Arc::new(new.config), new.watch_files),
            Err(mut errors) => {
                if errors.len() > MAX_ERRORS {
                    let more = errors.len() - MAX_ERRORS;
                    errors.truncate(MAX_ERRORS);
                    errors.push(format!(
                        "… and {more} more errors: `oebb check DIR` lists them"
                    ));
                }
                tracing::warn!(
                    "reconfig refused, the running configuration stays; {} error(s):\n{}",
                    errors.len(),
                    errors.join("\n")
                );
                let outcome = Outcome::Refused { at, errors };
                self.current.record(outcome.clone());
                return outcome;
            }
        };
        let changes = changes(&self.config, &new);
        let warnings = new.warnings.iter().map(ToString::to_string).collect();
        self.apply_configuration(new, watch_files);
        if changes.is_empty() {
            tracing::info!("reconfig applied: nothing changed");
        } else {
            tracing::info!("reconfig applied: {}", changes.lines().join("; "));
        }
        let outcome = Outcome::Applied {
            at,
            changes: Box::new(changes),
            warnings,
        };
        self.current.record(outcome.clone());
        outcome
    }

    /// Makes `new` the running configuration: the one place where everything derived from
    /// the configuration is replaced (builders, workers and their passwords, settings, the
    /// web's users and pages, the watched repositories and the buildouts' schedulers with
    /// the standalone buildouts' live sources and the hooks' secret of `watch_files`, the mail
    /// rules). Connected workers that are gone or have a new password get no new build and are
    /// disconnected once their running builds end.
    pub fn apply_configuration(&mut self, new: Arc<MasterConfig>, watch_files: WatchFiles) {
        let old = std::mem::replace(&mut self.config, new.clone());
        self.builders = new
            .matrix
            .builders
            .iter()
            .map(|b| (b.name.as_str().to_string(), b.clone()))
            .collect();
        self.workers = new
            .workers
            .iter()
            .map(|w| (w.name.clone(), w.clone()))
            .collect();
        self.max_queued = new.settings.max_queued_requests;
        let last = self.current.get().last_reconfig.clone();
        self.current.set(Running::new(new.clone(), last));
        if let Some(passwords) = &self.web_passwords {
            passwords.set_users(&new.settings.users);
        }
        if let Some(schedules) = &mut self.schedules {
            schedules.reconfigure(new.clone(), watch_files);
        }
        self.notify = crate::notify::Notifier::from_config(&new).map(Arc::new);
        let old_passwords: HashMap<&WorkerName, &str> = old
            .workers
            .iter()
            .map(|w| (&w.name, w.password.as_str()))
            .collect();
        for name in self.connected.keys() {
            let why = match self.workers.get(name) {
                None => REMOVED,
                Some(w) if old_passwords.get(name) != Some(&w.password.as_str()) => NEW_PASSWORD,
                Some(_) => continue,
            };
            self.retiring.insert(name.clone(), why);
        }
        self.retire_idle_workers();
    }

    /// Disconnects the retiring workers that run no build any more.
    pub(super) fn retire_idle_workers(&mut self) {
        let idle: Vec<WorkerName> = self
            .retiring
            .keys()
            .filter(|name| !self.running.values().any(|b| &b.worker == *name))
            .cloned()
            .collect();
        for name in idle {
            let Some(why) = self.retiring.remove(&name) else {
                continue;
            };
            if let Some(worker) = self.connected.get(&name) {
                tracing::info!(worker = %Untrusted(name.as_str()), "disconnected: {why}");
                worker.handle.connection.close(why);
            }
        }
    }
}
