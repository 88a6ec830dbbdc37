//! The mail task: sends the queue oldest first, one mail at a time; after a failure it waits
//! (1 s, doubling up to 5 min) before the next attempt of any mail, since a relay that is
//! down fails them all.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::relay::{self, SendError};
use super::Notifier;
use crate::store::mail::MailRecord;
use crate::store::{now_millis, Store};

/// The first wait after a failure.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long the task sleeps with nothing due, unless woken by a queued mail.
const IDLE: Duration = Duration::from_secs(60);

/// The wait after `failures` failures in a row.
pub fn backoff(failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    (FIRST_BACKOFF * factor).min(MAX_BACKOFF)
}

/// Runs until `stop` turns true; an attempt under way ends first.
pub async fn run(notifier: Arc<Notifier>, store: Store, mut stop: watch::Receiver<bool>) {
    if let Err(e) = store.mail_due_now().await {
        tracing::error!("mail: cannot read the queue: {e}");
    }
    let mut failures = 0u32;
    while !*stop.borrow() {
        let now = now_millis();
        let wait = match store.due_mail(now).await {
            Ok(Some(mail)) => match attempt(&notifier, &store, &mail, failures).await {
                Ok(()) => {
                    failures = 0;
                    continue;
                }
                Err(()) => {
                    failures += 1;
                    backoff(failures)
                }
            },
            Ok(None) => match store.next_mail_at().await {
                Ok(Some(at)) => Duration::from_millis((at - now).clamp(0, 60_000) as u64),
                Ok(None) => IDLE,
                Err(e) => {
                    tracing::error!("mail: cannot read the queue: {e}");
                    backoff(1)
                }
            },
            Err(e) => {
                tracing::error!("mail: cannot read the queue: {e}");
                backoff(2)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = store.mail_wake().notified(), if failures == 0 => {}
            _ = stop.changed() => {}
        }
    }
}

/// One attempt at one mail; Err when it failed and the next attempt should wait.
async fn attempt(
    notifier: &Notifier,
    store: &Store,
    mail: &MailRecord,
    failures: u32,
) -> Result<(), ()> {
    if mail.status == "sending" {
        tracing::warn!(mail = %mail.id, "mail: the master stopped while this mail was being sent; sending it again with the same Message-ID");
    }
    // Recorded before the attempt: if the master dies during it, the next start knows.
    let retry_at = now_millis() + backoff(failures + 1).as_millis() as i64;
    let stored = store.mail_attempt(mail.id, retry_at).await;
    if let Err(e) = stored {
        tracing::error!(mail = %mail.id, "mail: cannot record the attempt: {e}");
        return Err(());
    }
    let outcome = relay::send(&notifier.settings, &notifier.master_dir, mail).await;
    let recorded = match &outcome {
        Ok(()) => {
            tracing::info!(mail = %mail.id, recipients = mail.recipients.len(), "mail sent: {}", mail.subject);
            store.mail_sent(mail.id).await
        }
        Err(SendError::Message(e)) => {
            tracing::error!(mail = %mail.id, "mail given up: {e}");
            store.mail_abandoned(mail.id, e).await
        }
        Err(SendError::Relay(e)) => {
            tracing::warn!(mail = %mail.id, "mail not sent, will retry: {e}");
            store.mail_failed(mail.id, e, retry_at).await
        }
    };
    if let Err(e) = recorded {
        tracing::error!(mail = %mail.id, "mail: cannot record the attempt's end: {e}");
    }
    match outcome {
        Err(SendError::Relay(_)) => Err(()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let secs: Vec<u64> = [1, 2, 3, 4, 9, 10, 40]
            .map(|f| backoff(f).as_secs())
            .to_vec();
        assert_eq!(secs, [1, 2, 4, 8, 256, 300, 300]);
    }
}
