//! `oebb analyze-log` as users run it: exit codes, human and JSON output, ignore files.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The project's fixture logs, one per Odoo version and case, used in place.
fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/odoo-logs")
}

fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

fn oebb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oebb"))
        .arg("analyze-log")
        .args(args)
        .output()
        .expect("run oebb")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

const REGISTRY_FAILURE: &str = "odoo-10.0-registry-failure.log";
const WARNINGS: &str = "odoo-9.0-access-rule-warnings.log";
const PASS: &str = "odoo-14.0-pass.log";

fn path(name: &str) -> String {
    fixture(name).to_str().unwrap().to_string()
}

#[test]
fn exit_codes_pass_fail_warnings() {
    let (pass, fail, warn) = (path(PASS), path(REGISTRY_FAILURE), path(WARNINGS));
    assert_eq!(code(&oebb(&[&pass, "--tests-requested"])), 0);
    assert_eq!(code(&oebb(&[&fail])), 1);
    assert_eq!(code(&oebb(&[&warn])), 2);
    assert_eq!(code(&oebb(&[&warn, "--warnings-fail"])), 1);
    // Several files: the worst verdict wins.
    let o = oebb(&[&pass, &warn]);
    assert_eq!(code(&o), 2);
    assert!(
        stdout(&o).ends_with("overall: WARNINGS\n"),
        "{}",
        stdout(&o)
    );
    let o = oebb(&[&pass, &fail, &warn]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).ends_with("overall: FAIL\n"), "{}", stdout(&o));
}

/// The command gives every fixture the verdict of the library, as its exit code and in JSON.
#[test]
fn every_fixture_gets_the_library_verdict_and_exit_code() {
    let mut names: Vec<_> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{names:?}");
    for name in names {
        let report = oebb_analyze::analyze(
            &std::fs::read(fixture(&name)).unwrap(),
            &oebb_analyze::Options::default(),
        );
        let o = oebb(&[&path(&name), "--json"]);
        let expected = match report.verdict {
            oebb_analyze::Verdict::Pass => 0,
            oebb_analyze::Verdict::Fail => 1,
            oebb_analyze::Verdict::Warnings => 2,
        };
        assert_eq!(code(&o), expected, "{name}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let lines: Vec<(String, u64)> = v["logs"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_string(),
                    f["line"].as_u64().unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, u64)> = report
            .findings
            .iter()
            .map(|f| (f.rule.name().to_string(), f.line))
            .collect();
        assert_eq!(lines, want, "{name}");
    }
}

#[test]
fn non_zero_exit_status_fails_a_passing_log() {
    let pass = path(PASS);
    let o = oebb(&[&pass, "--exit-status", "1"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("exit-status (1)"), "{}", stdout(&o));
    let o = oebb(&[&pass, "--exit-status", "0"]);
    assert_eq!(code(&o), 0);
}

#[test]
fn human_report_groups_findings_by_rule() {
    let o = oebb(&[&path(REGISTRY_FAILURE)]);
    let out = stdout(&o);
    assert!(
        out.contains(": FAIL — Odoo 10.0 (server version banner)"),
        "{out}"
    );
    assert!(out.contains("[fail] load-failure (2)"), "{out}");
    assert!(out.contains("line 9: 2018-02-07 16:20:13,352 2211 ERROR ? odoo.modules.registry: Failed to load registry"), "{out}");
    assert!(out.contains("line 24: 2018-02-07 16:20:13,353 2211 CRITICAL ? odoo.service.server: Failed to initialize database `ci_shop`."), "{out}");
    assert!(out.contains("[fail] modules-not-loaded (1)"), "{out}");
}

#[test]
fn json_report_for_machines() {
    let fail = path(REGISTRY_FAILURE);
    let o = oebb(&[&fail, "--json"]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["exit_code"], 1);
    let log = &v["logs"][0];
    assert_eq!(log["file"], fail.as_str());
    assert_eq!(log["counts"]["load-failure"], 2);
    assert_eq!(log["counts"]["modules-not-loaded"], 1);
    assert_eq!(log["findings"][0]["rule"], "load-failure");
    assert_eq!(log["findings"][0]["line"], 9);
    assert_eq!(log["findings"][0]["level"], "ERROR");
    assert_eq!(log["findings"][1]["line"], 24);
    assert_eq!(log["findings"][1]["level"], "CRITICAL");
    assert_eq!(
        log["findings"][0]["fingerprint"].as_str().unwrap().len(),
        16
    );
    assert_eq!(log["version"]["version"], "10.0");
}

#[test]
fn ignore_file_in_checklog_format() {
    let dir = tempfile::tempdir().unwrap();
    let warn = path(WARNINGS);
    let cfg = dir.path().join("checklog-odoo.cfg");
    std::fs::write(
        &cfg,
        "[checklog-odoo]\nignore =\n    has no access rules\n    # models left behind by a renamed module\n    is declared but cannot be loaded\n",
    )
    .unwrap();
    let o = oebb(&[&warn, "--ignore", cfg.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("ignored by patterns: 6 record(s)"),
        "{}",
        stdout(&o)
    );
    // The same with one pattern on the command line leaves the other warnings.
    let o = oebb(&[&warn, "--ignore-pattern", "has no access rules"]);
    assert_eq!(code(&o), 2);
    assert!(
        stdout(&o).contains("[warn] warning-record (2)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn reads_standard_input() {
    let o = oebb_testkit::output_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_oebb")).args(["analyze-log", "-", "--excerpt"]),
        b"2024-01-01 10:00:00,000 7 ERROR db odoo.x: boom\n",
    );
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).starts_with("<stdin>: FAIL"), "{}", stdout(&o));
}

#[test]
fn usage_errors_exit_3_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let log = path(PASS);
    let log = log.as_str();
    let bad_cfg = dir.path().join("bad.cfg");
    std::fs::write(
        &bad_cfg,
        "[checklog-odoo]\nignore =\n    fine\n    (unclosed\n",
    )
    .unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&[], "no log file given"),
        (
            &["/nonexistent/odoo.log"],
            "cannot open /nonexistent/odoo.log",
        ),
        (
            &[log, "--exit-status", "one"],
            "--exit-status \"one\" is not an integer",
        ),
        (
            &[log, "--odoo-version", "eight"],
            "--odoo-version \"eight\"",
        ),
        (
            &[log, "--tests-requested", "--no-tests-expected"],
            "contradict",
        ),
        (
            &[log, "--ignore", "/nonexistent.cfg"],
            "cannot read ignore file /nonexistent.cfg",
        ),
        (
            &[log, "--ignore", bad_cfg.to_str().unwrap()],
            "bad.cfg:4: invalid ignore pattern",
        ),
    ];
    for (args, message) in cases {
        let o = oebb(args);
        assert_eq!(code(&o), 3, "{args:?}");
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn negative_exit_status_from_a_signal_fails() {
    let o = oebb(&[&path(PASS), "--exit-status", "-9"]);
    assert_eq!(code(&o), 1);
}

#[test]
fn version_and_test_expectation_flags_reach_the_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("install.log");
    // An install-only 7.0 run: no tests, no shutdown marker (7.0 prints none).
    std::fs::write(
        &log,
        "2013-01-01 10:00:00,000 9 INFO db openerp.modules.loading: Modules loaded.\n",
    )
    .unwrap();
    let log = log.to_str().unwrap();
    // Without the version, openerp.* loggers suggest 8.0, which ends with a shutdown marker.
    assert_eq!(code(&oebb(&[log])), 1);
    assert_eq!(code(&oebb(&[log, "--odoo-version", "7.0"])), 0);
    assert_eq!(
        code(&oebb(&[
            log,
            "--odoo-version",
            "7.0",
            "--no-tests-expected"
        ])),
        0
    );
    let o = oebb(&[log, "--odoo-version", "7.0", "--tests-requested"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("no-tests-run"), "{}", stdout(&o));
}

/// A file is read through memory-mapped windows of a few MiB: a record cut by a window's
/// edge must be seen whole, and the report must equal the one from reading standard input.
#[test]
fn large_file_reads_like_standard_input_across_window_edges() {
    let info = "2024-01-01 10:00:00,000 7 INFO db odoo.modules.loading: loading 1 modules...\n";
    let error = "2024-01-01 10:00:01,000 7 ERROR db odoo.addons.x: boom across the edge\n";
    let mut log = String::new();
    let mut error_lines = Vec::new();
    // Errors placed to straddle each 1 MiB boundary cover any window size up to 8 MiB.
    for mib in 1..=9usize {
        while log.len() + error.len() / 2 < mib << 20 {
            log.push_str(info);
        }
        error_lines.push(log.matches('\n').count() + 1);
        log.push_str(error);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    std::fs::write(&path, &log).unwrap();

    let mapped = oebb(&[path.to_str().unwrap(), "--excerpt", "--json"]);
    assert_eq!(code(&mapped), 1, "{}", stderr(&mapped));
    let v: serde_json::Value = serde_json::from_str(&stdout(&mapped)).unwrap();
    let findings = v["logs"][0]["findings"].as_array().unwrap();
    let lines: Vec<usize> = findings
        .iter()
        .filter(|f| f["rule"] == "error-record")
        .map(|f| f["line"].as_u64().unwrap() as usize)
        .collect();
    assert_eq!(lines, error_lines);
    assert_eq!(v["logs"][0]["counts"]["error-record"], 9);

    let streamed = oebb_testkit::output_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_oebb")).args(["analyze-log", "-", "--excerpt", "--json"]),
        log.as_bytes(),
    );
    let mut s: serde_json::Value = serde_json::from_str(&stdout(&streamed)).unwrap();
    s["logs"][0]["file"] = v["logs"][0]["file"].clone();
    assert_eq!(s, v);
}

/// The same commands on the public logs of the reference corpus, an extra suite that
/// scripts/test runs (`--ignored reference_corpus::`) when `../shared/reference` exists.
mod reference_corpus {
    use super::{code, oebb, stdout};
    use std::path::{Path, PathBuf};

    const TEST1: &str = "acsone+checklog-odoo__tests_data_test1.log";
    const NO_ACCESS: &str = "lmignon+buildbot-utils__tests_ressources_no_access_rule_log.txt";
    const RINGACE: &str = "ringace+odoo-14__README.md__odoo14_tests_pass.log";

    /// `$OEBB_REFERENCE`, else `../shared/reference` beside the repository.
    fn samples_dir() -> PathBuf {
        let root = std::env::var_os("OEBB_REFERENCE").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference"),
            PathBuf::from,
        );
        assert!(
            root.is_dir(),
            "the reference corpus is not at {}: set OEBB_REFERENCE, or run without --ignored",
            root.display()
        );
        root.join("odoo-logs")
    }

    /// Writes the sample without its `#### SOURCE:` header line into `dir`.
    fn sample_in(dir: &Path, name: &str) -> String {
        let raw = std::fs::read(samples_dir().join(name)).expect("sample log");
        let body = match raw.iter().position(|&b| b == b'\n') {
            Some(i) => &raw[i + 1..],
            None => &raw[raw.len()..],
        };
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        path.to_str().unwrap().to_string()
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn exit_codes_pass_fail_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let pass = sample_in(dir.path(), RINGACE);
        let fail = sample_in(dir.path(), TEST1);
        let warn = sample_in(dir.path(), NO_ACCESS);
        assert_eq!(code(&oebb(&[&pass, "--excerpt", "--tests-requested"])), 0);
        assert_eq!(code(&oebb(&[&fail])), 1);
        assert_eq!(code(&oebb(&[&warn, "--excerpt"])), 2);
        assert_eq!(code(&oebb(&[&warn, "--excerpt", "--warnings-fail"])), 1);
        let o = oebb(&[&pass, &warn, "--excerpt"]);
        assert_eq!(code(&o), 2);
        assert!(
            stdout(&o).ends_with("overall: WARNINGS\n"),
            "{}",
            stdout(&o)
        );
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn human_and_json_reports() {
        let dir = tempfile::tempdir().unwrap();
        let fail = sample_in(dir.path(), TEST1);
        let out = stdout(&oebb(&[&fail]));
        assert!(
            out.contains(": FAIL — Odoo 10.0 (server version banner)"),
            "{out}"
        );
        assert!(out.contains("[fail] load-failure (2)"), "{out}");
        assert!(out.contains("line 5: 2017-05-21 14:01:50,637 8038 ERROR ? odoo.modules.registry: Failed to load registry"), "{out}");
        assert!(out.contains("[fail] modules-not-loaded (1)"), "{out}");
        let o = oebb(&[&fail, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
        let log = &v["logs"][0];
        assert_eq!(log["counts"]["load-failure"], 2);
        assert_eq!(log["findings"][0]["line"], 5);
        assert_eq!(log["version"]["version"], "10.0");
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn ignore_file_in_checklog_format() {
        let dir = tempfile::tempdir().unwrap();
        let warn = sample_in(dir.path(), NO_ACCESS);
        let cfg = dir.path().join("checklog-odoo.cfg");
        std::fs::write(
            &cfg,
            "[checklog-odoo]\nignore =\n    has no access rules\n    is declared but cannot be loaded\n",
        )
        .unwrap();
        let o = oebb(&[&warn, "--excerpt", "--ignore", cfg.to_str().unwrap()]);
        assert_eq!(code(&o), 0, "{}", stdout(&o));
        assert!(
            stdout(&o).contains("ignored by patterns: 8 record(s)"),
            "{}",
            stdout(&o)
        );
        let o = oebb(&[
            &warn,
            "--excerpt",
            "--ignore-pattern",
            "has no access rules",
        ]);
        assert_eq!(code(&o), 2);
    }
}
