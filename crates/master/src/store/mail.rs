//! The outgoing mail queue (`mail_queue`), its counters and the workers' absences.
//!
//! A mail is inserted in the transaction that stores its cause: a build's result
//! ([`Store::finish_build_with_mail`]), a worker found missing or back
//! ([`Store::worker_missing`], [`Store::worker_back`]). The mail task then takes the oldest
//! due one, marks the attempt (`sending`), sends it and marks it `sent`.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{now_millis, queries, Store, StoreError};
use crate::ids::{BuildId, MailId};
use crate::results::Results;

/// Mails waiting (queued or sending) at most; a mail beyond is dropped and counted, so a relay
/// down for weeks does not grow the database without end.
pub const MAX_UNSENT_MAILS: i64 = 10_000;

/// Sent (and failed) mails kept for the mail page; older ones are deleted.
pub const KEPT_SENT_MAILS: i64 = 1_000;

/// Bytes of a mail's text or HTML part at most; the composer keeps below, this is the last
/// guard.
pub const MAX_MAIL_PART: usize = 256 * 1024;

/// A mail to queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMail {
    /// `build`, `worker-missing`, `worker-back` or `test`.
    pub kind: &'static str,
    /// The build it is about.
    pub build: Option<BuildId>,
    /// The worker it is about.
    pub worker: Option<String>,
    /// Its recipients (never empty).
    pub recipients: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
}

/// A stored mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MailRecord {
    /// Its id.
    pub id: MailId,
    /// When it was queued (ms since the epoch).
    pub created_at: i64,
    /// What it is about (see [`NewMail::kind`]).
    pub kind: String,
    /// The build it is about.
    pub build: Option<BuildId>,
    /// The worker it is about.
    pub worker: Option<String>,
    /// Its recipients.
    pub recipients: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    #[serde(skip)]
    pub text: String,
    /// HTML part.
    #[serde(skip)]
    pub html: String,
    /// Its Message-ID header, the same at every attempt.
    #[serde(skip)]
    pub message_id: String,
    /// `queued`, `sending`, `sent` or `failed` (could not be made into a message).
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When the next attempt may start (ms since the epoch).
    pub next_attempt_at: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the relay accepted it.
    pub sent_at: Option<i64>,
}

/// What became of a mail to queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queued {
    /// It waits in the queue.
    Mail(MailId),
    /// The queue was full: it was counted as dropped.
    Dropped,
}

/// The queue's figures for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MailCounts {
    /// Waiting (queued or sending).
    pub unsent: i64,
    /// Of those, how many failed at least once.
    pub failing: i64,
    /// Accepted by the relay since the database was made.
    pub sent: i64,
    /// Dropped because the queue was full.
    pub dropped: i64,
    /// Attempts that failed.
    pub failed_attempts: i64,
}

/// What the store knows of a worker's presence, for the missing-worker mails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Presence {
    /// Whether a connection of it is open.
    pub connected: bool,
    /// When its newest connection ended (None: open, or never connected).
    pub left_at: Option<i64>,
    /// When its missing mail was queued, if it was and no back mail followed.
    pub missing_mailed_at: Option<i64>,
    /// When it left, as its missing mail said.
    pub away_since: Option<i64>,
}

fn cut(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

async fn bump(conn: &mut AnyConnection, counter: &str, by: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE mail_counters SET value = value + $1 WHERE name = $2")
        .bind(by)
        .bind(counter)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Keeps the newest [`KEPT_SENT_MAILS`] finished (sent or failed) mails.
async fn prune(conn: &mut AnyConnection) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM mail_queue WHERE status IN ('sent', 'failed') AND id < (SELECT id \
         FROM mail_queue WHERE status IN ('sent', 'failed') ORDER BY id DESC LIMIT 1 OFFSET $1)",
    )
    .bind(KEPT_SENT_MAILS - 1)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts a mail, or counts it as dropped when the queue is full.
pub async fn insert(
    conn: &mut AnyConnection,
    mail: &NewMail,
    host: &str,
    now: i64,
) -> Result<Queued, StoreError> {
    let unsent: i64 =
        sqlx::query("SELECT COUNT(*) FROM mail_queue WHERE status IN ('queued', 'sending')")
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
    if unsent >= MAX_UNSENT_MAILS {
        bump(conn, "dropped", 1).await?;
        return Ok(Queued::Dropped);
    }
    let id = queries::next_id(conn, "mail").await?;
    let recipients = serde_json::Value::from(mail.recipients.clone()).to_string();
    sqlx::query(
        "INSERT INTO mail_queue (id, created_at, kind, build_id, worker, recipients, subject, \
         body_text, body_html, message_id, status, attempts, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', 0, $2)",
    )
    .bind(id)
    .bind(now)
    .bind(mail.kind)
    .bind(mail.build.map(|b| b.0))
    .bind(mail.worker.as_deref())
    .bind(recipients)
    .bind(cut(&mail.subject, 998))
    .bind(cut(&mail.text, MAX_MAIL_PART))
    .bind(cut(&mail.html, MAX_MAIL_PART))
    .bind(format!("<oebb.{now}.{id}@{host}>"))
    .execute(&mut *conn)
    .await?;
    Ok(Queued::Mail(MailId(id)))
}

/// The result of the builder's last build before `build` that gave a verdict (retried,
/// cancelled and skipped builds say nothing about the code).
pub async fn previous_result(
    conn: &mut AnyConnection,
    build: BuildId,
) -> Result<Option<Results>, StoreError> {
    let row = sqlx::query(
        "SELECT result FROM builds WHERE builder = (SELECT builder FROM builds WHERE id = $1) \
         AND id < $1 AND finished_at IS NOT NULL AND result IN (0, 1, 2, 4) \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(build.0)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => super::result_of(&row, "result"),
        None => Ok(None),
    }
}

fn record(row: &AnyRow) -> Result<MailRecord, StoreError> {
    let recipients: String = row.try_get("recipients")?;
    Ok(MailRecord {
        id: MailId(row.try_get("id")?),
        created_at: row.try_get("created_at")?,
        kind: row.try_get("kind")?,
        build: row.try_get::<Option<i64>, _>("build_id")?.map(BuildId),
        worker: row.try_get("worker")?,
        recipients: serde_json::from_str(&recipients)
            .map_err(|e| StoreError::Unexpected(format!("mail recipients: {e}")))?,
        subject: row.try_get("subject")?,
        text: row.try_get("body_text")?,
        html: row.try_get("body_html")?,
        message_id: row.try_get("message_id")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        sent_at: row.try_get("sent_at")?,
    })
}

const COLUMNS: &str = "id, created_at, kind, build_id, worker, recipients, subject, body_text, \
    body_html, message_id, status, attempts, next_attempt_at, last_error, sent_at";

async fn presence(conn: &mut AnyConnection, worker: &str) -> Result<Presence, StoreError> {
    let open: i64 = sqlx::query(
        "SELECT COUNT(*) FROM worker_connections WHERE worker = $1 AND disconnected_at IS NULL",
    )
    .bind(worker)
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?;
    let left_at: Option<i64> = sqlx::query(
        "SELECT disconnected_at FROM worker_connections WHERE worker = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(worker)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| r.try_get(0))
    .transpose()?
    .flatten();
    let absence =
        sqlx::query("SELECT missing_mailed_at, left_at FROM worker_absences WHERE worker = $1")
            .bind(worker)
            .fetch_optional(&mut *conn)
            .await?;
    let (missing_mailed_at, away_since) = match absence {
        Some(r) => (Some(r.try_get(0)?), Some(r.try_get(1)?)),
        None => (None, None),
    };
    Ok(Presence {
        connected: open > 0,
        left_at: if open > 0 { None } else { left_at },
        missing_mailed_at,
        away_since,
    })
}

impl Store {
    /// Finishes a build like [`Store::finish_build`] and, in the same transaction, queues
    /// the mail `compose` makes from the builder's previous verdict (see
    /// [`previous_result`]), if any.
    pub async fn finish_build_with_mail(
        &self,
        build: BuildId,
        result: Results,
        state_text: &str,
        host: &str,
        compose: impl FnOnce(Option<Results>) -> Option<NewMail>,
    ) -> Result<Option<Queued>, StoreError> {
        let now = now_millis();
        let mut tx = self.write_transaction().await?;
        let previous = previous_result(&mut tx, build).await?;
        queries::finish_build(&mut tx, build, result, state_text, now).await?;
        let queued = match compose(previous) {
            Some(mail) => Some(insert(&mut tx, &mail, host, now).await?),
            None => None,
        };
        tx.commit().await?;
        self.live.build_finished(build, result);
        self.mail_queued(queued);
        Ok(queued)
    }

    /// Queues a mail on its own (`oebb mail-test`).
    pub async fn queue_mail(&self, mail: &NewMail, host: &str) -> Result<Queued, StoreError> {
        let mut tx = self.write_transaction().await?;
        let queued = insert(&mut tx, mail, host, now_millis()).await?;
        tx.commit().await?;
        self.mail_queued(Some(queued));
        Ok(queued)
    }

    fn mail_queued(&self, queued: Option<Queued>) {
        if let Some(Queued::Mail(_)) = queued {
            self.mail_wake.notify_one();
        }
    }

    /// Woken whenever a mail is queued.
    pub fn mail_wake(&self) -> &tokio::sync::Notify {
        &self.mail_wake
    }

    /// Where a worker stands.
    pub async fn presence(&self, worker: &str) -> Result<Presence, StoreError> {
        let mut conn = self.pool.acquire().await?;
        presence(&mut conn, worker).await
    }

    /// When the worker is still away since at most `left_by` and its missing mail has not
    /// gone, records that it went and queues `mail`, in one transaction. Returns what was
    /// queued, None when the worker's state had changed.
    pub async fn worker_missing(
        &self,
        worker: &str,
        left_by: i64,
        mail: &NewMail,
        host: &str,
    ) -> Result<Option<Queued>, StoreError> {
        let now = now_millis();
        let mut tx = self.write_transaction().await?;
        let p = presence(&mut tx, worker).await?;
        let Some(left_at) = p.left_at.filter(|t| *t <= left_by) else {
            return Ok(None);
        };
        if p.missing_mailed_at.is_some() {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO worker_absences (worker, left_at, missing_mailed_at) VALUES ($1, $2, $3)",
        )
        .bind(worker)
        .bind(left_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let queued = insert(&mut tx, mail, host, now).await?;
        tx.commit().await?;
        self.mail_queued(Some(queued));
        Ok(Some(queued))
    }

    /// When the worker is connected and its missing mail went, clears that and queues
    /// `mail`, in one transaction.
    pub async fn worker_back(
        &self,
        worker: &str,
        mail: &NewMail,
        host: &str,
    ) -> Result<Option<Queued>, StoreError> {
        let now = now_millis();
        let mut tx = self.write_transaction().await?;
        let p = presence(&mut tx, worker).await?;
        if !p.connected || p.missing_mailed_at.is_none() {
            return Ok(None);
        }
        sqlx::query("DELETE FROM worker_absences WHERE worker = $1")
            .bind(worker)
            .execute(&mut *tx)
            .await?;
        let queued = insert(&mut tx, mail, host, now).await?;
        tx.commit().await?;
        self.mail_queued(Some(queued));
        Ok(Some(queued))
    }

    /// Makes every unsent mail due now (a master that starts tries them at once).
    pub async fn mail_due_now(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(
            "UPDATE mail_queue SET next_attempt_at = $1 WHERE status IN ('queued', 'sending')",
        )
        .bind(now_millis())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Gives a mail up for good: it cannot be made into a message (an address the relay
    /// would never take); it stays on the mail page with why.
    pub async fn mail_abandoned(&self, mail: MailId, error: &str) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        sqlx::query(
            "UPDATE mail_queue SET status = 'failed', last_error = $1 \
             WHERE id = $2 AND status <> 'sent'",
        )
        .bind(cut(error, 2000))
        .bind(mail.0)
        .execute(&mut *tx)
        .await?;
        prune(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The oldest unsent mail, if its next attempt is due at `now`. Oldest first, strictly:
    /// a builder's "fixed" never arrives before its "failed"; while the relay is down, the
    /// oldest mail is the one tried (and shows the error), the others wait behind it.
    pub async fn due_mail(&self, now: i64) -> Result<Option<MailRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM mail_queue WHERE status IN ('queued', 'sending') \
             ORDER BY id LIMIT 1"
        );
        let row = sqlx::query(&sql).fetch_optional(&mut *conn).await?;
        let oldest = row.as_ref().map(record).transpose()?;
        Ok(oldest.filter(|m| m.next_attempt_at <= now))
    }

    /// When the oldest unsent mail is due, if any waits.
    pub async fn next_mail_at(&self) -> Result<Option<i64>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT next_attempt_at FROM mail_queue WHERE status IN ('queued', 'sending') \
             ORDER BY id LIMIT 1",
        )
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Records that an attempt starts: `sending`, one more attempt, and when the next one
    /// may start should this one not be recorded as ended.
    pub async fn mail_attempt(&self, mail: MailId, retry_at: i64) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query(
            "UPDATE mail_queue SET status = 'sending', attempts = attempts + 1, \
             next_attempt_at = $1 WHERE id = $2 AND status <> 'sent'",
        )
        .bind(retry_at)
        .bind(mail.0)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Records that the relay accepted the mail; keeps the newest [`KEPT_SENT_MAILS`] sent.
    pub async fn mail_sent(&self, mail: MailId) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        let done = sqlx::query(
            "UPDATE mail_queue SET status = 'sent', sent_at = $1 WHERE id = $2 AND status <> 'sent'",
        )
        .bind(now_millis())
        .bind(mail.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        bump(&mut tx, "sent", done as i64).await?;
        prune(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed attempt: back to `queued`, why, and when to try again.
    pub async fn mail_failed(
        &self,
        mail: MailId,
        error: &str,
        retry_at: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        sqlx::query(
            "UPDATE mail_queue SET status = 'queued', last_error = $1, next_attempt_at = $2 \
             WHERE id = $3 AND status <> 'sent'",
        )
        .bind(cut(error, 2000))
        .bind(retry_at)
        .bind(mail.0)
        .execute(&mut *tx)
        .await?;
        bump(&mut tx, "failed_attempts", 1).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest mails, unsent first, at most `limit`.
    pub async fn mails(&self, limit: i64) -> Result<Vec<MailRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM mail_queue \
             ORDER BY CASE WHEN status = 'sent' THEN 1 ELSE 0 END, id DESC LIMIT $1"
        );
        let rows = sqlx::query(&sql).bind(limit).fetch_all(&mut *conn).await?;
        rows.iter().map(record).collect()
    }

    /// The queue's figures.
    pub async fn mail_counts(&self) -> Result<MailCounts, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), 0) \
             FROM mail_queue WHERE status IN ('queued', 'sending')",
        )
        .fetch_one(&mut *conn)
        .await?;
        let mut counts = MailCounts {
            unsent: row.try_get(0)?,
            failing: row.try_get(1)?,
            ..MailCounts::default()
        };
        for row in sqlx::query("SELECT name, value FROM mail_counters")
            .fetch_all(&mut *conn)
            .await?
        {
            let value: i64 = row.try_get(1)?;
            match row.try_get::<String, _>(0)?.as_str() {
                "sent" => counts.sent = value,
                "dropped" => counts.dropped = value,
                "failed_attempts" => counts.failed_attempts = value,
                _ => {}
            }
        }
        Ok(counts)
    }
}
