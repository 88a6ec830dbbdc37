//! Bounded reads through the real master: request bodies and forced property maps have a
//! size, a builder's queue has a length, and every list of the API and the pages comes a
//! page at a time with a cursor to the next; on SQLite and PostgreSQL.

mod common;

use std::collections::BTreeSet;

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use common::browser::{Answer, Browser};
use common::databases::Db;
use common::tester::{MasterTester, WorkerSpec};
use oebb_master::{Results, Step};
use serde_json::{json, Value};

const W: WorkerSpec = WorkerSpec {
    name: "ow",
    password: "pw",
    priority: 0.0,
};

/// A master with builders `a`, `b`, `c`, web user alice (password `s3cret`), three
/// configured workers, none connected: every forced request stays queued.
async fn master(db: Db) -> MasterTester {
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default()
        .hash_password(b"s3cret", &salt)
        .unwrap();
    let workers = [
        W,
        WorkerSpec {
            name: "w2",
            password: "pw",
            priority: 0.0,
        },
        WorkerSpec {
            name: "w3",
            password: "pw",
            priority: 0.0,
        },
    ];
    MasterTester::start_with_extra(
        db,
        &workers,
        &["a", "b", "c"],
        &format!("\n[users]\nalice = {hash}\n"),
        |_, _| vec![Step::script("ok", "echo fine")],
    )
    .await
}

fn token_header(t: &MasterTester) -> String {
    let token = std::fs::read_to_string(t.dir.path().join(".oebb-api-token")).unwrap();
    format!(
        "Authorization: Bearer {}\r\nContent-Type: application/json\r\n",
        token.trim()
    )
}

fn json(answer: &Answer) -> Value {
    serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {}", answer.body))
}

/// A browser logged in as alice.
async fn alice(t: &MasterTester) -> Browser {
    let mut browser = Browser::new(t.master.web_address());
    let csrf = browser.get("/login").await.csrf();
    let done = browser
        .post_form(
            "/login",
            &[("user", "alice"), ("password", "s3cret"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    browser
}

/// How many requests are queued (none runs: no worker connects).
async fn queued(t: &MasterTester) -> usize {
    t.store().queued_build_requests().await.unwrap().len()
}

/// The URL of a `Link: <URL>; rel="next"` header.
fn next_link(answer: &Answer) -> Option<String> {
    let link = answer.header("link")?;
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    Some(link[1..link.find('>').unwrap()].to_string())
}

/// `POST /api/builders/a/force` with the master's token.
async fn force(t: &MasterTester, body: String) -> Answer {
    let mut api = Browser::new(t.master.web_address());
    api.request("POST", "/api/builders/a/force", &token_header(t), &body)
        .await
}

async fn oversized_property_maps_are_refused_and_nothing_is_stored(db: Db) {
    let t = master(db).await;
    let force = |body: String| force(&t, body);

    // The largest map allowed goes through.
    let at_limit: serde_json::Map<String, Value> = (0..64)
        .map(|i| (format!("p{i}"), json!("x".repeat(500))))
        .collect();
    let accepted = force(json!({ "properties": at_limit }).to_string()).await;
    assert_eq!(accepted.status, 201, "{}", accepted.body);
    let before = queued(&t).await;
    assert_eq!(before, 1);

    // A body beyond 128 KiB: 413, a JSON error.
    let huge = json!({ "properties": { "big": "x".repeat(1_900_000) } }).to_string();
    let refused = force(huge).await;
    assert_eq!(refused.status, 413, "{}", refused.body);
    assert!(json(&refused)["error"]
        .as_str()
        .unwrap()
        .contains("128 KiB"));

    // Maps within the body limit but beyond the property limits: 400 naming both.
    let many: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("p{i}"), json!(1))).collect();
    let cases = [
        (json!({ "properties": many }), "65 properties"),
        (
            json!({ "properties": { "big": "x".repeat(4097) } }),
            "\"big\" is 4097 bytes long: a value may have at most 4096",
        ),
        (
            json!({ "properties": (0..9).map(|i| (format!("v{i}"), json!("x".repeat(4000)))).collect::<serde_json::Map<_, _>>() }),
            "at most 32768 together",
        ),
        (
            json!({ "properties": { "nested": [[["x".repeat(3000)], ["x".repeat(3000)]]] } }),
            "\"nested\" is",
        ),
        (json!({ "reason": "r".repeat(1025) }), "at most 1024"),
    ];
    for (body, expected) in cases {
        let refused = force(body.to_string()).await;
        assert_eq!(refused.status, 400, "{expected}: {}", refused.body);
        let error = json(&refused)["error"].as_str().unwrap().to_string();
        assert!(error.contains(expected), "{error:?} lacks {expected:?}");
    }
    // The force form: the same limits, as pages.
    let mut browser = alice(&t).await;
    let csrf = browser.get("/builders/a").await.csrf();
    let big = "y".repeat(200_000);
    let page = browser
        .post_form("/builders/a/force", &[("csrf", &csrf), ("big", &big)])
        .await;
    assert_eq!(page.status, 413, "{}", page.body);
    assert!(page.body.contains("128 KiB"), "{}", page.body);
    let long = "y".repeat(5000);
    let page = browser
        .post_form("/builders/a/force", &[("csrf", &csrf), ("long", &long)])
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("&quot;long&quot; is 5000 bytes"),
        "{}",
        page.body
    );
    // Other actions' forms are bounded too.
    let page = browser
        .post_form("/buildrequests/1/cancel", &[("csrf", &csrf), ("x", &big)])
        .await;
    assert_eq!(page.status, 413, "{}", page.body);

    assert_eq!(queued(&t).await, before, "a refused force stored a request");
}

async fn property_names_that_are_not_identifiers_are_refused(db: Db) {
    let t = master(db).await;
    // Names become interpolation keys (`%(prop:NAME)s`) and reach steps.
    for name in [
        "..", "1st", "-x", ".hidden", "a b", "x)s", "a:-b", "$(id)", "é",
    ] {
        let body = json!({ "properties": { name: "v" } }).to_string();
        let refused = force(&t, body).await;
        assert_eq!(refused.status, 400, "{name:?}: {}", refused.body);
        let error = json(&refused)["error"].as_str().unwrap().to_string();
        assert!(error.contains("bad property name"), "{name:?}: {error}");
    }
    let long = "n".repeat(101);
    let refused = force(&t, json!({ "properties": { long: "v" } }).to_string()).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let mut browser = alice(&t).await;
    let csrf = browser.get("/builders/a").await.csrf();
    let page = browser
        .post_form("/builders/a/force", &[("csrf", &csrf), ("..", "v")])
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("bad property name"), "{}", page.body);
    assert_eq!(queued(&t).await, 0, "a refused force stored a request");
    let fine = json!({ "properties": { "buildout-tag": "v1", "_x.y-z": 1 } });
    let fine = force(&t, fine.to_string()).await;
    assert_eq!(fine.status, 201, "{}", fine.body);
}

async fn a_builders_queue_holds_at_most_max_queued_requests(db: Db) {
    let t = master(db).await;
    let mut api = Browser::new(t.master.web_address());
    let auth = token_header(&t);
    let mut first = Vec::new();
    for i in 0..100 {
        let body = json!({ "reason": format!("r{i}") }).to_string();
        let forced = api
            .request("POST", "/api/builders/a/force", &auth, &body)
            .await;
        assert_eq!(forced.status, 201, "force {i}: {}", forced.body);
        first.push(json(&forced)["request"].as_i64().unwrap());
    }
    let refused = api
        .request("POST", "/api/builders/a/force", &auth, "{}")
        .await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("60"));
    let error = json(&refused)["error"].as_str().unwrap().to_string();
    for part in ["100 build requests queued", "max-queued-requests", "cancel"] {
        assert!(error.contains(part), "{error:?} lacks {part:?}");
    }
    // The limit is per builder: another one still has room.
    let other = api
        .request("POST", "/api/builders/b/force", &auth, "{}")
        .await;
    assert_eq!(other.status, 201, "{}", other.body);

    // The first 100 are intact, in order.
    let listed = json(&api.get("/api/buildrequests?builder=a&limit=1000").await);
    let ids: Vec<i64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, first);
    assert_eq!(listed[0]["reason"], "r0");
    let detail = json(&api.get("/api/builders/a").await);
    assert_eq!(
        (detail["queued_count"].clone(), detail["max_queued"].clone()),
        (json!(100), json!(100))
    );

    // The form says the same, and so does the builder page, by the force form.
    let mut browser = alice(&t).await;
    let page = browser.get("/builders/a").await;
    assert!(page.body.contains("<p id=\"queue-full\">"), "{}", page.body);
    assert!(page.body.contains("already has 100 build requests queued"));
    let csrf = page.csrf();
    let refused = browser
        .post_form("/builders/a/force", &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("60"));
    assert!(refused
        .body
        .contains("already has 100 build requests queued"));
    assert_eq!(queued(&t).await, 101);

    // Cancelling one makes room for one.
    let cancel = format!("/api/buildrequests/{}/cancel", first[0]);
    assert_eq!(api.request("POST", &cancel, &auth, "").await.status, 200);
    let page = browser.get("/builders/a").await;
    assert!(!page.body.contains("queue-full"), "{}", page.body);
    let again = api
        .request("POST", "/api/builders/a/force", &auth, "{}")
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
}

/// Follows `Link` headers from `start`; every page has at most `limit` items; returns the
/// ids (or names) in order.
async fn walk(api: &mut Browser, start: &str, limit: usize, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(start.to_string());
    let mut pages = 0;
    while let Some(url) = next {
        let page = api.get(&url).await;
        assert_eq!(page.status, 200, "{url}: {}", page.body);
        let items = json(&page).as_array().unwrap().clone();
        assert!(items.len() <= limit, "{url}: {} items", items.len());
        out.extend(items.iter().map(|i| i[key].clone()));
        next = next_link(&page);
        pages += 1;
        assert!(pages < 10_000, "{start}: the cursor does not move");
    }
    out
}

fn sorted_unique(values: &[Value]) -> usize {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<BTreeSet<_>>()
        .len()
}

async fn every_list_comes_a_page_at_a_time_and_the_cursor_walks_every_row_once(db: Db) {
    let t = master(db).await;
    let store = t.store();
    // Seeded past the queue limit, as a master from before the limit may hold.
    let mut requests = Vec::new();
    for i in 0..1100 {
        let builder = ["a", "b"][i % 2];
        requests.push(
            store
                .add_build_request(builder, "seed", None)
                .await
                .unwrap()
                .0,
        );
    }
    let mut builds = Vec::new();
    for i in 0..230 {
        let builder = ["a", "b", "c"][i % 3];
        let request = store
            .add_build_request(builder, "built", None)
            .await
            .unwrap();
        let build = store.start_build(request, builder, "ow").await.unwrap();
        store
            .finish_build(build, Results::Success, "done")
            .await
            .unwrap();
        builds.push(build.0);
    }
    let mut api = Browser::new(t.master.web_address());

    // Defaults: 100 items and a link; a limit above the maximum is cut to 1000.
    let page = api.get("/api/buildrequests").await;
    assert_eq!(json(&page).as_array().unwrap().len(), 100);
    assert!(next_link(&page).is_some());
    let page = api.get("/api/buildrequests?limit=5000").await;
    assert_eq!(json(&page).as_array().unwrap().len(), 1000);

    let ids = walk(&mut api, "/api/buildrequests?limit=70", 70, "id").await;
    assert_eq!(ids, requests.iter().map(|&i| json!(i)).collect::<Vec<_>>());
    let of_b = walk(&mut api, "/api/buildrequests?builder=b&limit=33", 33, "id").await;
    let expected: Vec<Value> = requests
        .iter()
        .skip(1)
        .step_by(2)
        .map(|&i| json!(i))
        .collect();
    assert_eq!(of_b, expected);

    let all = walk(&mut api, "/api/builds?limit=9", 9, "id").await;
    let newest_first: Vec<Value> = builds.iter().rev().map(|&i| json!(i)).collect();
    assert_eq!(all, newest_first);
    let of_c = walk(&mut api, "/api/builds?builder=c&limit=7", 7, "id").await;
    assert_eq!(of_c.len(), 76);
    assert_eq!(sorted_unique(&of_c), 76);

    let builders = walk(&mut api, "/api/builders?limit=2", 2, "name").await;
    assert_eq!(builders, [json!("a"), json!("b"), json!("c")]);
    let workers = walk(&mut api, "/api/workers?limit=1", 1, "name").await;
    assert_eq!(workers, [json!("ow"), json!("w2"), json!("w3")]);
    let unknown = api.get("/api/builders?after=nope").await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
}

/// The `data-request` ids of a page's queued table.
fn request_rows(page: &str) -> Vec<i64> {
    page.split("<tr data-request=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect()
}

/// The `href` of the link with this id.
fn link(page: &str, id: &str) -> Option<String> {
    let at = page.find(&format!("<a id=\"{id}\" href=\""))?;
    let rest = &page[at + id.len() + 15..];
    Some(rest[..rest.find('"').unwrap()].replace("&amp;", "&"))
}

async fn the_builder_page_shows_a_page_of_queued_requests_and_links_the_next(db: Db) {
    let t = master(db).await;
    let store = t.store();
    let mut requests = Vec::new();
    for _ in 0..1100 {
        requests.push(store.add_build_request("a", "seed", None).await.unwrap().0);
    }
    for _ in 0..120 {
        let request = store.add_build_request("c", "built", None).await.unwrap();
        let build = store.start_build(request, "c", "ow").await.unwrap();
        store
            .finish_build(build, Results::Success, "done")
            .await
            .unwrap();
    }
    let mut browser = Browser::new(t.master.web_address());
    let first = browser.get("/builders/a").await;
    assert_eq!(first.status, 200);
    let mut seen = Vec::new();
    let mut page = first.body.clone();
    loop {
        let rows = request_rows(&page);
        assert!(rows.len() <= 50, "{} queued rows on one page", rows.len());
        seen.extend(rows);
        match link(&page, "queued-next") {
            Some(next) => page = browser.get(&next).await.body,
            None => break,
        }
    }
    assert_eq!(seen, requests);
    let count = "<p id=\"queued-count\">1100 build requests queued";
    assert!(first.body.contains(count), "{}", first.body);
    assert!(first.body.contains("<p id=\"queue-full\">"));

    // Builds of a builder and of the waterfall page the same way.
    let page = browser.get("/builders/c").await.body;
    let next = link(&page, "builds-next").expect("a link to older builds");
    let older = browser.get(&next).await;
    assert_eq!(older.status, 200);
    assert!(older.body.contains("data-build="));
    let page = browser.get("/waterfall").await.body;
    assert!(link(&page, "builds-next").is_some(), "{page}");
    let page = browser.get("/workers").await.body;
    assert!(page.contains("data-worker=\"w3\""));
    assert!(link(&page, "workers-next").is_none());
}

crate::both_databases!(
    oversized_property_maps_are_refused_and_nothing_is_stored,
    property_names_that_are_not_identifiers_are_refused,
    a_builders_queue_holds_at_most_max_queued_requests,
    every_list_comes_a_page_at_a_time_and_the_cursor_walks_every_row_once,
    the_builder_page_shows_a_page_of_queued_requests_and_links_the_next,
);
