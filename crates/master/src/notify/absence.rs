//! Missing workers: a worker of `notify_on_missing` away longer than its grace period gives
//! one mail, and one more when it comes back; one that comes back within the grace period
//! gives none. The watcher reads each watched worker's presence from the store a few times
//! per grace period; the store makes each transition and queues its mail in one transaction,
//! so a restart neither repeats nor forgets one.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::message::{worker_mail, WorkerFacts};
use super::{Notifier, WatchedWorker};
use crate::store::mail::{NewMail, Presence};
use crate::store::{now_millis, Store, StoreError};
use crate::web::view;

/// A worker's change worth a mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Away since this time (ms), past its grace period, not mailed yet.
    Missing(i64),
    /// Connected again after its missing mail; it had left at this time (ms).
    Back(i64),
}

/// The mail a worker's presence calls for at `now` (ms) with grace period `grace` (ms).
pub fn due(p: &Presence, grace: i64, now: i64) -> Option<Transition> {
    match (p.connected, p.missing_mailed_at) {
        (true, Some(_)) => Some(Transition::Back(p.away_since.unwrap_or(0))),
        (false, None) => p
            .left_at
            .filter(|left| now - left >= grace)
            .map(Transition::Missing),
        _ => None,
    }
}

/// How often the watcher looks: a quarter of the shortest grace period, between 0.2 and 15 s.
pub fn tick(watched: &[WatchedWorker]) -> Duration {
    let shortest = watched.iter().map(|w| w.grace).min().unwrap_or_default();
    (shortest / 4).clamp(Duration::from_millis(200), Duration::from_secs(15))
}

/// Watches the workers until `stop` turns true.
pub async fn watch(notifier: Arc<Notifier>, store: Store, mut stop: watch::Receiver<bool>) {
    if notifier.watched.is_empty() {
        return;
    }
    let every = tick(&notifier.watched);
    while !*stop.borrow() {
        for w in &notifier.watched {
            if let Err(e) = check(&notifier, &store, w).await {
                tracing::error!(worker = %w.name, "mail: cannot check the worker's presence: {e}");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn check(n: &Notifier, store: &Store, w: &WatchedWorker) -> Result<(), StoreError> {
    let now = now_millis();
    let grace = w.grace.as_millis() as i64;
    let Some(transition) = due(&store.presence(&w.name).await?, grace, now) else {
        return Ok(());
    };
    let (back, left_at) = match transition {
        Transition::Missing(t) => (false, t),
        Transition::Back(t) => (true, t),
    };
    let composed = worker_mail(&WorkerFacts {
        title: n.title.clone(),
        worker: w.name.clone(),
        back,
        left_at: view::time(left_at),
        grace: w.grace.as_secs(),
        public_url: n.public_url.clone(),
    });
    let mail = NewMail {
        kind: if back {
            "worker-back"
        } else {
            "worker-missing"
        },
        build: None,
        worker: Some(w.name.clone()),
        recipients: w.to.clone(),
        subject: composed.subject,
        text: composed.text,
        html: composed.html,
    };
    let queued = if back {
        store.worker_back(&w.name, &mail, &n.host).await?
    } else {
        store
            .worker_missing(&w.name, now - grace, &mail, &n.host)
            .await?
    };
    if let Some(q) = queued {
        tracing::info!(worker = %w.name, back, ?q, "mail: worker {}", if back { "back" } else { "missing" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presence(connected: bool, left_at: Option<i64>, mailed: Option<i64>) -> Presence {
        Presence {
            connected,
            left_at,
            missing_mailed_at: mailed,
            away_since: mailed.map(|_| 5),
        }
    }

    #[test]
    fn a_worker_is_missing_past_its_grace_and_back_only_after_its_missing_mail() {
        let grace = 600_000;
        let cases = [
            // Away, within the grace: nothing (a flap).
            (presence(false, Some(1_000), None), 500_000, None),
            // Away past the grace: missing.
            (
                presence(false, Some(1_000), None),
                601_000,
                Some(Transition::Missing(1_000)),
            ),
            // Mailed already and still away: nothing more.
            (presence(false, Some(1_000), Some(601_000)), 9_000_000, None),
            // Back after the missing mail.
            (
                presence(true, None, Some(601_000)),
                9_000_000,
                Some(Transition::Back(5)),
            ),
            // Back without a missing mail (a flap): nothing.
            (presence(true, None, None), 9_000_000, None),
            // Never connected: nothing.
            (presence(false, None, None), 9_000_000, None),
        ];
        for (p, now, expected) in cases {
            assert_eq!(due(&p, grace, now), expected, "{p:?} at {now}");
        }
    }

    #[test]
    fn the_watcher_looks_a_few_times_per_grace_period() {
        let w = |secs| WatchedWorker {
            name: "w".into(),
            to: vec![],
            grace: Duration::from_secs(secs),
        };
        assert_eq!(tick(&[w(600), w(8)]), Duration::from_secs(2));
        assert_eq!(tick(&[w(600)]), Duration::from_secs(15));
        assert_eq!(tick(&[w(0)]), Duration::from_millis(200));
    }
}
