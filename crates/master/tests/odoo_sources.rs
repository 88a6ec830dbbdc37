//! Buildouts fetched from real repositories through the master: git (plain, `subdir=`, shallow and a tag
//! given by the force's `buildout-tag`), Mercurial (a branch and a tag) and Breezy repositories made by the test on local paths, each holding the
//! stand-in Odoo as a develop egg; every build goes green end to end on the first test cluster.
//! (Updates of existing checkouts, with upstream commits and local changes, are tested on the
//! checkout scripts themselves: crates/recipe/tests/checkout_scripts.rs.)
//!
//! Needs `git`, `hg` (Mercurial) and `brz` (Breezy): `scripts/install-test-deps` installs them.

mod common;

use std::path::Path;

use common::databases::Db;
use common::odoo::{self, Cluster, ODOO_BUILD_TIMEOUT};
use common::tester::MasterTester;
use oebb_master::Results;
use oebb_testkit::run_vcs as run;

/// Writes the stand-in's buildout into `dir`, developing `dir/fake_odoo` (relative path).
fn write_buildout(dir: &Path) {
    odoo::copy_sources(&dir.join("fake_odoo"));
    std::fs::write(dir.join("buildout.cfg"), odoo::buildout_cfg("fake_odoo")).unwrap();
}

/// Buildout's own files, ignored by every VCS: a checkout update must keep them.
const IGNORED: &str = "bin\nparts\ndevelop-eggs\neggs\n.installed.cfg\n*.egg-info\n__pycache__\n";

/// Makes the repositories under `root`; returns the MANIFEST sections using them.
fn repositories(root: &Path) -> String {
    let git = root.join("git-repo");
    std::fs::create_dir_all(&git).unwrap();
    write_buildout(&git);
    write_buildout(&git.join("deploy"));
    std::fs::write(git.join(".gitignore"), IGNORED).unwrap();
    run(&git, "git", &["init", "-q", "-b", "main"]);
    run(&git, "git", &["add", "."]);
    run(&git, "git", &["commit", "-q", "-m", "the buildout"]);
    // A second commit, so a shallow clone has history to leave out.
    std::fs::write(git.join("README"), "the buildout of the tests\n").unwrap();
    run(&git, "git", &["add", "README"]);
    run(&git, "git", &["commit", "-q", "-m", "a readme"]);

    let hg = root.join("hg-repo");
    std::fs::create_dir_all(&hg).unwrap();
    write_buildout(&hg);
    std::fs::write(hg.join(".hgignore"), format!("syntax: glob\n{IGNORED}")).unwrap();
    run(&hg, "hg", &["init"]);
    run(&hg, "hg", &["add", "-q"]);
    run(
        &hg,
        "hg",
        &["commit", "-q", "-u", "oebb test", "-m", "the buildout"],
    );

    let bzr = root.join("bzr-branch");
    std::fs::create_dir_all(&bzr).unwrap();
    write_buildout(&bzr);
    std::fs::write(bzr.join(".bzrignore"), IGNORED).unwrap();
    run(&bzr, "brz", &["init", "-q"]);
    run(&bzr, "brz", &["add", "-q"]);
    run(&bzr, "brz", &["commit", "-q", "-m", "the buildout"]);

    // A tag whose buildout works, then a commit on the branch whose buildout cannot run: the
    // build of the tag goes green only if it checked the tag out.
    let tagged = root.join("git-tag-repo");
    std::fs::create_dir_all(&tagged).unwrap();
    write_buildout(&tagged);
    std::fs::write(tagged.join(".gitignore"), IGNORED).unwrap();
    run(&tagged, "git", &["init", "-q", "-b", "main"]);
    run(&tagged, "git", &["add", "."]);
    run(&tagged, "git", &["commit", "-q", "-m", "release 1"]);
    run(&tagged, "git", &["tag", "v1"]);
    std::fs::write(
        tagged.join("buildout.cfg"),
        "[buildout]\nparts = broken\n[broken]\nrecipe = no.such.recipe\n",
    )
    .unwrap();
    run(
        &tagged,
        "git",
        &["commit", "-q", "-a", "-m", "work in progress"],
    );

    // The same with Mercurial, whose tag is a commit of its own (.hgtags) after the tagged one.
    let hg_tagged = root.join("hg-tag-repo");
    std::fs::create_dir_all(&hg_tagged).unwrap();
    write_buildout(&hg_tagged);
    std::fs::write(
        hg_tagged.join(".hgignore"),
        format!("syntax: glob\n{IGNORED}"),
    )
    .unwrap();
    let hg_commit = |message: &str| {
        run(
            &hg_tagged,
            "hg",
            &["commit", "-q", "-u", "oebb test", "-m", message],
        );
    };
    run(&hg_tagged, "hg", &["init"]);
    run(&hg_tagged, "hg", &["add", "-q"]);
    hg_commit("release 1");
    run(&hg_tagged, "hg", &["tag", "-u", "oebb test", "v1"]);
    std::fs::copy(tagged.join("buildout.cfg"), hg_tagged.join("buildout.cfg")).unwrap();
    hg_commit("work in progress");

    let common = "build-for = postgresql == 15\nopenerp-addons = passing\nodoo.version = 16.0\n";
    format!(
        "[src-git]\nbuildout = git file://{git} main buildout.cfg\n{common}\
         [src-git-subdir]\nbuildout = git {git} main buildout.cfg subdir=deploy\n{common}\
         [src-git-shallow]\nbuildout = git file://{git} main buildout.cfg\ngit-shallow = true\n{common}\
         [src-gittag]\nbuildout = gittag {tagged} buildout.cfg\n{common}\
         [src-hg]\nbuildout = hg {hg} default buildout.cfg\n{common}\
         [src-hgtag]\nbuildout = hgtag {hg_tagged} buildout.cfg\n{common}\
         [src-bzr]\nbuildout = bzr {bzr} buildout.cfg\n{common}",
        git = git.display(),
        tagged = tagged.display(),
        hg = hg.display(),
        hg_tagged = hg_tagged.display(),
        bzr = bzr.display(),
    )
}

const BUILDERS: [&str; 7] = [
    "src-git-pg15",
    "src-git-subdir-pg15",
    "src-git-shallow-pg15",
    "src-gittag-pg15",
    "src-hg-pg15",
    "src-hgtag-pg15",
    "src-bzr-pg15",
];

/// What a force of `builder` sets: the tag to build for the gittag and hgtag buildouts.
fn properties(builder: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut properties = serde_json::Map::new();
    if builder.contains("tag") {
        properties.insert("buildout-tag".into(), "v1".into());
    }
    properties
}

/// Forces `builders` at once and checks that each goes green through every step, with the
/// stand-in's table in its own test database.
async fn build_green(t: &MasterTester, cluster: &Cluster, builders: &[&str]) {
    let mut requests = Vec::new();
    for builder in builders {
        let forced = t.master.force_with(builder, "test", properties(builder));
        requests.push(forced.await.unwrap());
    }
    for (request, builder) in requests.into_iter().zip(builders.iter().copied()) {
        let (done, builds) = t.wait_for(request, ODOO_BUILD_TIMEOUT).await;
        let build = builds[0].id;
        let expected: Vec<_> = odoo::default_steps("checkout")
            .iter()
            .map(|s| (s.to_string(), Some(Results::Success)))
            .collect();
        assert_eq!(
            odoo::results(t, build).await,
            expected,
            "{builder}:\n{}",
            odoo::explain(t, build).await
        );
        assert_eq!(done.result, Some(Results::Success), "{builder}");
        let test = t.log(build, "test").await;
        let db = format!("oebb-{builder}");
        assert!(
            test.contains(&format!(
                "fake_odoo: table fake_odoo_module in {db} port {}: passing",
                cluster.port
            )),
            "{builder}: {test}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_hg_and_bzr_buildouts_go_green() {
    let cluster = Cluster::first();
    let repos = tempfile::tempdir().unwrap();
    let manifest = repositories(repos.path());
    let mut t = MasterTester::start_with_recipe(Db::Sqlite, |dir| {
        std::fs::write(
            dir.join("slaves.cfg"),
            format!(
                "[ow]\npassword = pw\nmax_builds = 7\ncapability = postgresql 15 {}\n",
                cluster.capability_options()
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("buildouts")).unwrap();
        std::fs::write(dir.join("buildouts/MANIFEST.cfg"), &manifest).unwrap();
    })
    .await;
    t.connect_oebb_worker("ow", "pw").await;

    build_green(&t, &cluster, &BUILDERS).await;

    // Each buildout sits where its VCS put it; `subdir=` links `build` into the clone.
    let worker = t.scratch.path().join("oebb-ow-0");
    for (builder, metadata) in [
        ("src-git-pg15/build/.git", true),
        ("src-hg-pg15/build/.hg", true),
        ("src-bzr-pg15/build/.bzr", true),
        ("src-git-subdir-pg15/git_buildout_repo/.git", true),
        ("src-gittag-pg15/build/.git", true),
    ] {
        assert_eq!(worker.join(builder).is_dir(), metadata, "{builder}");
    }
    let rev_parse = |dir: &Path, rev: &str| {
        let out = std::process::Command::new("git")
            .args(["rev-parse", rev])
            .current_dir(dir)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let shallow = worker.join("src-git-shallow-pg15/build");
    assert_eq!(rev_parse(&shallow, "--is-shallow-repository"), "true\n");
    assert_eq!(
        rev_parse(&shallow, "HEAD"),
        rev_parse(&repos.path().join("git-repo"), "main")
    );
    assert_eq!(
        rev_parse(
            &worker.join("src-git-pg15/build"),
            "--is-shallow-repository"
        ),
        "false\n"
    );
    assert_eq!(
        rev_parse(&worker.join("src-gittag-pg15/build"), "HEAD"),
        rev_parse(&repos.path().join("git-tag-repo"), "v1^{commit}"),
        "the gittag build checked out the tag v1"
    );
    let hg_head = |dir: &Path, rev: &str| {
        let out = std::process::Command::new("hg")
            .args(["log", "-r", rev, "--template", "{node}"])
            .current_dir(dir)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        hg_head(&worker.join("src-hgtag-pg15/build"), "."),
        hg_head(&repos.path().join("hg-tag-repo"), "v1"),
        "the hgtag build checked out the tag v1"
    );
    let link = std::fs::read_link(worker.join("src-git-subdir-pg15/build")).unwrap();
    assert_eq!(link, Path::new("git_buildout_repo/deploy"));
    assert!(worker
        .join("src-git-subdir-pg15/build/bin/test_openerp")
        .is_file());
}
