//! Debian's headless Chromium driven through its chromedriver with the fantoccini WebDriver
//! client, over plain HTTP on loopback.

use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use super::{http, PASSWORD, USER};

/// A program on the PATH (or named by the environment variable `env`); fails with how to
/// install it when it is missing.
fn program(name: &str, env: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed (or set {env} to it): the browser tests need Debian's \
                 chromium and chromium-driver; install them with scripts/install-test-deps \
                 (apt-get install chromium chromium-driver)"
            )
        })
}

/// The chromedriver process and the browsers it started, all in one process group that is
/// killed when dropped, on every path.
struct Driver {
    child: Child,
    log: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Chromium runs as chromedriver's child: kill the whole group, not only the driver.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            eprintln!("--- chromedriver log, last lines ---\n{tail}");
        }
    }
}

/// A headless Chromium session on the master at `base` (`http://ADDR`).
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    /// `http://ADDR` of the master.
    pub base: String,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium through it.
    pub async fn start(base: &str) -> Browser {
        let chromium = program("chromium", "OEBB_CHROMIUM");
        let chromedriver = program("chromedriver", "OEBB_CHROMEDRIVER");
        let profile = tempfile::tempdir().unwrap();
        let port = oebb_testkit::free_port();
        let log = profile.path().join("chromedriver.log");
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", chromedriver.display()));
        let driver = Driver { child, log };
        let addr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http::try_request(addr, "GET", "/status", &[], b"") {
                if r.status == 200 && r.text().contains("\"ready\":true") {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on port {port} in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    // The tests run as root in CI containers, where the sandbox cannot start.
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().join("profile").display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("start a Chromium session through chromedriver: {e}"));
        Browser {
            client,
            base: base.to_string(),
            _driver: driver,
            _profile: profile,
        }
    }

    /// Opens `path` of the master.
    pub async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The path (and query) of the page shown.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Whether an element matches `css` on the page shown.
    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
            .is_empty()
    }

    /// Attribute `attr` of the first element matching `css`; `None` when either is missing.
    pub async fn attr(&self, css: &str, attr: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.attr(attr).await.ok().flatten()
    }

    /// The `textContent` of the first element matching `css` (`None` when missing): the text
    /// as the page holds it, whether or not it is scrolled into view.
    pub async fn text(&self, css: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.prop("textContent").await.ok().flatten()
    }

    /// Runs `script` in the page and returns its value.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("run {script:?} in the page: {e}"))
    }

    /// Waits up to 60 s, without reloading, for attribute `attr` of `css` to be `want`.
    pub async fn wait_attr(&self, css: &str, attr: &str, want: &str) {
        let what = format!("{css} [{attr}] = {want:?} on {}", self.path().await);
        poll(&what, || async {
            let seen = self.attr(css, attr).await;
            (seen.as_deref() == Some(want), seen)
        })
        .await;
    }

    /// Submits the form matching `css` by clicking its submit button, as a user does, and
    /// waits for the next page to load.
    pub async fn submit(&self, css: &str) {
        let before = self.client.current_url().await.unwrap();
        let form = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no form {css} on {before}: {e}"));
        let button = form
            .find(Locator::Css("button, input[type=submit]"))
            .await
            .unwrap_or_else(|e| panic!("form {css} on {before} has no submit button: {e}"));
        button.click().await.unwrap();
        // The page is replaced once the old form element goes stale.
        poll(&format!("the page after submitting {css}"), || async {
            let gone = form.attr("id").await.is_err();
            (gone, ())
        })
        .await;
    }

    /// Fills `fields` (input name → value) of the form matching `css`.
    pub async fn fill(&self, css: &str, fields: &[(&str, &str)]) {
        let form = self.client.form(Locator::Css(css)).await.unwrap();
        for (name, value) in fields {
            form.set_by_name(name, value)
                .await
                .unwrap_or_else(|e| panic!("form {css}: no input {name}: {e}"));
        }
    }

    /// Logs in through the login page.
    pub async fn login(&self) {
        self.goto("/login").await;
        self.fill("#login", &[("user", USER), ("password", PASSWORD)])
            .await;
        self.submit("#login").await;
        assert!(
            !self.path().await.starts_with("/login"),
            "still on the login page after logging in: {}",
            self.text("body").await.unwrap_or_default()
        );
        assert!(
            !self.cookies().await.is_empty(),
            "logging in set no session cookie"
        );
    }

    /// The browser's cookies for the master, as name/value pairs.
    pub async fn cookies(&self) -> Vec<(String, String)> {
        self.client
            .get_all_cookies()
            .await
            .unwrap()
            .iter()
            .map(|c| (c.name().to_string(), c.value().to_string()))
            .collect()
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.unwrap()
    }

    /// Ends the browser session.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// Polls `check` every 100 ms for up to 60 s; panics with `what` and the last value seen.
pub async fn poll<T, F, Fut>(what: &str, mut check: F) -> T
where
    T: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = (bool, T)>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (done, value) = check().await;
        if done {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "waited 60 s for {what}; last seen: {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
