//! The key steps around `buildout`: order, flags, what they hash, and the option turning
//! them off. (The scripts run for real in crates/recipe/tests/buildout_key_scripts.rs.)

use crate::step::StepCommand;
use crate::testutil::*;

const STANDARD: &str = "buildout = standalone odoo.cfg\nbuild-for = postgresql == 16\n\
                        openerp-addons = base, web\nbuildout-part = odoo\n";

fn script(steps: &[crate::step::Step], name: &str) -> String {
    match &step(steps, name).command {
        StepCommand::Script(s) => s.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_key_comes_before_the_run_and_the_stamp_after_it() {
    let steps = steps_of(STANDARD);
    let n = names(&steps);
    let at = |name| n.iter().position(|s| *s == name).unwrap();
    assert!(at("bootstrap") < at("buildout_key"));
    assert_eq!(at("buildout_key") + 1, at("buildout_unchanged"));
    assert_eq!(at("buildout_unchanged") + 1, at("buildout"));
    assert_eq!(at("buildout") + 1, at("buildout_stamp"));
}

#[test]
fn the_run_is_skipped_on_the_unchanged_property_and_says_so() {
    let steps = steps_of(STANDARD);
    let skip = step(&steps, "buildout").skip_if.clone().unwrap();
    assert_eq!(skip.property, "buildout_unchanged_since");
    assert_eq!(skip.records.as_deref(), Some("buildout_skipped"));
    assert!(skip.reason.contains("%(prop:buildout_unchanged_since)s"));
    assert!(skip.reason.contains("%(prop:buildout_key)s"));
    assert!(skip.reason.contains("buildout-rerun=true"));
    let stamp = step(&steps, "buildout_stamp");
    assert_eq!(
        stamp.skip_if.as_ref().unwrap().property,
        "buildout_unchanged_since"
    );
    assert_eq!(stamp.env["BUILD"], "%(prop:buildnumber)s");
}

#[test]
fn key_failures_only_warn_so_the_run_happens() {
    let steps = steps_of(STANDARD);
    for name in ["buildout_key", "buildout_unchanged", "buildout_stamp"] {
        let s = step(&steps, name);
        assert!(
            !s.flunk_on_failure && s.warn_on_failure && !s.halt_on_failure,
            "{name}"
        );
        assert!(s.locks.is_empty(), "{name}");
    }
    assert_eq!(
        step(&steps, "buildout_key").property_from_stdout.as_deref(),
        Some("buildout_key")
    );
    assert_eq!(
        step(&steps, "buildout_unchanged").env["BUILDOUT_RERUN"],
        "%(prop:buildout-rerun)s"
    );
}

#[test]
fn the_key_hashes_the_files_the_command_line_and_the_interpreter() {
    let steps = steps_of(STANDARD);
    let key = step(&steps, "buildout_key");
    let text = script(&steps, "buildout_key");
    assert!(text.contains("sha256sum odoo.cfg\n"), "{text}");
    assert!(text.contains("\"$py\" -V"), "{text}");
    assert!(text.contains("sha256sum .installed.cfg"), "{text}");
    let args = &key.env["BUILDOUT_ARGS"];
    assert!(args.starts_with("bin/buildout -c odoo.cfg "), "{args}");
    assert!(args.contains("odoo:options.db_name=ci-b-pg16"), "{args}");
}

#[test]
fn vcs_buildouts_hash_the_files_their_checkout_tracks() {
    let git = steps_of(&STANDARD.replace("standalone odoo.cfg", "git https://x/b main b.cfg"));
    assert!(script(&git, "buildout_key").contains("(cd . && git ls-files -z -- '*.cfg'"));
    let sub = steps_of(&STANDARD.replace(
        "standalone odoo.cfg",
        "git https://x/b main b.cfg subdir=ci",
    ));
    assert!(script(&sub, "buildout_key").contains("cd \"$BUILDER_DIR/git_buildout_repo\""));
    let hg = steps_of(&STANDARD.replace("standalone odoo.cfg", "hg https://x/b default b.cfg"));
    assert!(script(&hg, "buildout_key").contains("hg files -0"));
}

#[test]
fn skip_unchanged_false_always_runs_buildout() {
    let steps = steps_of(&format!("{STANDARD}buildout.skip-unchanged = false\n"));
    assert!(!names(&steps).iter().any(|n| n.starts_with("buildout_")));
    assert!(step(&steps, "buildout").skip_if.is_none());
}
