//! The worker settings of the README's "Moving from Buildbot", as written there: the stock
//! `buildbot-worker create-worker` command line of the README, and the README's `buildbot.tac`
//! lines applied to a worker directory made for a Buildbot master (`pb`). Both workers connect
//! to a real `oebb master` and build the stand-in Odoo (bench/build/stand-in-master.sh: real
//! zc.buildout from PyPI, the test PostgreSQL cluster) green. The snippets are read from
//! README.md, so the documentation and this test cannot drift apart.

mod cli;

use cli::{oebb, stand_in_master, text};
use oebb_testkit::Killed;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Placeholders of the README's snippets, and what this test puts in their place.
const MASTER_HOST: &str = "MASTER_HOST";
const README_PORT: &str = "9989";

/// The README's "Moving from Buildbot" section.
fn readme_section() -> String {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    let start = text
        .find("\n## Moving from Buildbot\n")
        .expect("README.md has a `## Moving from Buildbot` section");
    let rest = &text[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    rest[..end].to_string()
}

/// The body lines of the first fenced block of `lang` in `section` holding `needle`.
fn fenced_block(section: &str, lang: &str, needle: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in section.lines() {
        let trimmed = line.trim();
        match &mut current {
            None if trimmed == format!("```{lang}") => current = Some(Vec::new()),
            Some(_) if trimmed == "```" => blocks.extend(current.take()),
            Some(body) => body.push(trimmed.to_string()),
            None => {}
        }
    }
    blocks
        .into_iter()
        .find(|b| b.iter().any(|l| l.contains(needle)))
        .unwrap_or_else(|| panic!("no ```{lang} block with `{needle}` in the section"))
}

/// The README's `create-worker` arguments, placeholders replaced.
fn readme_create_worker_args(basedir: &Path, port: u16, name: &str, password: &str) -> Vec<String> {
    let block = fenced_block(&readme_section(), "sh", "create-worker");
    let line = block
        .iter()
        .find(|l| l.contains("buildbot-worker create-worker"))
        .unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "create-worker").unwrap();
    let master = format!("{MASTER_HOST}:{README_PORT}");
    words[at..]
        .iter()
        .map(|w| match *w {
            "WORKER_DIR" => basedir.display().to_string(),
            "NAME" => name.to_string(),
            "PASSWORD" => password.to_string(),
            w if w == master => format!("127.0.0.1:{port}"),
            w => w.to_string(),
        })
        .collect()
}

/// `buildbot.tac` with each assignment of the README's block put in place of the tac's own
/// line for that variable (the README's host and port replaced by this test's master).
fn apply_readme_tac_edit(tac: &str, port: u16) -> String {
    let block = fenced_block(&readme_section(), "python", "protocol");
    let mut tac: Vec<String> = tac.lines().map(String::from).collect();
    for assignment in block.iter().filter(|l| l.contains(" = ")) {
        let name = assignment.split(" = ").next().unwrap();
        let edited = assignment
            .replace(MASTER_HOST, "127.0.0.1")
            .replace(&format!("= {README_PORT}"), &format!("= {port}"));
        let line = tac
            .iter_mut()
            .find(|l| l.starts_with(&format!("{name} = ")))
            .unwrap_or_else(|| panic!("buildbot.tac has no `{name} = …` line to edit"));
        *line = edited;
    }
    tac.join("\n") + "\n"
}

fn create_worker(args: &[String]) {
    let out = Command::new(oebb_testkit::buildbot_worker())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "create-worker {args:?}: {}",
        text(&out)
    );
}

/// Runs the worker of `basedir` in the foreground, as `buildbot-worker start` would in the
/// background.
fn start_worker(basedir: &Path) -> Killed {
    let twistd = oebb_testkit::buildbot_worker().with_file_name("twistd");
    Killed::spawn(
        Command::new(twistd)
            .args(["--nodaemon", "--no_save", "-y", "buildbot.tac"])
            .current_dir(basedir),
        "buildbot-worker",
        basedir.join("stderr.log"),
    )
}

/// The worker port of the master directory's `oebb.cfg`.
fn worker_port(dir: &Path) -> u16 {
    let cfg = std::fs::read_to_string(dir.join("oebb.cfg")).unwrap();
    let line = cfg
        .lines()
        .find(|l| l.starts_with("worker-address"))
        .unwrap();
    line.rsplit(':').next().unwrap().trim().parse().unwrap()
}

/// The stand-in master, with a worker `created` and a worker `migrated` each building a
/// buildout of its own (`build-requires` of a marker capability).
fn two_workers_master(dir: &Path) {
    stand_in_master(dir);
    let slaves = std::fs::read_to_string(dir.join("slaves.cfg")).unwrap();
    let capability = slaves
        .lines()
        .find(|l| l.starts_with("capability = "))
        .unwrap();
    let mut workers = String::new();
    let mut manifest = String::new();
    let standin = std::fs::read_to_string(dir.join("buildouts/MANIFEST.cfg")).unwrap();
    for name in ["created", "migrated"] {
        workers.push_str(&format!(
            "[{name}]\npassword = {name}-pw\n{capability}\n  {name}\n"
        ));
        manifest.push_str(&standin.replace(
            "[standin]\n",
            &format!("[standin-{name}]\nbuild-requires = {name}\n"),
        ));
    }
    std::fs::write(dir.join("slaves.cfg"), workers).unwrap();
    std::fs::write(dir.join("buildouts/MANIFEST.cfg"), manifest).unwrap();
}

/// Forces `builder` and waits for its build; the master takes a moment to listen.
fn force_and_wait(dir: &str, builder: &str) -> Output {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = oebb(&["force", dir, builder, "--wait", "--timeout", "900"]);
        if text(&out).contains("queued") || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn readme_worker_settings_connect_stock_workers_that_build_green() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("master");
    let dir_arg = dir.to_str().unwrap().to_string();
    two_workers_master(&dir);
    let check = oebb(&["check", &dir_arg]);
    assert!(check.status.success(), "{}", text(&check));
    let port = worker_port(&dir);
    let _master = Killed::spawn(
        Command::new(env!("CARGO_BIN_EXE_oebb")).args(["master", &dir_arg]),
        "oebb master",
        scratch.path().join("master.log"),
    );

    // A new worker directory, made by the README's command line.
    let created: PathBuf = scratch.path().join("created");
    create_worker(&readme_create_worker_args(
        &created,
        port,
        "created",
        "created-pw",
    ));
    let tac = std::fs::read_to_string(created.join("buildbot.tac")).unwrap();
    assert!(
        tac.contains("protocol = 'msgpack_experimental_v7'"),
        "{tac}"
    );

    // A directory made for a Buildbot master (default protocol pb), then the README's edit.
    let migrated = scratch.path().join("migrated");
    create_worker(&[
        "create-worker".into(),
        migrated.display().to_string(),
        format!("127.0.0.1:{port}"),
        "migrated".into(),
        "migrated-pw".into(),
    ]);
    let tac_path = migrated.join("buildbot.tac");
    let before = std::fs::read_to_string(&tac_path).unwrap();
    assert!(before.contains("protocol = 'pb'"), "{before}");
    let after = apply_readme_tac_edit(&before, port);
    assert!(
        after.contains("protocol = 'msgpack_experimental_v7'"),
        "{after}"
    );
    std::fs::write(&tac_path, after).unwrap();

    let _workers = [start_worker(&created), start_worker(&migrated)];
    let builds: Vec<(String, Output)> = std::thread::scope(|s| {
        let runs: Vec<_> = ["created", "migrated"]
            .map(|name| {
                let dir = dir_arg.clone();
                s.spawn(move || {
                    let builder = format!("standin-{name}-pg15");
                    (name.to_string(), force_and_wait(&dir, &builder))
                })
            })
            .into_iter()
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (name, out) in builds {
        assert!(
            out.status.success() && text(&out).contains(&format!("on {name}: success")),
            "worker {name}: {}\n--- builds ---\n{}\n--- twistd.log ---\n{}",
            text(&out),
            text(&oebb(&["builds", &dir_arg])),
            std::fs::read_to_string(scratch.path().join(&name).join("twistd.log"))
                .unwrap_or_default()
        );
    }
}
