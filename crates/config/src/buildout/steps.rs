//! The step lists of a buildout (`db-steps`, `post-dl-steps`, `post-buildout-steps`) and the
//! options each step needs (seed-system §5).

use super::lines;
use crate::error::{ErrorKind, Warning};
use crate::ini::Resolved;
use std::path::Path;

/// A database step (`db-steps`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbStep {
    /// `simple_create`: drop and create the testing database from `db_template`.
    SimpleCreate,
    /// `pg_remote_copy`: copy a remote database into the testing database.
    PgRemoteCopy,
}

/// A post-download step (`post-dl-steps`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostDlStep {
    /// `noop`: nothing.
    Noop,
    /// `packaging`: build a release archive and test it.
    Packaging,
}

/// A post-buildout step (`post-buildout-steps`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostBuildoutStep {
    /// `install-modules-test`: install the addons with their tests and analyse the log.
    InstallModulesTest,
    /// `install-modules`: install the addons without tests.
    InstallModules,
    /// `update-openerp` (or `update-odoo`): run the upgrade script.
    UpdateOpenerp,
    /// `openerpcommand-initialize-tests`.
    OpenerpcommandInitializeTests,
    /// `nose`: install, then run nosetests.
    Nose,
    /// `functional`: start the server and run functional test commands.
    Functional,
    /// `static-analysis`: flake8.
    StaticAnalysis,
    /// `doc`: build the Sphinx documentation.
    Doc,
    /// `packaging`: upload the release archive.
    Packaging,
    /// `autocommit`: commit and push with the autocommit script.
    Autocommit,
}

const DB_STEPS: &[(&str, DbStep)] = &[
    ("simple_create", DbStep::SimpleCreate),
    ("pg_remote_copy", DbStep::PgRemoteCopy),
];
const POST_DL_STEPS: &[(&str, PostDlStep)] = &[
    ("noop", PostDlStep::Noop),
    ("packaging", PostDlStep::Packaging),
];
const POST_BUILDOUT_STEPS: &[(&str, PostBuildoutStep)] = &[
    ("install-modules-test", PostBuildoutStep::InstallModulesTest),
    ("install-modules", PostBuildoutStep::InstallModules),
    ("update-openerp", PostBuildoutStep::UpdateOpenerp),
    ("update-odoo", PostBuildoutStep::UpdateOpenerp),
    (
        "openerpcommand-initialize-tests",
        PostBuildoutStep::OpenerpcommandInitializeTests,
    ),
    ("nose", PostBuildoutStep::Nose),
    ("functional", PostBuildoutStep::Functional),
    ("static-analysis", PostBuildoutStep::StaticAnalysis),
    ("doc", PostBuildoutStep::Doc),
    ("packaging", PostBuildoutStep::Packaging),
    ("autocommit", PostBuildoutStep::Autocommit),
];
/// Old names of `install-modules-test`, still accepted with a warning.
const DEPRECATED: &[&str] = &["standard", "test-openerp", "test-odoo"];

/// What the step readers need to know about the section.
pub(super) struct Context<'a> {
    pub path: &'a Path,
    pub section: &'a str,
    pub opts: &'a Resolved,
    pub line_of: &'a dyn Fn(&str) -> u32,
}

type Err<'e> = &'e mut dyn FnMut(u32, ErrorKind);

impl Context<'_> {
    fn list<T: Copy>(&self, key: &str, table: &[(&str, T)], default: T, err: Err) -> Vec<T> {
        let Some(value) = self.opts.value(key) else {
            return vec![default];
        };
        let valid = table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
        let mut out = Vec::new();
        for name in lines(value) {
            match table.iter().find(|(n, _)| *n == name) {
                Some((_, step)) => out.push(*step),
                None => err(
                    (self.line_of)(key),
                    ErrorKind::UnknownStep {
                        option: key.into(),
                        name: name.into(),
                        valid: valid.clone(),
                    },
                ),
            }
        }
        out
    }

    pub fn db_steps(&self, err: Err) -> Vec<DbStep> {
        self.list("db-steps", DB_STEPS, DbStep::SimpleCreate, err)
    }

    pub fn post_dl_steps(&self, err: Err) -> Vec<PostDlStep> {
        self.list("post-dl-steps", POST_DL_STEPS, PostDlStep::Noop, err)
    }

    pub fn post_buildout_steps(
        &self,
        err: Err,
        warnings: &mut Vec<Warning>,
    ) -> Vec<PostBuildoutStep> {
        let key = "post-buildout-steps";
        let Some(value) = self.opts.value(key) else {
            return vec![PostBuildoutStep::InstallModulesTest];
        };
        let mut table: Vec<(&str, PostBuildoutStep)> = POST_BUILDOUT_STEPS.to_vec();
        for name in lines(value).into_iter().filter(|n| DEPRECATED.contains(n)) {
            warnings.push(Warning::new(
                self.path,
                (self.line_of)(key),
                format!(
                    "step `{name}` of [{}] is an old name; write `install-modules-test`",
                    self.section
                ),
            ));
            table.push((name, PostBuildoutStep::InstallModulesTest));
        }
        self.list(key, &table[..], PostBuildoutStep::InstallModulesTest, err)
    }

    /// Reports options that the chosen steps cannot run without.
    pub fn check_needed(
        &self,
        db: &[DbStep],
        post_dl: &[PostDlStep],
        post_buildout: &[PostBuildoutStep],
        addons_given: bool,
        err: Err,
    ) {
        let mut needed: Vec<(&str, &str, &str)> = Vec::new();
        if db.contains(&DbStep::PgRemoteCopy) {
            needed.push(("pg_remote_copy", "db-steps", "pg_remote_copy.arguments"));
        }
        if post_dl.contains(&PostDlStep::Packaging) {
            for o in [
                "packaging.root-dir",
                "packaging.upload-dir",
                "packaging.prefix",
                "packaging.parts",
            ] {
                needed.push(("packaging", "post-dl-steps", o));
            }
        }
        use PostBuildoutStep as P;
        for step in post_buildout {
            let (name, opts): (&str, &[&str]) = match step {
                P::Packaging => (
                    "packaging",
                    &[
                        "packaging.prefix",
                        "packaging.upload-dir",
                        "packaging.base-url",
                    ],
                ),
                P::Functional => ("functional", &["functional.commands"]),
                P::StaticAnalysis => ("static-analysis", &["static-analysis.flake-directories"]),
                P::InstallModules if !addons_given => {
                    err(
                        (self.line_of)("post-buildout-steps"),
                        ErrorKind::MissingStepOption {
                            step: "install-modules".into(),
                            needed: "openerp-addons".into(),
                            section: self.section.into(),
                        },
                    );
                    continue;
                }
                _ => continue,
            };
            for o in opts {
                needed.push((name, "post-buildout-steps", o));
            }
        }
        for (step, list, option) in needed {
            if self.opts.value(option).is_none_or(|v| v.trim().is_empty()) {
                err(
                    (self.line_of)(list),
                    ErrorKind::MissingStepOption {
                        step: step.into(),
                        needed: option.into(),
                        section: self.section.into(),
                    },
                );
            }
        }
    }
}
