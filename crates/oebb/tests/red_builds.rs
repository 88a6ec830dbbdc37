//! The cause of a red build at a glance. Real builds of the stand-in Odoo (real zc.buildout
//! from PyPI, the test PostgreSQL cluster, `oebb master DIR --local-worker`) that fail for four
//! real reasons: a recipe that raises, a version conflict, an addons repository that does not
//! exist (cloned by `crates/master/tests/fixtures/addons_recipe`, the stand-in of
//! anybox.recipe.odoo's addons), a database that cannot be created. Each build's first finding
//! names the cause in `oebb force --wait`, the API and the build page (read by headless
//! Chromium at 1400×1000: above the steps, without scrolling), and the steps that only fail
//! because of it are skipped, not red.

mod cli;

use cli::{oebb, stand_in_master, text};
mod web_common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use oebb_testkit::Killed;
use serde_json::Value;
use web_common::browser::Browser;

/// The stand-in's buildout with a part `addons` of the addons recipe configured by `options`.
fn with_addons(buildout: &str, dir: &Path, options: &str) -> String {
    let recipe = dir.join("addons_recipe");
    buildout
        .replace("parts = openerp", "parts = addons openerp")
        .replacen(
            "develop = ",
            &format!("develop = {}\n    ", recipe.display()),
            1,
        )
        + &format!("\n[addons]\nrecipe = addons_recipe\n{options}\n")
}

/// Writes the red buildouts beside the stand-in's green one and their MANIFEST sections.
fn write_red_buildouts(dir: &Path) {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../master/tests/fixtures/addons_recipe");
    std::fs::create_dir_all(dir.join("addons_recipe")).unwrap();
    for file in ["setup.py", "addons_recipe.py"] {
        std::fs::copy(fixture.join(file), dir.join("addons_recipe").join(file)).unwrap();
    }
    let buildouts = dir.join("buildouts");
    let green = std::fs::read_to_string(buildouts.join("buildout.cfg")).unwrap();
    let missing_dir = dir.join("no-such-addons");
    let raises = with_addons(
        &green,
        dir,
        &format!("addons-path = {}", missing_dir.display()),
    );
    std::fs::write(buildouts.join("raises.cfg"), raises).unwrap();
    let repo = dir.join("no-such-addons.git");
    let no_repo = with_addons(&green, dir, &format!("repository = {}", repo.display()));
    std::fs::write(buildouts.join("noaddons.cfg"), no_repo).unwrap();
    let conflict = green
        .replace("parts = openerp", "parts = openerp\nversions = versions")
        .replace("eggs = fake_odoo", "eggs = fake_odoo\n    six>=1.16")
        + "\n[versions]\nsix = 1.10.0\n";
    std::fs::write(buildouts.join("conflict.cfg"), conflict).unwrap();
    let mut manifest = std::fs::read_to_string(buildouts.join("MANIFEST.cfg")).unwrap();
    for (section, file, extra) in [
        ("raises", "raises.cfg", ""),
        ("conflict", "conflict.cfg", ""),
        ("noaddons", "noaddons.cfg", ""),
        (
            "nodb",
            "buildout.cfg",
            "db_template = oebb_no_such_template\n",
        ),
    ] {
        manifest.push_str(&format!(
            "\n[{section}]\nbuildout = standalone {file}\nbuild-for = postgresql == 15\n\
             openerp-addons = passing\nodoo.version = 16.0\n{extra}"
        ));
    }
    std::fs::write(buildouts.join("MANIFEST.cfg"), manifest).unwrap();
}

/// `oebb force DIR BUILDER --wait`, retried until the master listens.
fn force_wait(dir: &str, builder: &str) -> Output {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = oebb(&["force", dir, builder, "--wait", "--timeout", "600"]);
        if text(&out).contains("queued") || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the master's web address is, from `oebb.cfg`.
fn web_base(dir: &Path) -> String {
    let cfg = std::fs::read_to_string(dir.join("oebb.cfg")).unwrap();
    let address = cfg
        .lines()
        .find_map(|l| l.strip_prefix("web-address = "))
        .unwrap();
    format!("http://{}", address.trim())
}

fn get(url: &str) -> String {
    ureq::get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .body_mut()
        .read_to_string()
        .unwrap()
}

/// The build id `oebb force --wait` followed.
fn build_id(out: &str) -> i64 {
    out.lines()
        .find_map(|l| l.strip_prefix("build ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no build id in: {out}"))
}

/// One red build: its cause first everywhere, its consequential steps skipped.
struct Red {
    builder: &'static str,
    failed_step: &'static str,
    rule: &'static str,
    cause: String,
}

fn check_red(dir: &str, base: &str, red: &Red, master_log: &Path) -> i64 {
    let out = force_wait(dir, red.builder);
    let shown = text(&out);
    let context = || {
        format!(
            "{shown}\n--- master ---\n{}",
            std::fs::read_to_string(master_log).unwrap_or_default()
        )
    };
    assert!(!out.status.success(), "{}", context());
    let build = build_id(&shown);
    // `oebb force --wait`: each step as it starts and ends, then the cause and the page.
    let first_cause = shown
        .lines()
        .find(|l| l.starts_with("cause: "))
        .unwrap_or_else(|| panic!("no cause block: {}", context()));
    assert_eq!(
        first_cause,
        format!("cause: {}", red.cause),
        "{}",
        context()
    );
    assert!(
        shown.contains(&format!("] {} started", red.failed_step))
            && shown.contains(&format!("] {} failure: ", red.failed_step)),
        "{}",
        context()
    );
    assert!(
        shown.contains(&format!("on local: failure ({} failed: ", red.failed_step)),
        "the summary names the first failed step: {}",
        context()
    );
    assert!(
        shown
            .trim_end()
            .ends_with(&format!("{base}/builds/{build}")),
        "{}",
        context()
    );

    // The API: the first finding names the cause; only the failed step is red.
    let detail: Value = serde_json::from_str(&get(&format!("{base}/api/builds/{build}"))).unwrap();
    let first = &detail["findings"][0];
    assert_eq!(first["message"], red.cause.as_str(), "{detail:#}");
    assert_eq!(first["step"], red.failed_step, "{detail:#}");
    assert_eq!(first["rule"], red.rule, "{detail:#}");
    assert_eq!(first["new"], true, "{detail:#}");
    assert!(
        first["href"]
            .as_str()
            .unwrap()
            .contains(&format!("/log?line={}", first["line"])),
        "{detail:#}"
    );
    let steps = detail["steps"].as_array().unwrap();
    for step in steps {
        let name = step["name"].as_str().unwrap();
        let result = step["result"].as_str().unwrap_or("");
        if name == red.failed_step {
            assert_eq!(result, "failure", "{detail:#}");
        } else {
            assert!(
                matches!(result, "success" | "skipped"),
                "{name} is not red as a consequence: {detail:#}"
            );
        }
        if matches!(name, "analyze" | "final_dropdb") {
            assert_eq!(result, "skipped", "{detail:#}");
            assert_eq!(
                step["state_text"],
                format!("not run: {} failed", red.failed_step),
                "{detail:#}"
            );
        }
    }

    // The page: the cause first, linked to its line, which the log page marks.
    let page = get(&format!("{base}/builds/{build}"));
    let message_at = page
        .find("class=\"finding-message\"")
        .expect("a finding on the page");
    assert!(message_at < page.find("<table id=\"steps\">").unwrap());
    let escaped = red
        .cause
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    assert!(
        page[message_at..].starts_with(&format!("class=\"finding-message\">{escaped}<")),
        "{}",
        &page[message_at..(message_at + 400).min(page.len())]
    );
    let href = first["href"].as_str().unwrap();
    let line = first["line"].as_i64().unwrap();
    let log_page = get(&format!("{base}{href}"));
    assert!(
        log_page.contains(&format!(
            "<span id=\"L{line}\" class=\"hit\">{escaped}</span>"
        )),
        "{log_page}"
    );
    build
}

#[test]
fn red_builds_name_their_cause_first() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("red");
    let dir_arg = dir.to_str().unwrap();
    stand_in_master(&dir);
    write_red_buildouts(&dir);
    let base = web_base(&dir);
    let log = scratch.path().join("master.log");
    let _master = Killed::spawn(
        Command::new(env!("CARGO_BIN_EXE_oebb")).args(["master", dir_arg, "--local-worker"]),
        "oebb master --local-worker",
        log.clone(),
    );

    // Green first: every step as it starts and ends, no cause, the page.
    let green = force_wait(dir_arg, "standin-pg15");
    let shown = text(&green);
    assert!(green.status.success(), "{shown}");
    assert!(
        shown.contains("[ 0] builddir started") && shown.contains("] final_dropdb success: "),
        "{shown}"
    );
    assert!(!shown.contains("cause: "), "{shown}");

    let missing_repo = dir.join("no-such-addons.git");
    let missing_dir = dir.join("no-such-addons");
    let reds = [
        Red {
            builder: "raises-pg15",
            failed_step: "buildout",
            rule: "buildout-error",
            cause: format!(
                "ValueError: addons path {} does not exist",
                missing_dir.display()
            ),
        },
        Red {
            builder: "conflict-pg15",
            failed_step: "buildout",
            rule: "buildout-error",
            cause: "Error: The requirement ('six>=1.16') is not allowed by your [versions] \
                    constraint (1.10.0)"
                .to_string(),
        },
        Red {
            builder: "noaddons-pg15",
            failed_step: "buildout",
            rule: "vcs-error",
            cause: format!(
                "fatal: repository '{}' does not exist",
                missing_repo.display()
            ),
        },
        Red {
            builder: "nodb-pg15",
            failed_step: "createdb",
            rule: "postgresql-error",
            cause: "createdb: error: database creation failed: ERROR:  template database \
                    \"oebb_no_such_template\" does not exist"
                .to_string(),
        },
    ];
    let mut builds = Vec::new();
    for red in &reds {
        builds.push(check_red(dir_arg, &base, red, &log));
    }

    // The same cause again is known, and a build whose failures are all known says so.
    let again = force_wait(dir_arg, "nodb-pg15");
    let shown = text(&again);
    let first_nodb = builds[3];
    assert!(
        shown.contains(&format!(
            "known: first seen in build #{first_nodb}, in 2 builds of this builder since"
        )),
        "{shown}"
    );
    let again_id = build_id(&shown);
    let page = get(&format!("{base}/builds/{again_id}"));
    assert!(page.contains("<p id=\"findings-known\">"), "{page}");
    let builder_page = get(&format!("{base}/builders/nodb-pg15"));
    assert!(
        builder_page.contains("<table id=\"recurring-findings\">")
            && builder_page.contains("template database"),
        "{builder_page}"
    );

    // `oebb builds`: durations and the first finding of each failed build.
    let listed = text(&oebb(&["builds", dir_arg]));
    assert!(
        listed.contains("↳ createdb: createdb: error: database creation failed"),
        "{listed}"
    );
    let one = text(&oebb(&["builds", dir_arg, &builds[1].to_string()]));
    assert!(
        one.contains("cause: Error: The requirement ('six>=1.16')")
            && one.contains("While: Installing openerp."),
        "{one}"
    );

    // In a browser at 1400×1000, the cause is above the steps without scrolling.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let b = Browser::start(&base).await;
        b.client.set_window_size(1400, 1000).await.unwrap();
        b.goto(&format!("/builds/{}", builds[0])).await;
        let seen = b
            .js(
                "const f = document.querySelector('#findings li .finding-message');\
                 const s = document.querySelector('#steps');\
                 const r = f.getBoundingClientRect();\
                 return [r.top, r.bottom, s.getBoundingClientRect().top, window.innerHeight, \
                         window.scrollY, f.textContent];",
            )
            .await;
        let n = |i: usize| seen[i].as_f64().unwrap();
        assert_eq!(seen[5], reds[0].cause.as_str(), "{seen}");
        assert!(n(4) == 0.0 && n(0) >= 0.0, "not scrolled: {seen}");
        assert!(n(1) <= n(3), "the cause is in the window: {seen}");
        assert!(n(1) <= n(2), "the cause is above the steps: {seen}");
        b.close().await;
    });
}
