//! The web pages as a browser without JavaScript sees them: escaping, login with an argon2
//! hash, CSRF and anonymous refusals, forcing with properties, metrics, badges, the grid,
//! live logs; on SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use common::browser::Browser;
use common::databases::Db;
use common::tester::{MasterTester, WorkerSpec, BUILD_TIMEOUT};
use oebb_master::{BuildRequestId, Results, Step};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const W: WorkerSpec = WorkerSpec {
    name: "ow",
    password: "pw",
    priority: 0.0,
};

fn users_section(user: &str, password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .unwrap();
    format!("\n[users]\n{user} = {hash}\n")
}

/// A master with builders `good`, `bad`, `idle`, and `loud` (a log with HTML in it), the
/// web user alice (password `s3cret`), and a worker.
async fn master(db: Db) -> MasterTester {
    let mut t = MasterTester::start_with_extra(
        db,
        &[W],
        &["good", "bad", "idle", "loud"],
        &users_section("alice", "s3cret"),
        |builder, _| match builder {
            "bad" => vec![Step::script("fail", "echo failing; exit 1")],
            "loud" => vec![Step::script(
                "html",
                "echo '<script>alert(\"x\")</script> & done'",
            )],
            _ => vec![Step::script("ok", "echo fine")],
        },
    )
    .await;
    t.connect_oebb_worker("ow", "pw").await;
    t
}

/// Logs alice in; the browser then holds her session.
async fn log_in(browser: &mut Browser) {
    let form = browser.get("/login").await;
    assert_eq!(form.status, 200);
    assert!(form
        .body
        .contains("<form id=\"login\" method=\"post\" action=\"/login\">"));
    let csrf = form.csrf();
    let wrong = browser
        .post_form(
            "/login",
            &[("user", "alice"), ("password", "nope"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(wrong.status, 401, "a wrong password is refused");
    assert!(wrong.body.contains("login-error"));
    let done = browser
        .post_form(
            "/login",
            &[
                ("user", "alice"),
                ("password", "s3cret"),
                ("csrf", &csrf),
                ("next", "/workers"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.header("location"), Some("/workers"));
    let page = browser.get("/workers").await;
    assert!(
        page.body.contains("alice"),
        "the page shows who is logged in"
    );
}

async fn log_text_is_escaped_everywhere(db: Db) {
    let t = master(db).await;
    let (_, builds) = t.force_and_wait("loud").await;
    let id = builds[0].id;
    let mut browser = Browser::new(t.master.web_address());
    for path in [
        format!("/builds/{id}"),
        format!("/builds/{id}/steps/0/log"),
        format!("/builds/{id}/steps/html/log?q=script"),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.body
                .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; done"),
            "{path} does not show the log line escaped:\n{}",
            page.body
        );
        assert!(
            !page.body.contains("<script>alert"),
            "{path} serves the script as HTML"
        );
    }
    let raw = browser.get(&format!("/builds/{id}/steps/0/log.txt")).await;
    assert_eq!(
        raw.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(raw.body.contains("<script>alert(\"x\")</script> & done"));
}

async fn anonymous_users_and_forms_without_csrf_are_refused(db: Db) {
    let t = master(db).await;
    let mut anonymous = Browser::new(t.master.web_address());
    let page = anonymous.get("/builders/good").await;
    assert_eq!(page.status, 200);
    assert!(page.cookie_was_set(), "every visitor gets a session");
    assert!(
        !page.body.contains("id=\"force\""),
        "no force form for anonymous users"
    );
    assert!(page.body.contains("/login?next="));
    // With the anonymous session's own token: still not allowed.
    let grid = anonymous.get("/login").await;
    let csrf = grid.csrf();
    for (path, fields) in [
        (
            "/builders/good/force",
            vec![("csrf", csrf.as_str()), ("reason", "x")],
        ),
        ("/builds/1/stop", vec![("csrf", csrf.as_str())]),
        ("/builds/1/rebuild", vec![("csrf", csrf.as_str())]),
        ("/buildrequests/1/cancel", vec![("csrf", csrf.as_str())]),
    ] {
        let answer = anonymous.post_form(path, &fields).await;
        assert_eq!(answer.status, 403, "anonymous POST {path}");
        assert!(
            answer.body.contains("/login"),
            "the refusal offers a login link"
        );
    }

    let mut alice = Browser::new(t.master.web_address());
    log_in(&mut alice).await;
    let page = alice.get("/builders/good").await;
    assert!(page
        .body
        .contains("<form id=\"force\" method=\"post\" action=\"/builders/good/force\">"));
    for fields in [
        vec![("reason", "no token")],
        vec![("reason", "bad"), ("csrf", "forged")],
    ] {
        let answer = alice.post_form("/builders/good/force", &fields).await;
        assert_eq!(answer.status, 403, "{fields:?}");
    }
    let answer = alice.post_form("/logout", &[]).await;
    assert_eq!(answer.status, 403, "logout needs the token too");
    let queued = t.store().queued_build_requests().await.unwrap();
    let builds = t.store().builds(None, 10).await.unwrap();
    assert!(
        queued.is_empty() && builds.is_empty(),
        "a refused form changed nothing"
    );
}

async fn a_logged_in_user_forces_with_a_property_and_rebuilds(db: Db) {
    let t = master(db).await;
    let mut alice = Browser::new(t.master.web_address());
    log_in(&mut alice).await;
    let page = alice.get("/builders/good").await;
    let csrf = page.csrf();
    let answer = alice
        .post_form(
            "/builders/good/force",
            &[
                ("csrf", &csrf),
                ("reason", "try v1"),
                ("buildout-tag", "v1.2"),
            ],
        )
        .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let location = answer.header("location").unwrap().to_string();
    let request: i64 = location
        .strip_prefix("/buildrequests/")
        .unwrap()
        .parse()
        .unwrap();
    let done = t
        .master
        .wait_for_request(BuildRequestId(request), BUILD_TIMEOUT)
        .await
        .unwrap()
        .expect("the forced build ran");
    assert_eq!(done.result, Some(Results::Success));
    assert_eq!(done.reason, "try v1");
    let build = t
        .store()
        .builds_of_request(BuildRequestId(request))
        .await
        .unwrap()[0]
        .id;
    let properties = t.store().build_properties(build).await.unwrap();
    let value = |n: &str| {
        properties
            .iter()
            .find(|p| p.name == n)
            .map(|p| p.value_json.clone())
    };
    assert_eq!(value("buildout-tag").as_deref(), Some("\"v1.2\""));
    assert_eq!(value("owner").as_deref(), Some("\"alice\""));
    let to_build = alice.get(&location).await;
    assert_eq!(to_build.status, 303);
    assert_eq!(
        to_build.header("location"),
        Some(format!("/builds/{build}").as_str())
    );

    let page = alice.get(&format!("/builds/{build}")).await;
    assert!(page
        .body
        .contains("<span id=\"build-result\" data-result=\"success\""));
    assert!(page
        .body
        .contains("<tr data-step=\"ok\" data-number=\"0\" data-result=\"success\">"));
    assert!(page
        .body
        .contains("<pre class=\"log\" id=\"log-0\" data-step=\"ok\""));
    assert!(
        !page.body.contains("id=\"stop\""),
        "a finished build cannot be stopped"
    );
    assert!(page
        .body
        .contains("by <span id=\"owner\">alice</span>: try v1"));
    let rebuild = alice
        .post_form(
            &format!("/builds/{build}/rebuild"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(rebuild.status, 303);
    let again: i64 = rebuild
        .header("location")
        .unwrap()
        .strip_prefix("/buildrequests/")
        .unwrap()
        .parse()
        .unwrap();
    let done = t
        .master
        .wait_for_request(BuildRequestId(again), BUILD_TIMEOUT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        done.properties["buildout-tag"], "v1.2",
        "a rebuild keeps the properties"
    );
    // The API takes alice's password too (HTTP Basic), and the force says she asked.
    let basic = format!(
        "Authorization: Basic {}\r\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice:s3cret")
    );
    let forced = alice
        .request(
            "POST",
            "/api/builders/idle/force",
            &basic,
            r#"{"reason":"basic"}"#,
        )
        .await;
    assert_eq!(forced.status, 201, "{}", forced.body);
    let id = serde_json::from_str::<serde_json::Value>(&forced.body).unwrap()["request"]
        .as_i64()
        .unwrap();
    let by_api = t
        .store()
        .build_request(BuildRequestId(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_api.reason, "basic");
    assert_eq!(by_api.properties["owner"], "alice");
    // The session survives a new master reading the same key: the cookie is signed with it.
    let key = std::fs::read_to_string(t.dir.path().join(".oebb-session-key")).unwrap();
    assert!(key.trim().len() >= 32);
}

async fn grid_waterfall_workers_metrics_and_badges(db: Db) {
    let t = master(db).await;
    t.force_and_wait("good").await;
    t.force_and_wait("bad").await;
    let (_, builds) = t.force_and_wait("good").await;
    let last_good = builds[0].id;
    let mut browser = Browser::new(t.master.web_address());
    let grid = browser.get("/").await;
    assert_eq!(grid.status, 200);
    assert!(grid.body.contains("<table id=\"grid\">"));
    for (builder, result) in [("good", "success"), ("bad", "failure"), ("idle", "none")] {
        assert!(
            grid.body
                .contains(&format!("<tr data-buildout=\"{builder}\">")),
            "row of {builder}"
        );
        // A failed cell also holds its first finding (hover) before its link.
        let cause = if result == "failure" {
            " title=\"fail: exit code 1 after: failing ("
        } else {
            "><a href="
        };
        assert!(
            grid.body.contains(&format!(
                "<td data-builder=\"{builder}\" data-result=\"{result}\"{cause}"
            )),
            "cell of {builder}:\n{}",
            grid.body
        );
    }
    assert!(grid.body.contains(&format!("href=\"/builds/{last_good}\"")));
    let filtered = browser.get("/?category=nothing-here").await;
    assert!(!filtered.body.contains("data-builder="));

    let waterfall = browser.get("/waterfall").await;
    assert_eq!(waterfall.body.matches("<tr data-build=").count(), 3);
    assert!(waterfall.body.contains(&format!(
        "<tr data-build=\"{last_good}\" data-result=\"success\">"
    )));
    let builder = browser.get("/builders/bad").await;
    assert!(builder.body.contains("<table id=\"builds\">"));
    assert!(builder.body.contains("data-result=\"failure\""));
    let workers = browser.get("/workers").await;
    assert!(workers
        .body
        .contains("<tr data-worker=\"ow\" data-state=\"connected\">"));

    let metrics = browser.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    for line in [
        "oebb_builds_total{result=\"success\"} 2",
        "oebb_builds_total{result=\"failure\"} 1",
        "oebb_build_requests_queued 0",
        "oebb_workers_connected 1",
        "# TYPE oebb_step_duration_seconds histogram",
        "oebb_step_duration_seconds_count{step=\"ok\"} 2",
        "oebb_step_duration_seconds_bucket{step=\"fail\",le=\"+Inf\"} 1",
    ] {
        assert!(
            metrics.body.lines().any(|l| l == line),
            "no `{line}` in:\n{}",
            metrics.body
        );
    }
    for line in metrics.body.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "bad sample {line}");
        assert!(name.starts_with("oebb_"), "bad name {line}");
    }

    let badge = browser.get("/badges/builders/bad.svg").await;
    assert_eq!(badge.status, 200);
    assert_eq!(badge.header("content-type"), Some("image/svg+xml"));
    assert!(badge.body.starts_with("<svg") && badge.body.contains(">failure</text>"));
    let badge = browser.get("/badges/buildouts/good.svg").await;
    assert!(badge.body.contains(">success</text>"));
    assert_eq!(browser.get("/badges/builders/nope.svg").await.status, 404);
    assert!(!badge.cookie_was_set(), "only pages set the session cookie");
    let missing = browser.get("/no/such/page").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("There is no page /no/such/page"));
    let missing = browser.get("/api/nothing").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.starts_with("{\"error\""));
}

/// Reads an SSE answer until `until` shows up in it (or the stream ends).
async fn read_events(stream: &mut tokio::net::TcpStream, until: &str) -> String {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + BUILD_TIMEOUT;
    while !String::from_utf8_lossy(&seen).contains(until) {
        let read = tokio::time::timeout_at(deadline, stream.read(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("no {until:?} in:\n{}", String::from_utf8_lossy(&seen)))
            .unwrap();
        if read == 0 {
            break;
        }
        seen.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

async fn a_running_step_log_streams_live_then_ends(db: Db) {
    let gate = tempfile::tempdir().unwrap();
    let go = gate.path().join("go");
    let script = format!(
        "echo first; while [ ! -e '{}' ]; do sleep 0.05; done; echo second; sleep 60",
        go.display()
    );
    let mut t = MasterTester::start_with_extra(db, &[W], &["slow"], "", move |_, _| {
        vec![Step::script("slow", &script)]
    })
    .await;
    t.connect_oebb_worker("ow", "pw").await;
    let request = t.master.force("slow", "test").await.unwrap();
    let build = loop {
        if let Some(b) = t.store().builds_of_request(request).await.unwrap().first() {
            if !t.store().steps(b.id).await.unwrap().is_empty()
                && t.log(b.id, "slow").await.contains("first")
            {
                break b.id;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let mut browser = Browser::new(t.master.web_address());
    let page = browser.get(&format!("/builds/{build}")).await;
    assert!(page.body.contains("data-result=\"running\""));
    assert!(page.body.contains("<script src=\"/static/live.js\""));

    let mut stream = tokio::net::TcpStream::connect(t.master.web_address())
        .await
        .unwrap();
    stream
        .write_all(
            format!("GET /builds/{build}/steps/0/stream HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let stored = read_events(&mut stream, "first").await;
    assert!(stored.contains("content-type: text/event-stream"));
    assert!(stored.contains("event: log"));
    // Let the step go on: what it prints now comes live.
    std::fs::write(&go, "").unwrap();
    let live = read_events(&mut stream, "second").await;
    assert!(
        live.contains("second\\n"),
        "the live part comes as JSON text:\n{live}"
    );
    assert!(t.master.stop_build(build, "enough").await);
    let expected = "event: end\ndata: {\"result\":\"cancelled\"}";
    let end = read_events(&mut stream, expected).await;
    assert!(end.contains(expected), "{end}");

    let mut events = tokio::net::TcpStream::connect(t.master.web_address())
        .await
        .unwrap();
    events
        .write_all(format!("GET /builds/{build}/stream HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // Steps already run come first (the build may still be ending), then its result.
    let expected = "event: end\ndata: {\"result\":\"cancelled\"}";
    let finished = read_events(&mut events, expected).await;
    assert!(finished.contains(expected), "{finished}");
}

async fn a_session_outlives_its_master(db: Db) {
    let t = master(db).await;
    let mut alice = Browser::new(t.master.web_address());
    log_in(&mut alice).await;
    // The master stops; another starts on the same directory and reads the same key.
    let config = oebb_config::load(t.dir.path(), &Default::default()).unwrap();
    let address = t.master.web_address();
    drop(t.master);
    let restarted =
        oebb_master::Master::start(&config, oebb_master::MasterOptions::for_config(&config))
            .await
            .unwrap();
    assert_ne!(restarted.web_address(), address);
    alice.address = restarted.web_address();
    let page = alice.get("/builders/good").await;
    assert!(
        page.body.contains("<form id=\"force\""),
        "still logged in:\n{}",
        page.body
    );
    let mut forger = Browser::new(restarted.web_address());
    forger.cookie = Some(format!("oebb_session={}", "e30.AAAA"));
    let page = forger.get("/builders/good").await;
    assert!(
        !page.body.contains("<form id=\"force\""),
        "a forged cookie is nobody"
    );
    assert!(page.cookie_was_set(), "it gets a fresh anonymous session");
}

/// After five wrong passwords in a row for one name, the next attempt waits, even with the
/// right password, in the form and in the API; other names are not affected; a right password
/// after the wait clears the record.
async fn password_guessing_is_slowed_per_user_name(db: Db) {
    let t = master(db).await;
    let mut guesser = Browser::new(t.master.web_address());
    let csrf = guesser.get("/login").await.csrf();
    let session = guesser.cookie.clone();
    let attempt = |user: &'static str, password: &'static str| {
        let (csrf, cookie) = (csrf.clone(), session.clone());
        let address = t.master.web_address();
        async move {
            let mut browser = Browser::new(address);
            browser.cookie = cookie;
            browser
                .post_form(
                    "/login",
                    &[("user", user), ("password", password), ("csrf", &csrf)],
                )
                .await
        }
    };
    for _ in 0..5 {
        assert_eq!(attempt("alice", "guess").await.status, 401);
    }
    let refused = attempt("alice", "s3cret").await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body.contains("try again in"), "{}", refused.body);
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "Retry-After: {wait}");
    let basic = format!(
        "Authorization: Basic {}\r\nContent-Type: application/json\r\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice:s3cret")
    );
    let api = guesser
        .request("POST", "/api/builders/good/force", &basic, "{}")
        .await;
    assert_eq!(api.status, 429, "{}", api.body);
    assert!(api.header("retry-after").is_some());
    assert_eq!(
        attempt("bob", "guess").await.status,
        401,
        "bob is not alice"
    );
    assert!(
        t.store()
            .build_request(BuildRequestId(1))
            .await
            .unwrap()
            .is_none(),
        "the refused API call forced nothing"
    );

    tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(100)).await;
    assert_eq!(attempt("alice", "s3cret").await.status, 303);
    assert_eq!(
        attempt("alice", "guess").await.status,
        401,
        "the right password cleared alice's record"
    );
}

/// Behind a TLS proxy that says so, the session cookie is `Secure`, at the first page and at the
/// login; over plain HTTP it is not (the browser would drop it).
async fn the_session_cookie_is_secure_behind_an_https_proxy(db: Db) {
    let t = master(db).await;
    let session_cookie = |answer: &common::browser::Answer| {
        answer
            .headers
            .iter()
            .find(|(n, v)| n == "set-cookie" && v.starts_with("oebb_session="))
            .map(|(_, v)| v.clone())
            .expect("a session cookie")
    };
    let mut plain = Browser::new(t.master.web_address());
    let page = plain.get("/login").await;
    assert!(
        !session_cookie(&page).contains("Secure"),
        "{:?}",
        page.headers
    );

    let https = "X-Forwarded-Proto: https\r\n";
    let mut proxied = Browser::new(t.master.web_address());
    let page = proxied.request("GET", "/login", https, "").await;
    assert!(
        session_cookie(&page).ends_with("; Secure"),
        "{:?}",
        page.headers
    );
    let body = format!("user=alice&password=s3cret&csrf={}", page.csrf());
    let headers = format!("{https}Content-Type: application/x-www-form-urlencoded\r\n");
    let login = proxied.request("POST", "/login", &headers, &body).await;
    assert_eq!(login.status, 303, "{}", login.body);
    assert!(
        session_cookie(&login).ends_with("; Secure"),
        "{:?}",
        login.headers
    );
}

crate::both_databases!(
    the_session_cookie_is_secure_behind_an_https_proxy,
    password_guessing_is_slowed_per_user_name,
    a_session_outlives_its_master,
    log_text_is_escaped_everywhere,
    anonymous_users_and_forms_without_csrf_are_refused,
    a_logged_in_user_forces_with_a_property_and_rebuilds,
    grid_waterfall_workers_metrics_and_badges,
    a_running_step_log_streams_live_then_ends,
);
