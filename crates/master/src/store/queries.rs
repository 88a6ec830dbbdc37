//! Every SQL statement of the master, in one dialect that SQLite and PostgreSQL both accept.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::log::STDIO;
use super::records::{BuildRecord, BuildRequestRecord, NewChange, PropertyRecord, StepRecord};
use super::{result_of, StoreError};
use crate::ids::{BuildId, BuildRequestId, ChangeId, ConnectionId, StepId};
use crate::results::Results;

/// Takes the next id of a table from `id_sequences` (one atomic statement on both databases).
pub(super) async fn next_id(conn: &mut AnyConnection, table: &str) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "UPDATE id_sequences SET next_id = next_id + 1 WHERE name = $1 RETURNING next_id - 1",
    )
    .bind(table)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get(0)?)
}

/// Upserts the worker and opens a connection row.
pub async fn worker_connected(
    conn: &mut AnyConnection,
    worker: &str,
    peer: &str,
    info_json: &str,
    now: i64,
) -> Result<ConnectionId, StoreError> {
    sqlx::query(
        "INSERT INTO workers (name, info, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (name) DO UPDATE SET info = excluded.info, last_seen_at = excluded.last_seen_at",
    )
    .bind(worker)
    .bind(info_json)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let id = next_id(conn, "worker_connections").await?;
    sqlx::query(
        "INSERT INTO worker_connections (id, worker, peer, connected_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(worker)
    .bind(peer)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(ConnectionId(id))
}

/// Closes a connection row.
pub async fn worker_disconnected(
    conn: &mut AnyConnection,
    connection: ConnectionId,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE worker_connections SET disconnected_at = $1, reason = $2 \
         WHERE id = $3 AND disconnected_at IS NULL",
    )
    .bind(now)
    .bind(reason)
    .bind(connection.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Names of workers with an open connection.
pub async fn connected_workers(conn: &mut AnyConnection) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT DISTINCT worker FROM worker_connections WHERE disconnected_at IS NULL \
         ORDER BY worker",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// Inserts a change.
pub async fn add_change(
    conn: &mut AnyConnection,
    change: &NewChange,
    now: i64,
) -> Result<ChangeId, StoreError> {
    let id = next_id(conn, "changes").await?;
    sqlx::query(
        "INSERT INTO changes (id, repository, branch, revision, author, comments, seen_at, \
         vcs, changed_at, files) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(&change.repository)
    .bind(change.branch.as_deref())
    .bind(&change.revision)
    .bind(change.author.as_deref())
    .bind(change.comments.as_deref())
    .bind(now)
    .bind(change.vcs.as_deref())
    .bind(change.changed_at)
    .bind(change.files.as_deref())
    .execute(&mut *conn)
    .await?;
    Ok(ChangeId(id))
}

/// Inserts a queued build request.
pub async fn add_build_request(
    conn: &mut AnyConnection,
    builder: &str,
    reason: &str,
    change: Option<ChangeId>,
    properties_json: Option<&str>,
    now: i64,
) -> Result<BuildRequestId, StoreError> {
    let id = next_id(conn, "build_requests").await?;
    sqlx::query(
        "INSERT INTO build_requests (id, builder, reason, change_id, submitted_at, properties) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(builder)
    .bind(reason)
    .bind(change.map(|c| c.0))
    .bind(now)
    .bind(properties_json)
    .execute(&mut *conn)
    .await?;
    Ok(BuildRequestId(id))
}

pub(super) const REQUEST_COLUMNS: &str =
    "id, builder, reason, submitted_at, claimed_by, complete_at, result, properties \
     FROM build_requests";

pub(super) fn request_record(row: &AnyRow) -> Result<BuildRequestRecord, StoreError> {
    Ok(BuildRequestRecord {
        id: BuildRequestId(row.try_get("id")?),
        builder: row.try_get("builder")?,
        reason: row.try_get("reason")?,
        submitted_at: row.try_get("submitted_at")?,
        claimed_by: row.try_get::<Option<i64>, _>("claimed_by")?.map(BuildId),
        complete_at: row.try_get("complete_at")?,
        result: result_of(row, "result")?,
        properties: match row.try_get::<Option<String>, _>("properties")? {
            None => serde_json::Map::new(),
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| StoreError::Unexpected(format!("request properties {text:?}: {e}")))?,
        },
    })
}

/// Requests neither claimed nor complete, oldest first.
pub async fn queued_build_requests(
    conn: &mut AnyConnection,
) -> Result<Vec<BuildRequestRecord>, StoreError> {
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} WHERE complete_at IS NULL AND claimed_by IS NULL ORDER BY id"
    );
    let rows = sqlx::query(&sql).fetch_all(&mut *conn).await?;
    rows.iter().map(request_record).collect()
}

/// One request.
pub async fn build_request(
    conn: &mut AnyConnection,
    id: BuildRequestId,
) -> Result<Option<BuildRequestRecord>, StoreError> {
    let sql = format!("SELECT {REQUEST_COLUMNS} WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(request_record).transpose()
}

/// Inserts a running build and claims its request.
pub async fn start_build(
    conn: &mut AnyConnection,
    request: BuildRequestId,
    builder: &str,
    worker: &str,
    now: i64,
) -> Result<BuildId, StoreError> {
    let id = next_id(conn, "builds").await?;
    sqlx::query(
        "INSERT INTO builds (id, request_id, builder, worker, started_at, state_text) \
         VALUES ($1, $2, $3, $4, $5, 'building')",
    )
    .bind(id)
    .bind(request.0)
    .bind(builder)
    .bind(worker)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE build_requests SET claimed_by = $1 WHERE id = $2")
        .bind(id)
        .bind(request.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO builder_last_builds (builder, build_id) VALUES ($1, $2) \
         ON CONFLICT (builder) DO UPDATE SET build_id = excluded.build_id",
    )
    .bind(builder)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(BuildId(id))
}

/// Finishes a build and completes (or re-queues, on retry) its request.
pub async fn finish_build(
    conn: &mut AnyConnection,
    build: BuildId,
    result: Results,
    state_text: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE builds SET finished_at = $1, result = $2, state_text = $3 WHERE id = $4")
        .bind(now)
        .bind(result.code())
        .bind(state_text)
        .bind(build.0)
        .execute(&mut *conn)
        .await?;
    if result == Results::Retry {
        sqlx::query("UPDATE build_requests SET claimed_by = NULL WHERE claimed_by = $1")
            .bind(build.0)
            .execute(&mut *conn)
            .await?;
    } else {
        sqlx::query(
            "UPDATE build_requests SET claimed_by = NULL, complete_at = $1, result = $2 \
             WHERE claimed_by = $3",
        )
        .bind(now)
        .bind(result.code())
        .bind(build.0)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Marks what a dead master left running; returns the builds marked.
pub async fn recover_interrupted(
    conn: &mut AnyConnection,
    now: i64,
) -> Result<Vec<BuildId>, StoreError> {
    let rows = sqlx::query("SELECT id FROM builds WHERE finished_at IS NULL ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    let builds = rows
        .iter()
        .map(|r| Ok(BuildId(r.try_get(0)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    sqlx::query(
        "UPDATE steps SET finished_at = $1, result = $2, \
         state_text = 'interrupted: the master stopped' WHERE finished_at IS NULL",
    )
    .bind(now)
    .bind(Results::Exception.code())
    .execute(&mut *conn)
    .await?;
    for build in &builds {
        finish_build(
            conn,
            *build,
            Results::Retry,
            "interrupted: the master stopped while it ran",
            now,
        )
        .await?;
    }
    sqlx::query(
        "UPDATE worker_connections SET disconnected_at = $1, reason = 'master stopped' \
         WHERE disconnected_at IS NULL",
    )
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(builds)
}

/// Sets each builder's last build from the builds table, so builds stored by other means (an
/// import, a benchmark's seed) count too; one pass over the builder index.
pub async fn refresh_builder_last_builds(conn: &mut AnyConnection) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO builder_last_builds (builder, build_id) \
         SELECT builder, MAX(id) FROM builds WHERE true GROUP BY builder \
         ON CONFLICT (builder) DO UPDATE SET build_id = excluded.build_id",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Upserts a build property.
pub async fn set_build_property(
    conn: &mut AnyConnection,
    build: BuildId,
    name: &str,
    value_json: &str,
    source: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO build_properties (build_id, name, value, source) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (build_id, name) DO UPDATE SET value = excluded.value, source = excluded.source",
    )
    .bind(build.0)
    .bind(name)
    .bind(value_json)
    .bind(source)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A build's properties by name.
pub async fn build_properties(
    conn: &mut AnyConnection,
    build: BuildId,
) -> Result<Vec<PropertyRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT name, value, source FROM build_properties WHERE build_id = $1 ORDER BY name",
    )
    .bind(build.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PropertyRecord {
                name: r.try_get("name")?,
                value_json: r.try_get("value")?,
                source: r.try_get("source")?,
            })
        })
        .collect()
}

/// Inserts a running step.
pub async fn start_step(
    conn: &mut AnyConnection,
    build: BuildId,
    number: i64,
    name: &str,
    now: i64,
) -> Result<StepId, StoreError> {
    let id = next_id(conn, "steps").await?;
    sqlx::query(
        "INSERT INTO steps (id, build_id, number, name, started_at, state_text) \
         VALUES ($1, $2, $3, $4, $5, 'running')",
    )
    .bind(id)
    .bind(build.0)
    .bind(number)
    .bind(name)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(StepId(id))
}

/// Finishes a step.
pub async fn finish_step(
    conn: &mut AnyConnection,
    step: StepId,
    result: Results,
    state_text: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE steps SET finished_at = $1, result = $2, state_text = $3 WHERE id = $4")
        .bind(now)
        .bind(result.code())
        .bind(state_text)
        .bind(step.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) const BUILD_COLUMNS: &str =
    "id, request_id, builder, worker, started_at, finished_at, result, state_text FROM builds";

pub(super) fn build_record(row: &AnyRow) -> Result<BuildRecord, StoreError> {
    Ok(BuildRecord {
        id: BuildId(row.try_get("id")?),
        request_id: BuildRequestId(row.try_get("request_id")?),
        builder: row.try_get("builder")?,
        worker: row.try_get("worker")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        result: result_of(row, "result")?,
        state_text: row.try_get("state_text")?,
    })
}

/// Recent builds, newest first.
pub async fn builds(
    conn: &mut AnyConnection,
    builder: Option<&str>,
    limit: i64,
) -> Result<Vec<BuildRecord>, StoreError> {
    let rows = match builder {
        Some(builder) => {
            let sql =
                format!("SELECT {BUILD_COLUMNS} WHERE builder = $1 ORDER BY id DESC LIMIT $2");
            sqlx::query(&sql)
                .bind(builder)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
        }
        None => {
            let sql = format!("SELECT {BUILD_COLUMNS} ORDER BY id DESC LIMIT $1");
            sqlx::query(&sql).bind(limit).fetch_all(&mut *conn).await?
        }
    };
    rows.iter().map(build_record).collect()
}

/// The builds of a request, oldest first.
pub async fn builds_of_request(
    conn: &mut AnyConnection,
    request: BuildRequestId,
) -> Result<Vec<BuildRecord>, StoreError> {
    let sql = format!("SELECT {BUILD_COLUMNS} WHERE request_id = $1 ORDER BY id");
    let rows = sqlx::query(&sql)
        .bind(request.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(build_record).collect()
}

/// One build.
pub async fn build(
    conn: &mut AnyConnection,
    id: BuildId,
) -> Result<Option<BuildRecord>, StoreError> {
    let sql = format!("SELECT {BUILD_COLUMNS} WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(build_record).transpose()
}

/// A build's steps in order.
pub async fn steps(
    conn: &mut AnyConnection,
    build: BuildId,
) -> Result<Vec<StepRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, build_id, number, name, started_at, finished_at, result, state_text \
         FROM steps WHERE build_id = $1 ORDER BY number",
    )
    .bind(build.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StepRecord {
                id: StepId(row.try_get("id")?),
                build_id: BuildId(row.try_get("build_id")?),
                number: row.try_get("number")?,
                name: row.try_get("name")?,
                started_at: row.try_get("started_at")?,
                finished_at: row.try_get("finished_at")?,
                result: result_of(row, "result")?,
                state_text: row.try_get("state_text")?,
            })
        })
        .collect()
}

/// Inserts one compressed chunk of a step's log `name`. `stdio` has its own table, written most
/// and read most; the other logs (files a step keeps) share `step_logs`.
pub async fn insert_log_chunk(
    conn: &mut AnyConnection,
    step: StepId,
    name: &str,
    seq: i64,
    raw_size: i64,
    data: Vec<u8>,
) -> Result<(), StoreError> {
    let mut query = if name == STDIO {
        sqlx::query("INSERT INTO log_chunks (step_id, seq, raw_size, data) VALUES ($1, $2, $3, $4)")
            .bind(step.0)
    } else {
        sqlx::query(
            "INSERT INTO step_logs (step_id, name, seq, raw_size, data) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(step.0)
        .bind(name)
    };
    query = query.bind(seq).bind(raw_size).bind(data);
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Up to `limit` compressed chunks of a step's log `name` from `from_seq` on, as (seq, data).
pub async fn log_chunks(
    conn: &mut AnyConnection,
    step: StepId,
    name: &str,
    from_seq: i64,
    limit: i64,
) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    let query = if name == STDIO {
        sqlx::query(
            "SELECT seq, data FROM log_chunks WHERE step_id = $1 AND seq >= $2 \
             ORDER BY seq LIMIT $3",
        )
        .bind(step.0)
    } else {
        sqlx::query(
            "SELECT seq, data FROM step_logs WHERE step_id = $1 AND name = $2 AND seq >= $3 \
             ORDER BY seq LIMIT $4",
        )
        .bind(step.0)
        .bind(name)
    };
    let rows = query
        .bind(from_seq)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The next free chunk number of a step's log.
pub async fn next_log_seq(conn: &mut AnyConnection, step: StepId) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COALESCE(MAX(seq) + 1, 0) FROM log_chunks WHERE step_id = $1")
        .bind(step.0)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get(0)?)
}

/// The names of a step's named logs, sorted.
pub async fn log_names(conn: &mut AnyConnection, step: StepId) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT DISTINCT name FROM step_logs WHERE step_id = $1 ORDER BY name")
        .bind(step.0)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}
