//! `oebb check` reports every error with file:line and exits 1.

use std::path::Path;
use std::process::{Command, Output};

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn check(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oebb"))
        .arg("check")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn every_error_of_every_file_is_printed_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "oebb.cfg", "[master]\nweb-address = nowhere\n[extra]\n");
    write(
        d,
        "slaves.cfg",
        "[w1]\ncapability = postgresql 9.6\n[w2]\npassword = s\nmax_builds = x\n",
    );
    write(
        d,
        "buildouts/MANIFEST.cfg",
        "[a]\nbuildout = standalone a.cfg\nbuild-for = postgresql 9.6\n[b]\nbuildout = svn x\n",
    );
    let out = check(d, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let p = |f: &str| d.join(f).display().to_string();
    assert_eq!(stderr_lines(&out), [
        format!("{}:2: `web-address` = `nowhere` is invalid: write HOST:PORT, e.g. 127.0.0.1:8010", p("oebb.cfg")),
        format!("{}:3: unknown section [extra]; the valid sections are [master], [watch], [users], [mail], [mail:NAME]", p("oebb.cfg")),
        format!("{}:1: worker [w1] has no password; add `password = …`", p("slaves.cfg")),
        format!("{}:5: `max_builds` must be a whole number of at least 1, not `x`", p("slaves.cfg")),
        format!("{}:3: invalid requirement `postgresql 9.6` in `build-for`: `9.6` has no operator; write e.g. `== 9.6`", p("buildouts/MANIFEST.cfg")),
        format!("{}:5: buildout type `svn` is not supported; use one of standalone, hg, git, bzr, hgtag, gittag, archive", p("buildouts/MANIFEST.cfg")),
        "oebb check: 6 errors".to_string(),
    ]);
}

#[test]
fn missing_files_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "{}: cannot read the file (",
            dir.path().join("slaves.cfg").display()
        )),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "{}: cannot read the file (",
            dir.path().join("buildouts/MANIFEST.cfg").display()
        )),
        "{lines:?}"
    );
    assert!(
        lines[0].ends_with("); check that it exists and is readable"),
        "{lines:?}"
    );
    assert_eq!(lines[2], "oebb check: 2 errors");
}

#[test]
fn workers_cfg_is_accepted_but_not_together_with_slaves_cfg() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "workers.cfg",
        "[w]\npassword = s\ncapability = postgresql 12\n",
    );
    write(
        d,
        "buildouts/MANIFEST.cfg",
        "[a]\nbuildout = standalone a.cfg\nbuild-for = postgresql\n",
    );
    let out = check(d, &[]);
    assert_eq!(out.status.code(), Some(0), "{:?}", stderr_lines(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("a-pg12"));
    write(d, "slaves.cfg", "[w]\npassword = s\n");
    let out = check(d, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr_lines(&out)[0], format!("{}: both slaves.cfg and workers.cfg exist in the master directory; keep only one of them", d.join("workers.cfg").display()));
}

#[test]
fn the_same_buildout_in_two_manifests_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "slaves.cfg", "[w]\npassword = s\n");
    write(d, "m1.cfg", "[a]\nbuildout = standalone a.cfg\n");
    write(d, "m2.cfg", "\n[a]\nbuildout = standalone b.cfg\n");
    let out = check(
        d,
        &[
            "--manifest",
            d.join("m1.cfg").to_str().unwrap(),
            "--manifest",
            d.join("m2.cfg").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_lines(&out),
        [
            format!(
                "{}:2: buildout [a] is already defined at {}:1; rename one of them",
                d.join("m2.cfg").display(),
                d.join("m1.cfg").display()
            ),
            "oebb check: 1 error".to_string(),
        ]
    );
}

#[test]
fn oebb_cfg_names_the_manifests_and_workers_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "oebb.cfg",
        "[master]\nmanifests = conf/one.cfg\n  conf/two.cfg\nworkers = conf/fleet.cfg\n",
    );
    write(d, "conf/fleet.cfg", "[w]\npassword = s\n");
    write(d, "conf/one.cfg", "[one]\nbuildout = standalone a.cfg\n");
    write(d, "conf/two.cfg", "[two]\nbuildout = standalone a.cfg\n");
    let out = check(d, &[]);
    assert_eq!(out.status.code(), Some(0), "{:?}", stderr_lines(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("\none      one       -         w\ntwo      two       -         w\n"),
        "{table}"
    );
}

#[test]
fn a_bad_analyze_ignore_file_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "oebb.cfg", "[master]\n");
    write(
        d,
        "slaves.cfg",
        "[w]\npassword = s\ncapability = postgresql 16\n",
    );
    write(
        d,
        "buildouts/MANIFEST.cfg",
        "[a]\nbuildout = standalone a.cfg\nanalyze.ignore-file = checklog.cfg\n\
         [b]\nbuildout = standalone b.cfg\nanalyze.ignore-file = missing.cfg\n",
    );
    write(
        d,
        "buildouts/checklog.cfg",
        "[checklog-odoo]\nignore =\n  WARNING .* fine\n  unclosed (group\n",
    );
    let out = check(d, &[]);
    assert_eq!(out.status.code(), Some(1));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let ignore = d.join("buildouts/checklog.cfg").display().to_string();
    assert!(
        lines[0].starts_with(&format!(
            "{ignore}:4: invalid ignore pattern \"unclosed (group\""
        )),
        "{lines:?}"
    );
    let manifest = d.join("buildouts/MANIFEST.cfg").display().to_string();
    assert!(
        lines[1].starts_with(&format!(
            "{manifest}:6: `analyze.ignore-file` of [b] cannot be read"
        )),
        "{lines:?}"
    );
    assert_eq!(lines[2], "oebb check: 2 errors");

    write(
        d,
        "buildouts/checklog.cfg",
        "[checklog-odoo]\nignore = WARNING .* fine\n",
    );
    write(d, "buildouts/missing.cfg", "[checklog-odoo]\nignore =\n");
    assert_eq!(check(d, &[]).status.code(), Some(0));
}

/// What only the recipe sees (an option value it cannot use) is an error of `check`, once per
/// buildout however many builders share it; a step oebb does not make yet is a warning.
#[test]
fn recipe_errors_are_found_by_check_once_per_buildout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "slaves.cfg",
        "[w]\npassword = s\ncapability = postgresql 12\n    postgresql 13\n",
    );
    write(
        d,
        "buildouts/MANIFEST.cfg",
        "[a]\nbuildout = standalone a.cfg\nodoo.version = banana\nbuild-for = postgresql >= 9.6\n",
    );
    write(d, "buildouts/a.cfg", "[buildout]\nparts =\n");
    let out = check(d, &[]);
    let manifest = d.join("buildouts/MANIFEST.cfg").display().to_string();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr_lines(&out), [
        format!("{manifest}:3: [a] option `odoo.version` = `banana`: expected an Odoo series such as 7.0 or 16.0"),
        "oebb check: 1 error".to_string(),
    ]);

    write(
        d,
        "buildouts/MANIFEST.cfg",
        "[r]\nbuildout = hgtag https://example.org/r release.cfg\npost-dl-steps = packaging\n\
         build-for = postgresql == 13\npackaging.root-dir = /srv\npackaging.upload-dir = r\n\
         packaging.prefix = r\npackaging.parts = odoo\n",
    );
    let out = check(d, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{:?}", stderr_lines(&out));
    assert!(
        stdout.contains(&format!(
            "{manifest}:1: warning: [r]: `post-dl-steps = packaging`"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("1 builders, 1 warnings"), "{stdout}");
}

#[test]
fn the_options_of_the_time_to_verdict_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "slaves.cfg",
        "[w]\npassword = s\ncapability = postgresql 15\n",
    );
    write(d, "buildouts/a.cfg", "[buildout]\nparts =\n");
    let section = "[a]\nbuildout = standalone a.cfg\nbuild-for = postgresql >= 15\n";
    write(
        d,
        "buildouts/MANIFEST.cfg",
        &format!("{section}buildout.skip-unchanged = false\ndb.template-cache = true\ndb.template-keep = 2\ndb.template-max-age = 3\n"),
    );
    let out = check(d, &[]);
    assert_eq!(out.status.code(), Some(0), "{:?}", stderr_lines(&out));

    write(
        d,
        "buildouts/MANIFEST.cfg",
        &format!("{section}buildout.skip-unchanged = sometimes\ndb.template-cache = yes please\n"),
    );
    let out = check(d, &[]);
    assert_eq!(out.status.code(), Some(1));
    let errors = stderr_lines(&out).join("\n");
    for option in ["buildout.skip-unchanged", "db.template-cache"] {
        assert!(errors.contains(&format!("`{option}`")), "{errors}");
    }

    write(
        d,
        "buildouts/MANIFEST.cfg",
        &format!("{section}db.template-cache = true\ndb.template-keep = many\n"),
    );
    let out = check(d, &[]);
    assert_eq!(out.status.code(), Some(1));
    let manifest = d.join("buildouts/MANIFEST.cfg").display().to_string();
    assert_eq!(
        stderr_lines(&out),
        [
            format!(
                "{manifest}:5: [a] option `db.template-keep` = `many`: expected a whole number"
            ),
            "oebb check: 1 error".to_string(),
        ]
    );
}
