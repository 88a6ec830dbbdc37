//! The master's durable state: every database access goes through [`Store`].
//!
//! One SQL dialect for SQLite and PostgreSQL through sqlx's `Any` driver: `$1` placeholders
//! (SQLite reads `$NNN` as parameter NNN), BIGINT and TEXT columns, ids from a sequence table.
//! The queries live in [`queries`], the migrations in `migrations/` (embedded at build time).

mod findings;
mod log;
pub mod mail;
mod migrations;
pub mod queries;
mod records;
mod sessions;
pub mod watch;
pub mod web_queries;

use std::path::Path;
use std::sync::Arc;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor};

use crate::ids::{BuildId, BuildRequestId, ChangeId, ConnectionId, StepId};
use crate::live::Live;
use crate::results::Results;
pub use findings::{FindingRecord, NewFinding, RecurringFinding, MAX_FINDINGS_PER_BUILD};
pub use log::{LOG_PAGE, STDIO};
pub use records::{BuildRecord, BuildRequestRecord, NewChange, PropertyRecord, StepRecord};
pub use sessions::{NewWebSession, WebSessionRecord};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a query.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The migrations could not be applied.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The `database` setting is neither `sqlite:…` nor `postgresql://…`.
    #[error("unsupported database {0:?}: use sqlite:FILE or postgresql://…")]
    UnsupportedUrl(String),
    /// A stored log chunk could not be decompressed.
    #[error("log chunk {seq} of step {step} is damaged: {reason}")]
    DamagedLog {
        /// The step.
        step: StepId,
        /// The chunk.
        seq: i64,
        /// What went wrong.
        reason: String,
    },
    /// A row held a value the master never writes.
    #[error("unexpected value in the database: {0}")]
    Unexpected(String),
    /// The SQLite file could not be created.
    #[error("cannot create the database file {}: {source}", path.display())]
    CreateFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Which database the store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A file in the master directory.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The one client of the master's database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    live: Arc<Live>,
    /// Woken when a mail is queued (see `mail.rs`).
    mail_wake: Arc<tokio::sync::Notify>,
}

/// Milliseconds since the epoch, the store's unit of time.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) the database named by the `database` setting, relative to
    /// `master_dir` for SQLite, and brings its schema up to date.
    pub async fn open(database: &str, master_dir: &Path) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, backend) = if let Some(file) = database.strip_prefix("sqlite:") {
            let file = file.strip_prefix("//").unwrap_or(file);
            let path = master_dir.join(file);
            create_owner_only(&path)?;
            (
                format!("sqlite://{}?mode=rwc", url_path(&path)),
                Backend::Sqlite,
            )
        } else if database.starts_with("postgresql://") || database.starts_with("postgres://") {
            (database.to_string(), Backend::Postgres)
        } else {
            return Err(StoreError::UnsupportedUrl(database.to_string()));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // NORMAL is durable in WAL mode except on power loss, which costs
                        // at most the last transactions, never the database.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        migrations::run(&pool).await?;
        tracing::info!(?backend, "store opened");
        Ok(Store {
            pool,
            backend,
            live: Arc::default(),
            mail_wake: Arc::default(),
        })
    }

    /// What runs now: followers of running builds and steps are told of each write.
    pub fn live(&self) -> &Live {
        &self.live
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so it waits for another writer: a deferred one that reads first fails at its first write,
    /// without waiting, with SQLITE_BUSY_SNAPSHOT when another connection wrote in between (a
    /// stopping master's recovery met a running build's log write that way).
    async fn write_transaction(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection of the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Records a worker's new connection with what it said about itself.
    pub async fn worker_connected(
        &self,
        worker: &str,
        peer: &str,
        info_json: &str,
    ) -> Result<ConnectionId, StoreError> {
        let mut tx = self.write_transaction().await?;
        let id = queries::worker_connected(&mut tx, worker, peer, info_json, now_millis()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records the end of a worker's connection.
    pub async fn worker_disconnected(
        &self,
        connection: ConnectionId,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        queries::worker_disconnected(&mut conn, connection, reason, now_millis()).await
    }

    /// Workers with an open connection, by name.
    pub async fn connected_workers(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        queries::connected_workers(&mut conn).await
    }

    /// Stores a change seen in a repository.
    pub async fn add_change(&self, change: &NewChange) -> Result<ChangeId, StoreError> {
        let mut tx = self.write_transaction().await?;
        let id = queries::add_change(&mut tx, change, now_millis()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Stores a build request; it is queued from then on, whatever happens to the master.
    pub async fn add_build_request(
        &self,
        builder: &str,
        reason: &str,
        change: Option<ChangeId>,
    ) -> Result<BuildRequestId, StoreError> {
        self.add_build_request_with(builder, reason, change, &serde_json::Map::new())
            .await
    }

    /// Stores a build request whose builds get these properties.
    pub async fn add_build_request_with(
        &self,
        builder: &str,
        reason: &str,
        change: Option<ChangeId>,
        properties: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<BuildRequestId, StoreError> {
        let json = (!properties.is_empty())
            .then(|| serde_json::Value::from(properties.clone()).to_string());
        let mut tx = self.write_transaction().await?;
        let id = queries::add_build_request(
            &mut tx,
            builder,
            reason,
            change,
            json.as_deref(),
            now_millis(),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Build requests neither running nor complete, oldest first.
    pub async fn queued_build_requests(&self) -> Result<Vec<BuildRequestRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        queries::queued_build_requests(&mut conn).await
    }

    /// One build request.
    pub async fn build_request(
        &self,
        id: BuildRequestId,
    ) -> Result<Option<BuildRequestRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        queries::build_request(&mut conn, id).await
    }

    /// Starts a build of a queued request on a worker, claiming the request.
    pub async fn start_build(
        &self,
        request: BuildRequestId,
        builder: &str,
        worker: &str,
    ) -> Result<BuildId, StoreError> {
        let mut tx = self.write_transaction().await?;
        let id = queries::start_build(&mut tx, request, builder, worker, now_millis()).await?;
        tx.commit().await?;
        self.live.build_started(id);
        Ok(id)
    }

    /// Finishes a build; its request is complete, or queued again when the result is retry.
    pub async fn finish_build(
        &self,
        build: BuildId,
        result: Results,
        state_text: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        queries::finish_build(&mut tx, build, result, state_text, now_millis()).await?;
        tx.commit().await?;
        self.live.build_finished(build, result);
        Ok(())
    }

    /// Marks builds left running by a master that died as retried, with their unfinished
    /// steps as exceptions, queues their requests again and closes stale worker connections.
    /// Returns the builds marked.
    pub async fn recover_interrupted(&self) -> Result<Vec<BuildId>, StoreError> {
        let mut tx = self.write_transaction().await?;
        let builds = queries::recover_interrupted(&mut tx, now_millis()).await?;
        tx.commit().await?;
        Ok(builds)
    }

    /// Rebuilds each builder's last build from the builds table (done once at start).
    pub async fn refresh_builder_last_builds(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        queries::refresh_builder_last_builds(&mut conn).await
    }

    /// Sets a build property (value as JSON text), replacing an earlier value.
    pub async fn set_build_property(
        &self,
        build: BuildId,
        name: &str,
        value_json: &str,
        source: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        queries::set_build_property(&mut tx, build, name, value_json, source).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A build's properties, by name.
    pub async fn build_properties(
        &self,
        build: BuildId,
    ) -> Result<Vec<PropertyRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        queries::build_properties(&mut conn, build).await
    }

    /// Starts step `number` (from 0) of a build.
    pub async fn start_step(
        &self,
        build: BuildId,
        number: i64,
        name: &str,
    ) -> Result<StepId, StoreError> {
        let mut tx = self.write_transaction().await?;
        let id = queries::start_step(&mut tx, build, number, name, now_millis()).await?;
        tx.commit().await?;
        self.live.step_started(build, id, number, name);
        Ok(id)
    }

    /// Finishes a step.
    pub async fn finish_step(
        &self,
        step: StepId,
        result: Results,
        state_text: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        queries::finish_step(&mut conn, step, result, state_text, now_millis()).await?;
        self.live.step_finished(step, result);
        Ok(())
    }

    /// Recent builds, newest first, of one builder or of all.
    pub async fn builds(
        &self,
        builder: Option<&str>,
        limit: i64,
    ) -> Result<Vec<BuildRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        queries::builds(&mut conn, builder, limit).await
    }

    /// The builds of one request, oldest first (more than one after retries).
    pub async fn builds_of_request(
        &self,
        request: BuildRequestId,
    ) -> Result<Vec<BuildRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        queries::builds_of_request(&mut conn, request).await
    }

    /// One build.
    pub async fn build(&self, id: BuildId) -> Result<Option<BuildRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        queries::build(&mut conn, id).await
    }

    /// A build's steps in order.
    pub async fn steps(&self, build: BuildId) -> Result<Vec<StepRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        queries::steps(&mut conn, build).await
    }

    /// A step of a build, by number (from 0) or by name.
    pub async fn find_step(
        &self,
        build: BuildId,
        number_or_name: &str,
    ) -> Result<Option<StepRecord>, StoreError> {
        let steps = self.steps(build).await?;
        if let Ok(n) = number_or_name.parse::<i64>() {
            if let Some(step) = steps.iter().find(|s| s.number == n) {
                return Ok(Some(step.clone()));
            }
        }
        Ok(steps.into_iter().find(|s| s.name == number_or_name))
    }
}

/// Creates the SQLite file, when missing, readable by its owner only (it holds every build's
/// logs and the web sessions); SQLite gives its `-wal` and `-shm` files the same mode.
fn create_owner_only(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Err(source) if source.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(StoreError::CreateFile {
                path: path.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// What a `sqlite://` URL's path must not hold as it is: controls, and the characters a URL
/// gives a meaning to (sqlx decodes them back).
const URL_PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b'%')
    .add(b'?')
    .add(b'#')
    .add(b' ');

/// A file path as the path of a `sqlite://` URL, so any master directory name works.
fn url_path(path: &Path) -> String {
    percent_encoding::utf8_percent_encode(&path.to_string_lossy(), URL_PATH).to_string()
}

fn result_of(row: &AnyRow, column: &str) -> Result<Option<Results>, StoreError> {
    use sqlx::Row;
    match row.try_get::<Option<i64>, _>(column)? {
        None => Ok(None),
        Some(code) => Results::from_code(code)
            .map(Some)
            .ok_or_else(|| StoreError::Unexpected(format!("result code {code}"))),
    }
}
