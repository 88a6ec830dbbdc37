use super::*;
use crate::testutil::{fixture_ini, worker_errors, workers};

fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn versions(w: &Worker, cap: &str) -> Vec<String> {
    w.capability(cap)
        .iter()
        .map(|c| {
            c.version
                .as_ref()
                .map_or_else(String::new, Version::to_string)
        })
        .collect()
}

#[test]
fn capability_form_with_blank_and_tab_indented_lines_loads() {
    let (ws, errors) = parse_workers(&fixture_ini("workers-capability.cfg"));
    assert!(errors.is_empty(), "{errors:?}");
    let [w] = ws.as_slice() else {
        panic!("one worker expected, got {}", ws.len())
    };
    assert_eq!(w.name.as_str(), "twin-pg");
    assert_eq!(w.password, "s3cret");
    assert_eq!(w.max_builds, Some(2));
    assert_eq!(w.notify_on_missing, ["ci-admins@example.org"]);
    assert_eq!(versions(w, "postgresql"), ["13", "15"]);
    assert_eq!(
        w.capability("postgresql")[0].options,
        opts(&[("port", "5432")])
    );
    assert_eq!(
        w.capability("postgresql")[1].options,
        opts(&[("port", "5433")])
    );
    assert_eq!(
        w.capability("python")[0].options,
        opts(&[("bin", "python3.8")])
    );
    assert_eq!(versions(w, "selenium"), [""], "a marker after a tab");
    assert!(w.properties.is_empty(), "{:?}", w.properties);
}

#[test]
fn every_workers_case_loads() {
    for (file, names) in [
        ("workers-one.cfg", &["solo"][..]),
        ("workers-split.cfg", &["pg12-py38", "pg14-16", "pg11-py27"]),
        (
            "workers-split-alt.cfg",
            &["pg14-py311", "pg14-16", "pg11-py27"],
        ),
        (
            "workers-requires.cfg",
            &["priv", "priv-12", "priv-16", "pg14-16", "redis7", "redis6"],
        ),
        (
            "workers-requires-only-if.cfg",
            &["priv", "priv-12", "priv-16", "pg14-16", "redis7", "redis6"],
        ),
        ("workers-capability.cfg", &["twin-pg"]),
        ("workers-2012.cfg", &["old-timer", "current"]),
    ] {
        let (ws, errors) = parse_workers(&fixture_ini(file));
        assert!(errors.is_empty(), "{file}: {errors:?}");
        assert_eq!(
            ws.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
            names,
            "{file}"
        );
    }
    let (ws, _) = parse_workers(&fixture_ini("workers-requires-only-if.cfg"));
    assert_eq!(ws[0].build_only_if_requires, ["private-addons"]);
    assert!(ws[1].build_only_if_requires.is_empty());
    assert_eq!(ws[5].build_only_if_requires, ["redis"]);
    assert_eq!(
        ws[0]
            .properties
            .get("build-only-if-requires")
            .map(String::as_str),
        Some("private-addons")
    );
    // The tab-indented continuation line is a line of the same value.
    assert_eq!(versions(&ws[0], "postgresql"), ["12", "16-devel"]);
    assert_eq!(versions(&ws[0], "private-addons"), [""]);
    assert_eq!(versions(&ws[4], "redis"), ["7.2.4"]);
}

#[test]
fn the_2012_form_sits_beside_the_capability_form() {
    let (ws, errors) = parse_workers(&fixture_ini("workers-2012.cfg"));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(versions(&ws[0], "postgresql"), ["9.6"]);
    assert_eq!(
        ws[0].capability("postgresql")[0].options,
        opts(&[
            ("port", "5439"),
            ("host", "/var/run/postgresql"),
            ("bin", "/usr/lib/postgresql/9.6/bin"),
            ("lib", "/usr/lib/postgresql/9.6/lib"),
        ])
    );
    assert_eq!(ws[0].db_prefix, "legacy");
    assert_eq!(versions(&ws[1], "postgresql"), ["12"]);
    assert!(ws[1].capability("postgresql")[0].options.is_empty());
}

#[test]
fn sample_worker_options_are_read() {
    let ws = workers(
        "[my-slave]\npassword = secret\n\
         capability = postgresql 8.4 port=5432\n    postgresql 9.2-devel port=5434 bin=/opt/pg/bin lib=/opt/pg/lib\n    some-convention-of-yours\n\
         build-only-if-requires = some-convention-of-yours other\n\
         db_prefix = openerp-buildbot\nmax_builds = 2\n\
         notify_on_missing = joe@example.com, ann@example.com bob@example.com\n\
         missing_timeout = 120\n\
         slave_priority = 2.5\ncustom = value\n",
    );
    let w = &ws[0];
    assert_eq!(
        w.build_only_if_requires,
        ["some-convention-of-yours", "other"]
    );
    assert_eq!(w.db_prefix, "openerp-buildbot");
    assert_eq!(
        w.notify_on_missing,
        ["joe@example.com", "ann@example.com", "bob@example.com"]
    );
    assert_eq!(w.missing_timeout, Some(120));
    assert_eq!(w.priority, 2.5);
    assert_eq!(
        w.capability("postgresql")[1].options,
        opts(&[
            ("port", "5434"),
            ("bin", "/opt/pg/bin"),
            ("lib", "/opt/pg/lib")
        ])
    );
    assert_eq!(
        w.properties.get("custom").map(String::as_str),
        Some("value")
    );
    assert_eq!(
        w.properties.get("db_prefix").map(String::as_str),
        Some("openerp-buildbot")
    );
    assert_eq!(
        w.properties.get("slave_priority").map(String::as_str),
        Some("2.5")
    );
    assert!(!w.properties.contains_key("password") && !w.properties.contains_key("capability"));
    assert!(
        !w.properties.contains_key("max_builds")
            && !w.properties.contains_key("notify_on_missing")
            && !w.properties.contains_key("missing_timeout")
    );
}

#[test]
fn defaults_apply_when_options_are_absent() {
    let w = &workers("[w]\npassword = s\n")[0];
    assert_eq!(
        (w.max_builds, w.priority, w.db_prefix.as_str()),
        (None, 0.0, DEFAULT_DB_PREFIX)
    );
    assert!(
        w.capabilities.is_empty()
            && w.notify_on_missing.is_empty()
            && w.build_only_if_requires.is_empty()
    );
}

#[test]
fn passwd_alias_and_default_section_are_accepted() {
    let ws = workers(
        "[DEFAULT]\nmax_builds = 3\n[a]\npasswd = x\n[b]\npassword = y\nworker_priority = -1\n",
    );
    assert_eq!(ws[0].password, "x");
    assert_eq!(ws[0].max_builds, Some(3));
    assert_eq!(ws[1].priority, -1.0);
}

#[test]
fn marker_capability_may_carry_options() {
    let w = &workers("[w]\npassword = s\ncapability = wkhtmltopdf display=:1\n")[0];
    assert_eq!(w.capability("wkhtmltopdf")[0].version, None);
    assert_eq!(
        w.capability("wkhtmltopdf")[0].options,
        opts(&[("display", ":1")])
    );
}

#[test]
fn the_2012_form_becomes_a_postgresql_capability() {
    let w = &workers(
        "[old]\npassword = s\npg_version = 9.1\npg_port = 5433\npg_host = /var/run/pg\npg_bin = /opt/b\npg_lib = /opt/l\npg_user = u\npg_passwd = p\npg_psql = psql91\ndb_prefix = x\n",
    )[0];
    assert_eq!(versions(w, "postgresql"), ["9.1"]);
    assert_eq!(
        w.capability("postgresql")[0].options,
        opts(&[
            ("port", "5433"),
            ("host", "/var/run/pg"),
            ("bin", "/opt/b"),
            ("lib", "/opt/l"),
            ("user", "u"),
            ("passwd", "p"),
            ("psql", "psql91")
        ])
    );
    assert_eq!(w.properties.keys().collect::<Vec<_>>(), ["db_prefix"]);
}

#[test]
fn bad_workers_are_reported_with_file_line_and_message() {
    let cases: &[(&str, &str)] = &[
        ("[w]\ncapability = pg 9.1\n", "t.cfg:1: worker [w] has no password; add `password = …`"),
        ("[w]\npassword = a\npasswd = b\n", "t.cfg:3: worker [w] sets both `password` and `passwd`; keep only `password`"),
        ("[w]\npassword = a\nmax_builds = many\n", "t.cfg:3: `max_builds` must be a whole number of at least 1, not `many`"),
        ("[w]\npassword = a\nmax_builds = 0\n", "t.cfg:3: `max_builds` must be a whole number of at least 1, not `0`"),
        ("[w]\npassword = a\nnotify_on_missing = joe\n", "t.cfg:3: `joe` in `notify_on_missing` is not a mail address; write user@host, several separated by spaces or commas"),
        ("[w]\npassword = a\nmissing_timeout = 10m\n", "t.cfg:3: `missing_timeout` must be a whole number of seconds, not `10m`"),
        ("[w]\npassword = a\nslave_priority = high\n", "t.cfg:3: `slave_priority` must be a number, not `high`"),
        ("[w]\npassword = a\ncapability = postgresql 9.1\n  postgresql 9.2devel\n", "t.cfg:3: invalid capability line `postgresql 9.2devel`: bad version `9.2devel`: `2devel` is not a number; versions are numbers separated by dots, with an optional -suffix (write 9.2-devel, not 9.2devel)"),
        ("[w]\npassword = a\ncapability = postgresql 9.1 port\n", "t.cfg:3: invalid capability line `postgresql 9.1 port`: `port` is not KEY=VALUE"),
        ("[w]\npassword = a\ncapability = postgresql 9.1 =5\n", "t.cfg:3: invalid capability line `postgresql 9.1 =5`: `=5` is not KEY=VALUE"),
        ("[w]\npassword = a\ncapability = @pg 9.1\n", "t.cfg:3: invalid capability line `@pg 9.1`: `@pg` is not a capability name (letters, digits, `-`, `_`, `.`)"),
        ("[w]\npassword = a\ncapability = pg 9.1 port=1\n  pg 9.1 port=2\n", "t.cfg:3: capability `pg 9.1` is already declared at line 3; merge the two lines"),
        ("[w]\npassword = a\npg_version = 9.1\ncapability = postgresql 9.1\n", "t.cfg:4: capability `postgresql 9.1` is already declared at line 3; merge the two lines"),
        ("[w]\npassword = a\npg_port = 5433\n", "t.cfg:3: `pg_port` needs `pg_version` in the same worker section; add `pg_version = …` or use `capability = postgresql VERSION port=…`"),
        ("[w]\npassword = a\npg_version = nine\n", "t.cfg:3: invalid version `nine`: `nine` is not a number; versions are numbers separated by dots, with an optional -suffix (write 9.2-devel, not 9.2devel)"),
        ("[my worker]\npassword = a\n", "t.cfg:1: name `my worker` contains whitespace; use letters, digits, `.`, `_` and `-`"),
        ("[a/b]\npassword = a\n", "t.cfg:1: name `a/b` contains a slash; use letters, digits, `.`, `_` and `-`"),
        ("[w]\npassword = a\ncapability = pg 9.1\npg 9.2 port=5433\n", "t.cfg:4: option name `pg 9.2 port` contains whitespace; if this line continues the previous value, indent it"),
        ("[w]\npassword = a\ndb_prefix =\n", "t.cfg:3: `db_prefix` is empty; remove it to use the default, oebb"),
    ];
    for (text, expected) in cases {
        assert_eq!(worker_errors(text), [*expected], "input {text:?}");
    }
}

#[test]
fn a_bad_worker_does_not_hide_the_others_or_their_errors() {
    let text = "[a]\ncapability = pg 1\n[b]\npassword = s\n[c]\npassword = s\nmax_builds = x\n";
    let (ws, errors) = parse_workers(&crate::testutil::ini(text));
    assert_eq!(
        ws.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
    assert_eq!(
        errors.iter().map(|e| e.location.line).collect::<Vec<_>>(),
        [1, 7]
    );
}

/// The same on the workers files of anybox.buildbot.openerp's test suite (reference corpus,
/// never copied here): an extra suite that scripts/test runs when `../shared/reference` exists.
mod reference_corpus {
    use super::*;
    use crate::testutil::reference_ini;

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn capability_form_of_the_reference_file_loads() {
        let (ws, errors) = parse_workers(&reference_ini("slaves_capability.cfg"));
        assert!(errors.is_empty(), "{errors:?}");
        let [w] = ws.as_slice() else {
            panic!("one worker expected, got {}", ws.len())
        };
        assert_eq!(w.name.as_str(), "two-pg-one-py");
        assert_eq!(w.password, "secret");
        assert_eq!(w.max_builds, Some(2));
        assert_eq!(w.notify_on_missing, ["joe@example.org"]);
        assert_eq!(versions(w, "postgresql"), ["9.1", "9.2"]);
        assert_eq!(
            w.capability("postgresql")[0].options,
            opts(&[("port", "5432")])
        );
        assert_eq!(
            w.capability("postgresql")[1].options,
            opts(&[("port", "5433")])
        );
        assert_eq!(
            w.capability("python")[0].options,
            opts(&[("bin", "python2.6")])
        );
        assert_eq!(versions(w, "selenium"), [""]);
        assert!(w.properties.is_empty(), "{:?}", w.properties);
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn every_reference_workers_file_loads() {
        for (file, names) in [
            ("one_slave.cfg", &["slave"][..]),
            ("slaves_build_for.cfg", &["sl84", "sl90-91", "sl83"]),
            ("slaves_build_for2.cfg", &["sl84", "sl90-91", "sl83"]),
            (
                "slaves_build_requires.cfg",
                &[
                    "privcode",
                    "privcode-84",
                    "privcode-91",
                    "pg90-91",
                    "rabb284",
                    "rabb18",
                ],
            ),
            (
                "slaves_build_requires_only_if.cfg",
                &[
                    "privcode",
                    "privcode-84",
                    "privcode-91",
                    "pg90-91",
                    "rabb284",
                    "rabb18",
                ],
            ),
        ] {
            let (ws, errors) = parse_workers(&reference_ini(file));
            assert!(errors.is_empty(), "{file}: {errors:?}");
            assert_eq!(
                ws.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
                names,
                "{file}"
            );
        }
        let (ws, _) = parse_workers(&reference_ini("slaves_build_requires_only_if.cfg"));
        assert_eq!(ws[0].build_only_if_requires, ["private-code-access"]);
        assert_eq!(ws[5].build_only_if_requires, ["rabbitmq"]);
        assert_eq!(
            ws[0]
                .properties
                .get("build-only-if-requires")
                .map(String::as_str),
            Some("private-code-access")
        );
        assert_eq!(versions(&ws[0], "postgresql"), ["8.4", "9.1-devel"]);
    }
}
