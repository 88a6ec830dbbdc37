//! A real SMTP server for the mail tests: `aiosmtpd` from PyPI (scripts/install-test-deps) on
//! 127.0.0.1, plain or with STARTTLS on a certificate made here, optionally requiring a login.
//! Each message it accepts is a JSON file in its directory, read back with [`SmtpServer::received`].

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python of the test virtualenv, which has aiosmtpd; fails with how to install it.
pub fn python() -> PathBuf {
    let prefix = std::env::var_os("OEBB_TEST_PREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/oebb-test"));
    let python = prefix.join("venv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "aiosmtpd is not installed in {} (OEBB_TEST_PREFIX); install it with scripts/install-test-deps",
        python.display()
    );
    python
}

/// How the server runs.
#[derive(Clone, Debug, Default)]
pub struct SmtpOptions {
    /// The port; 0: the system chooses.
    pub port: u16,
    /// STARTTLS required, with this certificate and key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// A login required: user and password.
    pub auth: Option<(String, String)>,
}

/// One message the server accepted.
#[derive(Clone, Debug)]
pub struct Received {
    /// MAIL FROM.
    pub mail_from: String,
    /// RCPT TO, in order.
    pub rcpt_tos: Vec<String>,
    /// Subject header.
    pub subject: String,
    /// Message-ID header.
    pub message_id: String,
    /// The text/plain part, decoded.
    pub text: String,
    /// The text/html part, decoded.
    pub html: String,
    /// Whether it came over TLS.
    pub tls: bool,
}

/// A running test SMTP server; killed when dropped.
pub struct SmtpServer {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
    /// Where it writes what it receives.
    pub dir: PathBuf,
    options: SmtpOptions,
}

/// Makes a self-signed certificate for 127.0.0.1 and localhost in `dir`; returns the
/// certificate and key files.
pub fn make_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let made = rcgen::generate_simple_self_signed(names).expect("make a certificate");
    let (cert, key) = (dir.join("relay-cert.pem"), dir.join("relay-key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

impl SmtpServer {
    /// Starts a server writing into `dir` (created if needed).
    pub fn start(dir: &Path, options: SmtpOptions) -> SmtpServer {
        std::fs::create_dir_all(dir).unwrap();
        let mut server = SmtpServer {
            child: None,
            port: options.port,
            dir: dir.to_path_buf(),
            options,
        };
        server.run();
        server
    }

    fn run(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp_server.py");
        let mut cmd = Command::new(python());
        cmd.arg(&script)
            .arg("--out")
            .arg(&self.dir)
            .args(["--port", &self.port.to_string()]);
        if let Some((cert, key)) = &self.options.tls {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if let Some((user, password)) = &self.options.auth {
            cmd.args(["--user", user, "--password", password]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the test SMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        self.port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the test SMTP server did not start (it printed {line:?})")
        });
        self.child = Some(child);
    }

    /// Stops it: the relay is down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// Every message received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort_by_key(|p| {
            let modified = std::fs::metadata(p).and_then(|m| m.modified()).ok();
            (modified, p.clone())
        });
        files
            .iter()
            .map(|p| {
                let v: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                Received {
                    mail_from: s("mail_from"),
                    rcpt_tos: v["rcpt_tos"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_str().unwrap().to_string())
                        .collect(),
                    subject: s("subject"),
                    message_id: s("message_id"),
                    text: s("text"),
                    html: s("html"),
                    tls: v["tls"].as_bool().unwrap_or(false),
                }
            })
            .collect()
    }

    /// Waits until at least `count` messages arrived (at most `timeout`); returns them all.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= count || Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
