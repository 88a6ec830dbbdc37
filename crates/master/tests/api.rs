//! The JSON API, spoken over plain HTTP as `oebb force` and scripts do.

mod common;

use common::databases::Db;

use common::tester::{MasterTester, WorkerSpec};
use oebb_master::{BuildRequestId, Results, Step};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const W: WorkerSpec = WorkerSpec {
    name: "ow",
    password: "pw",
    priority: 0.0,
};

/// One request with the master's API token (as `oebb force` sends it); returns the status
/// and the body.
async fn http(t: &MasterTester, method: &str, path: &str, body: &str) -> (u16, Vec<u8>) {
    let token = std::fs::read_to_string(t.dir.path().join(".oebb-api-token")).unwrap();
    let authorization = format!("Authorization: Bearer {}\r\n", token.trim());
    http_as(t, method, path, body, &authorization).await
}

/// One request with these extra header lines.
async fn http_as(
    t: &MasterTester,
    method: &str,
    path: &str,
    body: &str,
    headers: &str,
) -> (u16, Vec<u8>) {
    let address = t.master.web_address();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{headers}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&response[..end]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut body = response[end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16)
                .unwrap();
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

async fn force_list_and_read_a_large_log_over_http(db: Db) {
    // 400 000 lines of 51 bytes: about 20 MB of log.
    let mut t = MasterTester::start(db, &[W], &["loud"], |_, _| {
        vec![Step::script(
            "print",
            "seq -f 'line %08g of the loud step, padded to 51 b' 1 400000",
        )]
    })
    .await;
    t.connect_oebb_worker("ow", "pw").await;

    let (status, body) = http(
        &t,
        "POST",
        "/api/builders/loud/force",
        r#"{"reason":"api"}"#,
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let request = BuildRequestId(json(&body)["request"].as_i64().unwrap());
    let done = t
        .master
        .wait_for_request(request, common::tester::BUILD_TIMEOUT)
        .await
        .unwrap()
        .expect("the forced build finished");
    assert_eq!(done.result, Some(Results::Success));
    assert_eq!(done.reason, "api");

    let (status, body) = http(&t, "GET", &format!("/api/buildrequests/{request}"), "").await;
    assert_eq!(status, 200);
    let answer = json(&body);
    assert_eq!(answer["request"]["result"], "success");
    let build = answer["builds"][0]["id"].as_i64().unwrap();

    let (status, body) = http(&t, "GET", "/api/builds?builder=loud", "").await;
    assert_eq!(status, 200);
    let listed = json(&body);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["worker"], "ow");
    assert_eq!(listed[0]["result"], "success");

    let (status, body) = http(&t, "GET", &format!("/api/builds/{build}"), "").await;
    assert_eq!(status, 200);
    let detail = json(&body);
    assert_eq!(detail["steps"][0]["name"], "print");
    assert!(detail["properties"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "workername" && p["value_json"] == "\"ow\""));

    let (status, log) = http(
        &t,
        "GET",
        &format!("/api/builds/{build}/steps/print/log"),
        "",
    )
    .await;
    assert_eq!(status, 200);
    let text = String::from_utf8(log).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(lines.len(), 400_000);
    assert_eq!(lines[0], "line 00000001 of the loud step, padded to 51 b");
    assert_eq!(
        lines[399_999],
        "line 00400000 of the loud step, padded to 51 b"
    );
    // By number too.
    let (status, by_number) =
        http(&t, "GET", &format!("/api/builds/{build}/steps/0/log"), "").await;
    assert_eq!(status, 200);
    assert_eq!(by_number.len(), text.len());
    // Its logs by name: `stdio` is the same log; an unknown name lists the step's logs.
    let (status, names) = http(
        &t,
        "GET",
        &format!("/api/builds/{build}/steps/print/logs"),
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json(&names)["logs"], serde_json::json!(["stdio"]));
    let (status, stdio) = http(
        &t,
        "GET",
        &format!("/api/builds/{build}/steps/print/logs/stdio"),
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(stdio.len(), text.len());
    let (status, body) = http(
        &t,
        "GET",
        &format!("/api/builds/{build}/steps/print/logs/server"),
        "",
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("its logs: stdio"),
        "{}",
        String::from_utf8_lossy(&body)
    );

    // Errors say what is wrong.
    let (status, body) = http(&t, "POST", "/api/builders/nope/force", "").await;
    assert_eq!(status, 404);
    assert!(json(&body)["error"].as_str().unwrap().contains("nope"));
    let (status, _) = http(
        &t,
        "GET",
        &format!("/api/builds/{build}/steps/nope/log"),
        "",
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = http(&t, "POST", "/api/builders/loud/force", "{not json").await;
    assert_eq!(status, 400);
    // Actions need credentials: none, a wrong token or a wrong password are refused.
    for headers in [
        "",
        "Authorization: Bearer not-the-token\r\n",
        "Authorization: Basic YWRtaW46d3Jvbmc=\r\n",
    ] {
        let (status, body) = http_as(&t, "POST", "/api/builders/loud/force", "", headers).await;
        assert_eq!(
            status,
            401,
            "{headers:?}: {}",
            String::from_utf8_lossy(&body)
        );
        assert!(json(&body)["error"].is_string());
    }
}

async fn a_running_build_is_stopped_over_http(db: Db) {
    let mut t = MasterTester::start(db, &[W], &["long"], |_, _| {
        vec![Step::script("long", "echo started; sleep 60")]
    })
    .await;
    t.connect_oebb_worker("ow", "pw").await;
    let request = t.master.force("long", "test").await.unwrap();
    let build = loop {
        let builds = t.store().builds_of_request(request).await.unwrap();
        if let Some(b) = builds.first() {
            if !t.store().steps(b.id).await.unwrap().is_empty()
                && t.log(b.id, "long").await.contains("started")
            {
                break b.id;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    let (status, body) = http(
        &t,
        "POST",
        &format!("/api/builds/{build}/stop"),
        r#"{"reason":"enough"}"#,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let done = t
        .master
        .wait_for_request(request, common::tester::BUILD_TIMEOUT)
        .await
        .unwrap()
        .expect("the stopped build ended");
    assert_eq!(done.result, Some(Results::Cancelled));
    assert!(t.log(build, "long").await.contains("stopping: enough"));
    let (status, _) = http(&t, "POST", &format!("/api/builds/{build}/stop"), "").await;
    assert_eq!(status, 409, "a finished build cannot be stopped");
}

crate::both_databases!(
    force_list_and_read_a_large_log_over_http,
    a_running_build_is_stopped_over_http,
);
