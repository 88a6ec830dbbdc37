//! The databases a test runs on: a SQLite file, and a fresh database per test on the PostgreSQL
//! server of `OEBB_TEST_PG_URL` (a failure when it is not set).

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

/// Runs each named `async fn NAME(db: Db)` as two tests, `NAME::sqlite` and `NAME::postgresql`
/// (the latter fails when `OEBB_TEST_PG_URL` is not set).
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
                    super::$name($crate::common::databases::Db::Postgres).await
                }
            }
        )*
    };
}

/// A fresh database on the test PostgreSQL server; its URL.
pub async fn fresh_postgres() -> String {
    let url = oebb_testkit::postgres_url();
    let name = oebb_testkit::unique_database_name("oebb_test");
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to OEBB_TEST_PG_URL={url}: {e}"));
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name} on {url}: {e}"));
    admin.close().await.ok();
    oebb_testkit::database_url(&url, &name)
}

/// SQLite and PostgreSQL.
pub async fn test_databases() -> Vec<TestDatabase> {
    let mut all = vec![TestDatabase {
        setting: "sqlite:state.sqlite".to_string(),
        dir: tempfile::tempdir().unwrap(),
        label: "sqlite",
    }];
    all.push(TestDatabase {
        setting: fresh_postgres().await,
        dir: tempfile::tempdir().unwrap(),
        label: "postgresql",
    });
    all
}
