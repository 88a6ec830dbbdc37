use super::*;

fn prop(name: &str) -> Subject {
    Subject::Property(name.into())
}

#[test]
fn components_accepted_and_refused() {
    let long = "x".repeat(MAX_NAME);
    let too_long = "x".repeat(MAX_NAME + 1);
    let accepted = [
        "current",
        "1.0",
        "v1.0-rc1",
        "...",
        ".hidden",
        "a b",
        "é",
        "-x",
        long.as_str(),
    ];
    for text in accepted {
        assert_eq!(component_problem(text), None, "{text:?}");
        assert_eq!(Component::new(prop("p"), text).unwrap().as_str(), text);
    }
    let refused = [
        ("", Problem::Empty),
        (".", Problem::CurrentDir),
        ("..", Problem::ParentDir),
        ("../../..", Problem::Slash),
        ("a/b", Problem::Slash),
        ("/abs", Problem::Slash),
        ("a/", Problem::Slash),
        ("a\0b", Problem::Nul),
        ("a\nb", Problem::Control),
        ("\u{1b}[31m", Problem::Control),
        (too_long.as_str(), Problem::TooLong(MAX_NAME)),
    ];
    for (text, problem) in refused {
        assert_eq!(component_problem(text), Some(problem.clone()), "{text:?}");
        let err = Component::new(prop("buildout-tag"), text).unwrap_err();
        assert_eq!(err.problem, problem);
    }
}

#[test]
fn messages_name_the_property_and_escape_the_value() {
    let err = property_value("buildout-tag", "../../..").unwrap_err();
    assert_eq!(
        err.to_string(),
        "build property `buildout-tag` = `../../..` cannot be used in a path: it contains `/`; \
         give a single name (letters, digits, `.`, `_`, `-`; not `.` or `..`, no `/`)"
    );
    let err = property_value("t", "a\0\u{1b}").unwrap_err();
    assert!(err.to_string().contains("`a\\0\\u{1b}`"), "{err}");
    let err = property_value("t", &"é".repeat(10_000)).unwrap_err();
    assert!(err.to_string().contains(&format!("`{}…`", "é".repeat(100))));
    assert!(err.value.chars().count() <= MAX_PATH);
    let err = RelativePath::new(Subject::Option("doc.upload-root".into()), "/").unwrap_err();
    assert_eq!(
        err.to_string(),
        "option `doc.upload-root` = `/` cannot be used in a path: it is an absolute path; give \
         a relative path (no leading `/`) that does not go up out of its directory with `..`"
    );
}

#[test]
fn normalize_resolves_dots_lexically() {
    let cases = [
        ("a/./b/../c/", "a/c"),
        ("./x", "x"),
        ("a/../..", ".."),
        ("../a/../..", "../.."),
        ("/..", "/"),
        ("/a/../../b", "/b"),
        ("a//b", "a/b"),
        ("", ""),
        (".", ""),
        ("a/..", ""),
    ];
    for (given, expected) in cases {
        assert_eq!(
            normalize(Path::new(given)),
            Path::new(expected),
            "{given:?}"
        );
    }
}

#[test]
fn relative_paths_stay_in_their_directory() {
    let opt = || Subject::Option("doc.upload-dir".into());
    for (text, expected) in [
        ("proj", "proj"),
        ("proj/", "proj"),
        ("./x", "x"),
        ("a/../b", "b"),
        ("a/b/c", "a/b/c"),
    ] {
        let p = RelativePath::new(opt(), text).unwrap();
        assert_eq!(p.as_path(), Path::new(expected), "{text:?}");
    }
    let escapes = Problem::Escapes("its directory".into());
    for (text, problem) in [
        ("", Problem::Empty),
        (".", Problem::Itself),
        ("a/..", Problem::Itself),
        ("/", Problem::Absolute),
        ("/etc/passwd", Problem::Absolute),
        ("..", escapes.clone()),
        ("a/../..", escapes.clone()),
        ("../../../etc/passwd", escapes),
        ("a\0b", Problem::Nul),
    ] {
        assert_eq!(
            RelativePath::new(opt(), text).unwrap_err().problem,
            problem,
            "{text:?}"
        );
    }
    let long = format!("a/{}", "x".repeat(MAX_NAME + 1));
    assert_eq!(
        RelativePath::new(opt(), &long).unwrap_err().problem,
        Problem::TooLong(MAX_NAME)
    );
    let very_long = "ab/".repeat(MAX_PATH);
    assert_eq!(
        RelativePath::new(opt(), &very_long).unwrap_err().problem,
        Problem::TooLong(MAX_PATH)
    );
}

#[test]
fn joined_paths_stay_under_their_root() {
    let s = || Subject::Path("test");
    let root = Path::new("/m");
    let ok = |rel: &str| RootedPath::join(s(), root, rel).map(|p| p.path().to_path_buf());
    assert_eq!(ok("a/b").unwrap(), Path::new("/m/a/b"));
    assert_eq!(ok("a/../b/").unwrap(), Path::new("/m/b"));
    assert_eq!(ok("./x").unwrap(), Path::new("/m/x"));
    assert_eq!(ok("").unwrap(), Path::new("/m"));
    assert!(!RootedPath::join(s(), root, ".").unwrap().is_below_root());
    for rel in ["..", "a/../..", "../m2", "../../etc", "x/../../m/../.."] {
        let err = RootedPath::join(s(), root, rel).unwrap_err();
        assert_eq!(err.problem, Problem::Escapes("/m".into()), "{rel:?}");
    }
    assert_eq!(
        RootedPath::join(s(), root, "/etc").unwrap_err().problem,
        Problem::Absolute
    );
    assert_eq!(
        RootedPath::join(s(), root, "a\0").unwrap_err().problem,
        Problem::Nul
    );
    // Component-wise, not by characters.
    assert!(RootedPath::under(s(), Path::new("/m/a"), Path::new("/m/ab")).is_err());
    // A relative root: `..` leaves it, even when it is the current directory.
    assert!(RootedPath::join(s(), Path::new("demo"), "x/../../y").is_err());
    assert!(RootedPath::join(s(), Path::new("demo"), "x/../y").is_ok());
    assert!(RootedPath::join(s(), Path::new(""), "..").is_err());
    assert!(RootedPath::under(s(), Path::new(""), Path::new("/etc")).is_err());
    assert!(RootedPath::under(s(), Path::new("../m"), Path::new("../m/x")).is_ok());
    assert!(RootedPath::under(s(), Path::new("/m/./"), Path::new("/m/x/..")).is_ok());
}

#[test]
fn fixed_dir_is_the_literal_directory_before_the_first_property() {
    assert_eq!(fixed_dir("/srv/rel/%(prop:tag)s/x"), "/srv/rel");
    assert_eq!(fixed_dir("/srv/rel/p-%(prop:tag)s.tar.bz2"), "/srv/rel");
    assert_eq!(fixed_dir("public_html/%(prop:n)s"), "public_html");
    assert_eq!(fixed_dir("%(prop:n)s/x"), "");
    assert_eq!(fixed_dir("a/b"), "a");
    assert_eq!(fixed_dir("x"), "");
    assert_eq!(fixed_dir("/x"), "/");
}

#[test]
fn builder_directories_are_one_level_below_the_basedir() {
    let d = builder_dir("/w", "b-pg16").unwrap();
    assert_eq!(d.path(), Path::new("/w/b-pg16"));
    for bad in ["..", ".", "", "a/b", "../../etc", "a\0"] {
        let err = builder_dir("/w", bad).unwrap_err();
        assert_eq!(err.subject, Subject::Name("builder"), "{bad:?}");
    }
}

#[test]
fn master_paths_stay_under_the_master_dir_and_their_fixed_dir() {
    let m = Path::new("/m");
    let s = || Subject::Path("upload destination");
    let p = master_path(s(), m, "public_html/%(prop:n)s", "public_html/3").unwrap();
    assert_eq!(p.path(), Path::new("/m/public_html/3"));
    // An absolute template (the administrator's) is kept.
    let p = master_path(
        s(),
        m,
        "/srv/rel/p/p-%(prop:t)s.tar.bz2",
        "/srv/rel/p/p-1.tar.bz2",
    );
    assert_eq!(p.unwrap().path(), Path::new("/srv/rel/p/p-1.tar.bz2"));
    // What a property could do if its value were not checked is still refused here.
    assert!(master_path(s(), m, "public_html/%(prop:n)s", "public_html/../../x").is_err());
    assert!(master_path(s(), m, "/srv/rel/%(prop:t)s", "/srv/rel/../../etc/passwd").is_err());
    assert!(master_path(s(), m, "%(prop:n)s", "/etc/passwd").is_err());
    // A relative template that leaves the master directory is refused.
    assert!(master_path(s(), m, "../x/%(prop:n)s", "../x/1").is_err());
}

#[test]
fn upload_directories_are_strictly_below_the_master_dir() {
    let m = Path::new("/m");
    let t = "public_html/doc/proj/%(prop:buildout-tag:-current)s";
    let ok = master_upload_dir(m, t, "public_html/doc/proj/1.0").unwrap();
    assert_eq!(ok.path(), Path::new("/m/public_html/doc/proj/1.0"));
    let ok = master_upload_dir(m, "public_html/cov", "public_html/cov").unwrap();
    assert_eq!(ok.path(), Path::new("/m/public_html/cov"));
    let err = master_upload_dir(m, "%(prop:x)s", "buildouts").unwrap_err();
    assert_eq!(err.problem, Problem::NoUploadDir);
    for (template, interpolated) in [
        (t, "public_html/doc/proj/"),
        (t, "public_html/doc/proj/../../../.."),
        (t, "public_html/doc/proj/.."),
        ("%(prop:x)s", ""),
        ("%(prop:x)s", "."),
        ("/abs/%(prop:x)s", "/abs/1"),
        // A property would choose among the master directory's own entries.
        ("%(prop:x)s", "buildouts"),
        ("./%(prop:x)s", "builds"),
        ("x/../%(prop:x)s", "builds"),
        ("cov", "cov"),
        (".", "."),
        ("a/..", "a/.."),
    ] {
        assert!(
            master_upload_dir(m, template, interpolated).is_err(),
            "{template:?} {interpolated:?}"
        );
    }
}

#[test]
fn worker_paths_stay_in_the_builder_directory_unless_written_absolute() {
    let b = builder_dir("/w", "b").unwrap();
    let workdir = Path::new("/w/b/build");
    let s = || Subject::Path("worker path");
    let p = |t: &str, i: &str| worker_path(s(), &b, workdir, t, i);
    assert_eq!(
        p("x.log", "x.log").unwrap().path(),
        Path::new("/w/b/build/x.log")
    );
    assert_eq!(
        p("../dist/a.tar.bz2", "../dist/a.tar.bz2").unwrap().path(),
        Path::new("/w/b/dist/a.tar.bz2")
    );
    assert_eq!(p(".", ".").unwrap().path(), Path::new("/w/b/build"));
    assert_eq!(p("/opt/x", "/opt/x").unwrap().path(), Path::new("/opt/x"));
    assert!(p("../../x", "../../x").is_err());
    assert!(p("%(prop:d)s", "/etc").is_err());
    assert!(p("%(prop:d)s/x", "../../../x").is_err());
    assert!(p("/opt/%(prop:d)s", "/opt/../etc").is_err());
}

#[test]
fn mirror_dirs_stay_under_the_master_directory() {
    let dir = mirror_dir(Path::new("/m"), "git", "ab12").unwrap();
    assert_eq!(dir.path(), Path::new("/m/watch/git/ab12"));
    assert!(mirror_dir(Path::new("/m"), "git", "..").is_err());
    assert!(mirror_dir(Path::new("/m"), "../x", "a").is_err());
}
