//! Every `buildout` type, and updates that leave no local change behind.

use crate::step::StepCommand;
use crate::testutil::*;
use crate::{step::Step, RecipeError};
use std::path::PathBuf;

fn checkout(buildout: &str) -> Step {
    let steps = steps_of(&format!("buildout = {buildout}\n"));
    let s = step(&steps, "checkout").clone();
    assert_eq!(s.workdir, ".");
    assert!(s.halt_on_failure);
    s
}

#[test]
fn standalone_sends_the_file_and_what_it_extends_from_the_manifest_directory() {
    let f = fixture("[b]\nbuildout = standalone sub/odoo.cfg\n", WORKERS);
    let steps = f
        .steps("b", "w1", &["base.cfg".into(), "v/pins.cfg".into()])
        .unwrap();
    assert_eq!(
        names(&steps)[2..5],
        ["download", "download base.cfg", "download v/pins.cfg"]
    );
    let dl = |name: &str| match &step(&steps, name).command {
        StepCommand::Download { source, dest, .. } => (source.clone(), dest.clone()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        dl("download"),
        (
            PathBuf::from("/master/buildouts/sub/odoo.cfg"),
            "odoo.cfg".into()
        )
    );
    assert_eq!(
        dl("download v/pins.cfg"),
        (
            PathBuf::from("/master/buildouts/sub/v/pins.cfg"),
            "v/pins.cfg".into()
        )
    );
    assert!(step(&steps, "download base.cfg").halt_on_failure);
    assert!(text(step(&steps, "buildout")).starts_with("bin/buildout -c odoo.cfg "));
}

#[test]
fn git_fetches_the_branch_and_resets_without_local_changes() {
    let s = checkout("git https://h/r.git 16.0 buildouts/odoo.cfg");
    let t = text(&s);
    assert!(
        t.contains("if [ ! -d build/.git ]; then rm -rf build; git init -q build; fi"),
        "{t}"
    );
    assert!(
        t.contains("git fetch -q --force https://h/r.git 16.0\n"),
        "{t}"
    );
    assert!(t.contains("git checkout -q -f -B 16.0 FETCH_HEAD"), "{t}");
    assert!(t.contains("git clean -q -ffdx -e /bin -e /parts"), "{t}");
    assert!(!t.contains("ln -s"), "{t}");
    let steps = steps_of("buildout = git https://h/r.git 16.0 buildouts/odoo.cfg\n");
    assert!(text(step(&steps, "buildout")).starts_with("bin/buildout -c buildouts/odoo.cfg"));
}

#[test]
fn git_subdir_links_build_into_the_checkout() {
    let t = text(&checkout(
        "git https://h/r.git main b.cfg subdir=ci/buildout",
    ));
    assert!(t.contains("cd git_buildout_repo\n"), "{t}");
    assert!(t.contains("-e /ci/buildout/parts"), "{t}");
    assert!(t.contains("if [ -d build ] && [ ! -L build ]; then rm -rf build; fi\nln -sfn git_buildout_repo/ci/buildout build"), "{t}");
}

#[test]
fn git_shallow_fetches_one_commit() {
    let steps = steps_of("buildout = git https://h/r.git main b.cfg\ngit-shallow = true\n");
    assert!(text(step(&steps, "checkout")).contains("git fetch -q --force --depth 1 "));
}

#[test]
fn urls_and_branches_are_quoted_for_the_shell() {
    let t = text(&checkout("git https://h/r.git feature;rm b.cfg"));
    assert!(t.contains("'feature;rm'"), "{t}");
}

#[test]
fn hg_pulls_the_branch_updates_clean_and_purges() {
    let t = text(&checkout("hg https://h/r default odoo.cfg"));
    assert!(t.contains("hg init build"), "{t}");
    assert!(
        t.contains("hg pull -q -b default https://h/r\nhg update -q -C default"),
        "{t}"
    );
    assert!(
        t.contains("hg purge --config extensions.purge= --all -X path:bin -X path:parts"),
        "{t}"
    );
}

#[test]
fn hgtag_needs_the_buildout_tag_property_and_a_real_tag() {
    let s = checkout("hgtag https://h/r odoo.cfg");
    assert_eq!(s.env["BUILDOUT_TAG"], "%(prop:buildout-tag)s");
    let t = text(&s);
    assert!(t.contains("if [ -z \"$BUILDOUT_TAG\" ]"), "{t}");
    assert!(t.contains("is not a tag"), "{t}");
    assert!(t.contains("tip is not a release tag"), "{t}");
    assert!(t.contains("hg update -q -C \"$BUILDOUT_TAG\""), "{t}");
}

#[test]
fn gittag_checks_out_the_tag_of_the_property() {
    let s = checkout("gittag https://h/r.git odoo.cfg");
    assert_eq!(s.env["BUILDOUT_TAG"], "%(prop:buildout-tag)s");
    let t = text(&s);
    assert!(
        t.contains("\"refs/tags/$BUILDOUT_TAG:refs/tags/$BUILDOUT_TAG\""),
        "{t}"
    );
    assert!(
        t.contains("git checkout -q -f --detach \"refs/tags/$BUILDOUT_TAG\""),
        "{t}"
    );
    assert!(t.contains("git clean -q -ffdx"), "{t}");
}

#[test]
fn bzr_uses_breezy_or_bzr_and_reverts_before_pulling() {
    let t = text(&checkout("bzr lp:project odoo.cfg"));
    assert!(t.contains("command -v brz || command -v bzr"), "{t}");
    assert!(t.contains("\"$BZR\" branch -q lp:project build"), "{t}");
    assert!(
        t.contains("\"$BZR\" revert -q --no-backup\n  \"$BZR\" pull -q --overwrite lp:project"),
        "{t}"
    );
    assert!(
        t.contains("clean-tree -q --force --unknown --detritus"),
        "{t}"
    );
    let t = text(&checkout("bzr lp:project odoo.cfg subdir=ci"));
    assert!(
        t.contains("branch -q lp:project bzr_buildout_branch"),
        "{t}"
    );
    assert!(t.ends_with("ln -sfn bzr_buildout_branch/ci build\n"), "{t}");
}

#[test]
fn archive_downloads_checks_and_unpacks_the_release() {
    let steps =
        steps_of("buildout = archive sub arch release.cfg\npackaging.root-dir = /srv/releases\n");
    assert_eq!(
        names(&steps)[2..8],
        [
            "clean_arch",
            "download_archive",
            "download_md5",
            "checksum",
            "untar",
            "install_release"
        ]
    );
    match &step(&steps, "download_archive").command {
        StepCommand::Download { source, dest, .. } => {
            assert_eq!(
                source,
                &PathBuf::from("/srv/releases/%(prop:sub)s/%(prop:arch)s.tar.bz2")
            );
            assert_eq!(dest, "%(prop:arch)s.tar.bz2");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        text(step(&steps, "checksum")),
        "md5sum -c \"$ARCHIVE.tar.bz2.md5\""
    );
    assert_eq!(step(&steps, "checksum").env["ARCHIVE"], "%(prop:arch)s");
    assert!(text(step(&steps, "buildout")).starts_with("bin/buildout -c release.cfg"));
}

#[test]
fn archive_without_root_dir_is_an_error() {
    // Loading the configuration refuses it; the recipe does not rely on that.
    let mut f = fixture(
        "[b]\nbuildout = archive sub arch release.cfg\npackaging.root-dir = /r\n",
        WORKERS,
    );
    f.buildouts[0].options.remove("packaging.root-dir");
    let err = f.steps("b", "w1", &[]).unwrap_err();
    assert!(
        matches!(err, RecipeError::BadOption { ref option, .. } if option == "packaging.root-dir"),
        "{err}"
    );
}

#[test]
fn vcs_checkouts_record_the_revision_they_got() {
    let got = |buildout: &str| {
        let steps = steps_of(&format!(
            "buildout = {buildout}\nbuild-for = postgresql == 16\n"
        ));
        steps
            .iter()
            .find(|s| s.name == "got_revision")
            .map(|s| (text(s), s.property_from_stdout.clone(), s.flunk_on_failure))
    };
    let (t, p, flunk) = got("git https://h/r.git 16.0 odoo.cfg").unwrap();
    assert_eq!(
        (t.as_str(), p.as_deref(), flunk),
        ("git -C build rev-parse HEAD", Some("got_revision"), false)
    );
    assert!(got("git https://h/r.git 16.0 odoo.cfg subdir=d")
        .unwrap()
        .0
        .contains("git_buildout_repo"));
    assert!(got("hg https://h/r default odoo.cfg")
        .unwrap()
        .0
        .contains("hg -R build log -r ."));
    assert!(got("bzr lp:p odoo.cfg").unwrap().0.ends_with("revno build"));
    assert!(got("standalone b.cfg").is_none());
}
