//! The causes of the real logs under `fixtures/step-logs/` (how each was made: its README).

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/step-logs")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The log as the oebb worker sends it: its header, the output, its trailer.
fn as_step_log(output: &[u8]) -> Vec<u8> {
    let mut log = b"bin/buildout\n in dir /w/build (timeout None secs)\n watching logfiles {}\n argv: [b'bin/buildout']\n using PTY: False\n".to_vec();
    log.extend_from_slice(output);
    log.extend_from_slice(b"elapsedTime=1.250000\n");
    log
}

/// Causes of a fixture, read one byte at a time too: both must agree.
fn causes(name: &str, kind: StepKind, end: StepEnd) -> Vec<Cause> {
    let log = as_step_log(&fixture(name));
    let whole = extract(&log, kind, &end, "");
    let mut scanner = Scanner::new();
    for b in &log {
        scanner.feed(std::slice::from_ref(b));
    }
    assert_eq!(scanner.finish(kind, &end, ""), whole, "{name} byte by byte");
    whole
}

const HEADER_LINES: u64 = 5;

#[test]
fn a_recipe_that_raises_gives_its_exception_the_frame_and_what_buildout_was_doing() {
    let c = causes(
        "buildout-recipe-raises.log",
        StepKind::Buildout,
        StepEnd::Exit(1),
    );
    assert_eq!(
        c.len(),
        1,
        "the traceback is the buildout error, not two: {c:#?}"
    );
    assert_eq!(c[0].rule, CauseRule::Buildout);
    assert_eq!(
        c[0].message,
        "ValueError: addons path /srv/missing-addons does not exist"
    );
    assert_eq!(c[0].line, HEADER_LINES + 23);
    assert_eq!(
        c[0].text,
        "While: Installing openerp.\n\
         File \"/tmp/rs/recipe_raises/src/broken_recipe.py\", line 6, in install: \
         raise ValueError(\"addons path /srv/missing-addons does not exist\")"
    );
}

#[test]
fn a_version_conflict_gives_buildouts_error_line() {
    let c = causes(
        "buildout-version-conflict.log",
        StepKind::Buildout,
        StepEnd::Exit(1),
    );
    assert_eq!(c[0].rule, CauseRule::Buildout);
    assert_eq!(
        c[0].message,
        "Error: The requirement ('six>=1.16') is not allowed by your [versions] constraint (1.10.0)"
    );
    assert_eq!(c[0].line, HEADER_LINES + 18);
    assert_eq!(c[0].text, "While: Installing openerp.");
}

#[test]
fn a_missing_distribution_gives_the_while_block_and_the_error() {
    let c = causes(
        "buildout-missing-distribution.log",
        StepKind::Buildout,
        StepEnd::Exit(1),
    );
    assert_eq!(
        c[0].message,
        "Error: Couldn't find a distribution for 'oebb-no-such-distribution-xyz'."
    );
    assert_eq!(
        c[0].text,
        "While: Installing openerp. / Getting distribution for 'oebb-no-such-distribution-xyz'."
    );
}

#[test]
fn a_clone_that_fails_in_a_recipe_gives_gits_error_then_the_exception() {
    let c = causes(
        "buildout-addons-clone-fails.log",
        StepKind::Buildout,
        StepEnd::Exit(1),
    );
    assert_eq!(c[0].rule, CauseRule::Vcs, "{c:#?}");
    assert_eq!(
        c[0].message,
        "fatal: repository '/tmp/rs/no-such-addons.git' does not exist"
    );
    assert_eq!(c[0].line, HEADER_LINES + 7);
    assert_eq!(c[0].text, "While: Installing addons.");
    assert_eq!(c[1].rule, CauseRule::Buildout);
    assert!(c[1]
        .message
        .starts_with("subprocess.CalledProcessError: Command '['git', 'clone'"));
}

#[test]
fn pip_gives_its_last_error() {
    let c = causes(
        "pip-no-matching-distribution.log",
        StepKind::Buildout,
        StepEnd::Exit(1),
    );
    assert_eq!(c[0].rule, CauseRule::Pip);
    assert_eq!(
        c[0].message,
        "ERROR: No matching distribution found for zc.buildout==99.0.0"
    );
    assert_eq!(c[0].line, HEADER_LINES + 3);
}

#[test]
fn vcs_errors_of_git_mercurial_and_breezy() {
    for (name, message) in [
        (
            "git-clone-missing.log",
            "fatal: repository '/tmp/rs/no-such-repo.git' does not exist",
        ),
        (
            "hg-clone-missing.log",
            "abort: repository /tmp/rs/no-such-hg not found",
        ),
        (
            "brz-branch-missing.log",
            "brz: ERROR: Not a branch: \"/tmp/rs/no-such-bzr/\".",
        ),
    ] {
        let c = causes(name, StepKind::Vcs, StepEnd::Exit(128));
        assert_eq!(c[0].rule, CauseRule::Vcs, "{name}");
        assert_eq!(c[0].message, message, "{name}");
        assert_eq!(c[0].line, HEADER_LINES + 1, "{name}");
    }
}

#[test]
fn postgresql_clients_errors() {
    for (name, message) in [
        (
            "createdb-exists.log",
            "createdb: error: database creation failed: ERROR:  database \"oebb-rs-exists\" already exists",
        ),
        (
            "createdb-no-server.log",
            "createdb: error: connection to server at \"127.0.0.1\", port 25999 failed: Connection refused",
        ),
        (
            "dropdb-missing.log",
            "dropdb: error: database removal failed: ERROR:  database \"oebb-rs-nothere\" does not exist",
        ),
        (
            "psql-error.log",
            "ERROR:  relation \"no_such_table\" does not exist",
        ),
    ] {
        let c = causes(name, StepKind::Database, StepEnd::Exit(1));
        assert_eq!(c[0].rule, CauseRule::Postgresql, "{name}");
        assert_eq!(c[0].message, message, "{name}");
    }
}

#[test]
fn same_cause_in_another_build_has_the_same_fingerprint_whatever_the_db() {
    let a = extract(
        b"createdb: error: database creation failed: ERROR:  database \"oebb-b1\" already exists\n",
        StepKind::Database,
        &StepEnd::Exit(1),
        "oebb-b1",
    );
    let b = extract(
        b"createdb: error: database creation failed: ERROR:  database \"oebb-b2\" already exists\n",
        StepKind::Database,
        &StepEnd::Exit(1),
        "oebb-b2",
    );
    assert_eq!(a[0].fingerprint, b[0].fingerprint);
}

#[test]
fn without_a_known_pattern_the_last_lines_before_the_exit_code() {
    let log = as_step_log(b"compiling\nsomething went sideways\n\n");
    let c = extract(&log, StepKind::Other, &StepEnd::Exit(3), "");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].rule, CauseRule::LastLines);
    assert_eq!(c[0].message, "exit code 3 after: something went sideways");
    assert_eq!(c[0].line, HEADER_LINES + 2);
    assert_eq!(
        c[0].text,
        "bin/buildout\ncompiling\nsomething went sideways"
    );
    let silent = extract(b"", StepKind::Other, &StepEnd::Exit(1), "");
    assert_eq!(silent[0].message, "exit code 1, without output");
}

#[test]
fn a_timeout_or_a_lost_worker_comes_first() {
    let log = as_step_log(b"waiting for the lock\n");
    let c = extract(&log, StepKind::Other, &StepEnd::TimedOut(3600), "");
    assert_eq!(c[0].rule, CauseRule::Timeout);
    assert_eq!(c[0].message, "timed out: still running after 3600 s");
    let c = extract(
        &fixture("git-clone-missing.log"),
        StepKind::Vcs,
        &StepEnd::WorkerLost("connection reset".into()),
        "",
    );
    assert_eq!(c[0].rule, CauseRule::WorkerLost);
    assert_eq!(c[1].rule, CauseRule::Vcs);
}

#[test]
fn huge_logs_and_lines_stay_bounded() {
    let mut scanner = Scanner::new();
    let long = vec![b'x'; 10 * MAX_LINE];
    for _ in 0..1000 {
        scanner.feed(&long);
        scanner.feed(b"\n");
    }
    scanner.feed(
        b"Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\n    boom()\n",
    );
    scanner.feed(&long);
    scanner.feed(b"\n");
    assert_eq!(scanner.lines(), 1004);
    let c = scanner.finish(StepKind::Other, &StepEnd::Exit(1), "");
    assert_eq!(c[0].rule, CauseRule::PythonException);
    assert_eq!(c[0].line, 1004);
    assert!(c[0].message.len() <= 504, "{}", c[0].message.len());
}

#[test]
fn step_kinds_from_the_recipes_names_and_programs() {
    assert_eq!(
        step_kind("buildout", Some("bin/buildout")),
        StepKind::Buildout
    );
    assert_eq!(step_kind("bootstrap", None), StepKind::Buildout);
    assert_eq!(step_kind("checkout", Some("git")), StepKind::Vcs);
    assert_eq!(step_kind("createdb", Some("createdb")), StepKind::Database);
    assert_eq!(
        step_kind("final_dropdb", Some("/usr/bin/dropdb")),
        StepKind::Database
    );
    assert_eq!(step_kind("test", Some("bin/test_openerp")), StepKind::Other);
}
