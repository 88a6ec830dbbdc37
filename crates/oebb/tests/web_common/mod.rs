//! Shared by the web test suites: a master directory made for the test, the `oebb master` and
//! `oebb worker` processes, a plain HTTP/1.1 client over loopback TCP, and the login.
// Each test file uses a different part of this module.
#![allow(dead_code)]

pub mod browser;
pub mod http;
pub mod schema;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use oebb_testkit::{free_port, Killed};
use serde_json::Value;

pub use http::{Response, Session};

/// The web user every test logs in as, and its password.
pub const USER: &str = "alice";
/// Its password (set with `oebb passwd`).
pub const PASSWORD: &str = "correct horse battery staple";
/// The one worker of the test masters.
pub const WORKER: &str = "w1";

/// A buildout of the test manifest and the shell script its builders run.
pub struct Buildout {
    /// Section name in MANIFEST.cfg.
    pub name: &'static str,
    /// Extra manifest lines (`build-for`, `build-category`).
    pub options: &'static str,
    /// The `steps/<builder>.sh` of each builder of this buildout; `@DIR@` stands for the
    /// master directory.
    pub script: String,
}

impl Buildout {
    /// A buildout with one builder of the same name (no capability).
    pub fn plain(name: &'static str, script: impl Into<String>) -> Buildout {
        Buildout {
            name,
            options: "",
            script: script.into(),
        }
    }
}

/// A master and its worker running on a temporary master directory; both killed on drop.
pub struct TestMaster {
    /// The master directory (removed on drop).
    pub dir: tempfile::TempDir,
    /// The web address.
    pub web: SocketAddr,
    /// The worker address.
    pub worker_address: SocketAddr,
    master: Killed,
    worker: Option<Killed>,
}

/// Writes a master directory with `buildouts` for worker `w1` (capabilities PostgreSQL 15
/// and 16) and the web user, whose hash comes from `oebb passwd`.
/// `extra_workers` is more slaves.cfg text (workers that never connect, to keep requests
/// queued).
pub fn master_dir(
    buildouts: &[Buildout],
    extra_workers: &str,
) -> (tempfile::TempDir, SocketAddr, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let web: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let worker_address: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    std::fs::write(
        d.join("oebb.cfg"),
        format!("[master]\nworker-address = {worker_address}\nweb-address = {web}\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("slaves.cfg"),
        format!(
            "[{WORKER}]\npassword = pw1\ncapability = postgresql 16\n    postgresql 15\n\
             {extra_workers}"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(d.join("buildouts")).unwrap();
    std::fs::create_dir_all(d.join("steps")).unwrap();
    std::fs::write(d.join("buildouts/x.cfg"), "[buildout]\nparts =\n").unwrap();
    let mut manifest = String::new();
    for b in buildouts {
        manifest += &format!("[{}]\nbuildout = standalone x.cfg\n{}\n", b.name, b.options);
    }
    std::fs::write(d.join("buildouts/MANIFEST.cfg"), &manifest).unwrap();
    set_password(d, USER, PASSWORD);
    for builder in builders(d) {
        let buildout = buildouts
            .iter()
            .find(|b| builder == b.name || builder.starts_with(&format!("{}-", b.name)))
            .unwrap_or_else(|| panic!("builder {builder} of no buildout"));
        let script = buildout.script.replace("@DIR@", d.to_str().unwrap());
        std::fs::write(d.join(format!("steps/{builder}.sh")), script).unwrap();
    }
    (dir, web, worker_address)
}

/// Runs `oebb passwd DIR USER` with the password on stdin, as an administrator would.
pub fn set_password(dir: &Path, user: &str, password: &str) {
    let out = oebb_testkit::output_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_oebb"))
            .arg("passwd")
            .arg(dir)
            .arg(user),
        format!("{password}\n").as_bytes(),
    );
    assert!(
        out.status.success(),
        "oebb passwd failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = std::fs::read_to_string(dir.join("oebb.cfg")).unwrap();
    assert!(
        cfg.contains("[users]") && cfg.contains("$argon2"),
        "oebb passwd did not write an argon2 hash into oebb.cfg:\n{cfg}"
    );
    assert!(
        !cfg.contains(password),
        "the password is stored in clear:\n{cfg}"
    );
}

/// The builder names of a master directory, from `oebb check --json`.
pub fn builders(dir: &Path) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_oebb"))
        .args(["check", "--json"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "oebb check: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["builders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect()
}

impl TestMaster {
    /// Starts `oebb master` and a separate `oebb worker` on a new directory with `buildouts`,
    /// and waits until the web address answers and the worker is connected.
    pub fn start(buildouts: &[Buildout]) -> TestMaster {
        TestMaster::start_with_workers(buildouts, "")
    }

    /// [`TestMaster::start`] with `extra_workers` in slaves.cfg besides `w1`.
    pub fn start_with_workers(buildouts: &[Buildout], extra_workers: &str) -> TestMaster {
        let (dir, web, worker_address) = master_dir(buildouts, extra_workers);
        let log = dir.path().join("master.log");
        let master = Killed::spawn(
            Command::new(env!("CARGO_BIN_EXE_oebb"))
                .arg("master")
                .arg(dir.path())
                .env("RUST_LOG", "info"),
            "oebb master",
            log,
        );
        let mut m = TestMaster {
            dir,
            web,
            worker_address,
            master,
            worker: None,
        };
        m.start_worker();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http::try_request(web, "GET", "/workers", &[], b"") {
                if r.status == 200 && r.text().contains("data-state=\"connected\"") {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the master did not answer on {web} with worker {WORKER} connected in 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        m
    }

    /// Starts the `oebb worker` process (again).
    pub fn start_worker(&mut self) {
        let d = self.dir.path();
        std::fs::write(d.join("worker-password"), "pw1\n").unwrap();
        let log = d.join("worker.log");
        self.worker = Some(Killed::spawn(
            Command::new(env!("CARGO_BIN_EXE_oebb"))
                .arg("worker")
                .arg("--master")
                .arg(self.worker_address.to_string())
                .args(["--name", WORKER, "--password-file"])
                .arg(d.join("worker-password"))
                .arg("--basedir")
                .arg(d.join("worker")),
            "oebb worker",
            log,
        ));
    }

    /// Kills the worker process (SIGKILL), as a crash of its machine would.
    pub fn kill_worker(&mut self) {
        if let Some(mut w) = self.worker.take() {
            w.kill();
        }
    }

    /// `http://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.web)
    }

    /// Lets the step scripts waiting for `gate` go on.
    pub fn open_gate(&self, gate: &str) {
        std::fs::write(self.dir.path().join(gate), "").unwrap();
    }

    /// An HTTP request without a session.
    pub fn get(&self, path: &str) -> Response {
        http::request(self.web, "GET", path, &[], b"")
    }

    /// The master's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("master.log")).unwrap_or_default()
    }

    /// The JSON of a GET on the API, which must answer 200.
    pub fn api(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        serde_json::from_slice(&r.body)
            .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {}", r.text()))
    }

    /// The id of the first build of build request `request`, waiting up to 60 s for it.
    pub fn build_of_request(&self, request: i64) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.api(&format!("/api/buildrequests/{request}"));
            if let Some(id) = v["builds"].get(0).and_then(|b| b["id"].as_i64()) {
                return id;
            }
            assert!(
                Instant::now() < deadline,
                "build request {request} got no build in 60 s: {v}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits up to 60 s for build `id` to finish; its JSON from the API.
    pub fn wait_build_finished(&self, id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.api(&format!("/api/builds/{id}"));
            if !v["build"]["finished_at"].is_null() {
                return v;
            }
            assert!(Instant::now() < deadline, "build {id} did not finish: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The master's API bearer token, which it writes to `DIR/.oebb-api-token` on start.
    pub fn api_token(&self) -> String {
        let path = self.dir.path().join(".oebb-api-token");
        let token = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the master wrote no API token at {}: {e}", path.display()));
        token.trim().to_string()
    }

    /// Logs in over plain HTTP through the login form; the session holds the cookies.
    pub fn login(&self) -> Session {
        let mut s = Session::new(self.web);
        s.login(USER, PASSWORD);
        s
    }
}

/// A shell script that prints `>> before`, waits for the file `gate` of the master directory
/// (made with [`TestMaster::open_gate`]), then prints `>> after` and exits with `status`.
/// The `>> ` is put together when printed: the log starts with the script's text, where
/// `>> before` does not appear, so finding it in the log means the script printed it.
pub fn gated_script(before: &str, gate: &str, after: &str, status: i32) -> String {
    let wait = wait_for_gate(gate);
    format!(
        "printf '%s %s\\n' '>>' '{before}'\n{wait}\n\
         printf '%s %s\\n' '>>' '{after}'\nexit {status}\n"
    )
}

/// Shell lines that wait for the gate file `gate` of the master directory, and give up when
/// the directory is gone (the test ended), so no step outlives its test.
pub fn wait_for_gate(gate: &str) -> String {
    format!("while [ ! -e '@DIR@/{gate}' ]; do [ -d '@DIR@' ] || exit 9; sleep 0.1; done")
}

/// Polls `check` every 100 ms for up to 60 s; panics with `what` and the last value.
pub fn wait_until<T: std::fmt::Debug>(what: &str, mut check: impl FnMut() -> (bool, T)) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (done, value) = check();
        if done {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}; last seen: {value:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
