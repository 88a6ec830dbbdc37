//! No build property reaches the file system outside its root (issue 11): a forced property
//! that a builder's steps put in a path must be one name (400 at force, nothing stored), and the
//! same value arriving while the build runs fails the step that would use it, with nothing on
//! the master or the worker touched. The steps are the real recipe's (`doc`, `packaging`,
//! `buildout = archive`), run by the real master with a real worker.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use common::browser::Browser;
use common::databases::Db;
use common::tester::{MasterTester, BUILD_TIMEOUT};
use oebb_master::{ForceError, Results, Step, StepCommand};
use serde_json::{json, Map, Value};

/// Values of `buildout-tag` that are not one name: each would lead an upload elsewhere.
const BAD: &[&str] = &["../../..", "..", "", "a/b", "/abs", ".", "x\u{0}y"];

/// The manifest of the builders under attack: documentation uploaded under `public_html/doc`,
/// release archives uploaded under `releases`, and a buildout read from such an archive.
const MANIFEST: &str = "\
[docs]
buildout = standalone docs.cfg
post-buildout-steps = doc
doc.upload-dir = proj

[release]
buildout = standalone release.cfg
post-buildout-steps = packaging
packaging.prefix = shop
packaging.upload-dir = shop
packaging.root-dir = releases
packaging.base-url = http://dl.example.com

[fromarchive]
buildout = archive sub arch release.cfg
post-buildout-steps =
";

/// Writes the workers, the manifest, and what an attack would destroy or read: an earlier
/// documentation version, an earlier release, and an archive outside `packaging.root-dir`.
fn write_master(dir: &Path) {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("slaves.cfg", "[w]\npassword = pw\n");
    // Archives are read where the configuration says, here the master's `releases`.
    let root = dir.join("releases");
    let manifest = format!("{MANIFEST}packaging.root-dir = {}\n", root.display());
    write("buildouts/MANIFEST.cfg", &manifest);
    write("buildouts/docs.cfg", "[buildout]\nparts =\n");
    write("buildouts/release.cfg", "[buildout]\nparts =\n");
    write("public_html/doc/proj/1.0/index.html", "version 1.0\n");
    write("releases/shop/shop-1.0.tar.bz2", "release 1.0\n");
    write("secret.tar.bz2", "not for workers\n");
}

/// Every file and directory under `dir`, with each file's content; the state database only by
/// name, since every build writes to it.
fn listing(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(dir).unwrap().to_path_buf();
            if path.is_dir() {
                todo.push(path);
                out.insert(name, None);
            } else if name.to_string_lossy().starts_with("state.sqlite") {
                out.insert(name, None);
            } else {
                out.insert(name, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

/// The real recipe's step `name` of `builder`.
fn recipe_step(config: &oebb_config::MasterConfig, builder: &str, name: &str) -> Step {
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let steps = oebb_recipe::steps_for(config, builder, None, read).unwrap();
    steps
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{builder} has no step {name}"))
}

fn token_header(t: &MasterTester) -> String {
    let token = std::fs::read_to_string(t.dir.path().join(".oebb-api-token")).unwrap();
    format!("Authorization: Bearer {}\r\n", token.trim())
}

fn properties(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect()
}

/// `[users]` of `oebb.cfg` with `alice`, password `s3cret`.
fn users_section() -> String {
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default()
        .hash_password(b"s3cret", &salt)
        .unwrap();
    format!("\n[users]\nalice = {hash}\n")
}

async fn log_in(browser: &mut Browser) {
    let csrf = browser.get("/login").await.csrf();
    let fields = [("user", "alice"), ("password", "s3cret"), ("csrf", &csrf)];
    let answer = browser.post_form("/login", &fields).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
}

async fn forcing_a_path_property_that_is_no_name_is_refused_and_stores_nothing(db: Db) {
    // No worker connects: whatever is stored stays queued, where it can be seen.
    let t = MasterTester::start_with_recipe(db, |dir| {
        write_master(dir);
        let settings = std::fs::read_to_string(dir.join("oebb.cfg")).unwrap();
        std::fs::write(dir.join("oebb.cfg"), settings + &users_section()).unwrap();
    })
    .await;
    let before = listing(t.dir.path());
    let mut api = Browser::new(t.master.web_address());
    let auth = token_header(&t);
    let attempts = BAD
        .iter()
        .flat_map(|bad| {
            [
                ("docs", "buildout-tag", *bad),
                ("release", "buildout-tag", *bad),
                ("fromarchive", "sub", *bad),
                ("fromarchive", "arch", *bad),
            ]
        })
        .collect::<Vec<_>>();
    for (builder, property, bad) in attempts {
        let body = json!({ "properties": { property: bad } }).to_string();
        let path = format!("/api/builders/{builder}/force");
        let answer = api.request("POST", &path, &auth, &body).await;
        assert_eq!(
            answer.status, 400,
            "{builder} {property}={bad:?}: {}",
            answer.body
        );
        let message = serde_json::from_str::<Value>(&answer.body).unwrap()["error"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            message.starts_with(&format!(
                "build property `{property}` = `{}` cannot be used in a path: it ",
                bad.escape_debug()
            )),
            "{message}"
        );
        let forced = t
            .master
            .force_with(builder, "attack", properties(&[(property, bad)]))
            .await;
        assert!(
            matches!(forced, Err(ForceError::BadProperty(_))),
            "{builder} {bad:?}: {forced:?}"
        );
    }
    // The force form (which leaves out empty fields) and its page say why.
    let mut alice = Browser::new(t.master.web_address());
    log_in(&mut alice).await;
    for bad in BAD.iter().filter(|b| !b.is_empty()) {
        let csrf = alice.get("/builders/docs").await.csrf();
        let fields = [("csrf", csrf.as_str()), ("buildout-tag", bad)];
        let answer = alice.post_form("/builders/docs/force", &fields).await;
        assert_eq!(answer.status, 400, "{bad:?}: {}", answer.body);
        assert!(
            answer.body.contains("cannot be used in a path"),
            "{}",
            answer.body
        );
    }
    let queued = t.store().queued_build_requests().await.unwrap();
    assert!(queued.is_empty(), "nothing is stored: {queued:?}");
    // A property that only reaches a command is not a path: a git tag may hold a `/`.
    let answer = api
        .request(
            "POST",
            "/api/builders/docs/force",
            &auth,
            r#"{"properties":{"buildout-tag":"1.1","branch":"feature/x"}}"#,
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(t.store().queued_build_requests().await.unwrap().len(), 1);
    assert_eq!(
        listing(t.dir.path()),
        before,
        "the master directory is untouched"
    );
}

/// The steps of each builder: the value of the forced property `value` (which is in no path,
/// so the force is accepted) becomes the property a real recipe step puts in a path, set by a
/// worker's output or by a step on the master, then that recipe step runs.
fn attack_steps(config: &oebb_config::MasterConfig, builder: &str) -> Vec<Step> {
    let from_worker = |property: &str| {
        Step::script("set_property", "printf '%s\\n' \"$VALUE\"")
            .workdir(".")
            .env("VALUE", "%(prop:value)s")
            .property_from_stdout(property)
            .halt_on_failure(true)
    };
    let on_master = |property: &str| {
        let values = BTreeMap::from([(property.to_string(), "%(prop:value)s".to_string())]);
        Step::new("set_property", StepCommand::SetProperties(values)).halt_on_failure(true)
    };
    match builder {
        "docs" => vec![
            from_worker("buildout-tag"),
            Step::script(
                "sphinx",
                "mkdir -p doc/_build/html && echo new > doc/_build/html/index.html",
            )
            .workdir("build"),
            recipe_step(config, "docs", "upload_doc"),
        ],
        "release" => vec![
            on_master("buildout-tag"),
            Step::script(
                "dist",
                "mkdir -p dist && printf x > \"dist/shop-$VALUE.tar.bz2\" || true",
            )
            .workdir(".")
            .env("VALUE", "%(prop:value)s"),
            recipe_step(config, "release", "upload_archive"),
        ],
        _ => vec![
            on_master("sub"),
            Step::new(
                "arch",
                StepCommand::SetProperties(BTreeMap::from([(
                    "arch".to_string(),
                    "secret".to_string(),
                )])),
            ),
            recipe_step(config, "fromarchive", "download_archive"),
        ],
    }
}

async fn a_path_property_set_while_the_build_runs_fails_the_step_and_touches_nothing(db: Db) {
    let mut t = MasterTester::start_with_recipe(db, write_master).await;
    // The same master, with the attack's steps instead of the whole recipe.
    let config = oebb_config::load(t.dir.path(), &Default::default()).unwrap();
    let mut options = oebb_master::MasterOptions::for_config(&config);
    let steps: BTreeMap<String, Vec<Step>> = ["docs", "release", "fromarchive"]
        .into_iter()
        .map(|b| (b.to_string(), attack_steps(&config, b)))
        .collect();
    options.steps = std::sync::Arc::new(move |_, b, _| steps[b.name.as_str()].clone());
    t.master = restart(t.master, &config, options).await;
    t.connect_oebb_worker("w", "pw").await;

    // A good value is uploaded where it belongs, beside the earlier version.
    let (request, build) = force(&t, "docs", "1.1").await;
    assert_eq!(
        request,
        Some(Results::Success),
        "{:?}",
        t.steps(build).await
    );
    let page = t.path("public_html/doc/proj/1.1/index.html");
    assert_eq!(std::fs::read_to_string(page).unwrap(), "new\n");

    let before = listing(t.dir.path());
    let worker_before = listing(t.scratch.path());
    for builder in ["docs", "release", "fromarchive"] {
        for bad in BAD.iter().filter(|b| !b.contains('\0')) {
            let (request, build) = force(&t, builder, bad).await;
            let steps = t.steps(build).await;
            assert_eq!(
                request,
                Some(Results::Exception),
                "{builder} {bad:?}: {steps:?}"
            );
            let (name, result, text) = steps.last().unwrap();
            let property = if builder == "fromarchive" {
                "sub"
            } else {
                "buildout-tag"
            };
            let expected = format!(
                "refused: build property `{property}` = `{bad}` cannot be used in a path: it "
            );
            assert_eq!(
                *result,
                Some(Results::Exception),
                "{builder} {bad:?} {name}"
            );
            assert!(text.starts_with(&expected), "{builder} {bad:?}: {text}");
            let log = t.log(build, name).await;
            assert!(log.starts_with(&expected), "{log}");
            assert!(log.ends_with("nothing was run\n"), "{log}");
        }
    }
    assert_eq!(
        listing(t.dir.path()),
        before,
        "the master directory is untouched"
    );
    let worker_after = listing(t.scratch.path());
    let received: Vec<_> = worker_after
        .keys()
        .filter(|p| !worker_before.contains_key(*p))
        .filter(|p| p.to_string_lossy().contains("secret"))
        .collect();
    assert!(received.is_empty(), "the worker got {received:?}");
}

/// Stops `master` and starts it again on the same directory with `options`.
async fn restart(
    master: oebb_master::Master,
    config: &oebb_config::MasterConfig,
    options: oebb_master::MasterOptions,
) -> oebb_master::Master {
    master.shutdown().await;
    oebb_master::Master::start(config, options).await.unwrap()
}

/// Forces `builder` with the property `value` and waits: the request's result and its build.
async fn force(
    t: &MasterTester,
    builder: &str,
    value: &str,
) -> (Option<Results>, oebb_master::BuildId) {
    let id = t
        .master
        .force_with(builder, "test", properties(&[("value", value)]))
        .await
        .unwrap();
    let (request, builds) = t.wait_for(id, BUILD_TIMEOUT).await;
    (request.result, builds[0].id)
}

crate::both_databases!(
    forcing_a_path_property_that_is_no_name_is_refused_and_stores_nothing,
    a_path_property_set_while_the_build_runs_fails_the_step_and_touches_nothing,
);
