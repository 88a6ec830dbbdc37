//! `oebb check` on the configuration files of anybox.buildbot.openerp's test suite, in their
//! pairings: an extra suite on the reference corpus (never copied here), ignored unless asked
//! for. scripts/test runs it (`--ignored reference_corpus::`) when `../shared/reference`
//! exists; the project's own cases are in check_config_cases.rs.

mod reference_corpus {
    use serde_json::{json, Value};
    use std::path::PathBuf;
    use std::process::Command;

    /// `$OEBB_REFERENCE`, else `../shared/reference` beside the repository.
    fn reference_root() -> PathBuf {
        let root = std::env::var_os("OEBB_REFERENCE").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference"),
            PathBuf::from,
        );
        assert!(
            root.is_dir(),
            "the reference corpus is not at {}: set OEBB_REFERENCE, or run without --ignored",
            root.display()
        );
        root
    }

    fn reference(name: &str) -> PathBuf {
        reference_root().join("anybox-config-cases").join(name)
    }

    /// Runs `oebb check --json` on a pair of reference files; returns the parsed output.
    fn check_json(manifests: &[&str], slaves: &str) -> Value {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oebb"));
        cmd.arg("check")
            .arg(dir.path())
            .arg("--json")
            .arg("--workers")
            .arg(reference(slaves));
        for m in manifests {
            cmd.arg("--manifest").arg(reference(m));
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    fn builder_names(v: &Value) -> Vec<String> {
        v["builders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn every_reference_pairing_gives_the_expected_builders() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "manifest_1.cfg",
                "one_slave.cfg",
                &[
                    "simple-pg8.4",
                    "addons-list-pg8.4",
                    "oecommand-pg8.4",
                    "oecommand-with-addons-pg8.4",
                ],
            ),
            (
                "manifest_auto_watch.cfg",
                "one_slave.cfg",
                &[
                    "hg_buildout",
                    "bzr_buildout",
                    "hg_buildout_precedence",
                    "hgtag_nowatch",
                ],
            ),
            (
                "manifest_auto_watch_option.cfg",
                "one_slave.cfg",
                &["w_pure_auto", "w_auto_opt_and_buildout", "w_auto_mixed"],
            ),
            (
                "manifest_build_for.cfg",
                "slaves_build_for.cfg",
                &[
                    "sup90-pg9.1-devel",
                    "range-pg9.1-devel",
                    "range-pg9.0",
                    "range-pg8.4",
                    "or-statement-pg9.1-devel",
                    "or-statement-pg8.4",
                ],
            ),
            (
                "manifest_build_requires.cfg",
                "slaves_build_requires.cfg",
                &[
                    "sup90-pg9.1-devel",
                    "priv-pgall-pg9.1-devel",
                    "priv-pgall-pg8.4",
                    "priv-sup90-pg9.1-devel",
                    "rabb-sup20-pg9.0",
                ],
            ),
            (
                "manifest_build_requires.cfg",
                "slaves_build_requires_only_if.cfg",
                &[
                    "sup90-pg9.1-devel",
                    "priv-pgall-pg9.1-devel",
                    "priv-pgall-pg8.4",
                    "priv-sup90-pg9.1-devel",
                    "rabb-sup20-pg9.0",
                ],
            ),
            (
                "manifest_build_requires2.cfg",
                "slaves_build_requires.cfg",
                &["rabb-18-pg9.0"],
            ),
            (
                "manifest_build_requires_pg_not_used.cfg",
                "slaves_build_requires.cfg",
                &["priv-pgall"],
            ),
            (
                "manifest_capability.cfg",
                "slaves_capability.cfg",
                &["addons-list-pg9.2", "addons-list-pg9.1"],
            ),
            ("manifest_category.cfg", "one_slave.cfg", &["ready", "wip"]),
            (
                "manifest_double_build_for.cfg",
                "slaves_build_for.cfg",
                &[
                    "range-pg9.1-devel-py2.6",
                    "range-pg9.0-py2.6",
                    "or-statement-pg8.4-py2.4",
                ],
            ),
            (
                "manifest_double_build_for.cfg",
                "slaves_build_for2.cfg",
                &[
                    "range-pg9.1-devel-py2.6",
                    "range-pg9.0-py2.7",
                    "range-pg9.0-py2.6",
                ],
            ),
            (
                "manifest_inherit.cfg",
                "slaves_build_requires.cfg",
                &[
                    "simple-pg9.1-devel",
                    "simple-pg9.0",
                    "simple-pg8.4",
                    "inheritor-pg9.1-devel",
                    "inheritor-pg8.4",
                ],
            ),
            (
                "manifest_packaging.cfg",
                "one_slave.cfg",
                &["project-release-pg8.4"],
            ),
            (
                "manifest_tree_stable_timer.cfg",
                "one_slave.cfg",
                &["simple"],
            ),
            (
                "manifest_watch.cfg",
                "one_slave.cfg",
                &["w_bzr", "w_hg", "w_hg_inh", "w_git", "w_git_develop"],
            ),
            ("manifest_watch_nobuildout.cfg", "one_slave.cfg", &[]),
        ];
        for (manifest, slaves, expected) in cases {
            let v = check_json(&[manifest], slaves);
            assert_eq!(builder_names(&v), *expected, "{manifest} with {slaves}");
        }
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn json_has_exactly_the_documented_shape() {
        let v = check_json(
            &["manifest_build_requires_pg_not_used.cfg"],
            "slaves_build_requires.cfg",
        );
        let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["builders", "warnings", "workers"]);
        assert_eq!(
            v["workers"][0],
            json!({
                "name": "privcode",
                "max_builds": null,
                "capabilities": {
                    "postgresql": {"8.4": {}, "9.1-devel": {"port": "5433"}},
                    "private-code-access": {"": {}}
                },
                "properties": {}
            })
        );
        let names: Vec<&str> = v["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "privcode",
                "privcode-84",
                "privcode-91",
                "pg90-91",
                "rabb284",
                "rabb18"
            ]
        );
        assert_eq!(
            v["builders"],
            json!([{
                "name": "priv-pgall",
                "buildout": "priv-pgall",
                "workers": ["privcode", "privcode-84", "privcode-91"],
                "category": "",
                "properties": {"build_requires": ["private-code-access"], "pg_version": "not-used"},
                "env": {"privcode": {}, "privcode-84": {}, "privcode-91": {}}
            }])
        );
        let warnings: Vec<&str> = v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].ends_with("manifest_build_requires_pg_not_used.cfg:9: buildout [rabb-23] gets no builder: no worker meets build-requires `rabbitmq == 2.3`"), "{warnings:?}");
        // The reference directory has the manifests, not the buildout files they name.
        assert!(warnings[1].contains("manifest_build_requires_pg_not_used.cfg:5: the buildout file of [priv-pgall] is missing ("), "{warnings:?}");
        assert!(warnings[1].ends_with("anybox-config-cases/buildouts/6.0-anybox.cfg); its builds will fail in their `download` step until it is there"), "{warnings:?}");
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn json_carries_worker_settings_properties_and_per_worker_env() {
        let v = check_json(&["manifest_capability.cfg"], "slaves_capability.cfg");
        assert_eq!(v["workers"][0]["max_builds"], json!(2));
        assert_eq!(
            v["workers"][0]["capabilities"],
            json!({
                "postgresql": {"9.1": {"port": "5432"}, "9.2": {"port": "5433"}},
                "python": {"2.6": {"bin": "python2.6"}},
                "selenium": {"": {}}
            })
        );
        assert_eq!(
            v["builders"][0]["env"],
            json!({"two-pg-one-py": {"PGPORT": "5433"}})
        );
        assert_eq!(
            v["builders"][0]["properties"],
            json!({"build_requires": ["python"], "pg_version": "9.2"})
        );
        assert_eq!(
            v["builders"][1]["env"],
            json!({"two-pg-one-py": {"PGPORT": "5432"}})
        );
        let v = check_json(&["manifest_category.cfg"], "one_slave.cfg");
        assert_eq!(v["builders"][0]["category"], json!("mature"));
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn several_manifests_are_read_in_order() {
        let v = check_json(
            &["manifest_category.cfg", "manifest_tree_stable_timer.cfg"],
            "one_slave.cfg",
        );
        assert_eq!(builder_names(&v), ["ready", "wip", "simple"]);
    }
}
