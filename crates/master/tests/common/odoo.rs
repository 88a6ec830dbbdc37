//! What the Odoo build tests share: the test clusters, the stand-in Odoo's buildout, psql.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oebb_master::{BuildId, Results};

use super::tester::MasterTester;

/// Bootstrap (a virtualenv and zc.buildout from PyPI) and buildout take a while.
pub const ODOO_BUILD_TIMEOUT: Duration = Duration::from_secs(600);

/// The steps of a buildout with the default post-buildout step; `fetch` is the step that puts
/// the buildout in place (`download` for a standalone one, `checkout` from a repository, which
/// is followed by `got_revision`).
pub fn default_steps(fetch: &'static str) -> Vec<&'static str> {
    let mut steps = vec!["builddir", "clean_logs", fetch];
    if fetch == "checkout" {
        steps.push("got_revision");
    }
    steps.extend([
        "props_postgresql",
        "pg_cluster_props",
        "bootstrap",
        "buildout_key",
        "buildout_unchanged",
        "buildout",
        "buildout_stamp",
        "got_revisions",
        "dropdb",
        "createdb",
        "test",
        "analyze",
        "final_dropdb",
    ]);
    steps
}

/// A PostgreSQL cluster of the tests: user, host, port.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// Its (trusted) user.
    pub user: String,
    /// Its address.
    pub host: String,
    /// Its port.
    pub port: String,
}

impl Cluster {
    /// Reads `postgresql://user@host:port/db`.
    fn from_url(var: &str, url: &str) -> Cluster {
        let rest = url
            .split_once("://")
            .map_or_else(|| panic!("{var} is not a URL: {url:?}"), |(_, r)| r);
        let (user, rest) = rest
            .split_once('@')
            .unwrap_or_else(|| panic!("{var} names no user: {url:?}"));
        let user = user.split(':').next().unwrap().to_string();
        let address = rest.split('/').next().unwrap();
        let (host, port) = address.split_once(':').unwrap_or((address, "5432"));
        Cluster {
            user,
            host: host.to_string(),
            port: port.to_string(),
        }
    }

    /// The first cluster (`OEBB_TEST_PG_URL`).
    pub fn first() -> Cluster {
        Cluster::from_url("OEBB_TEST_PG_URL", &oebb_testkit::postgres_url())
    }

    /// The second cluster (`OEBB_TEST_PG2_URL`), on another port.
    pub fn second() -> Cluster {
        let url = std::env::var("OEBB_TEST_PG2_URL").unwrap_or_else(|_| {
            panic!(
                "OEBB_TEST_PG2_URL is not set: start the second test cluster with \
                 `OEBB_TEST_PG2_URL=$(OEBB_TEST_PG_PORT=25433 scripts/install-postgresql)` \
                 (scripts/test does)"
            )
        });
        Cluster::from_url("OEBB_TEST_PG2_URL", &url)
    }

    /// The capability options of a worker on this cluster.
    pub fn capability_options(&self) -> String {
        format!("port={} host={} user={}", self.port, self.host, self.user)
    }

    /// Runs SQL in `database`; its unaligned output, or the error.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = std::process::Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h", &self.host, "-p", &self.port, "-U", &self.user, "-d", database,
            ])
            .args(["-c", sql])
            .output()
            .expect("psql runs (install the PostgreSQL client: apt-get install postgresql-client)");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A fresh `trace-<database>` database, where the stand-in also records the modules it
    /// installs in `<database>` (which the build drops at its end).
    pub fn make_trace(&self, database: &str) {
        self.drop_trace(database);
        let trace = format!("trace-{database}");
        self.psql("postgres", &format!("CREATE DATABASE \"{trace}\""))
            .unwrap();
        self.psql(
            &trace,
            "CREATE TABLE fake_odoo_trace (database varchar, module varchar)",
        )
        .unwrap();
    }

    /// `database:module` rows the stand-in traced for `database` on this cluster.
    pub fn traced(&self, database: &str) -> String {
        self.psql(
            &format!("trace-{database}"),
            "SELECT string_agg(database || ':' || module, ',') FROM fake_odoo_trace",
        )
        .unwrap()
    }

    /// Drops the trace database of `database`.
    pub fn drop_trace(&self, database: &str) {
        self.psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS \"trace-{database}\""),
        )
        .unwrap();
    }
}

/// The stand-in Odoo's sources (`setup.py`, `fake_odoo.py`).
pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake_odoo")
}

/// Copies the stand-in's sources into `dir` (a develop install writes its egg-info there).
pub fn copy_sources(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for file in ["setup.py", "fake_odoo.py"] {
        std::fs::copy(fixture().join(file), dir.join(file)).unwrap();
    }
}

/// The fixture's `buildout.cfg`, developing the stand-in from `develop` (absolute, or
/// relative to the buildout directory).
pub fn buildout_cfg(develop: &str) -> String {
    std::fs::read_to_string(fixture().join("buildout.cfg"))
        .unwrap()
        .replace("@FAKE_ODOO@", develop)
}

/// Names and results of a build's steps.
pub async fn results(t: &MasterTester, build: BuildId) -> Vec<(String, Option<Results>)> {
    t.steps(build)
        .await
        .into_iter()
        .map(|(name, result, _)| (name, result))
        .collect()
}

/// Every step's name, result and log, to show when a build went wrong.
pub async fn explain(t: &MasterTester, build: BuildId) -> String {
    let mut out = String::new();
    for (name, result, text) in t.steps(build).await {
        out.push_str(&format!("--- {name}: {result:?} {text}\n"));
        out.push_str(&t.log(build, &name).await);
    }
    out
}
