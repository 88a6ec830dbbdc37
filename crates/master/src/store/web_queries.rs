//! The web pages' queries: each reads a few index entries (last build of each builder from
//! `builder_last_builds`, a builder's recent builds, one build), never every build, so pages
//! stay fast with many builds stored; every list is read a page at a time (SQL `LIMIT`
//! after a cursor).

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::queries::{build_record, request_record, BUILD_COLUMNS, REQUEST_COLUMNS};
use super::records::{BuildRecord, BuildRequestRecord, StepRecord};
use super::{result_of, Store, StoreError};
use crate::ids::{BuildId, BuildRequestId, StepId};
use crate::results::Results;

/// A change that caused a build request.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ChangeRecord {
    /// The repository's URL.
    pub repository: String,
    /// The branch.
    pub branch: Option<String>,
    /// The revision.
    pub revision: String,
    /// Who made it.
    pub author: Option<String>,
    /// Its message.
    pub comments: Option<String>,
}

/// A worker as the store knows it: its last connection.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct WorkerRecord {
    /// Its name.
    pub name: String,
    /// What it said about itself at its last connection (JSON text).
    pub info_json: Option<String>,
    /// When it was last heard of (ms since the epoch).
    pub last_seen_at: i64,
    /// When its last connection opened.
    pub connected_at: Option<i64>,
    /// When its last connection closed; `None` while connected.
    pub disconnected_at: Option<i64>,
    /// Why its last connection closed.
    pub disconnect_reason: Option<String>,
}

/// Where one chunk of a log starts in the whole log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChunkExtent {
    /// The chunk's number.
    pub seq: i64,
    /// Its size in bytes, uncompressed.
    pub raw_size: i64,
}

/// The last build of each of `builders` (one primary-key lookup each, in one statement).
pub async fn last_builds(
    conn: &mut AnyConnection,
    builders: &[&str],
) -> Result<Vec<BuildRecord>, StoreError> {
    let mut out = Vec::new();
    // Bounded statements: SQLite allows a limited number of parameters.
    for group in builders.chunks(500) {
        let params: Vec<String> = (1..=group.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {BUILD_COLUMNS} WHERE id IN \
             (SELECT build_id FROM builder_last_builds WHERE builder IN ({}))",
            params.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for b in group {
            query = query.bind(*b);
        }
        let rows = query.fetch_all(&mut *conn).await?;
        for row in &rows {
            out.push(build_record(row)?);
        }
    }
    Ok(out)
}

/// Builds still running, oldest first.
pub async fn running_builds(conn: &mut AnyConnection) -> Result<Vec<BuildRecord>, StoreError> {
    let sql = format!("SELECT {BUILD_COLUMNS} WHERE finished_at IS NULL ORDER BY id");
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    rows.iter().map(build_record).collect()
}

/// Builds newest first, older than `before` when given.
pub async fn builds_before(
    conn: &mut AnyConnection,
    builder: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<BuildRecord>, StoreError> {
    let before = before.unwrap_or(i64::MAX);
    let rows = match builder {
        Some(builder) => {
            let sql = format!(
                "SELECT {BUILD_COLUMNS} WHERE builder = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
            );
            sqlx::query(&sql)
                .bind(builder)
                .bind(before)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
        }
        None => {
            let sql = format!("SELECT {BUILD_COLUMNS} WHERE id < $1 ORDER BY id DESC LIMIT $2");
            sqlx::query(&sql)
                .bind(before)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
        }
    };
    rows.iter().map(build_record).collect()
}

/// The changes behind these requests, by request.
pub async fn changes_of_requests(
    conn: &mut AnyConnection,
    requests: &[BuildRequestId],
) -> Result<HashMap<BuildRequestId, ChangeRecord>, StoreError> {
    let mut out = HashMap::new();
    for group in requests.chunks(200) {
        let params: Vec<String> = (1..=group.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT r.id, c.repository, c.branch, c.revision, c.author, c.comments \
             FROM build_requests r JOIN changes c ON c.id = r.change_id \
             WHERE r.id IN ({})",
            params.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for r in group {
            query = query.bind(r.0);
        }
        for row in query.fetch_all(&mut *conn).await? {
            out.insert(
                BuildRequestId(row.try_get(0)?),
                ChangeRecord {
                    repository: row.try_get(1)?,
                    branch: row.try_get(2)?,
                    revision: row.try_get(3)?,
                    author: row.try_get(4)?,
                    comments: row.try_get(5)?,
                },
            );
        }
    }
    Ok(out)
}

/// Queued requests of one builder (or all), oldest first, with an id above `after`; at most
/// `limit` of them.
pub async fn queued_requests(
    conn: &mut AnyConnection,
    builder: Option<&str>,
    after: i64,
    limit: i64,
) -> Result<Vec<BuildRequestRecord>, StoreError> {
    let rows = match builder {
        Some(b) => {
            let sql = format!(
                "SELECT {REQUEST_COLUMNS} WHERE builder = $1 AND complete_at IS NULL \
                 AND claimed_by IS NULL AND id > $2 ORDER BY id LIMIT $3"
            );
            sqlx::query(&sql)
                .bind(b)
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
        }
        None => {
            let sql = format!(
                "SELECT {REQUEST_COLUMNS} WHERE complete_at IS NULL AND claimed_by IS NULL \
                 AND id > $1 ORDER BY id LIMIT $2"
            );
            sqlx::query(&sql)
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
        }
    };
    rows.iter().map(request_record).collect()
}

/// How many requests of one builder (or all) are queued.
pub async fn queued_count(
    conn: &mut AnyConnection,
    builder: Option<&str>,
) -> Result<i64, StoreError> {
    let row = match builder {
        Some(b) => {
            sqlx::query(
                "SELECT COUNT(*) FROM build_requests WHERE builder = $1 \
                 AND complete_at IS NULL AND claimed_by IS NULL",
            )
            .bind(b)
            .fetch_one(&mut *conn)
            .await?
        }
        None => {
            sqlx::query(
                "SELECT COUNT(*) FROM build_requests \
                 WHERE complete_at IS NULL AND claimed_by IS NULL",
            )
            .fetch_one(&mut *conn)
            .await?
        }
    };
    Ok(row.try_get(0)?)
}

/// Completes a queued request as cancelled; false when it was not queued.
pub async fn cancel_request(
    conn: &mut AnyConnection,
    request: BuildRequestId,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE build_requests SET complete_at = $1, result = $2 \
         WHERE id = $3 AND complete_at IS NULL AND claimed_by IS NULL",
    )
    .bind(now)
    .bind(Results::Cancelled.code())
    .bind(request.0)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Workers ever seen with their last connection, by name, those after `after`; at most
/// `limit` of them.
pub async fn workers(
    conn: &mut AnyConnection,
    after: &str,
    limit: i64,
) -> Result<Vec<WorkerRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT w.name, w.info, w.last_seen_at, c.connected_at, c.disconnected_at, c.reason \
         FROM workers w LEFT JOIN worker_connections c ON c.id = \
         (SELECT MAX(id) FROM worker_connections WHERE worker = w.name) \
         WHERE w.name > $1 ORDER BY w.name LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(WorkerRecord {
                name: r.try_get(0)?,
                info_json: r.try_get(1)?,
                last_seen_at: r.try_get(2)?,
                connected_at: r.try_get(3)?,
                disconnected_at: r.try_get(4)?,
                disconnect_reason: r.try_get(5)?,
            })
        })
        .collect()
}

/// How many builds ended with each result (`None`: running).
pub async fn build_counts(
    conn: &mut AnyConnection,
) -> Result<Vec<(Option<Results>, i64)>, StoreError> {
    let rows = sqlx::query("SELECT result, COUNT(*) AS n FROM builds GROUP BY result")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((result_of(r, "result")?, r.try_get("n")?)))
        .collect()
}

/// The sizes of a step's log chunks, in order.
pub async fn log_extents(
    conn: &mut AnyConnection,
    step: StepId,
) -> Result<Vec<ChunkExtent>, StoreError> {
    let rows = sqlx::query("SELECT seq, raw_size FROM log_chunks WHERE step_id = $1 ORDER BY seq")
        .bind(step.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ChunkExtent {
                seq: r.try_get(0)?,
                raw_size: r.try_get(1)?,
            })
        })
        .collect()
}

/// One step by id.
pub async fn step(
    conn: &mut AnyConnection,
    step: StepId,
) -> Result<Option<StepRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT id, build_id, number, name, started_at, finished_at, result, state_text \
         FROM steps WHERE id = $1",
    )
    .bind(step.0)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| {
        Ok(StepRecord {
            id: StepId(row.try_get("id")?),
            build_id: BuildId(row.try_get("build_id")?),
            number: row.try_get("number")?,
            name: row.try_get("name")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            result: result_of(&row, "result")?,
            state_text: row.try_get("state_text")?,
        })
    })
    .transpose()
}

impl Store {
    /// One step by id.
    pub async fn find_step_by_id(&self, step: StepId) -> Result<Option<StepRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        self::step(&mut conn, step).await
    }

    /// The last build of each builder named.
    pub async fn last_builds(&self, builders: &[&str]) -> Result<Vec<BuildRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        last_builds(&mut conn, builders).await
    }

    /// Builds still running.
    pub async fn running_builds(&self) -> Result<Vec<BuildRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        running_builds(&mut conn).await
    }

    /// Builds newest first, of one builder or all, older than build `before` when given.
    pub async fn builds_before(
        &self,
        builder: Option<&str>,
        before: Option<BuildId>,
        limit: i64,
    ) -> Result<Vec<BuildRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        builds_before(&mut conn, builder, before.map(|b| b.0), limit).await
    }

    /// The changes behind these requests.
    pub async fn changes_of_requests(
        &self,
        requests: &[BuildRequestId],
    ) -> Result<HashMap<BuildRequestId, ChangeRecord>, StoreError> {
        if requests.is_empty() {
            return Ok(HashMap::new());
        }
        let mut conn = self.pool.acquire().await?;
        changes_of_requests(&mut conn, requests).await
    }

    /// Queued requests of one builder or all, oldest first, after request `after` when
    /// given; at most `limit`.
    pub async fn queued_requests(
        &self,
        builder: Option<&str>,
        after: Option<BuildRequestId>,
        limit: i64,
    ) -> Result<Vec<BuildRequestRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        queued_requests(&mut conn, builder, after.map_or(0, |a| a.0), limit).await
    }

    /// How many requests of one builder or all are queued.
    pub async fn queued_count(&self, builder: Option<&str>) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        queued_count(&mut conn, builder).await
    }

    /// Completes a queued request as cancelled; false when it was not queued. Only the
    /// scheduler calls this, so the request cannot start meanwhile.
    pub async fn cancel_request(&self, request: BuildRequestId) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        cancel_request(&mut conn, request, super::now_millis()).await
    }

    /// Workers ever seen, with their last connection, by name after `after` (all from
    /// `""`); at most `limit`.
    pub async fn workers(&self, after: &str, limit: i64) -> Result<Vec<WorkerRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        workers(&mut conn, after, limit).await
    }

    /// How many builds ended with each result.
    pub async fn build_counts(&self) -> Result<Vec<(Option<Results>, i64)>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        build_counts(&mut conn).await
    }

    /// The sizes of a step's log chunks.
    pub async fn log_extents(&self, step: StepId) -> Result<Vec<ChunkExtent>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        log_extents(&mut conn, step).await
    }
}
