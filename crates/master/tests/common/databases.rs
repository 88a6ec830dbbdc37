//! The databases a test runs on: a SQLite file always, PostgreSQL when `OEBB_TEST_PG_URL` is set
//! (a fresh database per test), and a failure when `OEBB_REQUIRE_PG=1` asks for it without a URL.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor};

/// A database for one test: the `database` setting and the directory it is relative to.
pub struct TestDatabase {
    /// `sqlite:state.sqlite` or `postgresql://…/fresh_db`.
    pub setting: String,
    /// Holds the SQLite file; also the master directory of tests that need one.
    pub dir: tempfile::TempDir,
    /// For messages.
    pub label: &'static str,
}

/// Which database a master test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    /// `state.sqlite` in the master directory.
    Sqlite,
    /// A fresh database on the server of `OEBB_TEST_PG_URL`.
    Postgres,
}

/// The server URL of `OEBB_TEST_PG_URL`; without it, `None`, or a failure when
/// `OEBB_REQUIRE_PG=1` says PostgreSQL must be tested.
pub fn postgres_url() -> Option<String> {
    match std::env::var("OEBB_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("OEBB_REQUIRE_PG").as_deref() != Ok("1"),
                "OEBB_REQUIRE_PG=1 but OEBB_TEST_PG_URL is not set: run scripts/install-postgresql \
                 and export OEBB_TEST_PG_URL to the URL it prints"
            );
            eprintln!("PostgreSQL not tested: OEBB_TEST_PG_URL is not set");
            None
        }
    }
}

/// Runs each named `async fn NAME(db: Db)` as two tests, `NAME::sqlite` and `NAME::postgresql`
/// (the latter passes without running when PostgreSQL is not configured nor required).
#[macro_export]
macro_rules! both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::databases::Db::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgresql() {
                    if $crate::common::databases::postgres_url().is_some() {
                        super::$name($crate::common::databases::Db::Postgres).await
                    }
                }
            }
        )*
    };
}

/// A fresh PostgreSQL database URL, when the suite is configured for PostgreSQL.
pub async fn fresh_postgres() -> Option<String> {
    let url = postgres_url()?;
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "oebb_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to OEBB_TEST_PG_URL={url}: {e}"));
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name} on {url}: {e}"));
    admin.close().await.ok();
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url.as_str(), String::new()),
    };
    let server = match base.rfind('/') {
        Some(slash) if base[..slash].ends_with('/') => base, // no database in the URL
        Some(slash) => &base[..slash],
        None => base,
    };
    Some(format!("{}/{name}{query}", server.trim_end_matches('/')))
}

/// SQLite, plus PostgreSQL when configured.
pub async fn test_databases() -> Vec<TestDatabase> {
    let mut all = vec![TestDatabase {
        setting: "sqlite:state.sqlite".to_string(),
        dir: tempfile::tempdir().unwrap(),
        label: "sqlite",
    }];
    if let Some(url) = fresh_postgres().await {
        all.push(TestDatabase {
            setting: url,
            dir: tempfile::tempdir().unwrap(),
            label: "postgresql",
        });
    }
    all
}
