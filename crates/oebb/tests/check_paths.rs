//! `oebb check` refuses, at their line, names and options that would put a path outside the
//! place it belongs (issue 11): a builder or worker that is no directory name, a standalone
//! buildout outside the manifest's directory, a documentation root outside the master
//! directory, an archive source whose properties are no names or that has no root.

use std::process::Command;

/// Writes a master directory with `slaves` and `manifest`, runs `oebb check` on it, and
/// returns its exit code and standard error, the directory shown as `DIR`.
fn check(slaves: &str, manifest: &str) -> (Option<i32>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, text: &str| {
        let path = d.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("oebb.cfg", "[master]\n");
    write("slaves.cfg", slaves);
    write("buildouts/MANIFEST.cfg", manifest);
    write("buildouts/a.cfg", "[buildout]\nparts =\n");
    let out = Command::new(env!("CARGO_BIN_EXE_oebb"))
        .arg("check")
        .arg(d)
        .output()
        .unwrap();
    let shown = |text: &str| text.replace(&d.display().to_string(), "DIR");
    let lines = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(shown)
        .filter(|l| !l.contains("warning:"))
        .collect();
    (out.status.code(), lines)
}

const WORKER: &str = "[w]\npassword = s\n";

fn manifest_error(manifest: &str) -> Vec<String> {
    let (code, lines) = check(WORKER, manifest);
    assert_eq!(code, Some(1), "{lines:?}");
    lines
}

#[test]
fn a_builder_named_dot_dot_is_an_error_at_its_section() {
    let lines =
        manifest_error("[ok]\nbuildout = standalone a.cfg\n\n[..]\nbuildout = standalone a.cfg\n");
    assert_eq!(
        lines,
        [
            "DIR/buildouts/MANIFEST.cfg:4: name `..` contains nothing but `..`, the name of the \
             parent directory; use letters, digits, `.`, `_` and `-`",
            "oebb check: 1 error",
        ]
    );
}

#[test]
fn a_worker_named_dot_dot_is_an_error_at_its_section() {
    let (code, lines) = check(
        "[w]\npassword = s\n[..]\npassword = s\n",
        "[a]\nbuildout = standalone a.cfg\n",
    );
    assert_eq!(code, Some(1), "{lines:?}");
    assert_eq!(
        lines,
        [
            "DIR/slaves.cfg:3: name `..` contains nothing but `..`, the name of the parent \
             directory; use letters, digits, `.`, `_` and `-`",
            "oebb check: 1 error",
        ]
    );
}

#[test]
fn a_standalone_file_outside_the_buildouts_directory_is_an_error_at_its_line() {
    for path in ["../../../etc/passwd", "/etc/passwd", "sub/../../oebb.cfg"] {
        let lines = manifest_error(&format!(
            "[a]\nbuild-category = x\nbuildout = standalone {path}\n"
        ));
        assert_eq!(
            lines,
            [
                format!(
                    "DIR/buildouts/MANIFEST.cfg:3: `buildout` = `standalone {path}` is invalid: \
                     the file is relative to the manifest's directory and must stay in it: it {}; \
                     give a relative path (no leading `/`) that does not go up out of its \
                     directory with `..`",
                    if path.starts_with('/') {
                        "is an absolute path"
                    } else {
                        "leads out of its directory"
                    }
                ),
                "oebb check: 1 error".to_string(),
            ]
        );
    }
}

#[test]
fn a_documentation_root_outside_the_master_directory_is_an_error_at_its_line() {
    for (value, problem) in [
        ("/", "it is an absolute path"),
        ("/var/www", "it is an absolute path"),
        ("../..", "it leads out of its directory"),
        (".", "it is the directory itself, not a path inside it"),
    ] {
        let lines = manifest_error(&format!(
            "[a]\nbuildout = standalone a.cfg\npost-buildout-steps = doc\ndoc.upload-dir = proj\n\
             doc.upload-root = {value}\n"
        ));
        assert_eq!(
            lines,
            [
                format!(
                    "DIR/buildouts/MANIFEST.cfg:5: `doc.upload-root` = `{value}` is invalid: \
                     {problem}; give a relative path (no leading `/`) that does not go up out of \
                     its directory with `..`"
                ),
                "oebb check: 1 error".to_string(),
            ]
        );
    }
    let lines = manifest_error(
        "[a]\nbuildout = standalone a.cfg\npost-buildout-steps = doc\ndoc.upload-dir = ../../x\n",
    );
    assert!(
        lines[0]
            .starts_with("DIR/buildouts/MANIFEST.cfg:4: `doc.upload-dir` = `../../x` is invalid"),
        "{lines:?}"
    );
}

#[test]
fn packaging_paths_are_checked_at_their_line() {
    let lines = manifest_error(
        "[a]\nbuildout = standalone a.cfg\npost-buildout-steps = packaging\n\
         packaging.prefix = ../shop\npackaging.upload-dir = /x\npackaging.root-dir = /srv/rel\n\
         packaging.base-url = http://x\n",
    );
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("DIR/buildouts/MANIFEST.cfg:4: `packaging.prefix` = `../shop` is invalid: it contains `/`"), "{lines:?}");
    assert!(lines[1].starts_with("DIR/buildouts/MANIFEST.cfg:5: `packaging.upload-dir` = `/x` is invalid: it is an absolute path"), "{lines:?}");
}

#[test]
fn a_bad_archive_source_is_an_error_at_its_line() {
    let lines = manifest_error(
        "[a]\npackaging.root-dir = /srv/rel\nbuildout = archive ../.. /etc/x release.cfg\n",
    );
    assert_eq!(
        lines,
        [
            "DIR/buildouts/MANIFEST.cfg:3: `buildout = archive ../.. /etc/x release.cfg` is \
             malformed; write `buildout = archive SUBDIR_PROPERTY ARCHIVE_PROPERTY CONFNAME`, \
             the first two being names of build properties (letters, digits, `-`, `_`, `.`) \
             whose values name the archive under `packaging.root-dir`",
            "oebb check: 1 error",
        ]
    );
    let lines =
        manifest_error("[a]\npackaging.root-dir = ../../..\nbuildout = archive s a r.cfg\n");
    assert!(
        lines[0].starts_with(
            "DIR/buildouts/MANIFEST.cfg:2: `packaging.root-dir` = `../../..` is invalid: it leads out"
        ),
        "{lines:?}"
    );
    let lines = manifest_error("[a]\nbuildout = archive s a r.cfg\n");
    assert_eq!(
        lines,
        [
            "DIR/buildouts/MANIFEST.cfg:2: step `archive` needs option `packaging.root-dir`; add \
             it to section [a]",
            "oebb check: 1 error",
        ]
    );
}

#[test]
fn good_paths_pass() {
    let (code, lines) = check(
        WORKER,
        "[a]\nbuildout = standalone a.cfg\npost-buildout-steps = doc\n  packaging\n\
         doc.upload-dir = proj/\ndoc.upload-root = public_html/docs\ndoc.version = v$(buildout-tag)s\n\
         packaging.prefix = shop\npackaging.upload-dir = shop\npackaging.root-dir = /var/www/livraison\n\
         packaging.base-url = http://x\n",
    );
    assert_eq!(code, Some(0), "{lines:?}");
}
