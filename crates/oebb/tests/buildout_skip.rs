//! The buildout run is skipped when nothing it reads changed (issue 16), on real builds of the
//! stand-in Odoo (real zc.buildout from PyPI, the test PostgreSQL cluster, `oebb master DIR
//! --local-worker`): the second build of an unchanged buildout skips it and gives the same
//! verdict, green and red; a commit on the branch of a live source of the buildout's Odoo part
//! (a git repository made here), an edit of the buildout file and `buildout-rerun=true` each
//! make it run again. A red variant has `db.template-cache = true`.

mod cli;

use cli::{oebb, stand_in_master, text};
use oebb_testkit::run_vcs as run;
use oebb_testkit::Killed;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A master directory building the stand-in (`standin-pg15`), and the same buildout with a
/// failing test (`red-pg15`); the buildout's Odoo part has the live source `live`.
fn master_dir(dir: &Path, live: &Path) {
    stand_in_master(dir);
    let cfg = dir.join("buildouts/buildout.cfg");
    let buildout = std::fs::read_to_string(&cfg).unwrap().replace(
        "recipe = zc.recipe.egg\n",
        &format!(
            "recipe = zc.recipe.egg\naddons = git file://{} live-addons main\n",
            live.display()
        ),
    );
    std::fs::write(&cfg, buildout).unwrap();
    let manifest = dir.join("buildouts/MANIFEST.cfg");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(
        "\n[red]\nbuildout = standalone buildout.cfg\nbuild-for = postgresql == 15\n\
         openerp-addons = failing_test\nodoo.version = 16.0\ndb.template-cache = true\n",
    );
    std::fs::write(&manifest, text).unwrap();
}

/// A git repository with one commit on `main`.
fn live_repository(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    run(dir, "git", &["init", "-q", "-b", "main"]);
    commit(dir, "1");
}

fn commit(dir: &Path, content: &str) {
    std::fs::write(dir.join("addon.py"), content).unwrap();
    run(dir, "git", &["add", "."]);
    run(dir, "git", &["commit", "-qm", content]);
}

/// Forces `builder` (retried until the master listens), waits, returns the build's detail
/// from the API.
fn build(dir: &Path, builder: &str, extra: &[&str]) -> Value {
    let dir_arg = dir.to_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut args = vec!["force", dir_arg, builder, "--wait", "--timeout", "600"];
    args.extend(extra);
    let out = loop {
        let out = oebb(&args);
        if text(&out).contains("queued") || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let said = text(&out);
    let line = said
        .lines()
        .rev()
        .find(|l| l.starts_with("build ") && !l.contains(" started on "))
        .unwrap_or_else(|| panic!("{said}"));
    let id = line.split_whitespace().nth(1).unwrap();
    let url = format!("{}/api/builds/{id}", web_base(dir));
    ureq::get(&url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .body_mut()
        .read_json()
        .unwrap()
}

fn web_base(dir: &Path) -> String {
    let cfg = std::fs::read_to_string(dir.join("oebb.cfg")).unwrap();
    let address = cfg
        .lines()
        .find_map(|l| l.strip_prefix("web-address = "))
        .unwrap();
    format!("http://{}", address.trim())
}

/// The result of step `name` and its text.
fn step(detail: &Value, name: &str) -> (String, String) {
    let s = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {detail:#}"));
    let text = s["state_text"].as_str().unwrap_or("").to_string();
    (s["result"].as_str().unwrap_or("").to_string(), text)
}

/// Property `name`'s value as text.
fn property(detail: &Value, name: &str) -> String {
    let p = detail["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no property {name}: {detail:#}"));
    let value: Value = serde_json::from_str(p["value_json"].as_str().unwrap()).unwrap();
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

fn id(detail: &Value) -> String {
    detail["build"]["id"].to_string()
}

/// The build ran buildout (`ran`) or skipped it, with `result` as its verdict.
fn check(detail: &Value, result: &str, ran: bool) {
    assert_eq!(detail["build"]["result"], result, "{detail:#}");
    let (buildout, why) = step(detail, "buildout");
    let expected = if ran { "success" } else { "skipped" };
    assert_eq!(buildout, expected, "{why}\n{detail:#}");
    assert_eq!(property(detail, "buildout_skipped"), (!ran).to_string());
    assert_eq!(property(detail, "buildout_key").len(), 64, "{detail:#}");
}

#[test]
fn an_unchanged_buildout_is_not_run_again_and_a_change_runs_it() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("standin");
    let live = scratch.path().join("live");
    live_repository(&live);
    master_dir(&dir, &live);
    let log = scratch.path().join("master.log");
    let _master = Killed::spawn(
        Command::new(env!("CARGO_BIN_EXE_oebb")).args([
            "master",
            dir.to_str().unwrap(),
            "--local-worker",
        ]),
        "oebb master --local-worker",
        log,
    );

    let first = build(&dir, "standin-pg15", &[]);
    check(&first, "success", true);
    let second = build(&dir, "standin-pg15", &[]);
    check(&second, "success", false);
    let (_, why) = step(&second, "buildout");
    assert!(
        why.contains(&format!(
            "nothing buildout reads changed since the successful run of build {}",
            id(&first)
        )),
        "{why}"
    );
    assert_eq!(step(&second, "buildout_stamp").0, "skipped");
    assert_eq!(step(&second, "test").0, "success");

    commit(&live, "2");
    let moved = build(&dir, "standin-pg15", &[]);
    check(&moved, "success", true);
    check(&build(&dir, "standin-pg15", &[]), "success", false);

    let cfg = dir.join("buildouts/buildout.cfg");
    let edited = std::fs::read_to_string(&cfg).unwrap() + "# an edit\n";
    std::fs::write(&cfg, edited).unwrap();
    check(&build(&dir, "standin-pg15", &[]), "success", true);

    let forced = build(&dir, "standin-pg15", &["--property", "buildout-rerun=true"]);
    check(&forced, "success", true);
    check(&build(&dir, "standin-pg15", &[]), "success", false);

    // A red build is as red when its buildout run is skipped, and with the template cache on
    // (the stand-in has no addons path to find dependencies in: no template, and it says so).
    let red = build(&dir, "red-pg15", &[]);
    check(&red, "failure", true);
    let used = property(&red, "db_template_used");
    assert!(
        used.starts_with("none: no dependency module of failing_test"),
        "{used}"
    );
    let red_again = build(&dir, "red-pg15", &[]);
    check(&red_again, "failure", false);
    assert_eq!(step(&red_again, "analyze").0, "failure");
}
