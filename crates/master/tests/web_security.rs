//! Attacks on the login and the sessions, through the real master's web address: guesses sent
//! together, a cookie replayed after its logout, a user removed from `[users]` or given a new
//! password, and what the database keeps of a session. (The memory a flood of logins costs is
//! measured on the `oebb master` process, in `crates/oebb/tests/login_memory.rs`.)

mod common;

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::browser::{Answer, Browser};
use common::databases::Db;
use common::tester::{MasterTester, WorkerSpec};
use oebb_master::store::NewWebSession;
use oebb_master::{Master, MasterOptions, Step};
use sha2::{Digest, Sha256};

/// Configured, never connected: forced requests stay queued, which is all these tests need.
const W: WorkerSpec = WorkerSpec {
    name: "ow",
    password: "pw",
    priority: 0.0,
};

fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

/// A `[users]` section of `(name, password)`s.
fn users_section(users: &[(&str, &str)]) -> String {
    let mut section = "\n[users]\n".to_string();
    for (name, password) in users {
        section += &format!("{name} = {}\n", hash(password));
    }
    section
}

async fn master(db: Db, users: &[(&str, &str)]) -> MasterTester {
    MasterTester::start_with_extra(db, &[W], &["good"], &users_section(users), |_, _| {
        vec![Step::script("ok", "echo fine")]
    })
    .await
}

/// Logs `user` in through the form; the browser then holds the session's cookie.
async fn log_in(browser: &mut Browser, user: &str, password: &str) {
    let csrf = browser.get("/login").await.csrf();
    let done = browser
        .post_form(
            "/login",
            &[("user", user), ("password", password), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(done.status, 303, "{user} cannot log in: {}", done.body);
}

/// A browser holding `cookie` (a copy of another's), as a thief replaying it would.
fn replaying(address: std::net::SocketAddr, cookie: &Option<String>) -> Browser {
    let mut browser = Browser::new(address);
    browser.cookie = cookie.clone();
    browser
}

/// Forces `good` with `csrf`, the token of the form the session was given.
async fn force(browser: &mut Browser, csrf: &str) -> Answer {
    browser
        .post_form(
            "/builders/good/force",
            &[("csrf", csrf), ("reason", "replay")],
        )
        .await
}

/// Whether the page of `good` offers the force form, that is, whether the session is a user's.
async fn may_force(browser: &mut Browser) -> bool {
    let page = browser.get("/builders/good").await;
    assert_eq!(page.status, 200);
    page.body.contains("<form id=\"force\"")
}

/// The master restarted on the same directory with its `oebb.cfg` as it is now (the master
/// reads it when it starts).
async fn restart(t: &mut MasterTester) {
    let config = oebb_config::load(t.dir.path(), &Default::default()).unwrap();
    let stopped = std::mem::replace(
        &mut t.master,
        Master::start(&config, MasterOptions::for_config(&config))
            .await
            .unwrap(),
    );
    drop(stopped);
}

/// Thirty wrong guesses for one name sent at once, by form and by API: five are checked, the
/// others get 429 with `Retry-After` without a check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_sent_together_are_throttled_from_the_sixth() {
    let t = master(Db::Sqlite, &[("alice", "s3cret")]).await;
    let address = t.master.web_address();
    let mut visitor = Browser::new(address);
    let csrf = visitor.get("/login").await.csrf();
    let cookie = visitor.cookie.clone();
    let basic = format!(
        "Authorization: Basic {}\r\nContent-Type: application/json\r\n",
        STANDARD.encode("alice:guess")
    );
    let guesses = (0..30u32).map(|i| {
        let (csrf, cookie, basic) = (csrf.clone(), cookie.clone(), basic.clone());
        tokio::spawn(async move {
            let mut browser = replaying(address, &cookie);
            if i.is_multiple_of(3) {
                browser
                    .request("POST", "/api/builders/good/force", &basic, "{}")
                    .await
            } else {
                let fields = [("user", "alice"), ("password", "guess"), ("csrf", &csrf)];
                browser.post_form("/login", &fields).await
            }
        })
    });
    let answers: Vec<Answer> = futures_util::future::join_all(guesses)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let throttled: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!(
        (checked, throttled.len()),
        (5, 25),
        "statuses: {statuses:?}"
    );
    for answer in throttled {
        let wait: u64 = answer.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=900).contains(&wait), "Retry-After: {wait}");
    }
    assert!(
        t.store().queued_build_requests().await.unwrap().is_empty(),
        "no guess forced anything"
    );
}

/// After a logout, the old cookie and its form token force nothing: the session is gone.
async fn a_cookie_replayed_after_logout_forces_nothing(db: Db) {
    let t = master(db, &[("alice", "s3cret")]).await;
    let address = t.master.web_address();
    let mut alice = Browser::new(address);
    log_in(&mut alice, "alice", "s3cret").await;
    let stolen = alice.cookie.clone();
    let page = alice.get("/builders/good").await;
    let csrf = page.csrf();
    let logout = alice.post_form("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(logout.status, 303, "{}", logout.body);
    assert_ne!(alice.cookie, stolen, "the logout replaced the cookie");

    let mut thief = replaying(address, &stolen);
    let answer = force(&mut thief, &csrf).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    let mut thief = replaying(address, &stolen);
    assert!(!may_force(&mut thief).await, "the old cookie is nobody");
    assert!(
        t.store().queued_build_requests().await.unwrap().is_empty(),
        "the replayed form forced nothing"
    );
}

/// A restarted master keeps the sessions of its users; a user removed from `[users]` and a
/// user whose password changed (`oebb passwd`, then a restart) lose theirs, and the new
/// password logs in.
async fn sessions_end_with_their_user_or_password_and_survive_a_restart(db: Db) {
    let mut t = master(
        db,
        &[("alice", "s3cret"), ("bob", "b0b"), ("carol", "c4rol")],
    )
    .await;
    let address = t.master.web_address();
    let mut sessions = Vec::new();
    for (user, password) in [("alice", "s3cret"), ("bob", "b0b"), ("carol", "c4rol")] {
        let mut browser = Browser::new(address);
        log_in(&mut browser, user, password).await;
        let csrf = browser.get("/builders/good").await.csrf();
        sessions.push((browser.cookie.clone(), csrf));
    }
    // bob leaves, carol gets a new password.
    let cfg = std::fs::read_to_string(t.path("oebb.cfg")).unwrap();
    let kept: Vec<&str> = cfg
        .lines()
        .filter(|l| !l.starts_with("bob = ") && !l.starts_with("carol = "))
        .collect();
    // `[users]` is the last section: carol's new line goes into it.
    let edited = format!("{}\ncarol = {}\n", kept.join("\n"), hash("n3w"));
    std::fs::write(t.path("oebb.cfg"), edited).unwrap();
    restart(&mut t).await;
    let address = t.master.web_address();

    let (alice_cookie, alice_csrf) = &sessions[0];
    let mut alice = replaying(address, alice_cookie);
    assert!(may_force(&mut alice).await, "alice is still logged in");
    assert_eq!(force(&mut alice, alice_csrf).await.status, 303);
    // Both are checked before anything is asserted, so a failure shows each case.
    let mut seen = Vec::new();
    for (who, (cookie, csrf)) in ["bob", "carol"].into_iter().zip(&sessions[1..]) {
        let status = force(&mut replaying(address, cookie), csrf).await.status;
        let logged_in = may_force(&mut replaying(address, cookie)).await;
        seen.push((who, status, logged_in));
    }
    assert_eq!(
        seen,
        [("bob", 403, false), ("carol", 403, false)],
        "(user, status of the replayed force, still logged in)"
    );
    let queued = t.store().queued_build_requests().await.unwrap();
    assert_eq!(queued.len(), 1, "only alice forced");
    let mut carol = Browser::new(address);
    log_in(&mut carol, "carol", "n3w").await;
    assert!(may_force(&mut carol).await);
}

/// The database keeps a session under its id's SHA-256, never the cookie itself, and anonymous
/// page views write no session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_holds_no_live_cookie() {
    let t = master(Db::Sqlite, &[("alice", "s3cret")]).await;
    let address = t.master.web_address();
    for _ in 0..5 {
        Browser::new(address).get("/builders/good").await;
    }
    let database = format!("sqlite://{}", t.path("state.sqlite").display());
    sqlx::any::install_default_drivers();
    let rows = |query: &'static str| {
        let database = database.clone();
        async move {
            use sqlx::{Connection, Row};
            let mut conn = sqlx::AnyConnection::connect(&database).await.unwrap();
            let rows = sqlx::query(query).fetch_all(&mut conn).await.unwrap();
            rows.iter()
                .map(|r| r.try_get::<String, _>(0).unwrap())
                .collect::<Vec<String>>()
        }
    };
    assert!(rows("SELECT id_hash FROM web_sessions").await.is_empty());
    let mut alice = Browser::new(address);
    log_in(&mut alice, "alice", "s3cret").await;
    let cookie = alice.cookie.clone().unwrap();
    let id = cookie.strip_prefix("oebb_session=").unwrap();
    let stored = rows("SELECT id_hash FROM web_sessions").await;
    assert_eq!(
        stored,
        [URL_SAFE_NO_PAD.encode(Sha256::digest(id.as_bytes()))]
    );
    let users = rows("SELECT user_name FROM web_sessions").await;
    assert_eq!(users, ["alice"]);
    for file in ["state.sqlite", "state.sqlite-wal"] {
        let bytes = std::fs::read(t.path(file)).unwrap_or_default();
        assert!(
            !bytes.windows(id.len()).any(|w| w == id.as_bytes()),
            "{file} holds the cookie"
        );
    }
}

fn session<'a>(id: &'a str, user: &'a str, expires_at: i64) -> NewWebSession<'a> {
    NewWebSession {
        id,
        user,
        csrf: "token",
        password_fingerprint: "fingerprint",
        expires_at,
    }
}

/// A user keeps the 50 sessions that last longest; a login drops the expired ones of everybody.
async fn the_sessions_table_stays_small(db: Db) {
    let t = master(db, &[("alice", "s3cret")]).await;
    let store = t.store();
    let now = oebb_master::store::now_millis();
    store
        .add_web_session(&session("expired", "bob", now - 1))
        .await
        .unwrap();
    let ids: Vec<String> = (0..51).map(|i| format!("session-{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    for (i, id) in ids.iter().enumerate() {
        let expires_at = now + 60_000 + i as i64;
        store
            .add_web_session(&session(id, "alice", expires_at))
            .await
            .unwrap();
    }
    assert_eq!(
        store.web_session(ids[0]).await.unwrap(),
        None,
        "the 51st went"
    );
    let kept = store.web_session(ids[1]).await.unwrap().unwrap();
    assert_eq!((kept.user.as_str(), kept.csrf.as_str()), ("alice", "token"));
    assert!(store.web_session(ids[50]).await.unwrap().is_some());
    store.end_web_session(ids[50]).await.unwrap();
    assert_eq!(store.web_session(ids[50]).await.unwrap(), None);
    // The expired row is gone, not only hidden: the same id can be stored again.
    store
        .add_web_session(&session("expired", "bob", now + 60_000))
        .await
        .expect("the expired row was deleted");
}

crate::both_databases!(
    the_sessions_table_stays_small,
    a_cookie_replayed_after_logout_forces_nothing,
    sessions_end_with_their_user_or_password_and_survive_a_restart,
);
