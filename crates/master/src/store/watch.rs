//! What the pollers and schedulers keep: changes with the buildouts waiting for them, each
//! repository's heads and last errors, the build requests a change made, and the live
//! sources read from each buildout's configuration.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::queries::{add_build_request, add_change};
use super::{now_millis, NewChange, Store, StoreError};
use crate::ids::{BuildRequestId, ChangeId};

/// A stored change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChangeRow {
    /// Its id.
    pub id: ChangeId,
    /// The repository's URL, as the configuration writes it.
    pub repository: String,
    /// Its branch (none for bzr).
    pub branch: Option<String>,
    /// The revision.
    pub revision: String,
    /// Who made it.
    pub author: Option<String>,
    /// Its message.
    pub comments: Option<String>,
    /// `git`, `hg` or `bzr`.
    pub vcs: Option<String>,
    /// The commit's own date (ms since the epoch).
    pub changed_at: Option<i64>,
    /// The files it touched, one per line.
    pub files: Option<String>,
    /// When the master saw it (ms since the epoch).
    pub seen_at: i64,
}

impl ChangeRow {
    /// The first line of its message.
    pub fn title(&self) -> &str {
        self.comments
            .as_deref()
            .and_then(|c| c.lines().next())
            .unwrap_or("")
    }
}

const CHANGE_COLUMNS: &str =
    "c.id, c.repository, c.branch, c.revision, c.author, c.comments, c.vcs, c.changed_at, \
     c.files, c.seen_at";

fn change_row(row: &AnyRow) -> Result<ChangeRow, StoreError> {
    Ok(ChangeRow {
        id: ChangeId(row.try_get("id")?),
        repository: row.try_get("repository")?,
        branch: row.try_get("branch")?,
        revision: row.try_get("revision")?,
        author: row.try_get("author")?,
        comments: row.try_get("comments")?,
        vcs: row.try_get("vcs")?,
        changed_at: row.try_get("changed_at")?,
        files: row.try_get("files")?,
        seen_at: row.try_get("seen_at")?,
    })
}

/// A polled repository's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PollerRecord {
    /// Its URL as the configuration writes it.
    pub repository: String,
    /// `git`, `hg` or `bzr`.
    pub vcs: String,
    /// Branch → revision of its last good poll (`""` → revno for bzr).
    pub heads: BTreeMap<String, String>,
    /// When it was last polled (ms since the epoch).
    pub last_poll_at: Option<i64>,
    /// Why its last poll failed, if it did.
    pub last_error: Option<String>,
    /// Polls failed in a row.
    pub failures: i64,
}

/// A change to store with the buildouts whose schedulers wait for it.
#[derive(Clone, Debug, PartialEq)]
pub struct SeenChange {
    /// The change.
    pub change: NewChange,
    /// Buildouts it concerns.
    pub buildouts: Vec<String>,
}

impl Store {
    /// Records a good poll in one transaction: its changes, the buildouts waiting for them,
    /// and the repository's new heads; returns the changes' ids, in order.
    pub async fn record_poll(
        &self,
        repository: &str,
        vcs: &str,
        heads: &BTreeMap<String, String>,
        seen: &[SeenChange],
    ) -> Result<Vec<ChangeId>, StoreError> {
        let now = now_millis();
        let mut tx = self.write_transaction().await?;
        let mut ids = Vec::new();
        for s in seen {
            let id = add_change(&mut tx, &s.change, now).await?;
            for buildout in &s.buildouts {
                sqlx::query("INSERT INTO scheduler_pending (buildout, change_id) VALUES ($1, $2)")
                    .bind(buildout)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
            }
            ids.push(id);
        }
        let heads = serde_json::to_string(heads).expect("a map of strings is JSON");
        sqlx::query(
            "INSERT INTO poller_state (repository, vcs, heads, last_poll_at, last_error, failures) \
             VALUES ($1, $2, $3, $4, NULL, 0) ON CONFLICT (repository) DO UPDATE SET \
             vcs = excluded.vcs, heads = excluded.heads, last_poll_at = excluded.last_poll_at, \
             last_error = NULL, failures = 0",
        )
        .bind(repository)
        .bind(vcs)
        .bind(heads)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Records a failed poll: its error, one more failure, the heads kept.
    pub async fn record_poll_failure(
        &self,
        repository: &str,
        vcs: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        sqlx::query(
            "INSERT INTO poller_state (repository, vcs, heads, last_poll_at, last_error, failures) \
             VALUES ($1, $2, '{}', $3, $4, 1) ON CONFLICT (repository) DO UPDATE SET \
             last_poll_at = excluded.last_poll_at, last_error = excluded.last_error, \
             failures = poller_state.failures + 1",
        )
        .bind(repository)
        .bind(vcs)
        .bind(now_millis())
        .bind(error)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every polled repository's state, by URL.
    pub async fn poller_states(&self) -> Result<Vec<PollerRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT repository, vcs, heads, last_poll_at, last_error, failures FROM poller_state \
             ORDER BY repository",
        )
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                let heads: String = r.try_get("heads")?;
                Ok(PollerRecord {
                    repository: r.try_get("repository")?,
                    vcs: r.try_get("vcs")?,
                    heads: serde_json::from_str(&heads)
                        .map_err(|e| StoreError::Unexpected(format!("poller heads: {e}")))?,
                    last_poll_at: r.try_get("last_poll_at")?,
                    last_error: r.try_get("last_error")?,
                    failures: r.try_get("failures")?,
                })
            })
            .collect()
    }

    /// Changes waiting for a buildout's scheduler: (buildout, change, when it was seen).
    pub async fn pending_changes(&self) -> Result<Vec<(String, ChangeId, i64)>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT p.buildout, p.change_id, c.seen_at FROM scheduler_pending p \
             JOIN changes c ON c.id = p.change_id ORDER BY p.change_id",
        )
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, ChangeId(r.try_get(1)?), r.try_get(2)?)))
            .collect()
    }

    /// Turns a buildout's waiting changes into one build request per builder, in one
    /// transaction with their removal from the waiting list: built once, whatever happens.
    pub async fn schedule_builds(
        &self,
        buildout: &str,
        changes: &[ChangeId],
        builders: &[String],
        reason: &str,
    ) -> Result<Vec<BuildRequestId>, StoreError> {
        let now = now_millis();
        let newest = changes.iter().max().copied();
        let mut tx = self.write_transaction().await?;
        let mut ids = Vec::new();
        for builder in builders {
            let id = add_build_request(&mut tx, builder, reason, newest, None, now).await?;
            for change in changes {
                sqlx::query(
                    "INSERT INTO build_request_changes (request_id, change_id) VALUES ($1, $2)",
                )
                .bind(id.0)
                .bind(change.0)
                .execute(&mut *tx)
                .await?;
            }
            ids.push(id);
        }
        for change in changes {
            sqlx::query("DELETE FROM scheduler_pending WHERE buildout = $1 AND change_id = $2")
                .bind(buildout)
                .bind(change.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Stores the live sources read from a buildout's configuration (JSON).
    pub async fn set_auto_watch(&self, buildout: &str, watches: &str) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        sqlx::query(
            "INSERT INTO auto_watch (buildout, watches, read_at) VALUES ($1, $2, $3) \
             ON CONFLICT (buildout) DO UPDATE SET watches = excluded.watches, \
             read_at = excluded.read_at",
        )
        .bind(buildout)
        .bind(watches)
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The stored live sources of every buildout: (buildout, JSON).
    pub async fn auto_watches(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query("SELECT buildout, watches FROM auto_watch ORDER BY buildout")
            .fetch_all(&mut *conn)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Changes newest first, with an id below `before`; at most `limit`.
    pub async fn changes(
        &self,
        before: Option<ChangeId>,
        limit: i64,
    ) -> Result<Vec<ChangeRow>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!(
            "SELECT {CHANGE_COLUMNS} FROM changes c WHERE c.id < $1 ORDER BY c.id DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(before.map_or(i64::MAX, |b| b.0))
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
        rows.iter().map(change_row).collect()
    }

    /// One change.
    pub async fn change(&self, id: ChangeId) -> Result<Option<ChangeRow>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!("SELECT {CHANGE_COLUMNS} FROM changes c WHERE c.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.0)
            .fetch_optional(&mut *conn)
            .await?;
        row.as_ref().map(change_row).transpose()
    }

    /// Every change each request tests, oldest first (the request's single `change_id` when
    /// it has no list).
    pub async fn changes_tested(
        &self,
        requests: &[BuildRequestId],
    ) -> Result<HashMap<BuildRequestId, Vec<ChangeRow>>, StoreError> {
        let mut out: HashMap<BuildRequestId, Vec<ChangeRow>> = HashMap::new();
        let mut conn = self.pool.acquire().await?;
        for group in requests.chunks(200) {
            let params: Vec<String> = (1..=group.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT l.request_id, {CHANGE_COLUMNS} FROM build_request_changes l \
                 JOIN changes c ON c.id = l.change_id WHERE l.request_id IN ({}) \
                 UNION SELECT r.id, {CHANGE_COLUMNS} FROM build_requests r \
                 JOIN changes c ON c.id = r.change_id WHERE r.id IN ({}) \
                 AND NOT EXISTS (SELECT 1 FROM build_request_changes l2 WHERE l2.request_id = r.id) \
                 ORDER BY 1, 2",
                params.join(", "),
                params.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for r in group {
                query = query.bind(r.0);
            }
            for row in query.fetch_all(&mut *conn).await? {
                let request = BuildRequestId(row.try_get(0)?);
                out.entry(request).or_default().push(change_row(&row)?);
            }
        }
        Ok(out)
    }

    /// How many changes are stored.
    pub async fn change_count(&self) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query("SELECT COUNT(*) FROM changes")
            .fetch_one(&mut *conn)
            .await?;
        Ok(row.try_get(0)?)
    }
}
