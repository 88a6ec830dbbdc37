//! A real OpenERP 7.0 built green and red through the real `oebb master`, once on a stock
//! `buildbot-worker` and once on `oebb worker`, on the test PostgreSQL clusters.
//!
//! The buildout (written here) uses zc.buildout 2.13.8 and anybox.recipe.openerp 1.9.1 from
//! PyPI on Python 2.7, the server of PyPI's `openerp-core` 7.0.406 unpacked by
//! `scripts/install-test-deps` (`version = local DIR`), and addons written here with a
//! unittest2 test and a YAML test: one clean, and one for each way to fail (a failed
//! assertion, a failed YAML `!assert`, an exception while installing its data, an import
//! error). openerp-core 7.0.406 exits 0 on every one of these failures: the verdicts come from
//! oebb's analysis of the log. A second build of an unchanged buildout skips its buildout run
//! with the same verdicts (issue 16); an edit of the buildout file runs it again.
//!
//! OpenERP refuses to run as root: run as root, the tests run both workers as the user
//! `oebbtest`, with a PostgreSQL role of their own. The workers' caches are kept under
//! `$OEBB_TEST_PREFIX/openerp7/caches-*`, so only the first run on a machine downloads and
//! compiles (about 6 minutes); later ones are warm.

mod cli;

use cli::{oebb, step_tails, wait_for_master};
mod openerp7_support;

use oebb_testkit::{buildbot_worker, free_port, Killed};
use openerp7_support::setup::{self, User};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The longest a build may take: a cold buildout compiles lxml, psycopg2, Pillow, reportlab.
const BUILD_TIMEOUT_S: u64 = 2400;

/// A command that runs as `user` (when given), with its home in `home`.
fn as_user(program: &Path, user: Option<&User>, home: &Path) -> Command {
    let mut c = Command::new(program);
    c.env("HOME", home);
    if user.is_some() {
        // The tests' PATH may lead to root's own tools (a pyenv's python3 under /root).
        c.env("PATH", "/usr/local/bin:/usr/bin:/bin");
    }
    if let Some(u) = user {
        c.uid(u.uid).gid(u.gid);
    }
    c
}

/// The master directory, the workers' directories and what they share.
struct Site {
    root: tempfile::TempDir,
    user: Option<User>,
}

impl Site {
    fn master(&self) -> PathBuf {
        self.root.path().join("master")
    }

    /// A worker's base directory: its own copy of the server beside its builders, and its
    /// caches under the test prefix (kept between runs).
    fn worker_dir(&self, name: &str, caches: &str, server: &Path) -> PathBuf {
        let basedir = self.root.path().join(name);
        std::fs::create_dir_all(&basedir).unwrap();
        let status = Command::new("cp")
            .arg("-a")
            .arg(server)
            .arg(&basedir)
            .status()
            .unwrap();
        assert!(status.success(), "copying {}", server.display());
        let kept = setup::openerp7_dir().join(caches);
        std::fs::create_dir_all(&kept).unwrap();
        setup::give(&kept, self.user.as_ref());
        std::os::unix::fs::symlink(&kept, basedir.join("caches")).unwrap();
        setup::give(&basedir, self.user.as_ref());
        basedir
    }
}

/// Starts a stock buildbot-worker in `basedir`, as the build user.
fn stock_worker(site: &Site, basedir: &Path, address: &str, password: &str) -> Killed {
    let user = site.user.as_ref();
    let bin = match user {
        // The one of OEBB_BUILDBOT_WORKER may live in a pyenv under /root.
        Some(_) => {
            let bin = setup::openerp7_dir().join("worker-venv/bin/buildbot-worker");
            assert!(
                bin.is_file(),
                "{} is missing: run scripts/install-test-deps",
                bin.display()
            );
            bin
        }
        None => buildbot_worker(),
    };
    let out = as_user(&bin, user, basedir)
        .args(["create-worker", "--protocol", "msgpack_experimental_v7"])
        .arg(basedir)
        .args([address, "stock", password])
        .output()
        .unwrap();
    assert!(out.status.success(), "create-worker: {out:?}");
    let child = as_user(&bin.with_file_name("twistd"), user, basedir)
        .args([
            "--nodaemon",
            "--no_save",
            "--logfile",
            "twistd.log",
            "-y",
            "buildbot.tac",
        ])
        .current_dir(basedir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Killed::new(
        child,
        "stock buildbot-worker",
        Some(basedir.join("twistd.log")),
    )
}

/// Starts `oebb worker` in `basedir`, as the build user.
fn oebb_worker(site: &Site, basedir: &Path, address: &str, password: &str) -> Killed {
    let password_file = basedir.join("password");
    std::fs::write(&password_file, password).unwrap();
    setup::give(&password_file, site.user.as_ref());
    std::fs::set_permissions(
        &password_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let log = site.root.path().join("oebb-worker.log");
    Killed::spawn(
        as_user(
            Path::new(env!("CARGO_BIN_EXE_oebb")),
            site.user.as_ref(),
            basedir,
        )
        .args([
            "worker",
            "--master",
            address,
            "--name",
            "ow",
            "--password-file",
        ])
        .arg(&password_file)
        .arg("--basedir")
        .arg(basedir),
        "oebb worker",
        log,
    )
}

/// What `oebb force --wait` said of a build.
#[derive(Debug)]
struct Forced {
    builder: String,
    build: String,
    worker: String,
    result: String,
    stdout: String,
}

/// Forces `builder` and waits for its build.
fn force(master: &Path, builder: &str) -> Forced {
    let out = oebb(&[
        "force",
        master.to_str().unwrap(),
        builder,
        "--wait",
        "--timeout",
        &BUILD_TIMEOUT_S.to_string(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // The verdict line, after the progress lines ("build 3 started on stock: URL").
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("build ") && l.contains(" on ") && !l.contains(" started on "))
        .unwrap_or_else(|| {
            panic!(
                "oebb force {builder}: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    // "build 3 on stock: failure (…)"
    let mut words = line.split_whitespace();
    let build = words.nth(1).unwrap().to_string();
    let worker = words.nth(1).unwrap().trim_end_matches(':').to_string();
    let result = words.next().unwrap().to_string();
    Forced {
        builder: builder.into(),
        build,
        worker,
        result,
        stdout,
    }
}

/// Forces all `builders` at once and waits for every build.
fn force_all(master: &Path, builders: &[String]) -> Vec<Forced> {
    std::thread::scope(|s| {
        let handles: Vec<_> = builders
            .iter()
            .map(|b| s.spawn(move || force(master, b)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// A step's log (`stdio`, or a file it kept).
fn log(master: &Path, build: &str, step: &str) -> String {
    let out = oebb(&["log", master.to_str().unwrap(), build, step]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The build's steps and results, and the logs that explain a failure, to show when a
/// build's result is not the expected one.
fn explain(master: &Path, f: &Forced) -> String {
    let tails = step_tails(|step| log(master, &f.build, step));
    format!("build {} of {}: {}\n{tails}", f.build, f.builder, f.stdout)
}

/// Waits until `oebb workers`… the store shows both workers connected: forced builds of a
/// builder whose worker is not connected would wait in the queue, which is fine, so this only
/// fails fast when a worker cannot start.
fn check_alive(workers: &mut [(&str, &mut Killed)]) {
    for (name, w) in workers.iter_mut() {
        assert!(w.is_running(), "worker {name} exited");
    }
}

#[test]
fn real_openerp_7_builds_green_and_red_on_both_kinds_of_worker() {
    let user = setup::build_user();
    let python = setup::python27(user.as_ref());
    let deps = setup::openerp7_dir();
    let pg1 = oebb_testkit::postgres_url();
    let pg2 = setup::second_cluster_url();
    setup::make_role(&pg1);
    setup::make_role(&pg2);

    let site = Site {
        root: tempfile::tempdir().unwrap(),
        user: user.clone(),
    };
    setup::open(site.root.path());
    let addons = site.root.path().join("addons");
    for addon in &openerp7_support::addons::ADDONS {
        addon.write(&addons);
    }
    let server = deps.join("openerp-core-7.0.406");
    let stock_dir = site.worker_dir("stock", "caches-stock", &server);
    let oebb_dir = site.worker_dir("ow", "caches-oebb", &server);

    let master = site.master();
    std::fs::create_dir_all(master.join("buildouts")).unwrap();
    let (worker_port, web_port) = (free_port(), free_port());
    std::fs::write(
        master.join("oebb.cfg"),
        format!(
            "[master]\nworker-address = 127.0.0.1:{worker_port}\n\
             web-address = 127.0.0.1:{web_port}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        master.join("slaves.cfg"),
        format!(
            "{}{}",
            openerp7_support::worker_section(
                "stock",
                "s3cret",
                "15",
                &setup::host_port(&pg1),
                &python
            ),
            openerp7_support::worker_section(
                "ow",
                "s3cret",
                "16",
                &setup::host_port(&pg2),
                &python
            ),
        ),
    )
    .unwrap();
    std::fs::write(
        master.join("buildouts/MANIFEST.cfg"),
        openerp7_support::manifest(),
    )
    .unwrap();
    std::fs::write(
        master.join("buildouts/openerp7.cfg"),
        openerp7_support::buildout_cfg(&addons, &deps.join("find-links")),
    )
    .unwrap();

    let _master = Killed::spawn(
        Command::new(env!("CARGO_BIN_EXE_oebb")).args(["master", master.to_str().unwrap()]),
        "oebb master",
        site.root.path().join("master.log"),
    );
    wait_for_master(&master);
    let address = format!("127.0.0.1:{worker_port}");
    let mut stock = stock_worker(&site, &stock_dir, &address, "s3cret");
    let mut ow = oebb_worker(&site, &oebb_dir, &address, "s3cret");
    std::thread::sleep(Duration::from_secs(2));
    check_alive(&mut [("stock", &mut stock), ("ow", &mut ow)]);

    let builders: Vec<String> = openerp7_support::SECTIONS
        .iter()
        .flat_map(|(s, _)| [format!("{s}-pg15"), format!("{s}-pg16")])
        .collect();
    let builds = force_all(&master, &builders);
    // Every build is judged before the test fails, so one run shows every wrong one.
    let mut wrong = Vec::new();
    for b in &builds {
        keep_log(&master, b);
        let expected_worker = if b.builder.ends_with("pg15") {
            "stock"
        } else {
            "ow"
        };
        let expected = if b.builder.starts_with("clean") {
            "success"
        } else {
            "failure"
        };
        if b.worker != expected_worker || b.result != expected {
            wrong.push(format!(
                "{} expected {expected} on {expected_worker}:\n{}",
                b.builder,
                explain(&master, b)
            ));
            continue;
        }
        let analyze = log(&master, &b.build, "analyze");
        wrong.extend(check_findings(&b.builder, &analyze));
        wrong.extend(check_first_cause(b));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    let templates = check_templates(&master, &builds);

    // The second build of an unchanged buildout skips the buildout run and gives the same
    // verdict, green and red, on both kinds of worker.
    let again: Vec<String> = ["clean-pg15", "clean-pg16", "tests-pg15"]
        .map(String::from)
        .to_vec();
    for b in force_all(&master, &again) {
        let expected = if b.builder.starts_with("clean") {
            "success"
        } else {
            "failure"
        };
        assert_eq!(b.result, expected, "{}", explain(&master, &b));
        let (name, how) = template_of(&master, &b).unwrap();
        assert_eq!(
            (name.as_str(), how),
            (templates[&b.builder].as_str(), "used")
        );
        let buildout = log(&master, &b.build, "buildout");
        assert!(
            buildout.contains("nothing buildout reads changed since the successful run of build"),
            "{}: the buildout ran again:\n{buildout}",
            b.builder
        );
    }

    // A template that lost its completion comment is broken: made again, then used.
    let pg15_template = &templates["clean-pg15"];
    let status = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &pg1, "-c"])
        .arg(format!("COMMENT ON DATABASE \"{pg15_template}\" IS NULL"))
        .status()
        .unwrap();
    assert!(status.success());

    // An edit of the buildout file runs it again, and it finds every egg in the worker's cache.
    let cfg = master.join("buildouts/openerp7.cfg");
    let edited = std::fs::read_to_string(&cfg).unwrap() + "# an edit\n";
    std::fs::write(&cfg, edited).unwrap();
    for again in force_all(&master, &["clean-pg15".into(), "clean-pg16".into()]) {
        assert_eq!(again.result, "success", "{}", explain(&master, &again));
        let (name, how) = template_of(&master, &again).unwrap();
        let expected = if again.builder == "clean-pg15" {
            "made"
        } else {
            "used"
        };
        assert_eq!(
            (name.as_str(), how),
            (templates[&again.builder].as_str(), expected)
        );
        let buildout = log(&master, &again.build, "buildout");
        assert!(
            !buildout.contains("nothing buildout reads changed"),
            "{}: the edited buildout was skipped:\n{buildout}",
            again.builder
        );
        for download in ["Getting distribution for", "Downloading", "Download error"] {
            assert!(
                !buildout.contains(download),
                "{}: the second buildout downloaded ({download}):\n{buildout}",
                again.builder
            );
        }
    }
}

/// The template the build's `createdb` step used and whether it `made` it or `used` it; None
/// when it made the testing database without one.
fn template_of(master: &Path, b: &Forced) -> Option<(String, &'static str)> {
    let text = log(master, &b.build, "createdb");
    // The step's output, not its script (the log starts with the script, `$tpl` and all).
    let name = text
        .lines()
        .filter(|l| l.starts_with("cluster ") && !l.contains('$'))
        .find_map(|l| l.split_once(": template ")?.1.split_whitespace().next())?
        .to_string();
    let how = if text.contains(&format!("template {name} made and used")) {
        "made"
    } else if text.contains(&format!("template {name} used")) {
        "used"
    } else {
        panic!(
            "{}: template {name} neither made nor used:\n{text}",
            b.builder
        )
    };
    Some((name, how))
}

/// The builders of [`openerp7_support::TEMPLATE_CACHED`] sections used a template, the same
/// for both builders of a cluster (one made it, or an earlier run did), another on each
/// cluster; the others used none. Returns each builder's template.
fn check_templates(master: &Path, builds: &[Forced]) -> std::collections::BTreeMap<String, String> {
    let mut templates = std::collections::BTreeMap::new();
    for b in builds {
        let section = b.builder.split('-').next().unwrap();
        let template = template_of(master, b);
        if !openerp7_support::TEMPLATE_CACHED.contains(&section) {
            assert!(template.is_none(), "{}: {template:?}", b.builder);
            continue;
        }
        let (name, _) = template.unwrap_or_else(|| panic!("{}: no template", b.builder));
        assert!(name.starts_with("oebbtpl_"), "{name}");
        templates.insert(b.builder.clone(), name);
    }
    for pg in ["pg15", "pg16"] {
        let names: Vec<&String> = templates
            .iter()
            .filter(|(b, _)| b.ends_with(pg))
            .map(|(_, n)| n)
            .collect();
        assert!(
            names.len() == 2 && names[0] == names[1],
            "{pg}: {templates:?}"
        );
    }
    // Another cluster: never the same template.
    assert_ne!(templates["clean-pg15"], templates["clean-pg16"]);
    templates
}

/// With `OEBB_TEST_KEEP_LOGS=DIR`, copies the server log of the build there (how the logs of
/// `fixtures/odoo-logs/openerp-7.0-*` were made).
fn keep_log(master: &Path, b: &Forced) {
    if let Some(dir) = std::env::var_os("OEBB_TEST_KEEP_LOGS") {
        let from = master.join(format!("builds/{}/analyze/test.log", b.build));
        let to = Path::new(&dir).join(format!("{}.log", b.builder));
        std::fs::create_dir_all(&dir).unwrap();
        if let Err(e) = std::fs::copy(&from, &to) {
            eprintln!("keeping {}: {e}", from.display());
        }
    }
}

/// The first cause `oebb force --wait` prints for a red variant (the build's first finding)
/// names the real cause itself, not a status word or a summary that restates it.
fn check_first_cause(b: &Forced) -> Option<String> {
    let section = b.builder.split('-').next().unwrap();
    let needles: &[&str] = match section {
        "clean" => return None,
        "tests" => &["FAIL: test_counts_of_thing_one (", "): AssertionError: {"],
        "data" => &["ValueError: ci_data: thing one counts 4, not 3"],
        "import" => &["ci_import: No module named ci_no_such_module"],
        other => panic!("no expectations for {other}"),
    };
    let first = b.stdout.lines().find(|l| l.starts_with("cause: "));
    match first {
        Some(line) if needles.iter().all(|n| line.contains(n)) => None,
        _ => Some(format!(
            "{}: the first cause does not say {needles:?}:\n{}",
            b.builder, b.stdout
        )),
    }
}

/// The findings of each variant's analysis name its real cause: what it misses.
fn check_findings(builder: &str, analyze: &str) -> Option<String> {
    let section = builder.split('-').next().unwrap();
    let needles: &[&str] = match section {
        "clean" => &["PASS"],
        "tests" => &[
            "test_counts_of_thing_one",
            "AssertionError",
            "!= {",
            "thing one counts 5",
        ],
        "data" => &["ValueError: ci_data: thing one counts 4, not 3"],
        "import" => &["ci_import", "No module named ci_no_such_module"],
        other => panic!("no expectations for {other}"),
    };
    let missing: Vec<&&str> = needles.iter().filter(|n| !analyze.contains(**n)).collect();
    (!missing.is_empty())
        .then(|| format!("{builder}: the analysis does not say {missing:?}:\n{analyze}"))
}
