//! Continuous builds through the real master, with real git, Mercurial and Breezy
//! repositories made by the test on local paths: pollers, tree-stable schedulers, auto-watch
//! from the buildout's own repository, a failing remote, a restart between a change and its
//! build, and the push hooks of GitHub, GitLab and Gitea.
//!
//! Builds run the recipe's checkout and `got_revision` steps only (no bootstrap or buildout),
//! on an in-process oebb worker. Poll interval and timers are a few seconds; nothing asserts
//! a time: each test waits for what must happen, within a bound far above it.
//!
//! Needs `git`, `hg` (Mercurial) and `brz` (Breezy): `scripts/install-test-deps` installs them.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::browser::Browser;
use common::tester::MasterTester;
use hmac::{Hmac, Mac};
use oebb_master::configuration::Outcome;
use oebb_master::connections::ConnectionLimits;
use oebb_master::store::BuildRequestRecord;
use oebb_master::{Master, MasterOptions, Results};
use oebb_testkit::run_vcs as run;
use serde_json::Value;
use sha2::Sha256;

/// Longest a test waits for something that must happen.
const WAIT: Duration = Duration::from_secs(90);
const SECRET: &str = "hook-s3cret";

/// Waits until `check` gives a value; panics with `what` after [`WAIT`].
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A git repository at `dir` with a first commit holding `files`.
fn git_repo(dir: &Path, files: &[(&str, &str)]) -> String {
    std::fs::create_dir_all(dir).unwrap();
    run(dir, "git", &["init", "-q", "-b", "main"]);
    git_commit(dir, files, "first");
    format!("file://{}", dir.display())
}

fn git_commit(dir: &Path, files: &[(&str, &str)], message: &str) {
    for (name, text) in files {
        write(&dir.join(name), text);
    }
    run(dir, "git", &["add", "-A"]);
    run(
        dir,
        "git",
        &["commit", "-q", "--allow-empty", "-m", message],
    );
}

fn git_head(dir: &Path) -> String {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A master on `dir` (which holds `buildouts/` and the repositories), one worker `w`, the
/// manifest given, polling every second; builds run checkout and `got_revision` only.
async fn start(dir: tempfile::TempDir, manifest: &str, watch: &str) -> MasterTester {
    let root = dir.path();
    write(&root.join("slaves.cfg"), "[w]\npassword = pw\n");
    write(&root.join("buildouts/MANIFEST.cfg"), manifest);
    write(&root.join("hook-secret"), &format!("{SECRET}\n"));
    write(
        &root.join("oebb.cfg"),
        &format!(
            "[master]\nworker-address = 127.0.0.1:0\nweb-address = 127.0.0.1:0\n\
             [watch]\nhook-secret-file = hook-secret\n{watch}"
        ),
    );
    let config = oebb_config::load(root, &Default::default())
        .unwrap_or_else(|errors| panic!("test configuration refused: {errors:?}"));
    let recipe = oebb_master::master::recipe_steps();
    let mut options = MasterOptions::for_config(&config);
    options.keepalive_interval = Duration::from_secs(2);
    options.connections = ConnectionLimits::for_this_process(1);
    options.steps = Arc::new(move |c, b, w| {
        recipe(c, b, w)
            .into_iter()
            .filter(|s| ["builddir", "checkout", "got_revision"].contains(&s.name.as_str()))
            .collect()
    });
    let master = Master::start(&config, options).await.unwrap();
    let mut t = MasterTester {
        dir,
        scratch: tempfile::tempdir().unwrap(),
        master,
        workers: Vec::new(),
        oebb_workers: Vec::new(),
    };
    t.connect_oebb_worker("w", "pw").await;
    t
}

async fn api(t: &MasterTester, path: &str) -> Value {
    let answer = Browser::new(t.master.web_address()).get(path).await;
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    serde_json::from_str(&answer.body).unwrap()
}

/// The poller of `url` once it has heads (its first poll recorded the tip).
async fn polled(t: &MasterTester, url: &str) -> Value {
    eventually(&format!("a first poll of {url}"), || async {
        let pollers = api(t, "/api/pollers").await;
        pollers
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["repository"] == url && !p["heads"].as_object().unwrap().is_empty())
            .cloned()
    })
    .await
}

async fn requests_of(t: &MasterTester, builder: &str) -> Vec<BuildRequestRecord> {
    let mut out = Vec::new();
    for id in 1..=200 {
        match t
            .store()
            .build_request(oebb_master::BuildRequestId(id))
            .await
            .unwrap()
        {
            Some(r) if r.builder == builder => out.push(r),
            Some(_) => {}
            None => break,
        }
    }
    out
}

/// Waits for the `n`-th request of `builder` to complete; returns it.
async fn nth_request_done(t: &MasterTester, builder: &str, n: usize) -> BuildRequestRecord {
    eventually(&format!("request {n} of {builder} complete"), || async {
        requests_of(t, builder)
            .await
            .into_iter()
            .nth(n - 1)
            .filter(|r| r.complete_at.is_some())
    })
    .await
}

/// Revisions of the changes a request tested, oldest first.
async fn tested(t: &MasterTester, request: &BuildRequestRecord) -> Vec<String> {
    let changes = t.store().changes_tested(&[request.id]).await.unwrap();
    changes
        .get(&request.id)
        .map(|c| c.iter().map(|c| c.revision.clone()).collect())
        .unwrap_or_default()
}

fn buildout_cfg(addons: &str) -> String {
    format!("[buildout]\nparts = openerp\n[openerp]\nrecipe = anybox.recipe.odoo:server\nversion = local odoo\naddons = local custom\n{addons}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_build_the_buildouts_watching_them_once_and_auto_watch_follows_the_addons() {
    let dir = tempfile::tempdir().unwrap();
    let repos = dir.path().join("repos");
    let watched = repos.join("watched");
    let watched_url = git_repo(&watched, &[("buildout.cfg", &buildout_cfg(""))]);
    let other = repos.join("other");
    let other_url = git_repo(&other, &[("buildout.cfg", &buildout_cfg(""))]);
    let addons = repos.join("addons");
    let addons_url = git_repo(&addons, &[("a/__init__.py", "")]);
    let pinned = repos.join("pinned");
    let pinned_url = git_repo(&pinned, &[("p/__init__.py", "")]);
    let manifest = format!(
        "[watched]\nbuildout = git {watched_url} main buildout.cfg\n\
         [other]\nbuildout = git {other_url} main buildout.cfg\n"
    );
    let t = start(dir, &manifest, "poll-interval = 1\ntree-stable-timer = 3\n").await;
    polled(&t, &watched_url).await;
    polled(&t, &other_url).await;

    // Two quick commits: one build request of `watched` listing both, none of `other`. The
    // second adds a live addons repository and a pinned one to the addons line.
    git_commit(&watched, &[("README", "one\n")], "first change");
    let first = git_head(&watched);
    let addons_lines = format!(
        "  git {addons_url} addons main\n  git {pinned_url} pinned {}\n",
        git_head(&pinned)
    );
    git_commit(
        &watched,
        &[("buildout.cfg", &buildout_cfg(&addons_lines))],
        "watch the addons",
    );
    let second = git_head(&watched);
    let request = nth_request_done(&t, "watched", 1).await;
    assert_eq!(request.result, Some(Results::Success));
    assert_eq!(tested(&t, &request).await, [first.clone(), second.clone()]);
    let build = t.store().builds_of_request(request.id).await.unwrap()[0].id;
    let props = t.store().build_properties(build).await.unwrap();
    let got = props.iter().find(|p| p.name == "got_revision").unwrap();
    assert_eq!(got.value_json, format!("\"{second}\""));
    assert!(requests_of(&t, "other").await.is_empty());
    let page = Browser::new(t.master.web_address())
        .get(&format!("/builds/{build}"))
        .await;
    assert!(
        page.body.contains("watch the addons") && page.body.contains("first change"),
        "{}",
        page.body
    );
    let detail = api(&t, &format!("/api/builds/{build}")).await;
    assert_eq!(detail["changes"].as_array().unwrap().len(), 2, "{detail}");
    let list = api(&t, "/api/builds?builder=watched").await;
    let item = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == build.0)
        .unwrap_or_else(|| panic!("build {build} not in {list}"));
    let revisions: Vec<&str> = item["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["revision"].as_str().unwrap())
        .collect();
    assert_eq!(revisions, [first.as_str(), second.as_str()], "{item}");

    // After that build, the addons repository is watched, the pinned one is not.
    polled(&t, &addons_url).await;
    let pollers = api(&t, "/api/pollers").await;
    assert!(
        !pollers
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["repository"] == pinned_url),
        "{pollers}"
    );
    git_commit(&addons, &[("a/b.py", "x = 1\n")], "an addons change");
    let request = nth_request_done(&t, "watched", 2).await;
    assert_eq!(tested(&t, &request).await, [git_head(&addons)]);
    assert!(requests_of(&t, "other").await.is_empty());

    // The changes are shown: the API, the page, the change's files.
    let changes = api(&t, "/api/changes?limit=2").await;
    assert_eq!(changes[0]["repository"], addons_url);
    assert_eq!(changes[0]["files"], "a/b.py\n");
    assert_eq!(changes.as_array().unwrap().len(), 2);
    let page = Browser::new(t.master.web_address()).get("/changes").await;
    assert!(page.body.contains("an addons change"), "{}", page.body);
    let id = changes[0]["id"].as_i64().unwrap();
    let page = Browser::new(t.master.web_address())
        .get(&format!("/changes/{id}"))
        .await;
    assert!(page.body.contains("a/b.py"), "{}", page.body);
    let metrics = Browser::new(t.master.web_address()).get("/metrics").await;
    assert!(
        metrics.body.contains("oebb_changes_total 3"),
        "{}",
        metrics.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mercurial_and_breezy_commits_start_their_builders_only() {
    let dir = tempfile::tempdir().unwrap();
    let hg = dir.path().join("repos/hg");
    std::fs::create_dir_all(&hg).unwrap();
    write(&hg.join("buildout.cfg"), &buildout_cfg(""));
    run(&hg, "hg", &["init"]);
    run(&hg, "hg", &["add", "-q"]);
    run(&hg, "hg", &["commit", "-q", "-u", "t", "-m", "first"]);
    let bzr = dir.path().join("repos/bzr");
    std::fs::create_dir_all(&bzr).unwrap();
    write(&bzr.join("buildout.cfg"), &buildout_cfg(""));
    run(&bzr, "brz", &["init", "-q"]);
    run(&bzr, "brz", &["add", "-q"]);
    run(&bzr, "brz", &["commit", "-q", "-m", "first"]);
    let (hg_url, bzr_url) = (hg.display().to_string(), bzr.display().to_string());
    let manifest = format!(
        "[hgb]\nbuildout = hg {hg_url} default buildout.cfg\n\
         [bzrb]\nbuildout = bzr {bzr_url} buildout.cfg\n"
    );
    let t = start(dir, &manifest, "poll-interval = 1\ntree-stable-timer = 1\n").await;
    polled(&t, &hg_url).await;
    polled(&t, &bzr_url).await;

    write(&hg.join("README"), "hg\n");
    run(
        &hg,
        "hg",
        &[
            "commit",
            "-q",
            "-A",
            "-u",
            "hg author",
            "-m",
            "an hg change",
        ],
    );
    let request = nth_request_done(&t, "hgb", 1).await;
    assert_eq!(request.result, Some(Results::Success));
    assert!(requests_of(&t, "bzrb").await.is_empty());
    let changes = api(&t, "/api/changes").await;
    assert_eq!(changes[0]["author"], "hg author");
    assert_eq!(changes[0]["branch"], "default");
    assert_eq!(changes[0]["files"], "README\n");

    write(&bzr.join("README"), "bzr\n");
    run(&bzr, "brz", &["add", "-q"]);
    run(&bzr, "brz", &["commit", "-q", "-m", "a bzr change"]);
    let request = nth_request_done(&t, "bzrb", 1).await;
    assert_eq!(tested(&t, &request).await, ["2"]);
    let build = t.store().builds_of_request(request.id).await.unwrap()[0].id;
    let props = t.store().build_properties(build).await.unwrap();
    let got = props.iter().find(|p| p.name == "got_revision").unwrap();
    assert_eq!(got.value_json, "\"2\"");
    assert_eq!(requests_of(&t, "hgb").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_remote_backs_off_and_shows_its_error_while_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("repos/good");
    let good_url = git_repo(&good, &[("buildout.cfg", &buildout_cfg(""))]);
    let gone = format!("file://{}/repos/gone", dir.path().display());
    let manifest =
        format!("[good]\nbuildout = git {good_url} main buildout.cfg\nwatch = git {gone} main\n");
    let t = start(dir, &manifest, "poll-interval = 1\ntree-stable-timer = 1\n").await;
    polled(&t, &good_url).await;
    let failing = eventually("two failed polls of the gone repository", || async {
        let pollers = api(&t, "/api/pollers").await;
        pollers
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["repository"] == gone && p["failures"].as_u64() >= Some(2))
            .cloned()
    })
    .await;
    let error = failing["last_error"].as_str().unwrap();
    assert!(error.contains("git ls-remote"), "{error}");
    let page = Browser::new(t.master.web_address()).get("/pollers").await;
    assert!(
        page.body.contains("data-state=\"failing\""),
        "{}",
        page.body
    );
    // Backoff: the next poll is further away than one interval.
    let next = failing["next_poll_at"].as_i64().unwrap();
    let last = failing["last_poll_at"].as_i64().unwrap();
    assert!(next - last > 1000, "next {next}, last {last}");

    git_commit(&good, &[("README", "x\n")], "still built");
    let request = nth_request_done(&t, "good", 1).await;
    assert_eq!(tested(&t, &request).await, [git_head(&good)]);
    let metrics = Browser::new(t.master.web_address()).get("/metrics").await;
    assert!(
        !metrics.body.contains("oebb_poll_failures_total 0\n"),
        "{}",
        metrics.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_seen_before_the_master_stops_is_built_once_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repos/r");
    let url = git_repo(&repo, &[("buildout.cfg", &buildout_cfg(""))]);
    let manifest = format!("[b]\nbuildout = git {url} main buildout.cfg\n");
    // A timer that does not run out while the first master lives.
    let t = start(
        dir,
        &manifest,
        "poll-interval = 1\ntree-stable-timer = 3600\n",
    )
    .await;
    polled(&t, &url).await;
    git_commit(&repo, &[("README", "x\n")], "seen, not built");
    let head = git_head(&repo);
    eventually("the change stored", || async {
        let pending = t.store().pending_changes().await.unwrap();
        (pending.len() == 1).then_some(())
    })
    .await;
    assert!(requests_of(&t, "b").await.is_empty());
    // The master dies: its tasks end where they are, nothing more is written.
    let MasterTester {
        dir,
        master,
        oebb_workers,
        ..
    } = t;
    drop(master);
    drop(oebb_workers);

    let t = start(dir, &manifest, "poll-interval = 1\ntree-stable-timer = 1\n").await;
    let request = nth_request_done(&t, "b", 1).await;
    assert_eq!(tested(&t, &request).await, [head]);
    // Two more polls find nothing new: still one request.
    let polls_before = api(&t, "/api/pollers").await[0]["last_poll_at"]
        .as_i64()
        .unwrap_or(0);
    eventually("two more polls", || async {
        let last = api(&t, "/api/pollers").await[0]["last_poll_at"]
            .as_i64()
            .unwrap_or(0);
        (last > polls_before + 1500).then_some(())
    })
    .await;
    assert_eq!(requests_of(&t, "b").await.len(), 1);
    assert!(t.store().pending_changes().await.unwrap().is_empty());
}

fn sign(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signed_push_hooks_start_builds_without_waiting_for_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let repo: PathBuf = dir.path().join("repos/r");
    let url = git_repo(&repo, &[("buildout.cfg", &buildout_cfg(""))]);
    let manifest = format!("[b]\nbuildout = git {url} main buildout.cfg\n");
    // An hour between polls: only the hooks make them.
    let t = start(
        dir,
        &manifest,
        "poll-interval = 3600\ntree-stable-timer = 1\n",
    )
    .await;
    let mut web = Browser::new(t.master.web_address());
    let github = format!(
        r#"{{"ref":"refs/heads/main","repository":{{"clone_url":"{url}.git","html_url":"https://example.com/o/r"}}}}"#
    );
    let gitlab = format!(r#"{{"object_kind":"push","project":{{"git_http_url":"{url}"}}}}"#);
    let gitea = format!(r#"{{"ref":"refs/heads/main","repository":{{"clone_url":"{url}/"}}}}"#);
    let hooks = [
        (
            "/hooks/github",
            format!(
                "X-GitHub-Event: push\r\nX-Hub-Signature-256: sha256={}\r\n",
                sign(&github)
            ),
            github.clone(),
        ),
        (
            "/hooks/gitlab",
            format!("X-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: {SECRET}\r\n"),
            gitlab.clone(),
        ),
        (
            "/hooks/gitea",
            format!(
                "X-Gitea-Event: push\r\nX-Gitea-Signature: {}\r\n",
                sign(&gitea)
            ),
            gitea.clone(),
        ),
    ];

    // Refused: bad signatures and tokens, an unknown repository, a body that is no push.
    let bad = [
        (
            "/hooks/github",
            format!(
                "X-GitHub-Event: push\r\nX-Hub-Signature-256: sha256={}\r\n",
                sign("other")
            ),
            github.clone(),
            401,
        ),
        (
            "/hooks/github",
            "X-GitHub-Event: push\r\n".to_string(),
            github.clone(),
            401,
        ),
        (
            "/hooks/gitlab",
            "X-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: wrong\r\n".to_string(),
            gitlab.clone(),
            401,
        ),
        (
            "/hooks/gitea",
            format!(
                "X-Gitea-Event: push\r\nX-Gitea-Signature: {}\r\n",
                sign(&github)
            ),
            gitea.clone(),
            401,
        ),
        (
            "/hooks/gitea",
            format!(
                "X-Gitea-Event: push\r\nX-Gitea-Signature: {}\r\n",
                sign("{\"repository\":{\"clone_url\":\"https://x/y\"}}")
            ),
            "{\"repository\":{\"clone_url\":\"https://x/y\"}}".to_string(),
            404,
        ),
        (
            "/hooks/gitea",
            format!(
                "X-Gitea-Event: push\r\nX-Gitea-Signature: {}\r\n",
                sign("[1,")
            ),
            "[1,".to_string(),
            400,
        ),
    ];
    for (path, headers, body, status) in &bad {
        let answer = web.request("POST", path, headers, body).await;
        assert_eq!(answer.status, *status, "{path} {headers}: {}", answer.body);
        assert!(answer.body.contains("error"), "{}", answer.body);
    }
    let pollers = api(&t, "/api/pollers").await;
    assert!(
        pollers[0]["last_poll_at"].is_null(),
        "a refused hook polled: {pollers}"
    );

    // A first signed hook records the tip; each next one after a commit makes a build.
    let (path, headers, body) = &hooks[0];
    let answer = web.request("POST", path, headers, body).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    polled(&t, &url).await;
    for (n, (path, headers, body)) in hooks.iter().enumerate() {
        git_commit(
            &repo,
            &[("README", &format!("{n}\n"))],
            &format!("change {n}"),
        );
        let answer = web.request("POST", path, headers, body).await;
        assert_eq!(answer.status, 202, "{path}: {}", answer.body);
        let request = nth_request_done(&t, "b", n + 1).await;
        assert_eq!(tested(&t, &request).await, [git_head(&repo)], "{path}");
    }
    assert_eq!(t.store().change_count().await.unwrap(), 3);

    // A rotated secret is read again at a reconfig: the old one is refused from then on.
    write(&t.dir.path().join("hook-secret"), "rotated\n");
    let outcome = t.master.reconfigure().await.unwrap();
    assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
    let gitlab_with =
        |token: &str| format!("X-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: {token}\r\n");
    let answer = web
        .request("POST", "/hooks/gitlab", &gitlab_with(SECRET), &gitlab)
        .await;
    assert_eq!(
        answer.status, 401,
        "the old secret still works: {}",
        answer.body
    );
    let answer = web
        .request("POST", "/hooks/gitlab", &gitlab_with("rotated"), &gitlab)
        .await;
    assert_eq!(
        answer.status, 202,
        "the new secret is refused: {}",
        answer.body
    );
}
