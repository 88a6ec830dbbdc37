//! The JSON API beyond forcing: what the pages show (grid, builders, workers, queued
//! requests), cancelling and rebuilding, paged log reading, the analyzer's findings on the
//! build page, and the grid's last-build query over many builds; on SQLite and PostgreSQL.

mod common;

use common::browser::Browser;
use common::databases::Db;
use common::tester::{MasterTester, WorkerSpec, BUILD_TIMEOUT};
use oebb_master::{BuildRequestId, Results, Step};
use serde_json::Value;

const W: WorkerSpec = WorkerSpec {
    name: "ow",
    password: "pw",
    priority: 0.0,
};

fn token_header(t: &MasterTester) -> String {
    let token = std::fs::read_to_string(t.dir.path().join(".oebb-api-token")).unwrap();
    format!("Authorization: Bearer {}\r\n", token.trim())
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

async fn reads_cancel_rebuild_and_paged_logs(db: Db) {
    let mut t = MasterTester::start(db, &[W], &["a", "b"], |builder, _| match builder {
        "a" => vec![Step::script("count", "seq 1 100000")],
        _ => vec![Step::script("ok", "echo fine")],
    })
    .await;
    let mut api = Browser::new(t.master.web_address());
    let auth = token_header(&t);
    // No worker yet: a forced request stays queued and can be cancelled.
    let forced = api
        .request(
            "POST",
            "/api/builders/b/force",
            &auth,
            r#"{"properties":{"buildout-tag":"t1"}}"#,
        )
        .await;
    assert_eq!(forced.status, 201, "{}", forced.body);
    let queued_id = json(&forced.body)["request"].as_i64().unwrap();
    for body in [
        r#"{"properties":{"buildnumber":7}}"#,
        r#"{"properties":{"a b":1}}"#,
    ] {
        let refused = api
            .request("POST", "/api/builders/b/force", &auth, body)
            .await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.body);
    }
    let queued = json(&api.get("/api/buildrequests").await.body);
    assert_eq!(queued[0]["id"], queued_id);
    assert_eq!(queued[0]["properties"]["buildout-tag"], "t1");
    assert_eq!(queued[0]["properties"]["owner"], "api-token");
    let builder = json(&api.get("/api/builders/b").await.body);
    assert_eq!(builder["queued"][0]["id"], queued_id);
    let path = format!("/api/buildrequests/{queued_id}/cancel");
    assert_eq!(api.request("POST", &path, "", "").await.status, 401);
    let cancelled = api.request("POST", &path, &auth, "").await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let request = t
        .store()
        .build_request(BuildRequestId(queued_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.result, Some(Results::Cancelled));
    assert!(request.complete_at.is_some());
    assert_eq!(api.request("POST", &path, &auth, "").await.status, 409);
    assert_eq!(
        api.request("POST", "/api/buildrequests/999/cancel", &auth, "")
            .await
            .status,
        404
    );

    t.connect_oebb_worker("ow", "pw").await;
    let (_, builds) = t.force_and_wait("a").await;
    let build = builds[0].id;
    let log = api
        .get(&format!("/api/builds/{build}/steps/count/log"))
        .await
        .body;
    let offset = log.find("500\n").unwrap();
    let page = api
        .get(&format!(
            "/api/builds/{build}/steps/0/log?offset={offset}&limit=8"
        ))
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body, "500\n501\n");
    assert_eq!(
        page.header("x-log-size"),
        Some(log.len().to_string().as_str())
    );

    // About 590 KB of log: more than one page, each page whole lines of whole chunks.
    let last = api.get(&format!("/builds/{build}/steps/0/log")).await.body;
    let of = last.split("Page ").nth(1).unwrap();
    let (page, pages): (usize, usize) = {
        let mut words = of.split_whitespace();
        let page = words.next().unwrap().parse().unwrap();
        let pages = words.nth(1).unwrap().parse().unwrap();
        (page, pages)
    };
    assert!(
        pages >= 2 && page == pages,
        "the last of several pages first: {page} of {pages}"
    );
    assert!(
        last.contains("\n100000\n"),
        "the last page shows the end of the output"
    );
    let first = api
        .get(&format!("/builds/{build}/steps/0/log?page=0"))
        .await
        .body;
    assert!(first.contains("\n1\n2\n3\n") && !first.contains("\n100000\n"));
    let hits = api
        .get(&format!("/builds/{build}/steps/0/log?q=99999"))
        .await
        .body;
    let lines: Vec<&str> = hits
        .lines()
        .filter(|l| l.starts_with("<li value="))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].ends_with("<code>99999</code></li>"), "{lines:?}");

    let rebuilt = api
        .request("POST", &format!("/api/builds/{build}/rebuild"), &auth, "")
        .await;
    assert_eq!(rebuilt.status, 201, "{}", rebuilt.body);
    let again = BuildRequestId(json(&rebuilt.body)["request"].as_i64().unwrap());
    let done = t
        .master
        .wait_for_request(again, BUILD_TIMEOUT)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.result, Some(Results::Success));
    assert!(done.reason.contains(&format!("rebuild of build {build}")));

    let grid = json(&api.get("/api/grid").await.body);
    let cells: Vec<(String, String)> = grid["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["cells"].as_array().unwrap().clone())
        .filter(|c| !c.is_null())
        .map(|c| {
            (
                c["builder"].as_str().unwrap().into(),
                c["result"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        cells,
        [
            ("a".to_string(), "success".to_string()),
            ("b".to_string(), "none".to_string())
        ]
    );
    let builders = json(&api.get("/api/builders").await.body);
    assert_eq!(builders[0]["last_build"]["result"], "success");
    assert!(builders[1]["last_build"].is_null());
    let workers = json(&api.get("/api/workers").await.body);
    assert_eq!(workers[0]["name"], "ow");
    assert_eq!(workers[0]["state"], "connected");
    let detail = json(&api.get(&format!("/api/builds/{build}")).await.body);
    assert_eq!(detail["steps"][0]["name"], "count");
    assert_eq!(detail["request"]["builder"], "a");
}

async fn findings_come_first_with_links_to_the_analysed_lines(db: Db) {
    let mut t = MasterTester::start(db, &[W], &["odoo"], |_, _| {
        vec![Step::script("analyze", "echo analysed")]
    })
    .await;
    t.connect_oebb_worker("ow", "pw").await;
    let (_, builds) = t.force_and_wait("odoo").await;
    let build = builds[0].id;
    // What the Analyze step stores: the report's JSON in `<step>_report`.
    let report = serde_json::json!({
        "verdict": "fail",
        "findings": [
            {"rule": "error-record", "severity": "error", "line": 2345,
             "message": "<b>relation \"x\" does not exist</b>", "text": "", "fingerprint": "f"},
            {"rule": "no-tests", "severity": "error", "line": 0, "message": "no test ran",
             "text": "", "fingerprint": "g"}
        ]
    });
    t.store()
        .set_build_property(build, "analyze_report", &report.to_string(), "analyze")
        .await
        .unwrap();
    let mut browser = Browser::new(t.master.web_address());
    let page = browser.get(&format!("/builds/{build}")).await.body;
    let findings = page.find("<ul id=\"findings\">").expect("a findings list");
    assert!(
        findings < page.find("<table id=\"steps\">").unwrap(),
        "findings come first"
    );
    assert!(page.contains(&format!(
        "<a href=\"/builds/{build}/steps/0/file?page=1#L2345\">analyze line 2345</a>"
    )));
    assert!(page.contains("&lt;b&gt;relation &quot;x&quot; does not exist&lt;/b&gt;"));
    assert!(page.contains("no test ran"));
    let api = json(&browser.get(&format!("/api/builds/{build}")).await.body);
    assert_eq!(api["findings"][0]["line"], 2345);

    // The analysed log kept with the build, one anchor per line, paged.
    let kept = t.path(&format!("builds/{build}/analyze"));
    std::fs::create_dir_all(&kept).unwrap();
    let lines: Vec<String> = (1..=2500).map(|i| format!("line {i} <i>")).collect();
    std::fs::write(kept.join("odoo.log"), lines.join("\n")).unwrap();
    let file = browser
        .get(&format!("/builds/{build}/steps/0/file?page=1"))
        .await;
    assert_eq!(file.status, 200);
    assert!(file
        .body
        .contains("<span id=\"L2345\"><a href=\"#L2345\">2345</a> line 2345 &lt;i&gt;</span>"));
    assert!(
        !file.body.contains("id=\"L2000\""),
        "line 2000 is on the first page"
    );
    let page = browser.get(&format!("/builds/{build}")).await.body;
    assert!(page.contains(&format!("/builds/{build}/steps/0/file\">analysed log</a>")));
}

async fn the_last_build_of_each_builder_running_builds_and_counts_by_result(db: Db) {
    let t = MasterTester::start(db, &[W], &["x"], |_, _| Vec::new()).await;
    let store = t.store();
    let mut last = std::collections::HashMap::new();
    for i in 0..60 {
        let builder = format!("b{}", i % 7);
        let request = store
            .add_build_request(&builder, "seed", None)
            .await
            .unwrap();
        let build = store.start_build(request, &builder, "w").await.unwrap();
        if i < 55 {
            let result = if i % 2 == 0 {
                Results::Success
            } else {
                Results::Failure
            };
            store.finish_build(build, result, "done").await.unwrap();
        }
        last.insert(builder, build);
    }
    let names: Vec<String> = (0..8).map(|i| format!("b{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let found = store.last_builds(&refs).await.unwrap();
    assert_eq!(found.len(), 7, "b7 has no build");
    for b in &found {
        assert_eq!(
            Some(&b.id),
            last.get(&b.builder),
            "last build of {}",
            b.builder
        );
    }
    let running = store.running_builds().await.unwrap();
    assert_eq!(running.len(), 5);
    let counts = store.build_counts().await.unwrap();
    let count = |r| counts.iter().find(|(c, _)| *c == r).map_or(0, |(_, n)| *n);
    assert_eq!(
        (
            count(Some(Results::Success)),
            count(Some(Results::Failure)),
            count(None)
        ),
        (28, 27, 5)
    );
}

crate::both_databases!(
    reads_cancel_rebuild_and_paged_logs,
    findings_come_first_with_links_to_the_analysed_lines,
    the_last_build_of_each_builder_running_builds_and_counts_by_result,
);
