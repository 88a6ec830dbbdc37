//! The checkout steps run for real with git, Mercurial and Breezy on local repositories: a first
//! checkout, then an update after upstream commits and local changes leaves the upstream state,
//! keeps buildout's own directories, and tag builds check their tag.
//!
//! Needs `git`, `hg` (Mercurial) and `brz` (Breezy) on PATH; on Debian:
//! `apt-get install git mercurial brz`.

use oebb_config::build_matrix;
use oebb_config::buildout::parse_manifest;
use oebb_config::ini::Ini;
use oebb_config::worker::parse_workers;
use oebb_recipe::step::StepCommand;
use oebb_recipe::{build_steps, BuildInput};
use oebb_testkit::run_vcs as run;
use std::path::Path;
use std::process::Command;

fn need(tool: &str, package: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{tool}` is needed by this test; install it (Debian: apt-get install {package})"
    );
}

/// The `checkout` step of `buildout = <source>`, run in `builder_dir` with the build property
/// `buildout-tag` set to `tag`; returns whether it succeeded.
fn checkout(source: &str, builder_dir: &Path, tag: &str) -> bool {
    let (ini, _) = Ini::parse_bytes(
        Path::new("/m/buildouts/MANIFEST.cfg"),
        format!("[b]\nbuildout = {source}\n").as_bytes(),
    );
    let (buildouts, errors, _) = parse_manifest(&ini);
    assert!(errors.is_empty(), "{errors:?}");
    let (ini, _) = Ini::parse_bytes(Path::new("/m/slaves.cfg"), b"[w]\npassword = x\n");
    let (workers, _) = parse_workers(&ini);
    let (matrix, _) = build_matrix(&buildouts, &workers);
    let steps = build_steps(&BuildInput {
        buildout: &buildouts[0],
        builder: &matrix.builders[0],
        worker: &workers[0],
        extends: &[],
        live_sources: &[],
    })
    .unwrap();
    let step = steps.iter().find(|s| s.name == "checkout").unwrap();
    assert_eq!(step.workdir, ".");
    let StepCommand::Script(script) = &step.command else {
        panic!("{:?}", step.command)
    };
    std::fs::create_dir_all(builder_dir).unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).current_dir(builder_dir);
    for (k, v) in &step.env {
        cmd.env(k, v.replace("%(prop:buildout-tag)s", tag));
    }
    let out = cmd.output().unwrap();
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    out.status.success()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// Dirties a checkout: a local change, an untracked file, and buildout state to keep.
fn dirty(build: &Path) {
    let cfg = build.join("b.cfg");
    std::fs::write(&cfg, read(&cfg) + "# local change\n").unwrap();
    std::fs::write(build.join("junk"), "x").unwrap();
    std::fs::create_dir_all(build.join("parts")).unwrap();
    std::fs::write(build.join("parts/kept"), "x").unwrap();
}

fn assert_clean_update(build: &Path, expected: &str) {
    assert_eq!(read(&build.join("b.cfg")), expected);
    assert!(!build.join("junk").exists(), "untracked file left behind");
    assert!(
        build.join("parts/kept").exists(),
        "buildout's parts removed"
    );
}

#[test]
fn git_checkout_then_update_and_subdir_and_tag() {
    need("git", "git");
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(repo.join("ci")).unwrap();
    run(&repo, "git", &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("b.cfg"), "[buildout]\n").unwrap();
    std::fs::write(repo.join("ci/b.cfg"), "[buildout]\n").unwrap();
    run(&repo, "git", &["add", "."]);
    run(&repo, "git", &["commit", "-qm", "1"]);
    run(&repo, "git", &["tag", "v1"]);
    let url = repo.to_str().unwrap();

    let builder = tmp.path().join("plain");
    assert!(checkout(&format!("git {url} main b.cfg"), &builder, ""));
    dirty(&builder.join("build"));
    std::fs::write(repo.join("b.cfg"), "[buildout]\n# 2\n").unwrap();
    run(&repo, "git", &["commit", "-qam", "2"]);
    assert!(checkout(&format!("git {url} main b.cfg"), &builder, ""));
    assert_clean_update(&builder.join("build"), "[buildout]\n# 2\n");

    let sub = tmp.path().join("sub");
    std::fs::create_dir_all(sub.join("build")).unwrap();
    assert!(checkout(
        &format!("git {url} main b.cfg subdir=ci"),
        &sub,
        ""
    ));
    assert!(sub.join("build").is_symlink());
    dirty(&sub.join("build"));
    assert!(checkout(
        &format!("git {url} main b.cfg subdir=ci"),
        &sub,
        ""
    ));
    assert_clean_update(&sub.join("build"), "[buildout]\n");

    let tagged = tmp.path().join("tagged");
    assert!(
        !checkout(&format!("gittag {url} b.cfg"), &tagged, ""),
        "no tag given"
    );
    assert!(checkout(&format!("gittag {url} b.cfg"), &tagged, "v1"));
    assert_eq!(read(&tagged.join("build/b.cfg")), "[buildout]\n");
    assert!(!checkout(&format!("gittag {url} b.cfg"), &tagged, "v9"));
}

#[test]
fn hg_checkout_then_update_and_tag() {
    need("hg", "mercurial");
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    run(&repo, "hg", &["init"]);
    std::fs::write(repo.join("b.cfg"), "[buildout]\n").unwrap();
    run(&repo, "hg", &["add", "b.cfg"]);
    run(&repo, "hg", &["commit", "-u", "t", "-m", "1"]);
    run(&repo, "hg", &["tag", "-u", "t", "v1"]);
    let url = repo.to_str().unwrap();

    let builder = tmp.path().join("plain");
    assert!(checkout(&format!("hg {url} default b.cfg"), &builder, ""));
    dirty(&builder.join("build"));
    std::fs::write(repo.join("b.cfg"), "[buildout]\n# 2\n").unwrap();
    run(&repo, "hg", &["commit", "-u", "t", "-m", "2"]);
    assert!(checkout(&format!("hg {url} default b.cfg"), &builder, ""));
    assert_clean_update(&builder.join("build"), "[buildout]\n# 2\n");

    let tagged = tmp.path().join("tagged");
    assert!(
        !checkout(&format!("hgtag {url} b.cfg"), &tagged, ""),
        "no tag given"
    );
    assert!(checkout(&format!("hgtag {url} b.cfg"), &tagged, "v1"));
    assert_eq!(read(&tagged.join("build/b.cfg")), "[buildout]\n");
    assert!(
        !checkout(&format!("hgtag {url} b.cfg"), &tagged, "tip"),
        "tip is no release"
    );
    assert!(
        !checkout(&format!("hgtag {url} b.cfg"), &tagged, "0"),
        "a revision is no tag"
    );
}

#[test]
fn bzr_checkout_then_update_and_subdir() {
    need("brz", "brz");
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(repo.join("ci")).unwrap();
    run(&repo, "brz", &["init", "-q"]);
    std::fs::write(repo.join("b.cfg"), "[buildout]\n").unwrap();
    std::fs::write(repo.join("ci/c.cfg"), "[buildout]\n").unwrap();
    // Breezy's clean-tree keeps ignored files only: buildout state must be ignored.
    std::fs::write(repo.join(".bzrignore"), "parts\nbin\n").unwrap();
    run(&repo, "brz", &["add", "-q"]);
    run(&repo, "brz", &["commit", "-q", "-m", "1"]);
    let url = repo.to_str().unwrap();

    let builder = tmp.path().join("plain");
    assert!(checkout(&format!("bzr {url} b.cfg"), &builder, ""));
    dirty(&builder.join("build"));
    std::fs::write(repo.join("b.cfg"), "[buildout]\n# 2\n").unwrap();
    run(&repo, "brz", &["commit", "-q", "-m", "2"]);
    assert!(checkout(&format!("bzr {url} b.cfg"), &builder, ""));
    assert_clean_update(&builder.join("build"), "[buildout]\n# 2\n");

    let sub = tmp.path().join("sub");
    std::fs::create_dir_all(sub.join("build")).unwrap();
    assert!(checkout(&format!("bzr {url} c.cfg subdir=ci"), &sub, ""));
    assert!(sub.join("build").is_symlink());
    assert_eq!(read(&sub.join("build/c.cfg")), "[buildout]\n");
}
