//! `oebb check` on input that would make it hang or grow without end: a FIFO or `/dev/zero`
//! where a file is expected, references that multiply, a 2,000-deep `inherit` chain. Each gets
//! a clear error at its file (and line), and the command ends.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `oebb check DIR ARGS…`, killed after a minute so that a hang fails the test instead
/// of stopping the suite.
fn check(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oebb"))
        .arg("check")
        .arg(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting oebb check");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("waiting for oebb check").is_none() {
        if Instant::now() > deadline {
            child.kill().expect("killing oebb check");
            let out = child.wait_with_output().expect("its output");
            panic!(
                "oebb check {args:?} still ran after 60 s; stderr so far:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("the output of oebb check")
}

fn master(dir: &Path, manifest: &str) {
    std::fs::create_dir_all(dir.join("buildouts")).unwrap();
    std::fs::write(dir.join("slaves.cfg"), "[w]\npassword = p\n").unwrap();
    std::fs::write(dir.join("buildouts/MANIFEST.cfg"), manifest).unwrap();
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn a_fifo_as_workers_file_or_manifest_is_refused_without_waiting_for_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    master(d, "[b]\nbuildout = standalone b.cfg\n");
    std::fs::remove_file(d.join("slaves.cfg")).unwrap();
    mkfifo(&d.join("slaves.cfg"));
    let fifo = d.join("pipe.cfg");
    mkfifo(&fifo);
    let out = check(d, &["--manifest", fifo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).lines().collect::<Vec<_>>(),
        [
            format!(
                "{}: this is a FIFO (named pipe), not a regular file; give the path of a \
                 configuration file",
                d.join("slaves.cfg").display()
            ),
            format!(
                "{}: this is a FIFO (named pipe), not a regular file; give the path of a \
                 configuration file",
                fifo.display()
            ),
            "oebb check: 2 errors".to_string(),
        ]
    );
}

#[test]
fn dev_zero_as_workers_file_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    master(dir.path(), "[b]\nbuildout = standalone b.cfg\n");
    let out = check(dir.path(), &["--workers", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "/dev/zero: this is a device, not a regular file; give the path of a configuration \
         file\noebb check: 1 error\n"
    );
}

#[test]
fn a_manifest_larger_than_the_bound_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    master(d, "");
    let big = std::fs::File::create(d.join("big.cfg")).unwrap();
    big.set_len(16 * 1024 * 1024 + 1).unwrap();
    let out = check(d, &["--manifest", d.join("big.cfg").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("big.cfg: the file is larger than 16777216 bytes"),
        "{}",
        stderr(&out)
    );
}

/// Ten `[DEFAULT]` options each naming the previous one ten times: 2·10¹⁰ bytes asked for by a
/// manifest of 2.5 KB.
#[test]
fn references_that_multiply_are_an_error_at_their_line() {
    let mut manifest = String::from("[DEFAULT]\na0 = ha\n");
    for i in 1..=10 {
        let previous = format!("%(a{})s", i - 1);
        manifest.push_str(&format!("a{i} = {}\n", previous.repeat(10)));
    }
    for b in 0..40 {
        manifest.push_str(&format!(
            "[b{b}]\nbuildout = standalone b.cfg\nx = %(a9)s\n"
        ));
    }
    assert!(manifest.len() < 2600, "{} bytes", manifest.len());
    let dir = tempfile::tempdir().unwrap();
    master(dir.path(), &manifest);
    let out = check(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.ends_with(
            "MANIFEST.cfg:15: interpolation makes option `x` longer than 65536 bytes (x → a9 → \
             a8 → a7 → a6 → a5); use fewer nested %(name)s references"
        ),
        "{text}"
    );
}

#[test]
fn a_two_thousand_deep_inherit_chain_is_one_error_at_its_line() {
    let mut manifest = String::from("[s0]\nbuildout = standalone b.cfg\n");
    for i in 1..2000 {
        manifest.push_str(&format!("[s{i}]\ninherit = s{}\n", i - 1));
    }
    let dir = tempfile::tempdir().unwrap();
    master(dir.path(), &manifest);
    let out = check(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let path = dir.path().join("buildouts/MANIFEST.cfg");
    assert_eq!(
        stderr(&out),
        format!(
            "{}:34: [s16] inherits through more than 16 sections, up to [s0]; inherit from \
             fewer levels\noebb check: 1 error\n",
            path.display()
        )
    );
}
