//! Test support shared by the integration tests of several crates (dev-dependency only).

pub mod smtp;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The stock `buildbot-worker` program from PyPI; fails with how to install it when missing.
pub fn buildbot_worker() -> PathBuf {
    let path = std::env::var_os("OEBB_BUILDBOT_WORKER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/oebb-test/venv/bin/buildbot-worker"));
    assert!(
        path.is_file(),
        "stock buildbot-worker not found at {} (set OEBB_BUILDBOT_WORKER to override); \
         install it with scripts/install-test-deps",
        path.display()
    );
    path
}

/// A stock worker running in the foreground, so the test owns the process; killed when
/// dropped, on every path, with its log printed when the test panics.
pub struct StockWorker {
    child: Child,
    /// Its base directory.
    pub basedir: PathBuf,
    /// Its name.
    pub name: String,
}

impl StockWorker {
    /// Creates a msgpack_experimental_v7 worker in `basedir` for the master at `address` and
    /// starts it with the `twistd` of the same virtualenv.
    pub fn start(basedir: &Path, address: SocketAddr, name: &str, password: &str) -> StockWorker {
        let bin = buildbot_worker();
        let status = Command::new(&bin)
            .args(["create-worker", "--protocol", "msgpack_experimental_v7"])
            .arg(basedir)
            .arg(address.to_string())
            .args([name, password])
            .stdout(Stdio::null())
            .status()
            .expect("run buildbot-worker create-worker");
        assert!(
            status.success(),
            "buildbot-worker create-worker failed: {status}"
        );
        let twistd = bin.with_file_name("twistd");
        let child = Command::new(&twistd)
            .args([
                "--nodaemon",
                "--no_save",
                "--logfile",
                "twistd.log",
                "-y",
                "buildbot.tac",
            ])
            .current_dir(basedir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", twistd.display()));
        StockWorker {
            child,
            basedir: basedir.to_path_buf(),
            name: name.to_string(),
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.basedir.join("twistd.log")).unwrap_or_default()
    }

    /// Waits up to 15 s for the log to contain `needle`.
    pub async fn wait_for_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Waits up to 10 s for the process to exit by itself.
    pub async fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Kills the worker process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for StockWorker {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- twistd.log of {} ---\n{}", self.name, self.log());
        }
    }
}

/// The URL of the test PostgreSQL server (`OEBB_TEST_PG_URL`, set by scripts/test); fails with
/// how to get one when it is missing, so PostgreSQL tests never pass without running.
pub fn postgres_url() -> String {
    match std::env::var("OEBB_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => {
            static SWEPT: std::sync::Once = std::sync::Once::new();
            SWEPT.call_once(|| drop_databases_of_finished_runs(&url));
            url
        }
        _ => panic!(
            "OEBB_TEST_PG_URL is not set: run `export OEBB_TEST_PG_URL=$(scripts/install-postgresql)` \
             (scripts/test does it)"
        ),
    }
}

/// A new empty database on the test server, made with `psql` and named by
/// [`unique_database_name`]; its URL.
pub fn fresh_database(prefix: &str) -> String {
    let url = postgres_url();
    let name = unique_database_name(prefix);
    psql(&url, &format!("CREATE DATABASE {name}"));
    database_url(&url, &name)
}

/// Runs `sql` on the server of `url` with psql; its unaligned output. Fails the test with
/// psql's error.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql (from scripts/install-postgresql) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `server_url` with its database replaced by `database`, query string kept.
pub fn database_url(server_url: &str, database: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (server_url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{server}/{database}{query}")
}

/// Drops the databases that test processes which have since ended left on the shared server,
/// so the cluster does not fill up run after run. A name from [`unique_database_name`] carries
/// its process id; databases of live processes (tests running in parallel) are kept.
fn drop_databases_of_finished_runs(url: &str) {
    let psql = |sql: &str| {
        Command::new("psql")
            .args([url, "-X", "-A", "-t", "-c", sql])
            .stderr(Stdio::null())
            .output()
    };
    let Ok(listed) = psql(
        "SELECT datname FROM pg_database WHERE datname ~ '^oebb_[a-z0-9]+_[0-9]+_[0-9]+_[0-9]+$'",
    ) else {
        return; // psql missing: the test itself reports it
    };
    for name in String::from_utf8_lossy(&listed.stdout).lines() {
        let pid = name.rsplit('_').nth(2).unwrap_or_default();
        if !pid.is_empty() && !Path::new("/proc").join(pid).exists() {
            let _ = psql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

/// A database name no other test run uses.
pub fn unique_database_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs a version-control command (git, hg, brz) in `dir` as a test author; a missing tool
/// fails with how to install it, a failing command with its error output.
pub fn run_vcs(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("BRZ_EMAIL", "oebb test <t@example.com>")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): run scripts/install-test-deps (git, mercurial, brz)"
            )
        });
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `command` with `input` on its standard input (written from another thread, so a large
/// input cannot block against a full output pipe) and collects its output.
pub fn output_with_stdin(command: &mut Command, input: &[u8]) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the command");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        // The command may exit without reading it all; that is its answer, not ours.
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().expect("waiting for the command");
    writer.join().expect("the stdin writer");
    output
}

/// A free TCP port on the loopback address, for a program the test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// A child process killed (SIGKILL) when dropped, on every path; when the test panics, the
/// log file it wrote is printed.
pub struct Killed {
    child: Child,
    what: &'static str,
    log: Option<PathBuf>,
}

impl Killed {
    /// Guards `child`, described as `what`, whose log goes to `log`.
    pub fn new(child: Child, what: &'static str, log: Option<PathBuf>) -> Killed {
        Killed { child, what, log }
    }

    /// Starts `command` without input, its standard error in the file `log`, and guards it.
    pub fn spawn(command: &mut Command, what: &'static str, log: PathBuf) -> Killed {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("creating the log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Killed::new(child, what, Some(log))
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM, as a service manager stopping it would, and waits up to `within` for
    /// the exit; panics when the process outlives it.
    pub fn terminate(&mut self, within: std::time::Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid} failed");
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the child") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} still runs {within:?} after SIGTERM",
                self.what
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Kills the process at once, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            if let Some(log) = &self.log {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                eprintln!("--- log of {} ---\n{text}", self.what);
            }
        }
    }
}

/// A master directory for `oebb master DIR --local-worker`: free loopback ports, one worker
/// `local` (password `secret`) and one builder `x` whose build is the shell script `step`.
pub fn one_script_master_dir(dir: &Path, step: &str) {
    let (worker_port, web_port) = (free_port(), free_port());
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("a file in the directory")).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "oebb.cfg",
        &format!(
            "[master]\nworker-address = 127.0.0.1:{worker_port}\n\
             web-address = 127.0.0.1:{web_port}\n"
        ),
    );
    write("slaves.cfg", "[local]\npassword = secret\n");
    write(
        "buildouts/MANIFEST.cfg",
        "[x]\nbuildout = standalone x.cfg\n",
    );
    write("buildouts/x.cfg", "[buildout]\nparts =\n");
    write("steps/x.sh", step);
}

#[cfg(test)]
mod tests {
    use super::{database_url, drop_databases_of_finished_runs, postgres_url, psql};

    #[test]
    fn databases_of_ended_processes_are_dropped_and_live_ones_kept() {
        let url = postgres_url();
        let psql = |sql: &str| psql(&url, sql);
        let dead_pid = (1_000_000..4_000_000u32)
            .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
            .unwrap();
        let dead = format!("oebb_sweep_{dead_pid}_0_{}", std::process::id());
        let live = format!("oebb_sweep_{}_0_1", std::process::id());
        for name in [&dead, &live] {
            psql(&format!("DROP DATABASE IF EXISTS {name}"));
            psql(&format!("CREATE DATABASE {name}"));
        }
        drop_databases_of_finished_runs(&url);
        let left = psql("SELECT datname FROM pg_database WHERE datname LIKE 'oebb_sweep_%'");
        assert!(!left.lines().any(|l| l == dead), "{left}");
        assert!(left.lines().any(|l| l == live), "{left}");
        psql(&format!("DROP DATABASE {live}"));
    }

    #[test]
    fn database_url_replaces_only_the_database() {
        assert_eq!(
            database_url("postgresql://u@127.0.0.1:25432/postgres", "t1"),
            "postgresql://u@127.0.0.1:25432/t1"
        );
        assert_eq!(
            database_url("postgresql://u@h:1?sslmode=disable", "t2"),
            "postgresql://u@h:1/t2?sslmode=disable"
        );
        assert_eq!(
            database_url("postgresql://u@h/db?a=b", "t3"),
            "postgresql://u@h/t3?a=b"
        );
    }
}
