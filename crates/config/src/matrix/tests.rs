use super::*;
use crate::buildout::parse_manifest;
use crate::testutil::{buildouts, fixture, fixture_ini, strings, workers};
use crate::worker::parse_workers;

/// The matrix of a manifest and a workers file of the project's configuration cases.
fn matrix(manifest: &str, slaves: &str) -> Matrix {
    let (bs, errors, _) = parse_manifest(&fixture_ini(manifest));
    assert!(errors.is_empty());
    let (ws, errors) = parse_workers(&fixture_ini(slaves));
    assert!(errors.is_empty());
    let (m, errors) = build_matrix(&bs, &ws);
    assert!(errors.is_empty(), "{errors:?}");
    m
}

/// `name: worker, worker` per builder.
fn summary(m: &Matrix) -> Vec<String> {
    m.builders
        .iter()
        .map(|b| {
            format!(
                "{}: {}",
                b.name,
                b.workers
                    .iter()
                    .map(WorkerName::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect()
}

fn env(m: &Matrix, builder: &str, worker: &str) -> Vec<(String, String)> {
    let b = m.builder(builder).unwrap_or_else(|| panic!("no {builder}"));
    b.env[worker]
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn prop(m: &Matrix, builder: &str, name: &str) -> Option<PropertyValue> {
    m.builder(builder)?.properties.get(name).cloned()
}

fn text(s: &str) -> Option<PropertyValue> {
    Some(PropertyValue::Text(s.into()))
}

#[test]
fn build_for_splits_by_matching_version_newest_first() {
    let m = matrix("manifest-build-for.cfg", "workers-split.cfg");
    assert_eq!(
        summary(&m),
        [
            "newer-than-14-pg16-devel: pg14-16",
            "window-pg16-devel: pg14-16",
            "window-pg14: pg14-16",
            "window-pg12: pg12-py38",
            "either-pg16-devel: pg14-16",
            "either-pg11: pg11-py27",
        ]
    );
    assert_eq!(prop(&m, "window-pg14", "pg_version"), text("14"));
    assert_eq!(prop(&m, "window-pg14", "build_requires"), None);
    assert_eq!(
        env(&m, "window-pg14", "pg14-16"),
        [("PGPORT".into(), "5433".into())]
    );
    assert_eq!(
        env(&m, "window-pg16-devel", "pg14-16"),
        [("PGPORT".into(), "5434".into())]
    );
    assert!(env(&m, "window-pg12", "pg12-py38").is_empty());
    assert!(m.warnings.is_empty());
    let b = &m.builders[1];
    assert_eq!((b.buildout.as_str(), b.split.len()), ("window", 1));
    assert_eq!(b.split[0].version, Some("16-devel".parse().unwrap()));
}

#[test]
fn double_build_for_gives_the_available_cross_product() {
    let m = matrix("manifest-build-for-double.cfg", "workers-split.cfg");
    assert_eq!(
        summary(&m),
        [
            "window-pg16-devel-py3.10: pg14-16",
            "window-pg14-py3.10: pg14-16",
            "window-pg12-py3.8: pg12-py38",
            "either-pg11-py2.7: pg11-py27",
        ]
    );
    assert_eq!(prop(&m, "window-pg14-py3.10", "py_version"), text("3.10"));
    assert_eq!(prop(&m, "window-pg14-py3.10", "pg_version"), text("14"));
    assert_eq!(strings(&m.warnings), [format!(
        "{}:2: warning: buildout [newer-than-14] gets no builder: no worker meeting its build-requires has a version matching build-for `python == 3.11`",
        fixture("manifest-build-for-double.cfg").display()
    )]);
    // Two workers with PostgreSQL 14, each with another Python: one builder per pair.
    let m = matrix("manifest-build-for-double.cfg", "workers-split-alt.cfg");
    assert_eq!(
        summary(&m),
        [
            "window-pg16-devel-py3.10: pg14-16",
            "window-pg14-py3.11: pg14-py311",
            "window-pg14-py3.10: pg14-16",
            "either-pg11-py2.7: pg11-py27",
        ]
    );
}

#[test]
fn build_requires_filters_workers_and_becomes_a_property() {
    let m = matrix("manifest-build-requires.cfg", "workers-requires.cfg");
    assert_eq!(
        summary(&m),
        [
            "newer-than-14-pg16-devel: priv, priv-16, pg14-16",
            "priv-all-pg16-devel: priv, priv-16",
            "priv-all-pg12: priv, priv-12",
            "priv-newer-pg16-devel: priv, priv-16",
            "redis-7-pg14: redis7",
        ]
    );
    assert_eq!(
        prop(&m, "priv-all-pg12", "build_requires"),
        Some(PropertyValue::List(vec!["private-addons".into()]))
    );
    assert_eq!(
        prop(&m, "redis-7-pg14", "build_requires"),
        Some(PropertyValue::List(vec!["redis >= 7.0".into()]))
    );
    assert_eq!(
        env(&m, "redis-7-pg14", "redis7"),
        [("PGPORT".into(), "5434".into())]
    );
    assert_eq!(
        env(&m, "newer-than-14-pg16-devel", "priv"),
        [("PGPORT".into(), "5433".into())]
    );
    assert!(env(&m, "newer-than-14-pg16-devel", "priv-16").is_empty());
    let m = matrix("manifest-build-requires-exact.cfg", "workers-requires.cfg");
    assert_eq!(summary(&m), ["redis-6-pg14: redis6"]);
}

#[test]
fn build_only_if_requires_keeps_workers_for_buildouts_that_ask_for_them() {
    let m = matrix(
        "manifest-build-requires.cfg",
        "workers-requires-only-if.cfg",
    );
    assert_eq!(
        summary(&m),
        [
            "newer-than-14-pg16-devel: priv-16, pg14-16",
            "priv-all-pg16-devel: priv, priv-16",
            "priv-all-pg12: priv, priv-12",
            "priv-newer-pg16-devel: priv, priv-16",
            "redis-7-pg14: redis7",
        ]
    );
    let m = matrix(
        "manifest-build-requires-exact.cfg",
        "workers-requires-only-if.cfg",
    );
    assert_eq!(summary(&m), ["redis-6-pg14: redis6"]);
}

#[test]
fn not_used_makes_one_builder_and_unmet_requirements_are_named() {
    let m = matrix("manifest-not-used.cfg", "workers-requires.cfg");
    assert_eq!(summary(&m), ["priv-any-pg: priv, priv-12, priv-16"]);
    assert_eq!(prop(&m, "priv-any-pg", "pg_version"), text("not-used"));
    assert!(env(&m, "priv-any-pg", "priv").is_empty());
    assert_eq!(
        m.builders[0].split,
        [Split {
            capability: "postgresql".into(),
            version: None
        }]
    );
    assert_eq!(strings(&m.warnings), [format!(
        "{}:9: warning: buildout [redis-5] gets no builder: no worker meets build-requires `redis == 5.0`",
        fixture("manifest-not-used.cfg").display()
    )]);
}

#[test]
fn capability_file_gives_one_builder_per_postgresql_version() {
    let m = matrix("manifest-capability.cfg", "workers-capability.cfg");
    assert_eq!(
        summary(&m),
        ["addons-list-pg15: twin-pg", "addons-list-pg13: twin-pg"]
    );
    assert_eq!(
        env(&m, "addons-list-pg15", "twin-pg"),
        [("PGPORT".into(), "5433".into())]
    );
    assert_eq!(
        env(&m, "addons-list-pg13", "twin-pg"),
        [("PGPORT".into(), "5432".into())]
    );
    assert_eq!(
        prop(&m, "addons-list-pg13", "build_requires"),
        Some(PropertyValue::List(vec!["python".into()]))
    );
}

#[test]
fn the_other_manifest_cases_with_one_worker() {
    let cases: &[(&str, &[&str])] = &[
        (
            "manifest-basic.cfg",
            &[
                "plain-pg12: solo",
                "some-addons-pg12: solo",
                "init-tests-pg12: solo",
                "init-tests-addons-pg12: solo",
            ],
        ),
        ("manifest-category.cfg", &["stable: solo", "next: solo"]),
        ("manifest-packaging.cfg", &["release-14-pg12: solo"]),
        ("manifest-tree-stable-timer.cfg", &["quiet: solo"]),
        (
            "manifest-watch.cfg",
            &[
                "on-bzr: solo",
                "on-hg: solo",
                "on-hg-child: solo",
                "on-git: solo",
                "on-git-next: solo",
            ],
        ),
        ("manifest-watch-only.cfg", &[]),
        (
            "manifest-vcs-buildouts.cfg",
            &[
                "from-hg: solo",
                "from-bzr: solo",
                "from-git: solo",
                "hg-wins: solo",
                "frozen: solo",
            ],
        ),
        (
            "manifest-auto-watch.cfg",
            &[
                "auto-only: solo",
                "auto-and-repo: solo",
                "auto-plus-line: solo",
            ],
        ),
    ];
    for (manifest, expected) in cases {
        let m = matrix(manifest, "workers-one.cfg");
        assert_eq!(summary(&m), *expected, "{manifest}");
        assert!(m.warnings.is_empty(), "{manifest}");
    }
    let m = matrix("manifest-category.cfg", "workers-one.cfg");
    assert_eq!(
        (
            m.builders[0].category.as_str(),
            m.builders[1].category.as_str()
        ),
        ("production", "staging")
    );
    assert!(m.builders[0].properties.is_empty() && m.builders[0].split.is_empty());
}

#[test]
fn inheritor_is_a_separate_buildout_with_its_own_requirements() {
    let m = matrix("manifest-inherit.cfg", "workers-one.cfg");
    assert_eq!(summary(&m), ["base-14-pg12: solo"]);
    assert_eq!(m.warnings.len(), 1);
    assert!(m.warnings[0].message.ends_with(
        "buildout [with-private] gets no builder: no worker meets build-requires `private-addons`"
    ));
    let m = matrix("manifest-inherit.cfg", "workers-requires.cfg");
    assert_eq!(
        summary(&m),
        [
            "base-14-pg16-devel: priv, priv-16, pg14-16",
            "base-14-pg14: pg14-16, redis7, redis6",
            "base-14-pg12: priv, priv-12",
            "with-private-pg16-devel: priv, priv-16",
            "with-private-pg12: priv, priv-12",
        ]
    );
}

#[test]
fn a_2012_form_worker_gets_builders_and_the_environment_of_its_cluster() {
    let m = matrix("manifest-basic.cfg", "workers-2012.cfg");
    assert_eq!(
        summary(&m)[..2],
        ["plain-pg12: current", "plain-pg9.6: old-timer"]
    );
    assert_eq!(m.builders.len(), 8);
    assert_eq!(prop(&m, "plain-pg9.6", "pg_version"), text("9.6"));
    let expected: Vec<(String, String)> = [
        ("LD_LIBRARY_PATH", "/usr/lib/postgresql/9.6/lib"),
        ("PATH", "/usr/lib/postgresql/9.6/bin:${PATH}"),
        ("PGHOST", "/var/run/postgresql"),
        ("PGPORT", "5439"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(env(&m, "plain-pg9.6", "old-timer"), expected);
    assert!(env(&m, "plain-pg12", "current").is_empty());
}

const WORKERS: &str = concat!(
    "[full]\npassword = s\n",
    "capability = postgresql 9.6 port=5433 host=/run/pg bin=/opt/pg96/bin lib=/opt/pg96/lib user=ci passwd=pw\n",
    "    postgresql 9.4 port=5432\n    wkhtmltopdf 0.12\n    python 3.8 bin=python3.8\n",
    "[bare]\npassword = s\ncapability = postgresql 9.4\n    wkhtmltopdf 0.12 display=:99\n",
    "[picky]\npassword = s\ncapability = postgresql 9.4\n    gpu\nbuild-only-if-requires = gpu\n",
);

#[test]
fn synthetic_workers_are_as_intended() {
    let ws = workers(WORKERS);
    let caps: Vec<Vec<&String>> = ws.iter().map(|w| w.capabilities.keys().collect()).collect();
    assert_eq!(
        caps,
        [
            vec!["postgresql", "python", "wkhtmltopdf"],
            vec!["postgresql", "wkhtmltopdf"],
            vec!["gpu", "postgresql"]
        ]
    );
    assert!(ws
        .iter()
        .all(|w| w.properties.keys().all(|k| k == "build-only-if-requires")));
}

fn synthetic(manifest: &str) -> Matrix {
    let (m, errors) = build_matrix(&buildouts(manifest), &workers(WORKERS));
    assert!(errors.is_empty(), "{errors:?}");
    m
}

#[test]
fn environment_carries_every_postgresql_option() {
    let m = synthetic("[b]\nbuildout = standalone b.cfg\nbuild-for = postgresql >= 9.6\n");
    assert_eq!(summary(&m), ["b-pg9.6: full"]);
    let e = env(&m, "b-pg9.6", "full");
    let expected: Vec<(String, String)> = [
        ("LD_LIBRARY_PATH", "/opt/pg96/lib"),
        ("PATH", "/opt/pg96/bin:${PATH}"),
        ("PGHOST", "/run/pg"),
        ("PGPASSWORD", "pw"),
        ("PGPORT", "5433"),
        ("PGUSER", "ci"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(e, expected);
}

#[test]
fn required_capabilities_give_environment_from_the_highest_matching_version() {
    let m = synthetic(
        "[b]\nbuildout = standalone b.cfg\nbuild-requires = postgresql >= 9.0\n  wkhtmltopdf\n",
    );
    assert_eq!(summary(&m), ["b: full, bare"]);
    let e = env(&m, "b", "full");
    assert!(e.contains(&("PGPORT".into(), "5433".into())), "{e:?}");
    assert!(e.contains(&("DISPLAY".into(), ":0".into())), "{e:?}");
    assert!(env(&m, "b", "bare").contains(&("DISPLAY".into(), ":99".into())));
    let m = synthetic("[b]\nbuildout = standalone b.cfg\nbuild-requires = postgresql < 9.5\n");
    assert_eq!(env(&m, "b", "full"), [("PGPORT".into(), "5432".into())]);
}

#[test]
fn capabilities_without_abbreviation_use_their_name() {
    let m = synthetic("[b]\nbuildout = standalone b.cfg\nbuild-for = wkhtmltopdf\n  python\n");
    assert_eq!(summary(&m), ["b-wkhtmltopdf0.12-py3.8: full"]);
    assert_eq!(
        prop(&m, "b-wkhtmltopdf0.12-py3.8", "wkhtml2pdf_version"),
        text("0.12")
    );
    assert_eq!(version_property("my.cap"), "my_cap_version");
    assert_eq!(abbreviation("rabbitmq"), "rabbitmq");
}

#[test]
fn markers_satisfy_requirements_but_are_not_split_on() {
    let m = synthetic(
        "[b]\nbuildout = standalone b.cfg\nbuild-requires = gpu\nbuild-for = postgresql\n",
    );
    assert_eq!(summary(&m), ["b-pg9.4: picky"]);
    let m = synthetic("[b]\nbuildout = standalone b.cfg\nbuild-requires = gpu\nbuild-for = gpu\n");
    assert_eq!(strings(&m.warnings), ["t.cfg:1: warning: buildout [b] gets no builder: no worker has a version matching build-for `gpu`; workers that declare `gpu` without a version cannot be split on, so move it to build-requires"]);
    let m = synthetic("[b]\nbuildout = standalone b.cfg\nbuild-requires = gpu >= 1\n");
    assert!(m.builders.is_empty());
    assert!(
        m.warnings[0]
            .message
            .ends_with("no worker meets build-requires `gpu >= 1`"),
        "{:?}",
        m.warnings
    );
}

#[test]
fn requirements_met_only_separately_are_named_together() {
    let m = synthetic("[b]\nbuildout = standalone b.cfg\nbuild-requires = python\n  gpu\n");
    assert_eq!(strings(&m.warnings), ["t.cfg:1: warning: buildout [b] gets no builder: no single worker meets all of build-requires `python`, `gpu`"]);
    let m = synthetic("[b]\nbuildout = standalone b.cfg\nbuild-for = postgresql > 10\n");
    assert_eq!(strings(&m.warnings), ["t.cfg:1: warning: buildout [b] gets no builder: no worker meeting its build-requires has a version matching build-for `postgresql > 10`"]);
    let (m, _) = build_matrix(&buildouts("[b]\nbuildout = standalone b.cfg\n"), &[]);
    assert_eq!(
        strings(&m.warnings),
        ["t.cfg:1: warning: buildout [b] gets no builder: there are no workers"]
    );
}

#[test]
fn clashing_builder_names_are_errors() {
    let bs = buildouts("[a]\nbuildout = standalone b.cfg\nbuild-for = postgresql == 9.4\n[a-pg9.4]\nbuildout = standalone b.cfg\n");
    let (m, errors) = build_matrix(&bs, &workers(WORKERS));
    assert_eq!(strings(&errors), ["t.cfg:4: builder name `a-pg9.4` is made by buildouts [a] and [a-pg9.4]; rename one of the sections"]);
    assert_eq!(summary(&m), ["a-pg9.4: full, bare"]);
}

#[test]
fn a_builder_name_that_is_no_directory_name_is_an_error_at_its_buildout() {
    // A worker's version suffix ends up in the builder's name, its directory on the worker.
    let ws = workers("[w]\npassword = p\ncapability = postgresql 9.6-a/b\n");
    let bs = buildouts("\n[b]\nbuildout = standalone b.cfg\nbuild-for = postgresql\n");
    let (m, errors) = build_matrix(&bs, &ws);
    assert!(m.builders.is_empty());
    assert_eq!(
        crate::testutil::strings(&errors),
        ["t.cfg:2: name `b-pg9.6-a/b` contains a slash; use letters, digits, `.`, `_` and `-`"]
    );
}

/// The same on the files of anybox.buildbot.openerp's test suite, in their pairings
/// (reference corpus, never copied here): an extra suite that scripts/test runs when
/// `../shared/reference` exists.
mod reference_corpus {
    use super::*;
    use crate::testutil::{reference, reference_ini};

    fn matrix(manifest: &str, slaves: &str) -> Matrix {
        let (bs, errors, _) = parse_manifest(&reference_ini(manifest));
        assert!(errors.is_empty());
        let (ws, errors) = parse_workers(&reference_ini(slaves));
        assert!(errors.is_empty());
        let (m, errors) = build_matrix(&bs, &ws);
        assert!(errors.is_empty(), "{errors:?}");
        m
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn build_for_splits_by_matching_version_newest_first() {
        let m = matrix("manifest_build_for.cfg", "slaves_build_for.cfg");
        assert_eq!(
            summary(&m),
            [
                "sup90-pg9.1-devel: sl90-91",
                "range-pg9.1-devel: sl90-91",
                "range-pg9.0: sl90-91",
                "range-pg8.4: sl84",
                "or-statement-pg9.1-devel: sl90-91",
                "or-statement-pg8.4: sl84",
            ]
        );
        assert_eq!(prop(&m, "range-pg9.0", "pg_version"), text("9.0"));
        assert_eq!(prop(&m, "range-pg9.0", "build_requires"), None);
        assert_eq!(
            env(&m, "range-pg9.0", "sl90-91"),
            [("PGPORT".into(), "5434".into())]
        );
        assert_eq!(
            env(&m, "range-pg9.1-devel", "sl90-91"),
            [("PGPORT".into(), "5433".into())]
        );
        assert!(env(&m, "range-pg8.4", "sl84").is_empty());
        assert!(m.warnings.is_empty());
        let b = &m.builders[1];
        assert_eq!((b.buildout.as_str(), b.split.len()), ("range", 1));
        assert_eq!(b.split[0].version, Some("9.1-devel".parse().unwrap()));
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn double_build_for_gives_the_available_cross_product() {
        let m = matrix("manifest_double_build_for.cfg", "slaves_build_for.cfg");
        assert_eq!(
            summary(&m),
            [
                "range-pg9.1-devel-py2.6: sl90-91",
                "range-pg9.0-py2.6: sl90-91",
                "or-statement-pg8.4-py2.4: sl84",
            ]
        );
        assert_eq!(prop(&m, "range-pg9.0-py2.6", "py_version"), text("2.6"));
        assert_eq!(prop(&m, "range-pg9.0-py2.6", "pg_version"), text("9.0"));
        assert_eq!(strings(&m.warnings), [format!(
            "{}:2: warning: buildout [sup90] gets no builder: no worker meeting its build-requires has a version matching build-for `python == 2.7`",
            reference("manifest_double_build_for.cfg").display()
        )]);
        let m = matrix("manifest_double_build_for.cfg", "slaves_build_for2.cfg");
        assert_eq!(
            summary(&m),
            [
                "range-pg9.1-devel-py2.6: sl90-91",
                "range-pg9.0-py2.7: sl84",
                "range-pg9.0-py2.6: sl90-91",
            ]
        );
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn build_requires_filters_workers_and_becomes_a_property() {
        let m = matrix("manifest_build_requires.cfg", "slaves_build_requires.cfg");
        assert_eq!(
            summary(&m),
            [
                "sup90-pg9.1-devel: privcode, privcode-91, pg90-91",
                "priv-pgall-pg9.1-devel: privcode, privcode-91",
                "priv-pgall-pg8.4: privcode, privcode-84",
                "priv-sup90-pg9.1-devel: privcode, privcode-91",
                "rabb-sup20-pg9.0: rabb284",
            ]
        );
        assert_eq!(
            prop(&m, "priv-pgall-pg8.4", "build_requires"),
            Some(PropertyValue::List(vec!["private-code-access".into()]))
        );
        assert_eq!(
            prop(&m, "rabb-sup20-pg9.0", "build_requires"),
            Some(PropertyValue::List(vec!["rabbitmq >= 2.0".into()]))
        );
        assert_eq!(
            env(&m, "rabb-sup20-pg9.0", "rabb284"),
            [("PGPORT".into(), "5434".into())]
        );
        assert_eq!(
            env(&m, "sup90-pg9.1-devel", "privcode"),
            [("PGPORT".into(), "5433".into())]
        );
        assert!(env(&m, "sup90-pg9.1-devel", "privcode-91").is_empty());
        let m = matrix("manifest_build_requires2.cfg", "slaves_build_requires.cfg");
        assert_eq!(summary(&m), ["rabb-18-pg9.0: rabb18"]);
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn build_only_if_requires_keeps_workers_for_buildouts_that_ask_for_them() {
        let m = matrix(
            "manifest_build_requires.cfg",
            "slaves_build_requires_only_if.cfg",
        );
        assert_eq!(
            summary(&m),
            [
                "sup90-pg9.1-devel: privcode-91, pg90-91",
                "priv-pgall-pg9.1-devel: privcode, privcode-91",
                "priv-pgall-pg8.4: privcode, privcode-84",
                "priv-sup90-pg9.1-devel: privcode, privcode-91",
                "rabb-sup20-pg9.0: rabb284",
            ]
        );
        let m = matrix(
            "manifest_build_requires2.cfg",
            "slaves_build_requires_only_if.cfg",
        );
        assert_eq!(summary(&m), ["rabb-18-pg9.0: rabb18"]);
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn not_used_makes_one_builder_and_unmet_requirements_are_named() {
        let m = matrix(
            "manifest_build_requires_pg_not_used.cfg",
            "slaves_build_requires.cfg",
        );
        assert_eq!(
            summary(&m),
            ["priv-pgall: privcode, privcode-84, privcode-91"]
        );
        assert_eq!(prop(&m, "priv-pgall", "pg_version"), text("not-used"));
        assert!(env(&m, "priv-pgall", "privcode").is_empty());
        assert_eq!(
            m.builders[0].split,
            [Split {
                capability: "postgresql".into(),
                version: None
            }]
        );
        assert_eq!(strings(&m.warnings), [format!(
            "{}:9: warning: buildout [rabb-23] gets no builder: no worker meets build-requires `rabbitmq == 2.3`",
            reference("manifest_build_requires_pg_not_used.cfg").display()
        )]);
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn capability_file_gives_one_builder_per_postgresql_version() {
        let m = matrix("manifest_capability.cfg", "slaves_capability.cfg");
        assert_eq!(
            summary(&m),
            [
                "addons-list-pg9.2: two-pg-one-py",
                "addons-list-pg9.1: two-pg-one-py"
            ]
        );
        assert_eq!(
            env(&m, "addons-list-pg9.2", "two-pg-one-py"),
            [("PGPORT".into(), "5433".into())]
        );
        assert_eq!(
            env(&m, "addons-list-pg9.1", "two-pg-one-py"),
            [("PGPORT".into(), "5432".into())]
        );
        assert_eq!(
            prop(&m, "addons-list-pg9.1", "build_requires"),
            Some(PropertyValue::List(vec!["python".into()]))
        );
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn the_other_reference_manifests_with_one_worker() {
        let cases: &[(&str, &[&str])] = &[
            (
                "manifest_1.cfg",
                &[
                    "simple-pg8.4: slave",
                    "addons-list-pg8.4: slave",
                    "oecommand-pg8.4: slave",
                    "oecommand-with-addons-pg8.4: slave",
                ],
            ),
            ("manifest_category.cfg", &["ready: slave", "wip: slave"]),
            ("manifest_packaging.cfg", &["project-release-pg8.4: slave"]),
            ("manifest_tree_stable_timer.cfg", &["simple: slave"]),
            (
                "manifest_watch.cfg",
                &[
                    "w_bzr: slave",
                    "w_hg: slave",
                    "w_hg_inh: slave",
                    "w_git: slave",
                    "w_git_develop: slave",
                ],
            ),
            ("manifest_watch_nobuildout.cfg", &[]),
            (
                "manifest_auto_watch.cfg",
                &[
                    "hg_buildout: slave",
                    "bzr_buildout: slave",
                    "hg_buildout_precedence: slave",
                    "hgtag_nowatch: slave",
                ],
            ),
            (
                "manifest_auto_watch_option.cfg",
                &[
                    "w_pure_auto: slave",
                    "w_auto_opt_and_buildout: slave",
                    "w_auto_mixed: slave",
                ],
            ),
        ];
        for (manifest, expected) in cases {
            let m = matrix(manifest, "one_slave.cfg");
            assert_eq!(summary(&m), *expected, "{manifest}");
            assert!(m.warnings.is_empty(), "{manifest}");
        }
        let m = matrix("manifest_category.cfg", "one_slave.cfg");
        assert_eq!(
            (
                m.builders[0].category.as_str(),
                m.builders[1].category.as_str()
            ),
            ("mature", "unstable")
        );
        assert!(m.builders[0].properties.is_empty() && m.builders[0].split.is_empty());
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn inheritor_is_a_separate_buildout_with_its_own_requirements() {
        let m = matrix("manifest_inherit.cfg", "one_slave.cfg");
        assert_eq!(summary(&m), ["simple-pg8.4: slave"]);
        assert_eq!(m.warnings.len(), 1);
        assert!(m.warnings[0].message.ends_with("buildout [inheritor] gets no builder: no worker meets build-requires `private-code-access`"));
        let m = matrix("manifest_inherit.cfg", "slaves_build_requires.cfg");
        assert_eq!(
            summary(&m),
            [
                "simple-pg9.1-devel: privcode, privcode-91, pg90-91",
                "simple-pg9.0: pg90-91, rabb284, rabb18",
                "simple-pg8.4: privcode, privcode-84",
                "inheritor-pg9.1-devel: privcode, privcode-91",
                "inheritor-pg8.4: privcode, privcode-84",
            ]
        );
    }
}
