//! The schema migrations, embedded in the binary so a master needs no files beside it.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::AnyPool;

/// (version, description, SQL), in order; the version is the file's timestamp.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        20261125093000,
        "initial",
        include_str!("../../migrations/20261125093000_initial.sql"),
    ),
    (
        20261125110000,
        "web indexes",
        include_str!("../../migrations/20261125110000_web_indexes.sql"),
    ),
    (
        20261125120000,
        "builder last builds",
        include_str!("../../migrations/20261125120000_builder_last_builds.sql"),
    ),
    (
        20261125130000,
        "step logs",
        include_str!("../../migrations/20261125130000_step_logs.sql"),
    ),
    (
        20261202040000,
        "queued by builder",
        include_str!("../../migrations/20261202040000_queued_by_builder.sql"),
    ),
    (
        20261202120000,
        "web sessions",
        include_str!("../../migrations/20261202120000_web_sessions.sql"),
    ),
    (
        20261203100000,
        "watch",
        include_str!("../../migrations/20261203100000_watch.sql"),
    ),
    (
        20261203140000,
        "mail queue",
        include_str!("../../migrations/20261203140000_mail_queue.sql"),
    ),
    (
        20261203150000,
        "build findings",
        include_str!("../../migrations/20261203150000_build_findings.sql"),
    ),
];

#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Applies the migrations the database has not seen yet.
pub(super) async fn run(pool: &AnyPool) -> Result<(), sqlx::migrate::MigrateError> {
    let migrator = Migrator::new(Embedded).await?;
    migrator.run(pool).await
}
