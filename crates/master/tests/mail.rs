//! Mail notifications through a real SMTP server (aiosmtpd on loopback), read as stories: a
//! build breaks and is fixed, a worker goes missing and comes back, the relay is down across
//! a master restart, the relay refuses the master's password.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::databases::Db;
use oebb_master::connections::ConnectionLimits;
use oebb_master::store::mail::MailRecord;
use oebb_master::store::NewChange;
use oebb_master::{BuildId, Master, MasterOptions, Results, Step, StepCommand, Store};
use oebb_testkit::smtp::{make_certificate, Received, SmtpOptions, SmtpServer};

/// How long a test waits for mail or a build before it fails.
const WAIT: Duration = Duration::from_secs(90);

const FAILING_LOG: &str = "2026-12-01 10:00:00,123 4242 INFO testdb odoo.modules.loading: loading 1 modules...\n\
2026-12-01 10:00:01,123 4242 ERROR testdb odoo.addons.shop.tests.test_total: FAIL: test_total (odoo.addons.shop.tests.test_total.TestTotal)\n\
2026-12-01 10:00:02,123 4242 INFO testdb odoo.modules.loading: Modules loaded.\n";
const PASSING_LOG: &str =
    "2026-12-01 10:00:00,123 4242 INFO testdb odoo.modules.loading: loading 1 modules...\n\
2026-12-01 10:00:02,123 4242 INFO testdb odoo.modules.loading: Modules loaded.\n\
2026-12-01 10:00:03,123 4242 INFO testdb odoo.service.server: Initiating shutdown\n";

/// The build of `shop`: `test` writes an Odoo log and passes or fails as the file `flag` of
/// the master directory says; `analyze` judges the log (its findings are the cause).
fn shop_steps(flag: PathBuf) -> impl Fn(&str, &str) -> Vec<Step> + Send + Sync + 'static {
    move |_builder, _worker| {
        let script = format!(
            "if [ \"$(cat '{flag}')\" = fail ]; then printf '%s' '{FAILING_LOG}' > odoo.log; \
             echo 'Traceback (most recent call last):'; echo 'AssertionError: 41 != 42'; exit 1; \
             else printf '%s' '{PASSING_LOG}' > odoo.log; fi",
            flag = flag.display()
        );
        vec![
            Step::script("test", &script),
            Step::new(
                "analyze",
                StepCommand::Analyze {
                    logfile: "odoo.log".into(),
                    exit_status_of: Some("test".into()),
                    odoo_version: Some("16.0".into()),
                    tests_requested: false,
                    ignore_file: None,
                    warnings_fail: false,
                    known_noise: true,
                },
            ),
        ]
    }
}

/// Steps of a builder on a worker.
type Steps = Arc<dyn Fn(&str, &str) -> Vec<Step> + Send + Sync>;

/// A master on a directory kept across restarts, with in-process oebb workers.
struct MailMaster {
    dir: tempfile::TempDir,
    scratch: tempfile::TempDir,
    master: Option<Master>,
    steps: Steps,
    workers: Vec<tokio::sync::oneshot::Sender<()>>,
    /// Workers started so far, for fresh base directories.
    started: usize,
}

impl MailMaster {
    /// Writes the master directory (`slaves.cfg`, builder `shop`, `oebb.cfg` with `mail`) and
    /// starts the master.
    async fn start(db: Db, slaves: &str, mail: &str) -> MailMaster {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "oebb_master=info,sqlx=warn",
            ))
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let database = match db {
            Db::Sqlite => String::new(),
            Db::Postgres => format!("database = {}\n", common::databases::fresh_postgres().await),
        };
        let extra = format!("{database}title = CI\npublic-url = http://ci.example.test/\n{mail}");
        common::tester::write_master_dir(dir.path(), slaves, &["shop"], &extra);
        std::fs::write(dir.path().join("flag"), "pass").unwrap();
        let steps = shop_steps(dir.path().join("flag"));
        let mut m = MailMaster {
            dir,
            scratch: tempfile::tempdir().unwrap(),
            master: None,
            steps: Arc::new(steps),
            workers: Vec::new(),
            started: 0,
        };
        m.boot().await;
        m
    }

    async fn boot(&mut self) {
        let config = oebb_config::load(self.dir.path(), &Default::default())
            .unwrap_or_else(|errors| panic!("test configuration refused: {errors:?}"));
        let steps = self.steps.clone();
        let options = MasterOptions {
            keepalive_interval: Duration::from_secs(2),
            keepalive_timeout: Duration::from_secs(10),
            steps: Arc::new(move |_, b, w| steps(b.name.as_str(), w.as_str())),
            lock_slots: Vec::new(),
            connections: ConnectionLimits::for_this_process(config.workers.len()),
            load_config: oebb_master::reconfig::plain_loader(),
        };
        self.master = Some(Master::start(&config, options).await.unwrap());
    }

    /// Stops the master (its workers too) and starts it again on the same directory.
    async fn restart(&mut self) {
        self.workers.clear();
        self.master.take().unwrap().shutdown().await;
        self.boot().await;
    }

    fn master(&self) -> &Master {
        self.master.as_ref().unwrap()
    }

    fn store(&self) -> &Store {
        self.master().store()
    }

    fn set_flag(&self, value: &str) {
        std::fs::write(self.dir.path().join("flag"), value).unwrap();
    }

    /// Starts an oebb worker in this process and waits until the master has it; returns its
    /// index in `workers` (dropping that sender stops it).
    async fn connect_worker(&mut self, name: &str, password: &str) -> usize {
        self.started += 1;
        let basedir = self.scratch.path().join(format!("{name}-{}", self.started));
        let mut options = oebb_worker::WorkerOptions::new(
            self.master().worker_address().to_string(),
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
        self.workers.push(stop);
        self.wait_presence(name, true).await;
        self.workers.len() - 1
    }

    /// Waits until the store shows the worker connected (or not).
    async fn wait_presence(&self, name: &str, connected: bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.store().presence(name).await.unwrap().connected != connected {
            assert!(
                tokio::time::Instant::now() < deadline,
                "worker {name} never became connected={connected}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Forces `shop` and waits for its build; returns it with its result.
    async fn build(&self) -> (BuildId, Results) {
        let id = self.master().force("shop", "test").await.unwrap();
        self.wait_request(id).await
    }

    async fn wait_request(&self, id: oebb_master::BuildRequestId) -> (BuildId, Results) {
        let request = self
            .master()
            .wait_for_request(id, WAIT)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("build request {id} did not complete"));
        let builds = self.store().builds_of_request(id).await.unwrap();
        (builds.last().unwrap().id, request.result.unwrap())
    }

    /// The stored mails, oldest first.
    async fn mails(&self) -> Vec<MailRecord> {
        let mut mails = self.store().mails(1000).await.unwrap();
        mails.sort_by_key(|m| m.id);
        mails
    }

    /// Waits until a stored mail satisfies `check`.
    async fn wait_mail(&self, what: &str, check: impl Fn(&[MailRecord]) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let mails = self.mails().await;
            if check(&mails) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what} never happened: {mails:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A page of the web, as text (status line and body).
    async fn get(&self, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(self.master().web_address())
            .await
            .unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        s.write_all(request.as_bytes()).await.unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).await.unwrap();
        text
    }
}

/// The relay settings of `oebb.cfg` for a server on `port`.
fn relay(port: u16) -> String {
    format!("[mail]\nrelay = 127.0.0.1:{port}\nfrom = ci@ci.example.test\n")
}

const SLAVES: &str = "[w1]\npassword = pw1\n";

/// Stores a change by `author` and a request of `shop` for it, while no master runs.
async fn request_with_change(dir: &Path, database: &str, author: &str) {
    let store = Store::open(database, dir).await.unwrap();
    let change = store
        .add_change(&NewChange {
            repository: "https://git.example.com/shop".into(),
            branch: Some("main".into()),
            revision: "abc123".into(),
            author: Some(author.into()),
            comments: Some("totals: round each line".into()),
            vcs: Some("git".into()),
            changed_at: None,
            files: None,
        })
        .await
        .unwrap();
    store
        .add_build_request("shop", "a change", Some(change))
        .await
        .unwrap();
    store.close().await;
}

async fn a_broken_build_mails_once_and_its_fix_mails_once(db: Db) {
    let scratch = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&scratch.path().join("inbox"), SmtpOptions::default());
    let mail = format!(
        "{}to = team@ci.example.test\nmode = problem\nauthor-domains = example.com\n",
        relay(smtp.port)
    );
    let mut m = MailMaster::start(db, SLAVES, &mail).await;
    m.connect_worker("w1", "pw1").await;

    // A first build passes: nothing to say.
    assert_eq!(m.build().await.1, Results::Success);

    // A change by Jane breaks it: one mail, to the team and to Jane.
    m.set_flag("fail");
    let database = oebb_config::load(m.dir.path(), &Default::default())
        .unwrap()
        .settings
        .database;
    m.workers.clear();
    m.master.take().unwrap().shutdown().await;
    request_with_change(m.dir.path(), &database, "Jane Doe <jane@example.com>").await;
    m.boot().await;
    m.connect_worker("w1", "pw1").await;
    let broken = wait_build_of_change(&m).await;
    assert_eq!(broken.1, Results::Failure);
    let got = smtp.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let first = &got[0];
    assert_eq!(first.rcpt_tos, ["team@ci.example.test", "jane@example.com"]);
    assert_eq!(first.mail_from, "ci@ci.example.test");
    let id = broken.0;
    assert_eq!(first.subject, format!("[CI] shop failed (build #{id})"));
    check_cause_first(first, id);

    // It fails again: under `problem`, nobody is told twice.
    assert_eq!(m.build().await.1, Results::Failure);
    assert_eq!(m.mails().await.len(), 1, "{:#?}", m.mails().await);

    // The fix: one mail.
    m.set_flag("pass");
    let (fixed, result) = m.build().await;
    assert_eq!(result, Results::Success);
    let got = smtp.wait_for(2, WAIT).await;
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(
        got[1].subject,
        format!("[CI] shop is fixed (build #{fixed})")
    );
    assert_eq!(got[1].rcpt_tos, ["team@ci.example.test"]);
    assert!(got[1]
        .text
        .contains(&format!("Build: http://ci.example.test/builds/{fixed}")));

    // Both counted, none waiting.
    m.wait_mail("both sent", |ms| ms.iter().all(|x| x.status == "sent"))
        .await;
    let metrics = m.get("/metrics").await;
    assert!(metrics.contains("oebb_mail_sent_total 2"), "{metrics}");
    assert!(metrics.contains("oebb_mail_queued 0"), "{metrics}");
    m.master.take().unwrap().shutdown().await;
}

/// Waits for the build of the request stored with a change (the only request after the
/// first build).
async fn wait_build_of_change(m: &MailMaster) -> (BuildId, Results) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let builds = m.store().builds(Some("shop"), 10).await.unwrap();
        if let Some(b) = builds.iter().find(|b| b.id.0 > 1 && b.result.is_some()) {
            return (b.id, b.result.unwrap());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no build of the change: {builds:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text part says the cause first: the finding, then the failing step's last lines, then
/// the change, then the link; the HTML part holds the same, escaped.
fn check_cause_first(mail: &Received, build: BuildId) {
    let text = &mail.text;
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("the mail lacks {needle:?}:\n{text}"))
    };
    assert!(
        text.starts_with(&format!("Build #{build} of shop failed:")),
        "{text}"
    );
    let finding = at(
        "[fail] analyze, line 2: FAIL: test_total (odoo.addons.shop.tests.test_total.TestTotal)",
    );
    let lines = at("Last lines of step test");
    let traceback = at("    AssertionError: 41 != 42");
    let change = at("* https://git.example.com/shop abc123 by Jane Doe <jane@example.com>: totals: round each line");
    let link = at(&format!("Build: http://ci.example.test/builds/{build}"));
    assert!(at("The cause") < finding, "{text}");
    assert!(
        finding < lines && lines < traceback && traceback < change && change < link,
        "{text}"
    );
    assert!(mail.html.contains("FAIL: test_total"), "{}", mail.html);
    assert!(
        mail.html.contains("Jane Doe &#60;jane@example.com&#62;")
            || mail.html.contains("Jane Doe &lt;jane@example.com&gt;"),
        "{}",
        mail.html
    );
    assert!(mail
        .html
        .contains(&format!("href=\"http://ci.example.test/builds/{build}\"")));
}

async fn a_missing_worker_mails_once_and_once_more_when_back(db: Db) {
    let scratch = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&scratch.path().join("inbox"), SmtpOptions::default());
    let slaves = "[w1]\npassword = pw1\nnotify_on_missing = admin@ci.example.test\nmissing_timeout = 1\n\
                  [flappy]\npassword = pw2\nnotify_on_missing = admin@ci.example.test\nmissing_timeout = 120\n";
    let mut m = MailMaster::start(db, slaves, &relay(smtp.port)).await;
    let w1 = m.connect_worker("w1", "pw1").await;
    let flappy = m.connect_worker("flappy", "pw2").await;

    // flappy leaves and comes back within its grace period: no mail, ever.
    m.workers.remove(flappy);
    m.wait_presence("flappy", false).await;
    m.connect_worker("flappy", "pw2").await;

    // w1 is killed and stays away past its grace period: one mail.
    m.workers.remove(w1);
    m.wait_presence("w1", false).await;
    let got = smtp.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].subject, "[CI] worker w1 is missing");
    assert_eq!(got[0].rcpt_tos, ["admin@ci.example.test"]);
    assert!(
        got[0]
            .text
            .contains("Worker w1 has been disconnected since"),
        "{}",
        got[0].text
    );
    // Still away after several looks of the watcher (every 0.25 s): still one mail.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(m.mails().await.len(), 1);

    // It comes back: one more.
    m.connect_worker("w1", "pw1").await;
    let got = smtp.wait_for(2, WAIT).await;
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[1].subject, "[CI] worker w1 is back");
    assert!(got[1].text.contains("http://ci.example.test/workers"));
    let mails = m.mails().await;
    assert_eq!(mails.len(), 2, "{mails:#?}");
    assert!(mails.iter().all(|x| x.worker.as_deref() == Some("w1")));
    m.master.take().unwrap().shutdown().await;
}

async fn mail_queued_while_the_relay_is_down_is_delivered_once_after_a_restart(db: Db) {
    let scratch = tempfile::tempdir().unwrap();
    let mut smtp = SmtpServer::start(&scratch.path().join("inbox"), SmtpOptions::default());
    let mail = format!(
        "{}to = team@ci.example.test\nmode = all\n",
        relay(smtp.port)
    );
    let mut m = MailMaster::start(db, SLAVES, &mail).await;
    m.connect_worker("w1", "pw1").await;
    smtp.stop();

    // Three events while the relay is down: three mails wait, the oldest (tried first, the
    // others behind it) with the relay's error.
    for flag in ["fail", "pass", "fail"] {
        m.set_flag(flag);
        m.build().await;
    }
    m.wait_mail("failed attempts", |ms| {
        ms.len() == 3
            && ms[0].attempts > 1
            && ms[0]
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("Connection refused"))
            && ms.iter().all(|x| x.status == "queued")
    })
    .await;
    let page = m.get("/api/mail").await;
    assert!(page.contains("\"status\":\"queued\""), "{page}");

    // The master restarts, then the relay comes back: each mail arrives once.
    m.restart().await;
    smtp.restart();
    m.wait_mail("every mail sent", |ms| {
        ms.len() == 3 && ms.iter().all(|x| x.status == "sent")
    })
    .await;
    let got = smtp.received();
    assert_eq!(got.len(), 3, "{got:#?}");
    let mut ids: Vec<&str> = got.iter().map(|r| r.message_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "a mail was sent twice: {got:#?}");
    let subjects: Vec<&str> = got.iter().map(|r| r.subject.as_str()).collect();
    assert!(
        subjects[0].contains("failed")
            && subjects[1].contains("fixed")
            && subjects[2].contains("failed"),
        "{subjects:?}"
    );
    m.master.take().unwrap().shutdown().await;
}

async fn a_wrong_relay_password_shows_on_the_mail_page_and_loses_nothing(db: Db) {
    let scratch = tempfile::tempdir().unwrap();
    let (cert, key) = make_certificate(scratch.path());
    let options = SmtpOptions {
        tls: Some((cert.clone(), key)),
        auth: Some(("oebb".into(), "right horse".into())),
        ..SmtpOptions::default()
    };
    let smtp = SmtpServer::start(&scratch.path().join("inbox"), options);
    let mail = format!(
        "{}security = starttls\nca-file = {}\nusername = oebb\npassword-file = relay-password\n\
         to = team@ci.example.test\nmode = all\n",
        relay(smtp.port),
        cert.display()
    );
    let mut m = MailMaster::start(db, SLAVES, &mail).await;
    std::fs::write(m.dir.path().join("relay-password"), "wrong horse\n").unwrap();
    m.connect_worker("w1", "pw1").await;
    let (build, _) = m.build().await;
    m.wait_mail("a refused attempt", |ms| {
        ms.len() == 1
            && ms[0]
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("535"))
    })
    .await;
    let page = m.get("/mail").await;
    assert!(page.contains("data-status=\"queued\""), "{page}");
    assert!(page.contains("535"), "{page}");
    assert!(smtp.received().is_empty());

    // The right password, written while the master runs: the mail goes, over TLS.
    std::fs::write(m.dir.path().join("relay-password"), "right horse\n").unwrap();
    let got = smtp.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0].tls);
    assert_eq!(got[0].subject, format!("[CI] shop passed (build #{build})"));
    m.wait_mail("sent", |ms| ms[0].status == "sent").await;
    m.master.take().unwrap().shutdown().await;
}

both_databases!(a_broken_build_mails_once_and_its_fix_mails_once);

mod sqlite_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missing_worker_mails_once_and_once_more_when_back() {
        super::a_missing_worker_mails_once_and_once_more_when_back(Db::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mail_queued_while_the_relay_is_down_is_delivered_once_after_a_restart() {
        super::mail_queued_while_the_relay_is_down_is_delivered_once_after_a_restart(Db::Sqlite)
            .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wrong_relay_password_shows_on_the_mail_page_and_loses_nothing() {
        super::a_wrong_relay_password_shows_on_the_mail_page_and_loses_nothing(Db::Sqlite).await
    }
}
