//! The web pages in a real browser: Debian's headless Chromium, driven through chromedriver,
//! against the `oebb master` binary with a separate `oebb worker` process. Step scripts
//! (`steps/<builder>.sh`) wait for gate files the test opens, so "while the build runs" is a
//! fact the test controls, not a race.

mod web_common;

use tokio::sync::Semaphore;
use web_common::browser::{poll, Browser};
use web_common::{gated_script, wait_for_gate, Buildout, Session, TestMaster, USER};

/// At most two Chromiums at a time: the CI machine has two cores.
static BROWSERS: Semaphore = Semaphore::const_new(2);

/// A script that prints a line and then waits for a gate nobody opens.
fn blocking_script() -> String {
    gated_script("started", "never", "unreachable", 0)
}

/// Forces `builder` through the force form of its page (the browser must be logged in) and
/// shows the build page; the build's id.
async fn force(b: &Browser, m: &TestMaster, builder: &str, reason: &str) -> i64 {
    force_with(b, m, builder, &[("reason", reason)]).await
}

/// [`force`] with the force form's `fields` filled in.
async fn force_with(b: &Browser, m: &TestMaster, builder: &str, fields: &[(&str, &str)]) -> i64 {
    b.goto(&format!("/builders/{builder}")).await;
    b.fill("#force", fields).await;
    b.submit("#force").await;
    let path = b.path().await;
    let id = if let Some(id) = path.strip_prefix("/builds/") {
        id.parse()
            .unwrap_or_else(|_| panic!("forcing led to {path}"))
    } else if let Some(request) = path.strip_prefix("/buildrequests/") {
        let request: i64 = request
            .parse()
            .unwrap_or_else(|_| panic!("forcing led to {path}"));
        tokio::task::block_in_place(|| m.build_of_request(request))
    } else {
        panic!("forcing {builder} led to {path}, neither a build nor a build request page");
    };
    if b.path().await != format!("/builds/{id}") {
        b.goto(&format!("/builds/{id}")).await;
    }
    id
}

/// The text of the first step log shown on the build page ("" while there is none).
async fn log_text(b: &Browser) -> String {
    b.text("pre.log").await.unwrap_or_default()
}

/// Waits, without reloading, until the page's log contains `needle`; the whole text.
async fn wait_log(b: &Browser, needle: &str) -> String {
    poll(&format!("the log to show {needle:?}"), || async {
        let text = log_text(b).await;
        (text.contains(needle), text)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_logs_in_forces_a_build_watches_its_log_grow_and_sees_the_result_in_the_grid() {
    // The log starts with the command itself: the lines are put together when printed, so
    // "line two" is in the log only once the script printed it.
    let script = format!(
        "printf 'line %s\\n' one\n{}\nprintf 'line %s\\n' two\n{}\nprintf 'line %s\\n' three\n",
        wait_for_gate("gate-1"),
        wait_for_gate("gate-2")
    );
    let m = TestMaster::start(&[Buildout::plain("slow", script)]);
    let _permit = BROWSERS.acquire().await.unwrap();
    let b = Browser::start(&m.url("")).await;
    // A wrong password keeps the user on the login page, with a message and no force form.
    b.goto("/login").await;
    b.fill("#login", &[("user", USER), ("password", "wrong")])
        .await;
    b.submit("#login").await;
    assert!(
        b.exists("#login-error").await,
        "no error for a wrong password"
    );
    b.goto("/builders/slow").await;
    assert!(!b.exists("#force").await, "a wrong password logged in");
    b.login().await;

    let id = force_with(
        &b,
        &m,
        "slow",
        &[("reason", "a browser test"), ("buildout-tag", "v16.0.3")],
    )
    .await;
    b.wait_attr("#build-result", "data-result", "running").await;
    let first = wait_log(&b, "line one").await;
    assert!(!first.contains("line two"), "{first}");
    m.open_gate("gate-1");
    // Same page, no reload: the live stream appends to the log.
    let second = wait_log(&b, "line two").await;
    assert!(second.len() > first.len(), "{first:?} then {second:?}");
    assert_eq!(
        b.attr("#build-result", "data-result").await.as_deref(),
        Some("running"),
        "the build ended before its gate opened"
    );
    b.js("window.__sameDocument = true; return null").await;
    m.open_gate("gate-2");
    b.wait_attr("#build-result", "data-result", "success").await;
    wait_log(&b, "line three").await;
    // What the server renders from the ended build (the summary) comes in without a reload.
    let summary = poll(
        "the build summary after the end, without a reload",
        || async {
            let text = b.text("#build-summary").await.unwrap_or_default();
            (!text.starts_with("building"), text)
        },
    )
    .await;
    assert!(summary.contains("on "), "{summary}");
    assert_eq!(
        b.js("return window.__sameDocument === true").await,
        serde_json::Value::Bool(true),
        "the page was reloaded"
    );
    assert_eq!(
        b.attr("tr[data-step=\"script\"]", "data-result")
            .await
            .as_deref(),
        Some("success")
    );

    // The properties are stored as the build starts; the page shows them once loaded again.
    b.goto(&format!("/builds/{id}")).await;
    let tag = b
        .text("#properties tr[data-property=\"buildout-tag\"]")
        .await;
    assert!(
        tag.as_deref().is_some_and(|t| t.contains("v16.0.3")),
        "the forced buildout-tag is not among the build's properties: {tag:?}"
    );

    b.goto("/").await;
    let cell = "#grid tr[data-buildout=\"slow\"] td[data-builder=\"slow\"]";
    assert_eq!(
        b.attr(cell, "data-result").await.as_deref(),
        Some("success"),
        "grid cell of slow after build {id}"
    );
    let link = b
        .attr(&format!("{cell} a"), "href")
        .await
        .unwrap_or_default();
    assert!(link.ends_with("/builders/slow"), "grid cell link: {link:?}");
    b.goto("/waterfall").await;
    assert_eq!(
        b.attr(
            &format!("#waterfall tr[data-build=\"{id}\"]"),
            "data-result"
        )
        .await
        .as_deref(),
        Some("success")
    );
    b.goto("/builders/slow").await;
    assert_eq!(
        b.attr(&format!("#builds tr[data-build=\"{id}\"]"), "data-result")
            .await
            .as_deref(),
        Some("success")
    );
    b.close().await;
}

const FAILING_LOG: &str = "\
2026-11-25 10:00:01,123 4242 INFO oebb-stock-pg16 odoo.modules.loading: loading 42 modules...
2026-11-25 10:00:02,456 4242 INFO oebb-stock-pg16 odoo.modules.module: odoo.addons.stock.tests.test_move running
2026-11-25 10:00:03,789 4242 ERROR oebb-stock-pg16 odoo.addons.stock.tests.test_move: FAIL: test_picking_done (odoo.addons.stock.tests.test_move.TestMove)
Traceback (most recent call last):
  File \"/srv/stock/addons/stock/tests/test_move.py\", line 88, in test_picking_done
    self.assertEqual(move.quantity, 4.0)
AssertionError: 5.0 != 4.0
2026-11-25 10:00:04,012 4242 INFO oebb-stock-pg16 odoo.tests.runner: 1 failed, 0 error(s) of 57 tests
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grid_shows_each_buildout_on_each_postgresql_version_filtered_by_category() {
    let m = TestMaster::start(&[
        Buildout {
            name: "sale",
            options: "build-for = postgresql >= 15\nbuild-category = customers",
            script: "echo installed sale\n".into(),
        },
        Buildout {
            name: "stock",
            options: "build-for = postgresql >= 15\nbuild-category = customers",
            script: format!("cat <<'EOF'\n{FAILING_LOG}EOF\nexit 1\n"),
        },
        Buildout {
            name: "website",
            options: "build-for = postgresql >= 15\nbuild-category = internal",
            script: "echo installed website\n".into(),
        },
        Buildout {
            name: "crm",
            options: "build-for = postgresql >= 15\nbuild-category = customers",
            script: blocking_script(),
        },
    ]);
    // Forced by hand over HTTP, as a logged-in user's forms would.
    let mut s = m.login();
    let mut builds = Vec::new();
    for builder in [
        "sale-pg15",
        "sale-pg16",
        "stock-pg15",
        "stock-pg16",
        "website-pg16",
        "crm-pg16",
    ] {
        let path = format!("/builders/{builder}");
        let csrf = s.csrf(&path);
        let r = s.post_form(
            &format!("{path}/force"),
            &[("reason", "grid"), ("buildout-tag", ""), ("csrf", &csrf)],
        );
        assert!(
            r.status == 303 || r.status == 302,
            "force {builder}: {} {}",
            r.status,
            r.text()
        );
        builds.push(builder);
    }
    for builder in builds.iter().filter(|b| !b.starts_with("crm")) {
        let v = wait_all_finished(&m, builder);
        assert!(!v.is_empty(), "{builder}");
    }
    web_common::wait_until("crm-pg16 to be running", || {
        let v = m.api("/api/builds?builder=crm-pg16");
        (v.as_array().is_some_and(|b| !b.is_empty()), v)
    });

    let _permit = BROWSERS.acquire().await.unwrap();
    let b = Browser::start(&m.url("")).await;
    b.goto("/").await;
    let expected = [
        ("sale", "sale-pg15", "success"),
        ("sale", "sale-pg16", "success"),
        ("stock", "stock-pg15", "failure"),
        ("stock", "stock-pg16", "failure"),
        ("website", "website-pg16", "success"),
        ("website", "website-pg15", "none"),
        ("crm", "crm-pg16", "running"),
        ("crm", "crm-pg15", "none"),
    ];
    for (buildout, builder, result) in expected {
        let cell = format!("#grid tr[data-buildout=\"{buildout}\"] td[data-builder=\"{builder}\"]");
        assert_eq!(
            b.attr(&cell, "data-result").await.as_deref(),
            Some(result),
            "{cell}"
        );
    }
    save_screenshot(&b, "grid.png").await;

    b.goto("/?category=internal").await;
    assert!(b.exists("#grid tr[data-buildout=\"website\"]").await);
    assert!(
        !b.exists("#grid tr[data-buildout=\"sale\"]").await,
        "category filter kept another category's buildout"
    );

    let failed = m.api("/api/builds?builder=stock-pg16");
    let id = failed[0]["id"].as_i64().expect("a build of stock-pg16");
    b.goto(&format!("/builds/{id}")).await;
    assert_eq!(
        b.attr("#build-result", "data-result").await.as_deref(),
        Some("failure")
    );
    assert_eq!(
        b.attr("tr[data-step=\"script\"]", "data-result")
            .await
            .as_deref(),
        Some("failure")
    );
    let log = log_text(&b).await;
    assert!(log.contains("AssertionError: 5.0 != 4.0"), "{log}");
    save_screenshot(&b, "build-failure.png").await;
    b.close().await;
}

/// The builds of `builder` once all are finished (polling the API).
fn wait_all_finished(m: &TestMaster, builder: &str) -> Vec<serde_json::Value> {
    web_common::wait_until(&format!("the builds of {builder} to finish"), || {
        let v = m.api(&format!("/api/builds?builder={builder}"));
        let builds = v.as_array().cloned().unwrap_or_default();
        let done = !builds.is_empty() && builds.iter().all(|b| !b["finished_at"].is_null());
        (done, builds)
    })
}

/// Takes a screenshot (it must be a PNG) and, when `OEBB_WEB_SCREENSHOTS` names a directory
/// (bench/web/screenshots.sh sets it to docs/screenshots), saves it there as `name`.
async fn save_screenshot(b: &Browser, name: &str) {
    let png = b.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
    if let Some(dir) = std::env::var_os("OEBB_WEB_SCREENSHOTS") {
        let path = std::path::Path::new(&dir).join(name);
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_stops_a_running_build_that_an_anonymous_user_cannot_force_or_stop() {
    let m = TestMaster::start(&[Buildout::plain("blocker", blocking_script())]);
    let _permit = BROWSERS.acquire().await.unwrap();
    let b = Browser::start(&m.url("")).await;
    b.login().await;
    let id = force(&b, &m, "blocker", "to be stopped").await;
    wait_log(&b, ">> started").await;
    assert!(b.exists("#stop").await, "no stop form for a logged-in user");

    // Anonymous: the same pages offer no action ...
    b.client.delete_all_cookies().await.unwrap();
    b.goto(&format!("/builds/{id}")).await;
    assert_eq!(
        b.attr("#build-result", "data-result").await.as_deref(),
        Some("running")
    );
    assert!(
        !b.exists("#stop").await,
        "an anonymous user sees the stop form"
    );
    b.goto("/builders/blocker").await;
    assert!(
        !b.exists("#force").await,
        "an anonymous user sees the force form"
    );
    // ... and posting them by hand, with a valid anonymous CSRF token, is refused.
    let mut anonymous = Session::new(m.web);
    let csrf = anonymous.csrf("/login");
    let r = anonymous.post_form(
        "/builders/blocker/force",
        &[("reason", "anonymous"), ("csrf", &csrf)],
    );
    assert_eq!(r.status, 403, "anonymous force: {}", r.text());
    let r = anonymous.post_form(&format!("/builds/{id}/stop"), &[("csrf", &csrf)]);
    assert_eq!(r.status, 403, "anonymous stop: {}", r.text());
    let r = anonymous.post_form("/buildrequests/1/cancel", &[("csrf", &csrf)]);
    assert_eq!(r.status, 403, "anonymous cancel: {}", r.text());
    let builds = m.api("/api/builds?builder=blocker");
    assert_eq!(
        builds.as_array().map(Vec::len),
        Some(1),
        "an anonymous force made a build: {builds}"
    );
    let build = m.api(&format!("/api/builds/{id}"));
    assert!(
        build["build"]["finished_at"].is_null(),
        "an anonymous stop ended the build: {build}"
    );

    // Logged in again, the user stops it and the page shows it cancelled.
    b.login().await;
    b.goto(&format!("/builds/{id}")).await;
    b.submit("#stop").await;
    if b.path().await != format!("/builds/{id}") {
        b.goto(&format!("/builds/{id}")).await;
    }
    b.wait_attr("#build-result", "data-result", "cancelled")
        .await;
    assert!(
        !b.exists("#stop").await,
        "a finished build offers the stop form"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_shows_as_missing_on_the_workers_page() {
    let mut m = TestMaster::start(&[Buildout::plain("x", "echo x\n")]);
    let _permit = BROWSERS.acquire().await.unwrap();
    let b = Browser::start(&m.url("")).await;
    let row = format!("tr[data-worker=\"{}\"]", web_common::WORKER);
    b.goto("/workers").await;
    assert_eq!(
        b.attr(&row, "data-state").await.as_deref(),
        Some("connected")
    );
    m.kill_worker();
    poll("the workers page to show the worker missing", || async {
        b.goto("/workers").await;
        let state = b.attr(&row, "data-state").await;
        (state.as_deref() == Some("missing"), state)
    })
    .await;
    m.start_worker();
    poll("the workers page to show the worker back", || async {
        b.goto("/workers").await;
        let state = b.attr(&row, "data-state").await;
        (state.as_deref() == Some("connected"), state)
    })
    .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_a_log_is_shown_as_text_and_never_run_live_or_after_the_build() {
    // The lines after the gate are put together when printed, so they are not in the log's
    // header (the command itself) and can only reach the open page through the live stream.
    let script = "printf '%s\\n' '<script>window.__xss=1</script>' '<img src=x onerror=\"window.__xss=2\">'\n\
                  @WAIT@\n\
                  printf 'live <%s>window.__xss=3</%s>\\n<%s id=\"bold\">bold</%s>\\n' script script b b\n"
        .replace("@WAIT@", &wait_for_gate("gate"));
    let m = TestMaster::start(&[Buildout::plain("xss", script)]);
    let _permit = BROWSERS.acquire().await.unwrap();
    let b = Browser::start(&m.url("")).await;
    b.login().await;
    let id = force(&b, &m, "xss", "markup").await;

    let check = |when: &'static str| {
        let b = &b;
        async move {
            assert_eq!(
                b.js("return typeof window.__xss").await,
                serde_json::json!("undefined"),
                "{when}: markup from the log ran in the page"
            );
            for tag in ["script", "img", "b"] {
                assert!(
                    !b.exists(&format!("pre.log {tag}")).await,
                    "{when}: the log became a <{tag}> element"
                );
            }
        }
    };
    wait_log(&b, "<img src=x onerror=\"window.__xss=2\">").await;
    let text = log_text(&b).await;
    assert!(text.contains("<script>window.__xss=1</script>"), "{text}");
    check("while running").await;
    m.open_gate("gate");
    // Appended by the live stream to the open page.
    wait_log(&b, "live <script>window.__xss=3</script>").await;
    wait_log(&b, "<b id=\"bold\">bold</b>").await;
    b.wait_attr("#build-result", "data-result", "success").await;
    check("after the live stream").await;
    b.goto(&format!("/builds/{id}")).await;
    let text = wait_log(&b, "<b id=\"bold\">bold</b>").await;
    assert!(text.contains("<script>window.__xss=1</script>"), "{text}");
    check("after a reload").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_their_csrf_token_are_refused() {
    let m = TestMaster::start(&[Buildout::plain("plain", "echo plain\n")]);
    let _permit = BROWSERS.acquire().await.unwrap();
    let b = Browser::start(&m.url("")).await;
    b.login().await;

    // The browser submits the force form after a script removed its hidden token.
    b.goto("/builders/plain").await;
    b.fill("#force", &[("reason", "no token")]).await;
    b.js("document.querySelector('#force input[name=\"csrf\"]').remove(); return null;")
        .await;
    assert!(!b.exists("#force input[name=\"csrf\"]").await);
    b.submit("#force").await;
    let path = b.path().await;
    assert!(
        !path.starts_with("/builds/") && !path.starts_with("/buildrequests/"),
        "a force without its token led to {path}"
    );
    let r = m.get("/api/buildrequests/1");
    assert_eq!(
        r.status,
        404,
        "a force without its token queued: {}",
        r.text()
    );

    // The same session by hand: no token, a wrong token, then the right one.
    let mut s = Session::with_cookies(m.web, b.cookies().await);
    let r = s.post_form("/builders/plain/force", &[("reason", "none")]);
    assert_eq!(r.status, 403, "force without token: {}", r.text());
    let r = s.post_form(
        "/builders/plain/force",
        &[("reason", "forged"), ("csrf", "forged-token")],
    );
    assert_eq!(r.status, 403, "force with a forged token: {}", r.text());
    let r = s.post_form("/logout", &[]);
    assert_eq!(r.status, 403, "logout without token: {}", r.text());
    let r = m.get("/api/buildrequests/1");
    assert_eq!(r.status, 404, "a refused force queued: {}", r.text());
    let csrf = s.csrf("/builders/plain");
    let r = s.post_form(
        "/builders/plain/force",
        &[("reason", "ok"), ("csrf", &csrf)],
    );
    assert!(
        r.status == 303 || r.status == 302,
        "the same force with its token: {} {}",
        r.status,
        r.text()
    );
    let r = m.get("/api/buildrequests/1");
    assert_eq!(r.status, 200, "the force with its token queued nothing");

    // The login form needs its token too.
    let mut fresh = Session::new(m.web);
    let r = fresh.post_form(
        "/login",
        &[
            ("user", web_common::USER),
            ("password", web_common::PASSWORD),
        ],
    );
    assert_eq!(r.status, 403, "login without token: {}", r.text());
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_cancels_a_queued_request_from_its_page() {
    // Only w2 can build it, and w2 never connects: the request stays queued.
    let m = TestMaster::start_with_workers(
        &[Buildout {
            name: "queued",
            options: "build-for = postgresql == 9.6",
            script: "echo never\n".into(),
        }],
        "[w2]\npassword = pw2\ncapability = postgresql 9.6\n",
    );
    let _permit = BROWSERS.acquire().await.unwrap();
    let b = Browser::start(&m.url("")).await;
    b.login().await;
    b.goto("/builders/queued-pg9.6").await;
    b.fill("#force", &[("reason", "to be cancelled")]).await;
    b.submit("#force").await;
    let path = b.path().await;
    let request: i64 = path
        .strip_prefix("/buildrequests/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("forcing a builder without worker led to {path}"));
    assert_eq!(
        b.attr("#request-state", "data-result").await.as_deref(),
        Some("queued")
    );
    b.goto("/builders/queued-pg9.6").await;
    let row = format!("#queued tr[data-request=\"{request}\"]");
    assert!(
        b.exists(&row).await,
        "the builder page does not list the queued request"
    );

    // Submitted right after the page loads, well before its 2 s self-reload.
    b.goto(&path).await;
    b.submit("#cancel").await;
    b.goto(&path).await;
    assert_eq!(
        b.attr("#request-state", "data-result").await.as_deref(),
        Some("cancelled")
    );
    assert!(
        !b.exists("#cancel").await,
        "a cancelled request offers the cancel form"
    );
    let v = m.api(&format!("/api/buildrequests/{request}"));
    assert!(!v["request"]["complete_at"].is_null(), "{v}");
    assert_eq!(v["builds"].as_array().map(Vec::len), Some(0), "{v}");
    b.goto("/builders/queued-pg9.6").await;
    assert!(
        !b.exists(&row).await,
        "the cancelled request is still listed as queued"
    );
    b.close().await;
}
