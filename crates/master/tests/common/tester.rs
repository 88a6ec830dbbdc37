//! `MasterTester`: a master on a temporary directory with real workers, driven like a user.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use oebb_master::connections::ConnectionLimits;
use oebb_master::store::{BuildRecord, BuildRequestRecord};
use oebb_master::{BuildId, BuildRequestId, Master, MasterOptions, Results, Step, Store};

use super::databases::Db;
use oebb_testkit::StockWorker;

/// How long a test waits for a build before it fails.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(60);

/// A configured worker: name, password, priority.
pub struct WorkerSpec {
    /// Its name.
    pub name: &'static str,
    /// Its password in `slaves.cfg`.
    pub password: &'static str,
    /// Its priority (higher first).
    pub priority: f64,
}

/// The `slaves.cfg` text of these workers.
pub fn slaves_cfg(workers: &[WorkerSpec]) -> String {
    let mut slaves = String::new();
    for w in workers {
        slaves.push_str(&format!(
            "[{}]\npassword = {}\npriority = {}\n",
            w.name, w.password, w.priority
        ));
    }
    slaves
}

/// Writes a master directory: its workers, and one standalone buildout per builder.
pub fn write_master_dir(dir: &Path, slaves: &str, builders: &[&str], extra_master: &str) {
    std::fs::write(dir.join("slaves.cfg"), slaves).unwrap();
    std::fs::create_dir_all(dir.join("buildouts")).unwrap();
    let mut manifest = String::new();
    for b in builders {
        manifest.push_str(&format!("[{b}]\nbuildout = standalone {b}.cfg\n"));
        std::fs::write(
            dir.join(format!("buildouts/{b}.cfg")),
            "[buildout]\nparts =\n",
        )
        .unwrap();
    }
    std::fs::write(dir.join("buildouts/MANIFEST.cfg"), manifest).unwrap();
    std::fs::write(
        dir.join("oebb.cfg"),
        format!(
            "[master]\nworker-address = 127.0.0.1:0\nweb-address = 127.0.0.1:0\n{extra_master}"
        ),
    )
    .unwrap();
}

/// The `database` line of `oebb.cfg` for the master's own state.
async fn database_setting(db: Db) -> String {
    match db {
        Db::Sqlite => String::new(),
        Db::Postgres => {
            let url = super::databases::fresh_postgres().await;
            format!("database = {url}\n")
        }
    }
}

/// A master with stock workers on a temporary directory.
pub struct MasterTester {
    /// The master directory.
    pub dir: tempfile::TempDir,
    /// Holds the workers' directories.
    pub scratch: tempfile::TempDir,
    /// The running master.
    pub master: Master,
    /// Workers started so far.
    pub workers: Vec<StockWorker>,
    /// In-process oebb workers: dropping a sender stops its worker.
    pub oebb_workers: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl MasterTester {
    /// Starts a master with these workers and builders; `steps` gives each build's steps.
    pub async fn start(
        db: Db,
        workers: &[WorkerSpec],
        builders: &[&str],
        steps: impl Fn(&str, &str) -> Vec<Step> + Send + Sync + 'static,
    ) -> MasterTester {
        Self::start_with_slaves(db, &slaves_cfg(workers), builders, steps).await
    }

    /// Like [`MasterTester::start`], with the `slaves.cfg` text given.
    pub async fn start_with_slaves(
        db: Db,
        slaves: &str,
        builders: &[&str],
        steps: impl Fn(&str, &str) -> Vec<Step> + Send + Sync + 'static,
    ) -> MasterTester {
        Self::start_with_keepalive(
            db,
            slaves,
            builders,
            steps,
            Duration::from_secs(2),
            Duration::from_secs(10),
        )
        .await
    }

    /// Like [`MasterTester::start`], with `extra` appended to `oebb.cfg` (e.g. a `[users]`
    /// section).
    pub async fn start_with_extra(
        db: Db,
        workers: &[WorkerSpec],
        builders: &[&str],
        extra: &str,
        steps: impl Fn(&str, &str) -> Vec<Step> + Send + Sync + 'static,
    ) -> MasterTester {
        let dir = tempfile::tempdir().unwrap();
        let database = database_setting(db).await;
        write_master_dir(
            dir.path(),
            &slaves_cfg(workers),
            builders,
            &format!("{database}{extra}"),
        );
        let config = oebb_config::load(dir.path(), &Default::default())
            .unwrap_or_else(|errors| panic!("test configuration refused: {errors:?}"));
        let options = MasterOptions {
            keepalive_interval: Duration::from_secs(2),
            keepalive_timeout: Duration::from_secs(10),
            steps: Arc::new(move |_, b, w| steps(b.name.as_str(), w.as_str())),
            lock_slots: Vec::new(),
            connections: ConnectionLimits::for_this_process(workers.len()),
            load_config: oebb_master::reconfig::plain_loader(),
        };
        Self::start_master(dir, &config, options).await
    }

    /// Like [`MasterTester::start_with_slaves`], with the keepalive interval and timeout given.
    pub async fn start_with_keepalive(
        db: Db,
        slaves: &str,
        builders: &[&str],
        steps: impl Fn(&str, &str) -> Vec<Step> + Send + Sync + 'static,
        keepalive_interval: Duration,
        keepalive_timeout: Duration,
    ) -> MasterTester {
        Self::start_with_options(db, slaves, builders, steps, |options| {
            options.keepalive_interval = keepalive_interval;
            options.keepalive_timeout = keepalive_timeout;
        })
        .await
    }

    /// Like [`MasterTester::start_with_slaves`], with the master's options changed by `tune`
    /// (keepalives every 2 s answered within 10 s, a counting lock `db` of 2 slots, connection
    /// limits of this process, unless it changes them).
    pub async fn start_with_options(
        db: Db,
        slaves: &str,
        builders: &[&str],
        steps: impl Fn(&str, &str) -> Vec<Step> + Send + Sync + 'static,
        tune: impl FnOnce(&mut MasterOptions),
    ) -> MasterTester {
        let dir = tempfile::tempdir().unwrap();
        let database = database_setting(db).await;
        write_master_dir(dir.path(), slaves, builders, &database);
        let config = oebb_config::load(dir.path(), &Default::default())
            .unwrap_or_else(|errors| panic!("test configuration refused: {errors:?}"));
        let mut options = MasterOptions {
            keepalive_interval: Duration::from_secs(2),
            keepalive_timeout: Duration::from_secs(10),
            steps: Arc::new(move |_, b, w| steps(b.name.as_str(), w.as_str())),
            lock_slots: vec![("db".to_string(), 2)],
            connections: ConnectionLimits::for_this_process(config.workers.len()),
            load_config: oebb_master::reconfig::plain_loader(),
        };
        tune(&mut options);
        Self::start_master(dir, &config, options).await
    }

    /// A master whose builds run the build recipe, as `oebb master DIR` does: `write` writes
    /// `slaves.cfg` and `buildouts/` into the master directory, the tester `oebb.cfg`.
    pub async fn start_with_recipe(db: Db, write: impl FnOnce(&Path)) -> MasterTester {
        let dir = tempfile::tempdir().unwrap();
        let database = database_setting(db).await;
        std::fs::write(
            dir.path().join("oebb.cfg"),
            format!(
                "[master]\nworker-address = 127.0.0.1:0\nweb-address = 127.0.0.1:0\n{database}"
            ),
        )
        .unwrap();
        write(dir.path());
        let config = oebb_config::load(dir.path(), &Default::default())
            .unwrap_or_else(|errors| panic!("test configuration refused: {errors:?}"));
        let mut options = MasterOptions::for_config(&config);
        options.keepalive_interval = Duration::from_secs(2);
        Self::start_master(dir, &config, options).await
    }

    async fn start_master(
        dir: tempfile::TempDir,
        config: &oebb_config::MasterConfig,
        options: MasterOptions,
    ) -> MasterTester {
        let master = Master::start(config, options).await.unwrap();
        MasterTester {
            dir,
            scratch: tempfile::tempdir().unwrap(),
            master,
            workers: Vec::new(),
            oebb_workers: Vec::new(),
        }
    }

    /// Starts an oebb worker in this process and waits until the master has it.
    pub async fn connect_oebb_worker(&mut self, name: &str, password: &str) {
        let basedir = self
            .scratch
            .path()
            .join(format!("oebb-{name}-{}", self.oebb_workers.len()));
        let mut options = oebb_worker::WorkerOptions::new(
            self.master.worker_address().to_string(),
            name,
            password,
            basedir,
        );
        options.backoff.initial = Duration::from_millis(100);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = oebb_worker::run(options, async {
                let _ = stopped.await;
            })
            .await;
        });
        self.oebb_workers.push(stop);
        self.wait_connected(name).await;
    }

    /// The store.
    pub fn store(&self) -> &Store {
        self.master.store()
    }

    /// Starts a stock worker and returns its index in `workers`.
    pub fn start_worker(&mut self, name: &str, password: &str) -> usize {
        let basedir = self
            .scratch
            .path()
            .join(format!("{name}-{}", self.workers.len()));
        let worker = StockWorker::start(&basedir, self.master.worker_address(), name, password);
        self.workers.push(worker);
        self.workers.len() - 1
    }

    /// Starts a stock worker and waits until the master has it.
    pub async fn connect_worker(&mut self, name: &str, password: &str) -> usize {
        let index = self.start_worker(name, password);
        self.wait_connected(name).await;
        index
    }

    /// Waits until the store shows the worker connected.
    pub async fn wait_connected(&self, name: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let connected = self.store().connected_workers().await.unwrap();
            if connected.iter().any(|w| w == name) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "worker {name} did not connect; connected: {connected:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Forces a builder and waits for the request to complete; returns it with its builds.
    pub async fn force_and_wait(&self, builder: &str) -> (BuildRequestRecord, Vec<BuildRecord>) {
        self.force_and_wait_for(builder, BUILD_TIMEOUT).await
    }

    /// Like [`MasterTester::force_and_wait`], waiting at most `timeout`.
    pub async fn force_and_wait_for(
        &self,
        builder: &str,
        timeout: Duration,
    ) -> (BuildRequestRecord, Vec<BuildRecord>) {
        let id = self.master.force(builder, "test").await.unwrap();
        self.wait_for(id, timeout).await
    }

    /// Waits at most `timeout` for request `id` to complete; returns it with its builds.
    pub async fn wait_for(
        &self,
        id: BuildRequestId,
        timeout: Duration,
    ) -> (BuildRequestRecord, Vec<BuildRecord>) {
        let request = self
            .master
            .wait_for_request(id, timeout)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("build request {id} did not complete"));
        let builds = self.store().builds_of_request(id).await.unwrap();
        (request, builds)
    }

    /// The steps of a build as (name, result, state text).
    pub async fn steps(&self, build: BuildId) -> Vec<(String, Option<Results>, String)> {
        self.store()
            .steps(build)
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.name, s.result, s.state_text))
            .collect()
    }

    /// A step's whole log (tests only look at small ones).
    pub async fn log(&self, build: BuildId, step: &str) -> String {
        self.named_log(build, step, oebb_master::store::STDIO).await
    }

    /// A step's log `name` (`stdio` is [`MasterTester::log`]).
    pub async fn named_log(&self, build: BuildId, step: &str, name: &str) -> String {
        let step = self
            .store()
            .find_step(build, step)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("build {build} has no step {step}"));
        let mut text = Vec::new();
        self.store()
            .read_named_log(step.id, name, |chunk| {
                text.extend_from_slice(chunk);
                true
            })
            .await
            .unwrap();
        String::from_utf8_lossy(&text).into_owned()
    }

    /// A file under the master directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
