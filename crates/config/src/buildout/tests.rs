use super::*;
use crate::requirement::Criteria;
use crate::testutil::{buildouts, fixture_ini, fixture_text, manifest_errors};

fn one(text: &str) -> Buildout {
    let mut b = buildouts(text);
    assert_eq!(b.len(), 1);
    b.remove(0)
}

fn reqs(rs: &[Requirement]) -> Vec<String> {
    rs.iter().map(ToString::to_string).collect()
}

#[test]
fn defaults_of_a_minimal_buildout() {
    let b = one("[s]\nbuildout = standalone buildouts/6.1.cfg\n");
    assert_eq!(
        b.source,
        Some(BuildoutSource::Standalone {
            path: "buildouts/6.1.cfg".into()
        })
    );
    assert_eq!(
        (
            b.part.as_str(),
            b.start_command.as_str(),
            b.test_command.as_str()
        ),
        ("openerp", "bin/start_openerp", "bin/test_openerp")
    );
    assert_eq!(b.addons, ["all"]);
    assert_eq!(b.db_template, "template1");
    assert_eq!(b.category, "");
    assert!(b.auto_watch && b.virtualenv && !b.git_shallow);
    assert_eq!(b.db_steps, [DbStep::SimpleCreate]);
    assert_eq!(b.post_dl_steps, [PostDlStep::Noop]);
    assert_eq!(
        b.post_buildout_steps,
        [PostBuildoutStep::InstallModulesTest]
    );
    assert_eq!(
        (
            b.tree_stable_timer,
            b.bootstrap_version.clone(),
            b.inherit.clone()
        ),
        (None, None, None)
    );
    assert!(b.watch.is_empty() && b.build_for.is_empty() && b.build_requires.is_empty());
}

#[test]
fn every_core_option_is_read() {
    let b = one(
        "[s]\nbuildout = git https://git.example/b.git main buildout.cfg subdir=ci\n\
         watch = git https://git.example/addons 16.0\n  bzr lp:foo\n  hg http://hg.example/r default\n\
         auto-watch = False\nbuild-for = postgresql >= 9.1 < 9.3\n  python == 2.7\n\
         build-requires = wkhtmltopdf\n  private-code-access\nbuild-category =  mature \n\
         db_template = template_postgis\nbuildout-part = odoo\ntest-command = bin/t\n\
         odoo-addons = stock , crm,\ntree-stable-timer = 314\ndb-steps =\n\
         post-dl-steps = noop\npost-buildout-steps = install-modules\n  nose\n  autocommit\n\
         bootstrap-version = 2.2.1\nvirtualenv = false\ngit-shallow = true\n",
    );
    assert_eq!(
        b.source,
        Some(BuildoutSource::Git {
            url: "https://git.example/b.git".into(),
            branch: "main".into(),
            config: "buildout.cfg".into(),
            subdir: Some("ci".into())
        })
    );
    assert_eq!(
        b.watch,
        [
            Watch {
                vcs: Vcs::Git,
                url: "https://git.example/addons".into(),
                branch: Some("16.0".into())
            },
            Watch {
                vcs: Vcs::Bzr,
                url: "lp:foo".into(),
                branch: None
            },
            Watch {
                vcs: Vcs::Hg,
                url: "http://hg.example/r".into(),
                branch: Some("default".into())
            },
        ]
    );
    assert!(!b.auto_watch);
    assert_eq!(
        reqs(&b.build_for),
        ["postgresql >= 9.1 AND < 9.3", "python == 2.7"]
    );
    assert_eq!(
        reqs(&b.build_requires),
        ["wkhtmltopdf", "private-code-access"]
    );
    assert_eq!(b.category, "mature");
    assert_eq!(b.db_template, "template_postgis");
    assert_eq!(
        (
            b.part.as_str(),
            b.start_command.as_str(),
            b.test_command.as_str()
        ),
        ("odoo", "bin/start_odoo", "bin/t")
    );
    assert_eq!(b.addons, ["stock", "crm"]);
    assert_eq!(b.tree_stable_timer, Some(314));
    assert!(b.db_steps.is_empty());
    assert_eq!(
        b.post_buildout_steps,
        [
            PostBuildoutStep::InstallModules,
            PostBuildoutStep::Nose,
            PostBuildoutStep::Autocommit
        ]
    );
    assert_eq!(b.bootstrap_version.as_deref(), Some("2.2.1"));
    assert!(!b.virtualenv && b.git_shallow);
    assert_eq!(b.line_of("tree-stable-timer"), 16);
    assert_eq!(
        b.options.get("buildout-part").map(String::as_str),
        Some("odoo")
    );
}

#[test]
fn every_step_name_is_known() {
    use PostBuildoutStep as P;
    let b = one(
        "[s]\nbuildout = standalone x.cfg\nopenerp-addons = crm\n\
         functional.commands = run.sh\nstatic-analysis.flake-directories = src\n\
         packaging.prefix = p\npackaging.upload-dir = u\npackaging.base-url = http://x/\n\
         pg_remote_copy.arguments = --from prod\ndb-steps = simple_create\n  pg_remote_copy\n\
         post-dl-steps = noop\n\
         post-buildout-steps = install-modules-test\n  install-modules\n  update-openerp\n  update-odoo\n  openerpcommand-initialize-tests\n  nose\n  functional\n  static-analysis\n  doc\n  packaging\n  autocommit\n  standard\n  test-openerp\n  test-odoo\nstart-command = bin/run\n",
    );
    assert_eq!(b.db_steps, [DbStep::SimpleCreate, DbStep::PgRemoteCopy]);
    assert_eq!(b.post_dl_steps, [PostDlStep::Noop]);
    assert_eq!(
        b.post_buildout_steps,
        [
            P::InstallModulesTest,
            P::InstallModules,
            P::UpdateOpenerp,
            P::UpdateOpenerp,
            P::OpenerpcommandInitializeTests,
            P::Nose,
            P::Functional,
            P::StaticAnalysis,
            P::Doc,
            P::Packaging,
            P::Autocommit,
            P::InstallModulesTest,
            P::InstallModulesTest,
            P::InstallModulesTest,
        ]
    );
    assert_eq!(
        (b.start_command.as_str(), b.test_command.as_str()),
        ("bin/run", "bin/test_openerp")
    );
}

#[test]
fn empty_step_lists_mean_no_steps() {
    let b = one(
        "[s]\nbuildout = standalone x.cfg\ndb-steps =\npost-dl-steps =\npost-buildout-steps =\n",
    );
    assert!(
        b.db_steps.is_empty() && b.post_dl_steps.is_empty() && b.post_buildout_steps.is_empty()
    );
}

#[test]
fn every_buildout_type_parses() {
    use BuildoutSource::*;
    let s = |t: &str| parse_source(t).unwrap();
    assert_eq!(
        s("hg http://h/b somebranch my.cfg"),
        Hg {
            url: "http://h/b".into(),
            branch: "somebranch".into(),
            config: "my.cfg".into()
        }
    );
    assert_eq!(
        s("git u b c"),
        Git {
            url: "u".into(),
            branch: "b".into(),
            config: "c".into(),
            subdir: None
        }
    );
    assert_eq!(
        s("bzr lp:x/trunk r.cfg subdir=buildbot"),
        Bzr {
            url: "lp:x/trunk".into(),
            config: "r.cfg".into(),
            subdir: Some("buildbot".into())
        }
    );
    assert_eq!(
        s("bzr lp:x r.cfg"),
        Bzr {
            url: "lp:x".into(),
            config: "r.cfg".into(),
            subdir: None
        }
    );
    assert_eq!(
        s("hgtag http://h/b frozen.cfg"),
        HgTag {
            url: "http://h/b".into(),
            config: "frozen.cfg".into()
        }
    );
    assert_eq!(
        s("gittag http://g/b frozen.cfg"),
        GitTag {
            url: "http://g/b".into(),
            config: "frozen.cfg".into()
        }
    );
    assert_eq!(
        s("archive sub arch release.cfg"),
        Archive {
            subdir_property: "sub".into(),
            archive_property: "arch".into(),
            config: "release.cfg".into()
        }
    );
}

#[test]
fn inheritance_takes_parent_options_and_keeps_own() {
    let bs = buildouts(&fixture_text("manifest-inherit.cfg"));
    let inheritor = &bs[1];
    assert_eq!(inheritor.name, "with-private");
    assert_eq!(inheritor.inherit.as_deref(), Some("base-14"));
    assert_eq!(inheritor.source, bs[0].source);
    assert_eq!(inheritor.addons, ["stock", "mrp"]);
    assert_eq!(reqs(&inheritor.build_for), ["postgresql"]);
    assert_eq!(reqs(&inheritor.build_requires), ["private-addons"]);
    assert_eq!(inheritor.watch, bs[0].watch);
    assert!(bs[0].build_requires.is_empty());
}

#[test]
fn inheritance_is_recursive_and_parents_win_over_default() {
    let bs = buildouts("[DEFAULT]\nbuild-category = d\n[a]\nbuildout = standalone a.cfg\nbuild-category = from-a\n[b]\ninherit = a\ndb_template = tb\n[c]\ninherit = b\n");
    assert_eq!(bs[2].source, bs[0].source);
    assert_eq!(bs[2].db_template, "tb");
    assert_eq!(bs[2].category, "from-a");
}

#[test]
fn sections_without_buildout_are_watch_only() {
    let bs = buildouts(&fixture_text("manifest-watch-only.cfg"));
    assert_eq!(bs[0].source, None);
    assert_eq!(
        bs[0].watch,
        [Watch {
            vcs: Vcs::Git,
            url: "https://git.example/ci/tools.git".into(),
            branch: Some("main".into())
        }]
    );
}

#[test]
fn the_buildout_repository_is_watched_and_wins_over_a_watch_line() {
    let bs = buildouts(&fixture_text("manifest-vcs-buildouts.cfg"));
    let hg = |branch: &str| Watch {
        vcs: Vcs::Hg,
        url: "https://hg.example/buildouts".into(),
        branch: Some(branch.into()),
    };
    let addons = Watch {
        vcs: Vcs::Git,
        url: "https://git.example/ci/addons.git".into(),
        branch: Some("14.0".into()),
    };
    // The manifest's watch lines, then the buildout's own repository.
    assert_eq!(bs[0].watched(), [addons.clone(), hg("default")]);
    assert_eq!(
        bs[1].watched(),
        [
            addons,
            Watch {
                vcs: Vcs::Bzr,
                url: "lp:~ci/buildouts/14.0".into(),
                branch: None
            }
        ]
    );
    assert_eq!(
        bs[2].watched(),
        [Watch {
            vcs: Vcs::Git,
            url: "https://git.example/ci/buildouts.git".into(),
            branch: Some("main".into())
        }]
    );
    assert_eq!(bs[3].name, "hg-wins");
    assert_eq!(bs[3].watched(), [hg("default")]);
    let frozen = &bs[4];
    assert_eq!(frozen.name, "frozen");
    assert!(frozen.watch.is_empty() && frozen.watched().is_empty());
    assert_eq!(
        frozen.source,
        Some(BuildoutSource::HgTag {
            url: "https://hg.example/buildouts".into(),
            config: "release.cfg".into()
        })
    );
}

#[test]
fn auto_watch_is_read_with_or_without_watch_lines() {
    let bs = buildouts(&fixture_text("manifest-auto-watch.cfg"));
    assert!(bs.iter().all(|b| b.auto_watch), "{bs:?}");
    assert!(
        bs[0].watched().is_empty(),
        "the recipe's sources come at build time"
    );
    assert_eq!(bs[1].watched().len(), 1, "the buildout's repository");
    assert_eq!(
        bs[2].watched(),
        [Watch {
            vcs: Vcs::Git,
            url: "git@git.example:ci/vendored.git".into(),
            branch: Some("develop".into())
        }]
    );
}

#[test]
fn packaging_forces_auto_watch_off_and_default_options_count() {
    let bs = buildouts(&fixture_text("manifest-packaging.cfg"));
    let b = &bs[0];
    assert_eq!(b.post_dl_steps, [PostDlStep::Packaging]);
    assert_eq!(b.post_buildout_steps, [PostBuildoutStep::Packaging]);
    assert!(!b.auto_watch);
    assert_eq!(
        b.options.get("packaging.root-dir").map(String::as_str),
        Some("/srv/ci/uploads/releases"),
        "interpolated from [DEFAULT]"
    );
    assert_eq!(
        b.options.get("packaging.prefix").map(String::as_str),
        Some("shop-odoo")
    );
}

#[test]
fn not_used_and_or_filters_parse() {
    let b = one("[s]\nbuildout = standalone x.cfg\nbuild-for = postgresql not-used\n");
    assert_eq!(b.build_for[0].criteria, Criteria::NotUsed);
    let b = one("[s]\nbuildout = standalone x.cfg\nbuild-for = postgresql > 9.0 OR == 8.4\n");
    assert_eq!(reqs(&b.build_for), ["postgresql > 9.0 OR == 8.4"]);
}

#[test]
fn every_manifest_case_loads() {
    for file in [
        "manifest-auto-watch.cfg",
        "manifest-basic.cfg",
        "manifest-build-for-double.cfg",
        "manifest-build-for.cfg",
        "manifest-build-requires-exact.cfg",
        "manifest-build-requires.cfg",
        "manifest-capability.cfg",
        "manifest-category.cfg",
        "manifest-inherit.cfg",
        "manifest-not-used.cfg",
        "manifest-packaging.cfg",
        "manifest-tree-stable-timer.cfg",
        "manifest-vcs-buildouts.cfg",
        "manifest-watch-only.cfg",
        "manifest-watch.cfg",
    ] {
        let (bs, errors, warnings) = parse_manifest(&fixture_ini(file));
        assert!(errors.is_empty(), "{file}: {errors:?}");
        assert!(warnings.is_empty(), "{file}: {warnings:?}");
        assert!(!bs.is_empty(), "{file}");
    }
    let quiet = &buildouts(&fixture_text("manifest-tree-stable-timer.cfg"))[0];
    assert_eq!(quiet.tree_stable_timer, Some(600));
    let categories: Vec<String> = buildouts(&fixture_text("manifest-category.cfg"))
        .into_iter()
        .map(|b| b.category)
        .collect();
    assert_eq!(categories, ["production", "staging"]);
    let watch = buildouts(&fixture_text("manifest-watch.cfg"));
    assert_eq!(watch[2].addons, ["stock", "sale"], "the child's own addons");
    assert_eq!(watch[2].watch, watch[1].watch, "the parent's watch line");
}

#[test]
fn each_mistake_of_the_mistakes_case_is_reported_at_its_line() {
    assert_eq!(manifest_errors(&fixture_text("manifest-mistakes.cfg")), [
        "t.cfg:4: `build-for` names capability `postgresql` twice; put all its versions on one line, e.g. `postgresql >= 9.1 OR == 8.4`",
        "t.cfg:9: `postgresql not-used` in `build-requires`: `not-used` only makes sense in `build-for`",
        "t.cfg:12: `inherit = no-such-section` names no section of this manifest; fix the name",
    ]);
}

#[test]
fn deprecated_and_unknown_options_are_warnings() {
    let (_, errors, warnings) = parse_manifest(&crate::testutil::ini(
        "[s]\nbuildout = standalone x.cfg\nbootstrap-script = b.py\nbuild_for = postgresql\npost-buildout-steps = test-openerp\n",
    ));
    assert!(errors.is_empty());
    assert_eq!(crate::testutil::strings(&warnings), [
        "t.cfg:3: warning: `bootstrap-script` is ignored; remove it",
        "t.cfg:5: warning: step `test-openerp` of [s] is an old name; write `install-modules-test`",
        "t.cfg:4: warning: unknown option `build_for` in [s]; it is ignored (check its spelling)",
    ]);
}

#[test]
fn a_parent_unknown_option_is_reported_once() {
    let (_, _, warnings) = parse_manifest(&crate::testutil::ini(
        "[a]\nbuildout = standalone x.cfg\nbuild_for = postgresql\n[b]\ninherit = a\n",
    ));
    assert_eq!(crate::testutil::strings(&warnings), [
        "t.cfg:3: warning: unknown option `build_for` in [a]; it is ignored (check its spelling)",
    ]);
}

#[test]
fn bad_buildouts_are_reported_with_file_line_and_message() {
    let h = "[s]\nbuildout = standalone x.cfg\n";
    let w = |rest: &str| format!("{h}{rest}");
    let cases: Vec<(String, &str)> = vec![
        ("[s]\nbuildout = svn http://x b c\n".into(), "t.cfg:2: buildout type `svn` is not supported; use one of standalone, hg, git, bzr, hgtag, gittag, archive"),
        ("[s]\nbuildout =\n".into(), "t.cfg:2: `buildout` is empty; write `buildout = TYPE …` with TYPE one of standalone, hg, git, bzr, hgtag, gittag, archive, or remove it for a watch-only section"),
        ("[s]\nbuildout = standalone a.cfg b.cfg\n".into(), "t.cfg:2: `buildout = standalone a.cfg b.cfg` is malformed; write `buildout = standalone PATH`"),
        ("[s]\nbuildout = hg http://h default\n".into(), "t.cfg:2: `buildout = hg http://h default` is malformed; write `buildout = hg URL BRANCH CONFPATH`"),
        ("[s]\nbuildout = git u b c depth=1\n".into(), "t.cfg:2: `buildout = git u b c depth=1` is malformed; write `buildout = git URL BRANCH CONFPATH [subdir=DIR]`"),
        ("[s]\nbuildout = bzr lp:x\n".into(), "t.cfg:2: `buildout = bzr lp:x` is malformed; write `buildout = bzr URL CONFPATH [subdir=DIR]`"),
        ("[s]\nbuildout = hgtag u\n".into(), "t.cfg:2: `buildout = hgtag u` is malformed; write `buildout = hgtag URL CONFPATH`"),
        ("[s]\nbuildout = archive a b\n".into(), "t.cfg:2: `buildout = archive a b` is malformed; write `buildout = archive SUBDIR_PROPERTY ARCHIVE_PROPERTY CONFNAME`"),
        (w("watch = svn http://x\n"), "t.cfg:3: watch line `svn http://x` is malformed: VCS `svn` is not supported; use bzr, hg or git"),
        (w("watch = git http://x\n"), "t.cfg:3: watch line `git http://x` is malformed: write `git URL BRANCH`"),
        (w("watch = bzr lp:x trunk\n"), "t.cfg:3: watch line `bzr lp:x trunk` is malformed: write `bzr URL`"),
        (w("build-for = postgresql 9.1\n"), "t.cfg:3: invalid requirement `postgresql 9.1` in `build-for`: `9.1` has no operator; write e.g. `== 9.1`"),
        (w("build-for = postgresql = 9.1\n"), "t.cfg:3: invalid requirement `postgresql = 9.1` in `build-for`: unknown operator `=`; use one of <, <=, ==, >=, >"),
        (w("build-for = postgresql >= 9.1 OR\n"), "t.cfg:3: invalid requirement `postgresql >= 9.1 OR` in `build-for`: `OR` needs a comparison on both sides"),
        (w("build-requires =\n  python >= 2.7\n  rabbitmq >\n"), "t.cfg:3: invalid requirement `rabbitmq >` in `build-requires`: operator `>` has no version after it"),
        (w("build-requires = postgresql not-used\n"), "t.cfg:3: `postgresql not-used` in `build-requires`: `not-used` only makes sense in `build-for`"),
        (w("build-for = postgresql > 9\n  postgresql < 8\n"), "t.cfg:3: `build-for` names capability `postgresql` twice; put all its versions on one line, e.g. `postgresql >= 9.1 OR == 8.4`"),
        (w("auto-watch = yes\n"), "t.cfg:3: `auto-watch` must be `true` or `false`, not `yes`"),
        (w("odoo.use-port = 1\n"), "t.cfg:3: `odoo.use-port` must be `true` or `false`, not `1`"),
        (w("tree-stable-timer = soon\n"), "t.cfg:3: `tree-stable-timer` must be a whole number, not `soon`"),
        (w("pg_remote_copy.timeout = -1\n"), "t.cfg:3: `pg_remote_copy.timeout` must be a whole number, not `-1`"),
        (w("db-steps = create\n"), "t.cfg:3: unknown step `create` in `db-steps`; use one of simple_create, pg_remote_copy"),
        (w("post-dl-steps = unpack\n"), "t.cfg:3: unknown step `unpack` in `post-dl-steps`; use one of noop, packaging"),
        (w("post-buildout-steps = install-modules-test\n  testing\n"), "t.cfg:3: unknown step `testing` in `post-buildout-steps`; use one of install-modules-test, install-modules, update-openerp, update-odoo, openerpcommand-initialize-tests, nose, functional, static-analysis, doc, packaging, autocommit"),
        (w("db-steps = pg_remote_copy\n"), "t.cfg:3: step `pg_remote_copy` needs option `pg_remote_copy.arguments`; add it to section [s]"),
        (w("post-buildout-steps = functional\n"), "t.cfg:3: step `functional` needs option `functional.commands`; add it to section [s]"),
        (w("post-buildout-steps = static-analysis\n"), "t.cfg:3: step `static-analysis` needs option `static-analysis.flake-directories`; add it to section [s]"),
        (w("post-buildout-steps = install-modules\n"), "t.cfg:3: step `install-modules` needs option `openerp-addons`; add it to section [s]"),
        (w("openerp-addons = crm\nodoo-addons = sale\n"), "t.cfg:4: both `openerp-addons` and `odoo-addons` are set; keep only one"),
        ("[s]\ninherit = nowhere\n".into(), "t.cfg:2: `inherit = nowhere` names no section of this manifest; fix the name"),
        ("[a]\ninherit = b\n[b]\ninherit = c\n[c]\ninherit = a\n".into(), "t.cfg:2: inheritance loop: a → b → c → a; remove one of these `inherit` options"),
        ("[a]\ninherit = a\n".into(), "t.cfg:2: inheritance loop: a → a; remove one of these `inherit` options"),
        ("[my buildout]\nbuildout = standalone x.cfg\n".into(), "t.cfg:1: name `my buildout` contains whitespace; use letters, digits, `.`, `_` and `-`"),
        (w("start-command = %(part)s\n"), "t.cfg:3: `%(part)s` in option `start-command` names no option of section [s] or [DEFAULT]; define `part`, or write %% for a literal %"),
    ];
    for (text, expected) in &cases {
        let errors = manifest_errors(text);
        assert_eq!(
            errors.first().map(String::as_str),
            Some(*expected),
            "input {text:?}"
        );
    }
    let loops = manifest_errors("[a]\ninherit = b\n[b]\ninherit = a\n[c]\ninherit = a\n[d]\ninherit = x\n[e]\ninherit = d\n");
    assert_eq!(
        loops,
        [
            "t.cfg:2: inheritance loop: a → b → a; remove one of these `inherit` options",
            "t.cfg:4: inheritance loop: b → a → b; remove one of these `inherit` options",
            "t.cfg:8: `inherit = x` names no section of this manifest; fix the name",
        ]
    );
}

#[test]
fn packaging_steps_need_their_options() {
    let errors = manifest_errors("[s]\nbuildout = hgtag u r.cfg\npost-dl-steps = packaging\npost-buildout-steps = packaging\npackaging.prefix = p\n");
    assert_eq!(
        errors,
        [
            "t.cfg:3: step `packaging` needs option `packaging.root-dir`; add it to section [s]",
            "t.cfg:3: step `packaging` needs option `packaging.upload-dir`; add it to section [s]",
            "t.cfg:3: step `packaging` needs option `packaging.parts`; add it to section [s]",
            "t.cfg:4: step `packaging` needs option `packaging.upload-dir`; add it to section [s]",
            "t.cfg:4: step `packaging` needs option `packaging.base-url`; add it to section [s]",
        ]
    );
}

#[test]
fn analyze_options_resolve_the_ignore_file_beside_the_manifest() {
    let b = one("[s]\nbuildout = standalone a.cfg\nanalyze.ignore-file = checklog.cfg\nanalyze.warnings-fail = true\n");
    let expected = b.manifest.parent().unwrap().join("checklog.cfg");
    assert_eq!(b.analyze_ignore_file, Some(expected));
    assert!(b.analyze_warnings_fail);
    let d = one("[s]\nbuildout = standalone a.cfg\n");
    assert_eq!(
        (d.analyze_ignore_file, d.analyze_warnings_fail),
        (None, false)
    );
    assert!(
        d.analyze_known_noise,
        "known environment noise is ignored by default"
    );
    let n = one("[s]\nbuildout = standalone a.cfg\nanalyze.known-noise = false\n");
    assert!(!n.analyze_known_noise);
}

/// A chain of `inherit` may be 16 sections long; a 2,000-deep one is one error, at the `inherit`
/// line of the first section past the bound, and the sections within it still load.
#[test]
fn an_inherit_chain_deeper_than_the_bound_is_one_error() {
    let mut text = String::from("[s0]\nbuildout = standalone b.cfg\n");
    for i in 1..2000 {
        text.push_str(&format!("[s{i}]\ninherit = s{}\n", i - 1));
    }
    let (buildouts, errors) = {
        let (ini, errors) = crate::ini::Ini::parse(std::path::Path::new("t.cfg"), &text);
        assert!(errors.is_empty());
        let (buildouts, errors, _) = parse_manifest(&ini);
        (buildouts, crate::testutil::strings(&errors))
    };
    assert_eq!(
        errors,
        [
            "t.cfg:34: [s16] inherits through more than 16 sections, up to [s0]; inherit from \
          fewer levels"
        ]
    );
    let names: Vec<&str> = buildouts.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, (0..16).map(|i| format!("s{i}")).collect::<Vec<_>>());
    assert_eq!(buildouts[15].source, buildouts[0].source);
}

#[test]
fn buildout_names_that_are_no_directory_names_are_errors() {
    let errors =
        manifest_errors("[..]\nbuildout = standalone a.cfg\n[.]\nbuildout = standalone a.cfg\n");
    assert_eq!(
        errors,
        [
            "t.cfg:1: name `..` contains nothing but `..`, the name of the parent directory; use letters, digits, `.`, `_` and `-`",
            "t.cfg:3: name `.` contains nothing but `.`, a directory's name for itself; use letters, digits, `.`, `_` and `-`",
        ]
    );
}

/// The same on the manifests of anybox.buildbot.openerp's test suite (reference corpus, never
/// copied here): an extra suite that scripts/test runs when `../shared/reference` exists.
mod reference_corpus {
    use super::*;
    use crate::testutil::{reference, reference_ini};

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn inheritance_takes_parent_options_and_keeps_own() {
        let bs = buildouts(&std::fs::read_to_string(reference("manifest_inherit.cfg")).unwrap());
        let inheritor = &bs[1];
        assert_eq!(inheritor.name, "inheritor");
        assert_eq!(inheritor.inherit.as_deref(), Some("simple"));
        assert_eq!(inheritor.source, bs[0].source);
        assert_eq!(inheritor.addons, ["stock", "crm"]);
        assert_eq!(reqs(&inheritor.build_for), ["postgresql"]);
        assert_eq!(reqs(&inheritor.build_requires), ["private-code-access"]);
        assert_eq!(inheritor.watch, bs[0].watch);
        assert!(bs[0].build_requires.is_empty());
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn sections_without_buildout_are_watch_only() {
        let bs = buildouts(
            &std::fs::read_to_string(reference("manifest_watch_nobuildout.cfg")).unwrap(),
        );
        assert_eq!(bs[0].source, None);
        assert_eq!(
            bs[0].watch,
            [Watch {
                vcs: Vcs::Bzr,
                url: "lp:anybox.buildbot.openerp".into(),
                branch: None
            }]
        );
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn the_buildout_repository_is_watched_and_wins_over_a_watch_line() {
        let bs = buildouts(&std::fs::read_to_string(reference("manifest_auto_watch.cfg")).unwrap());
        let w = bs[2].watched();
        assert_eq!(
            w,
            [Watch {
                vcs: Vcs::Hg,
                url: "http://mercurial.example/buildout".into(),
                branch: Some("somebranch".into())
            }]
        );
        assert_eq!(bs[0].watched().len(), 2);
        let hgtag = &bs[3];
        assert_eq!(hgtag.name, "hgtag_nowatch");
        assert!(hgtag.watch.is_empty() && hgtag.watched().is_empty());
        assert_eq!(
            hgtag.source,
            Some(BuildoutSource::HgTag {
                url: "http://mercurial.example/buildout".into(),
                config: "frozen.cfg".into()
            })
        );
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn packaging_forces_auto_watch_off_and_default_options_count() {
        let bs = buildouts(&std::fs::read_to_string(reference("manifest_packaging.cfg")).unwrap());
        let b = &bs[0];
        assert_eq!(b.post_dl_steps, [PostDlStep::Packaging]);
        assert_eq!(b.post_buildout_steps, [PostBuildoutStep::Packaging]);
        assert!(!b.auto_watch);
        assert_eq!(
            b.options.get("packaging.root-dir").map(String::as_str),
            Some("/path/for/uploads")
        );
        assert_eq!(
            b.options.get("packaging.prefix").map(String::as_str),
            Some("myproject-oerp")
        );
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn every_reference_manifest_loads() {
        for file in [
            "manifest_1.cfg",
            "manifest_auto_watch.cfg",
            "manifest_auto_watch_option.cfg",
            "manifest_build_for.cfg",
            "manifest_build_requires.cfg",
            "manifest_build_requires2.cfg",
            "manifest_build_requires_pg_not_used.cfg",
            "manifest_capability.cfg",
            "manifest_category.cfg",
            "manifest_double_build_for.cfg",
            "manifest_inherit.cfg",
            "manifest_packaging.cfg",
            "manifest_tree_stable_timer.cfg",
            "manifest_watch.cfg",
            "manifest_watch_nobuildout.cfg",
        ] {
            let (bs, errors, warnings) = parse_manifest(&reference_ini(file));
            assert!(errors.is_empty(), "{file}: {errors:?}");
            assert!(warnings.is_empty(), "{file}: {warnings:?}");
            assert!(!bs.is_empty(), "{file}");
        }
    }
}
