//! Reconfiguration of a running master through `POST /api/reconfig` (what `oebb reconfig`
//! sends): a broken file is refused with its line and the running configuration stays; a
//! builder is added while another builds; a removed builder's queued request waits for it;
//! a removed worker finishes its build, then is disconnected; a removed web user loses the
//! session.

mod common;

use std::path::Path;
use std::time::Duration;

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use common::browser::Browser;
use common::databases::Db;
use common::tester::{MasterTester, WorkerSpec, BUILD_TIMEOUT};
use oebb_master::{ForceError, Results, Step};
use serde_json::Value;

const W: WorkerSpec = WorkerSpec {
    name: "w1",
    password: "pw1",
    priority: 0.0,
};

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Asks the master for a reconfig as `oebb reconfig` does: its status and answer.
async fn reconfig(t: &MasterTester) -> (u16, Value) {
    let token = std::fs::read_to_string(t.path(".oebb-api-token")).unwrap();
    let auth = format!("Authorization: Bearer {}\r\n", token.trim());
    let mut api = Browser::new(t.master.web_address());
    let answer = api.request("POST", "/api/reconfig", &auth, "").await;
    let body = if answer.status == 404 {
        Value::String(answer.body)
    } else {
        json(&answer.body)
    };
    (answer.status, body)
}

/// Writes the manifest with one standalone buildout per name (each its own builder).
fn write_manifest(dir: &Path, builders: &[&str], extra: &str) {
    let mut manifest = String::new();
    for b in builders {
        manifest.push_str(&format!("[{b}]\nbuildout = standalone {b}.cfg\n"));
        std::fs::write(
            dir.join(format!("buildouts/{b}.cfg")),
            "[buildout]\nparts =\n",
        )
        .unwrap();
    }
    manifest.push_str(extra);
    std::fs::write(dir.join("buildouts/MANIFEST.cfg"), manifest).unwrap();
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect()
}

/// A step that runs until the file `go` exists in `dir`.
fn wait_for_go(dir: &Path) -> Step {
    let go = dir.join("go");
    Step::script(
        "wait",
        &format!("while [ ! -e '{}' ]; do sleep 0.05; done", go.display()),
    )
}

/// Waits until the store shows a build of `builder` running.
async fn wait_running(t: &MasterTester, builder: &str) {
    let deadline = tokio::time::Instant::now() + BUILD_TIMEOUT;
    while !t
        .store()
        .running_builds()
        .await
        .unwrap()
        .iter()
        .any(|b| b.builder == builder)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{builder} never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_manifest_is_refused_with_its_line_and_the_running_configuration_stays() {
    let mut t = MasterTester::start(Db::Sqlite, &[W], &["a"], |_, _| {
        vec![Step::script("ok", "echo fine")]
    })
    .await;
    t.connect_oebb_worker("w1", "pw1").await;
    write_manifest(
        t.dir.path(),
        &["a", "b"],
        "[c]\nbuildout = standalone a.cfg\nbuild-requires = postgresql ~~ 9\n",
    );
    let (status, answer) = reconfig(&t).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["outcome"], "refused", "{answer}");
    let manifest = t.path("buildouts/MANIFEST.cfg");
    let expected = format!(
        "{}:7: invalid requirement `postgresql ~~ 9` in `build-requires`: unknown operator \
         `~~`; use one of <, <=, ==, >=, >",
        manifest.display()
    );
    assert_eq!(names(&answer["errors"]), [expected.as_str()]);

    // The running configuration stays: `b` is unknown, `a` builds.
    match t.master.force("b", "test").await {
        Err(ForceError::UnknownBuilder(name)) => assert_eq!(name, "b"),
        other => panic!("b was added from a refused configuration: {other:?}"),
    }
    let (request, _) = t.force_and_wait("a").await;
    assert_eq!(request.result, Some(Results::Success));

    // The outcome is shown to anyone: where the error is, not what it quotes.
    let mut web = Browser::new(t.master.web_address());
    let about = json(&web.get("/api/about").await.body);
    assert_eq!(about["last_reconfig"]["outcome"], "refused", "{about}");
    assert_eq!(
        names(&about["last_reconfig"]["lines"]),
        ["buildouts/MANIFEST.cfg:7"]
    );
    assert_eq!(about["builders"], 1);
    let page = web.get("/about").await;
    assert!(
        page.body.contains("data-outcome=\"refused\"")
            && page.body.contains("<li>buildouts/MANIFEST.cfg:7</li>")
            && !page.body.contains("~~"),
        "{}",
        page.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_builder_is_added_while_another_builds_and_the_build_finishes() {
    let scratch = tempfile::tempdir().unwrap();
    let go = scratch.path().to_path_buf();
    let mut t = MasterTester::start(
        Db::Sqlite,
        &[W],
        &["slow"],
        move |builder, _| match builder {
            "slow" => vec![wait_for_go(&go)],
            _ => vec![Step::script("ok", "echo new builder")],
        },
    )
    .await;
    t.connect_oebb_worker("w1", "pw1").await;
    let slow = t.master.force("slow", "test").await.unwrap();
    wait_running(&t, "slow").await;

    write_manifest(t.dir.path(), &["slow", "fresh"], "");
    let (status, answer) = reconfig(&t).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["outcome"], "applied");
    assert_eq!(names(&answer["changes"]["builders_added"]), ["fresh"]);
    assert!(names(&answer["changes"]["builders_removed"]).is_empty());
    assert_eq!(names(&answer["summary"]), ["builders added: fresh"]);

    // The new builder builds on the same worker while `slow` still runs.
    let (fresh, builds) = t.force_and_wait("fresh").await;
    assert_eq!(fresh.result, Some(Results::Success));
    assert!(t.log(builds[0].id, "ok").await.contains("new builder"));
    let running = t.store().running_builds().await.unwrap();
    assert!(running.iter().any(|b| b.builder == "slow"), "{running:?}");

    std::fs::write(scratch.path().join("go"), "").unwrap();
    let (slow, _) = t.wait_for(slow, BUILD_TIMEOUT).await;
    assert_eq!(slow.result, Some(Results::Success));
    let about = json(
        &Browser::new(t.master.web_address())
            .get("/api/about")
            .await
            .body,
    );
    assert_eq!(about["builders"], 2, "{about}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_builders_queued_request_waits_until_the_builder_comes_back() {
    let mut t = MasterTester::start(Db::Sqlite, &[W], &["keep", "gone"], |_, _| {
        vec![Step::script("ok", "echo fine")]
    })
    .await;
    // No worker yet: the request stays queued.
    let waiting = t.master.force("gone", "before the reconfig").await.unwrap();
    write_manifest(t.dir.path(), &["keep"], "");
    let (status, answer) = reconfig(&t).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(names(&answer["changes"]["builders_removed"]), ["gone"]);

    // Kept, shown on the builder's page, never started, and no new request is taken.
    let mut web = Browser::new(t.master.web_address());
    let page = web.get("/builders/gone").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("id=\"builder-removed\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("data-request=\"{waiting}\"")),
        "{}",
        page.body
    );
    assert!(matches!(
        t.master.force("gone", "after").await,
        Err(ForceError::UnknownBuilder(_))
    ));
    t.connect_oebb_worker("w1", "pw1").await;
    let (kept, _) = t.force_and_wait("keep").await;
    assert_eq!(kept.result, Some(Results::Success));
    let stored = t.store().build_request(waiting).await.unwrap().unwrap();
    assert!(stored.complete_at.is_none(), "{stored:?}");
    assert!(t
        .store()
        .builds_of_request(waiting)
        .await
        .unwrap()
        .is_empty());

    // The builder comes back: its request runs.
    write_manifest(t.dir.path(), &["keep", "gone"], "");
    let (status, answer) = reconfig(&t).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(names(&answer["changes"]["builders_added"]), ["gone"]);
    let (request, builds) = t.wait_for(waiting, BUILD_TIMEOUT).await;
    assert_eq!(request.result, Some(Results::Success));
    assert_eq!(builds.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_builders_running_build_finishes() {
    let scratch = tempfile::tempdir().unwrap();
    let go = scratch.path().to_path_buf();
    let mut t =
        MasterTester::start(
            Db::Sqlite,
            &[W],
            &["keep", "slow"],
            move |builder, _| match builder {
                "slow" => vec![wait_for_go(&go)],
                _ => vec![Step::script("ok", "echo fine")],
            },
        )
        .await;
    t.connect_oebb_worker("w1", "pw1").await;
    let slow = t.master.force("slow", "test").await.unwrap();
    wait_running(&t, "slow").await;
    write_manifest(t.dir.path(), &["keep"], "");
    let (status, answer) = reconfig(&t).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(names(&answer["changes"]["builders_removed"]), ["slow"]);
    std::fs::write(scratch.path().join("go"), "").unwrap();
    let (slow, builds) = t.wait_for(slow, BUILD_TIMEOUT).await;
    assert_eq!(slow.result, Some(Results::Success));
    assert_eq!(builds.len(), 1, "it ran once, to its end");
    // The page of the removed builder still shows the build.
    let page = Browser::new(t.master.web_address())
        .get("/builders/slow")
        .await;
    assert!(
        page.body
            .contains(&format!("data-build=\"{}\"", builds[0].id))
            && page.body.contains("id=\"builder-removed\""),
        "{}",
        page.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_worker_finishes_its_build_then_is_disconnected() {
    let scratch = tempfile::tempdir().unwrap();
    let go = scratch.path().to_path_buf();
    let w2 = WorkerSpec {
        name: "w2",
        password: "pw2",
        priority: 0.0,
    };
    let mut t = MasterTester::start(Db::Sqlite, &[W, w2], &["slow"], move |_, _| {
        vec![wait_for_go(&go)]
    })
    .await;
    t.connect_oebb_worker("w1", "pw1").await;
    let slow = t.master.force("slow", "test").await.unwrap();
    wait_running(&t, "slow").await;
    std::fs::write(t.path("slaves.cfg"), "[w2]\npassword = pw2\n").unwrap();
    let (status, answer) = reconfig(&t).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(names(&answer["changes"]["workers_removed"]), ["w1"]);

    // Still connected while it builds, then gone for good.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let connected = t.store().connected_workers().await.unwrap();
    assert_eq!(connected, ["w1"], "w1 keeps its connection while it builds");
    std::fs::write(scratch.path().join("go"), "").unwrap();
    let (slow, builds) = t.wait_for(slow, BUILD_TIMEOUT).await;
    assert_eq!(slow.result, Some(Results::Success));
    assert_eq!(builds[0].worker, "w1");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !t.store().connected_workers().await.unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "w1 was not disconnected after its build"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its worker tries again (every 100 ms) and is refused; a new request waits for w2.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(t.store().connected_workers().await.unwrap().is_empty());
    t.connect_oebb_worker("w2", "pw2").await;
    std::fs::write(scratch.path().join("go"), "").unwrap();
    let (again, builds) = t.force_and_wait("slow").await;
    assert_eq!(again.result, Some(Results::Success));
    assert_eq!(builds[0].worker, "w2");
}

fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

async fn log_in(t: &MasterTester, user: &str, password: &str) -> Browser {
    let mut browser = Browser::new(t.master.web_address());
    let csrf = browser.get("/login").await.csrf();
    let done = browser
        .post_form(
            "/login",
            &[("user", user), ("password", password), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let page = browser.get("/builders/a").await;
    assert!(page.body.contains("<form id=\"force\""), "{}", page.body);
    browser
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_removed_from_users_loses_the_session_at_the_reconfig() {
    let (alice, bob) = (hash("alice-pw"), hash("bob-pw"));
    let users = format!("\n[users]\nalice = {alice}\nbob = {bob}\n");
    let t = MasterTester::start_with_extra(Db::Sqlite, &[W], &["a"], &users, |_, _| {
        vec![Step::script("ok", "echo fine")]
    })
    .await;
    let mut alice_browser = log_in(&t, "alice", "alice-pw").await;
    let mut bob_browser = log_in(&t, "bob", "bob-pw").await;

    let cfg = std::fs::read_to_string(t.path("oebb.cfg")).unwrap();
    let without_alice = cfg.replace(&format!("alice = {alice}\n"), "");
    assert_ne!(cfg, without_alice);
    std::fs::write(t.path("oebb.cfg"), without_alice).unwrap();
    let (status, answer) = reconfig(&t).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(names(&answer["changes"]["users_removed"]), ["alice"]);
    let about = Browser::new(t.master.web_address()).get("/about").await;
    assert!(
        about.body.contains("users removed: 1 (names not shown)") && !about.body.contains("alice"),
        "{}",
        about.body
    );

    let page = alice_browser.get("/builders/a").await;
    assert!(
        !page.body.contains("<form id=\"force\"") && page.body.contains("id=\"login-link\""),
        "alice is still logged in:\n{}",
        page.body
    );
    let page = bob_browser.get("/builders/a").await;
    assert!(
        page.body.contains("<form id=\"force\""),
        "bob lost his session:\n{}",
        page.body
    );
    // Nor can alice log in again.
    let mut again = Browser::new(t.master.web_address());
    let csrf = again.get("/login").await.csrf();
    let refused = again
        .post_form(
            "/login",
            &[("user", "alice"), ("password", "alice-pw"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_api_token_may_ask_for_a_reconfig() {
    let users = format!("\n[users]\nalice = {}\n", hash("alice-pw"));
    let t = MasterTester::start_with_extra(Db::Sqlite, &[W], &["a"], &users, |_, _| {
        vec![Step::script("ok", "echo fine")]
    })
    .await;
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode("alice:alice-pw");
    let mut api = Browser::new(t.master.web_address());
    let as_alice = format!("Authorization: Basic {basic}\r\n");
    let answer = api.request("POST", "/api/reconfig", &as_alice, "").await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert!(answer.body.contains("bearer token"), "{}", answer.body);
    let anonymous = api.request("POST", "/api/reconfig", "", "").await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let about = json(&api.get("/api/about").await.body);
    assert!(about["last_reconfig"].is_null(), "{about}");
}
