//! Mail notifications: a mail when a build breaks or is fixed (per the rules of `[mail]`), and
//! when a worker of `notify_on_missing` stays away past its grace period and when it comes
//! back. Never lost, never sent twice:
//!
//! ```text
//!  runner ── build.rs: facts (findings, failed step's last lines, changes) ──┐
//!                                                                          ▼
//!  absence.rs (watcher: away past the grace? back?) ──▶ store: the event and its mail in ONE
//!                                                       transaction (mail_queue)
//!                                                                          │
//!  sender.rs (one task): oldest due mail ─▶ `sending` ─▶ relay.rs (lettre, SMTP) ─▶ `sent`
//!                        failure: `queued` again with the error, retried with backoff
//! ```
//!
//! The window between the relay's acceptance and the `sent` mark: a master that stops there
//! leaves the mail `sending`, and the next start sends it again with the same Message-ID
//! (so a receiver may see a duplicate, never a loss). The mail task finishes its current
//! attempt before the master stops, which makes that window a crash's only.
//!
//! `rules.rs` and `message.rs` are pure: who is mailed, and what the mail says.

pub mod absence;
pub mod build;
pub mod message;
pub mod relay;
pub mod rules;
pub mod sender;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use oebb_config::master_settings::MailSettings;
use oebb_config::MasterConfig;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::store::Store;

/// A worker whose absence is mailed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedWorker {
    /// Its name.
    pub name: String,
    /// `notify_on_missing`.
    pub to: Vec<String>,
    /// Its grace period.
    pub grace: Duration,
}

/// What the notifications need of the configuration.
#[derive(Clone, Debug)]
pub struct Notifier {
    /// `[mail]`.
    pub settings: MailSettings,
    /// The master directory (`password-file` and `ca-file` are relative to it).
    pub master_dir: PathBuf,
    /// `title`.
    pub title: String,
    /// `public-url`.
    pub public_url: Option<String>,
    /// Each builder's category.
    pub categories: HashMap<String, String>,
    /// The workers with `notify_on_missing`.
    pub watched: Vec<WatchedWorker>,
    /// The domain of the Message-IDs (the sender's).
    pub host: String,
}

impl Notifier {
    /// The notifier of a configuration with `[mail]`.
    pub fn from_config(config: &MasterConfig) -> Option<Notifier> {
        let settings = config.settings.mail.clone()?;
        let default_grace = settings.missing_timeout;
        Some(Notifier {
            host: settings
                .from
                .rsplit_once('@')
                .map_or("oebb", |(_, d)| d)
                .to_string(),
            settings,
            master_dir: config.dir.clone(),
            title: config.settings.title.clone(),
            public_url: config.settings.public_url.clone(),
            categories: config
                .matrix
                .builders
                .iter()
                .map(|b| (b.name.as_str().to_string(), b.category.clone()))
                .collect(),
            watched: config
                .workers
                .iter()
                .filter(|w| !w.notify_on_missing.is_empty())
                .map(|w| WatchedWorker {
                    name: w.name.as_str().to_string(),
                    to: w.notify_on_missing.clone(),
                    grace: Duration::from_secs(w.missing_timeout.unwrap_or(default_grace)),
                })
                .collect(),
        })
    }
}

/// How long a stopping master waits for the mail task's current attempt.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The running mail tasks: the sender and the workers' watcher.
pub struct MailTasks {
    stop: watch::Sender<bool>,
    sender: JoinHandle<()>,
    watcher: JoinHandle<()>,
}

impl MailTasks {
    /// Starts sending the queue and watching the workers.
    pub fn start(notifier: Arc<Notifier>, store: Store) -> MailTasks {
        let (stop, stopped) = watch::channel(false);
        let sender = tokio::spawn(sender::run(
            notifier.clone(),
            store.clone(),
            stopped.clone(),
        ));
        let watcher = tokio::spawn(absence::watch(notifier, store, stopped));
        MailTasks {
            stop,
            sender,
            watcher,
        }
    }

    /// Lets the current attempt end (at most [`STOP_TIMEOUT`]), then stops both tasks.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(STOP_TIMEOUT, &mut self.sender)
            .await
            .is_err()
        {
            tracing::warn!(
                "the mail task did not stop in time; its mail is sent again at the next start"
            );
        }
        self.abort();
        let _ = (&mut self.watcher).await;
    }

    /// Stops both tasks at once.
    pub fn abort(&self) {
        self.sender.abort();
        self.watcher.abort();
    }
}
