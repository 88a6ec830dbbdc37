//! Buildouts (`buildouts/MANIFEST.cfg`): one section per buildout, every option of seed-system §1.

use crate::error::{ConfigError, ErrorKind, Warning};
use crate::ini::{value_lines, Ini, Resolved, Section};
use crate::names::name_problem;
use crate::requirement::Requirement;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod path_options;
mod source;
mod steps;
mod watch;

pub use source::{parse_source, BuildoutSource};
pub use steps::{DbStep, PostBuildoutStep, PostDlStep};
pub use watch::{Vcs, Watch};

/// One buildout section of a manifest, its options resolved (DEFAULT, `inherit`, `%(x)s`).
#[derive(Clone, Debug, PartialEq)]
pub struct Buildout {
    /// Section name: base builder name, scheduler name, testing-database suffix.
    pub name: String,
    /// The manifest it comes from.
    pub manifest: PathBuf,
    /// Line of the section header.
    pub line: u32,
    /// The `buildout` option; None for a watch-only section, which makes no builder.
    pub source: Option<BuildoutSource>,
    /// `watch` lines.
    pub watch: Vec<Watch>,
    /// `auto-watch` (default true; forced false by `post-dl-steps = packaging`).
    pub auto_watch: bool,
    /// `build-for`: one requirement per capability to split builders on.
    pub build_for: Vec<Requirement>,
    /// `build-requires`: every requirement a worker must meet.
    pub build_requires: Vec<Requirement>,
    /// `build-category` (stripped; empty by default).
    pub category: String,
    /// `db_template` (default `template1`).
    pub db_template: String,
    /// `buildout-part` (default `openerp`).
    pub part: String,
    /// `start-command` (default `bin/start_<part>`).
    pub start_command: String,
    /// `test-command` (default `bin/test_<part>`).
    pub test_command: String,
    /// `openerp-addons` or `odoo-addons`, split on commas (default `["all"]`).
    pub addons: Vec<String>,
    /// `tree-stable-timer` in seconds; None means the master's default.
    pub tree_stable_timer: Option<u64>,
    /// `db-steps` (default `simple_create`; empty means none).
    pub db_steps: Vec<DbStep>,
    /// `post-dl-steps` (default `noop`).
    pub post_dl_steps: Vec<PostDlStep>,
    /// `post-buildout-steps` (default `install-modules-test`; empty means none).
    pub post_buildout_steps: Vec<PostBuildoutStep>,
    /// `bootstrap-version`: the zc.buildout version to bootstrap.
    pub bootstrap_version: Option<String>,
    /// `virtualenv` (default true).
    pub virtualenv: bool,
    /// `git-shallow`: clone the addons with depth 2.
    pub git_shallow: bool,
    /// `inherit`: the parent section.
    pub inherit: Option<String>,
    /// `analyze.ignore-file`: log-analysis ignore patterns in checklog-odoo format, resolved
    /// against the manifest's directory.
    pub analyze_ignore_file: Option<PathBuf>,
    /// `analyze.warnings-fail`: WARNING records fail the build instead of giving warnings.
    pub analyze_warnings_fail: bool,
    /// `analyze.known-noise` (default true): ignore oebb's list of known environment noise.
    pub analyze_known_noise: bool,
    /// Every resolved option, for the step options (`packaging.*`, `nose.*`, `odoo.*` …).
    pub options: BTreeMap<String, String>,
    /// Line of each resolved option, for messages about it.
    pub option_lines: BTreeMap<String, u32>,
}

impl Buildout {
    /// Line of option `name` (the section header when it is not set).
    pub fn line_of(&self, name: &str) -> u32 {
        self.option_lines.get(name).copied().unwrap_or(self.line)
    }

    /// What the scheduler watches: `watch` lines, then the buildout's own repository (which
    /// wins over a `watch` line for the same URL), seed-system §6.3.
    pub fn watched(&self) -> Vec<Watch> {
        let mut out = self.watch.clone();
        if let Some(own) = self.source.as_ref().and_then(watch::of_source) {
            out.retain(|w| w.url != own.url);
            out.push(own);
        }
        out
    }
}

/// Options the buildout reader understands, besides the step options.
const KNOWN: &[&str] = &[
    "buildout",
    "watch",
    "auto-watch",
    "build-for",
    "build-requires",
    "build-category",
    "db_template",
    "buildout-part",
    "start-command",
    "test-command",
    "openerp-addons",
    "odoo-addons",
    "tree-stable-timer",
    "db-steps",
    "post-dl-steps",
    "post-buildout-steps",
    "bootstrap-version",
    "bootstrap-script",
    "bootstrap-type",
    "bootstrap-virtualenv",
    "virtualenv",
    "git-shallow",
    "inherit",
    "install-as-upgrade",
    "keep-failed-db",
];

/// Prefixes of the options of steps (seed-system §5).
const STEP_PREFIXES: &[&str] = &[
    "packaging.",
    "doc.",
    "nose.",
    "functional.",
    "static-analysis.",
    "install.",
    "odoo.",
    "upgrade.",
    "update.",
    "autocommit.",
    "pg_remote_copy.",
    "analyze.",
    "bootstrap-",
    "buildout.",
    "db.",
];

/// Reads every section of one manifest, collecting every error.
pub fn parse_manifest(ini: &Ini) -> (Vec<Buildout>, Vec<ConfigError>, Vec<Warning>) {
    let mut buildouts = Vec::new();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for section in &ini.sections {
        let chain = match inherit_chain(ini, section) {
            Ok(chain) => chain,
            Err(e) => {
                errors.extend(e);
                continue;
            }
        };
        let (resolved, errs) = ini.resolve(&chain);
        let failed = !errs.is_empty();
        errors.extend(errs);
        if failed {
            continue;
        }
        let before = errors.len();
        let buildout = parse_buildout(&ini.path, section, &resolved, &mut errors, &mut warnings);
        if errors.len() == before {
            buildouts.push(buildout);
        }
    }
    (buildouts, errors, warnings)
}

/// The section followed by its ancestors through `inherit`. A broken chain is reported by the
/// section whose own `inherit` is wrong (or that is in the loop), so each problem shows once.
fn inherit_chain<'a>(
    ini: &'a Ini,
    section: &'a Section,
) -> Result<Vec<&'a Section>, Option<ConfigError>> {
    let mut chain = vec![section];
    let mut current = section;
    while let Some(opt) = current.get("inherit") {
        let parent_name = opt.value.trim();
        let Some(parent) = ini.section(parent_name) else {
            let error = ConfigError::new(
                &ini.path,
                opt.line,
                ErrorKind::UnknownParent {
                    parent: parent_name.into(),
                },
            );
            return Err((current.name == section.name).then_some(error));
        };
        if chain.iter().any(|s| s.name == parent.name) {
            let mut names: Vec<&str> = chain.iter().map(|s| s.name.as_str()).collect();
            names.push(&parent.name);
            let own_line = section.get("inherit").map_or(section.line, |o| o.line);
            let error = ConfigError::new(
                &ini.path,
                own_line,
                ErrorKind::InheritLoop {
                    chain: names.join(" → "),
                },
            );
            return Err((parent.name == section.name).then_some(error));
        }
        if chain.len() == MAX_INHERIT_DEPTH {
            // Reported once, by the section whose own `inherit` makes the chain too long: the
            // one whose parent's chain is still within the bound.
            if parent.get("inherit").is_some() {
                return Err(None);
            }
            let own_line = section.get("inherit").map_or(section.line, |o| o.line);
            let kind = ErrorKind::InheritTooDeep {
                section: section.name.clone(),
                root: parent.name.clone(),
                limit: MAX_INHERIT_DEPTH,
            };
            return Err(Some(ConfigError::new(&ini.path, own_line, kind)));
        }
        chain.push(parent);
        current = parent;
    }
    Ok(chain)
}

/// How many sections an `inherit` chain may hold, the section itself included.
const MAX_INHERIT_DEPTH: usize = 16;

fn parse_buildout(
    path: &Path,
    section: &Section,
    opts: &Resolved,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<Warning>,
) -> Buildout {
    let name = section.name.clone();
    let mut err = |line: u32, kind| errors.push(ConfigError::new(path, line, kind));
    if let Some(what) = name_problem(&name) {
        err(
            section.line,
            ErrorKind::BadName {
                name: name.clone(),
                what: what.into(),
            },
        );
    }
    let line_of = |key: &str| opts.get(key).map_or(section.line, |o| o.line);
    let text = |key: &str| opts.value(key).map(str::trim);

    let source = text("buildout")
        .map(parse_source)
        .and_then(|r| r.map_err(|kind| err(line_of("buildout"), kind)).ok());
    if matches!(source, Some(BuildoutSource::Standalone { .. }))
        && opts.get("bootstrap-script").is_some()
    {
        warnings.push(Warning::new(
            path,
            line_of("bootstrap-script"),
            "`bootstrap-script` is ignored; remove it",
        ));
    }
    for old in ["bootstrap-type", "bootstrap-virtualenv"] {
        if opts.get(old).is_some_and(|o| !o.from_default) {
            warnings.push(Warning::new(path, line_of(old), format!("`{old}` is ignored since 2015 (only `bootstrap-version` and `virtualenv` are read); remove it")));
        }
    }

    let mut watch = Vec::new();
    if let Some(v) = opts.get("watch") {
        for l in v.lines() {
            match l.parse::<Watch>() {
                Ok(w) => watch.push(w),
                Err(reason) => err(
                    v.line,
                    ErrorKind::BadWatch {
                        text: l.into(),
                        reason,
                    },
                ),
            }
        }
    }

    let mut bool_opt = |key: &str, default: bool| match text(key) {
        None => default,
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                err(
                    line_of(key),
                    ErrorKind::BadBool {
                        option: key.into(),
                        value: v.into(),
                    },
                );
                default
            }
        },
    };
    let auto_watch = bool_opt("auto-watch", true);
    let virtualenv = bool_opt("virtualenv", true);
    let git_shallow = bool_opt("git-shallow", false);
    let analyze_warnings_fail = bool_opt("analyze.warnings-fail", false);
    let analyze_known_noise = bool_opt("analyze.known-noise", true);
    for key in [
        "install-as-upgrade",
        "odoo.use-port",
        "install.demo-data",
        "nose.coverage",
        "nose.profile",
        "nose.cprofile",
        "keep-failed-db",
        "buildout.skip-unchanged",
        "db.template-cache",
    ] {
        bool_opt(key, false);
    }

    let requirements = |key: &str, err: &mut dyn FnMut(u32, ErrorKind)| -> Vec<Requirement> {
        let Some(opt) = opts.get(key) else {
            return Vec::new();
        };
        let mut out: Vec<Requirement> = Vec::new();
        for l in opt.lines() {
            match l.parse::<Requirement>() {
                Ok(r) => out.push(r),
                Err(e) => err(
                    opt.line,
                    ErrorKind::BadRequirement {
                        option: key.into(),
                        text: l.into(),
                        reason: e.to_string(),
                    },
                ),
            }
        }
        out
    };
    let build_for = requirements("build-for", &mut err);
    for (i, r) in build_for.iter().enumerate() {
        if build_for[..i].iter().any(|p| p.capability == r.capability) {
            err(
                line_of("build-for"),
                ErrorKind::DuplicateBuildFor {
                    capability: r.capability.clone(),
                },
            );
        }
    }
    let build_requires = requirements("build-requires", &mut err);
    for r in build_requires.iter().filter(|r| r.is_not_used()) {
        err(
            line_of("build-requires"),
            ErrorKind::NotUsedInRequires {
                text: r.to_string(),
            },
        );
    }

    let mut number = |key: &str| -> Option<u64> {
        let v = text(key)?;
        v.parse::<u64>().ok().or_else(|| {
            err(
                line_of(key),
                ErrorKind::BadNumber {
                    option: key.into(),
                    value: v.into(),
                    expected: "a whole number".into(),
                },
            );
            None
        })
    };
    let tree_stable_timer = number("tree-stable-timer");
    for key in [
        "pg_remote_copy.timeout",
        "odoo.http-port-min",
        "odoo.http-port-max",
        "odoo.http-port-step",
        "functional.wait",
        "static-analysis.max-line-length",
    ] {
        number(key);
    }

    let addons_text = match (opts.get("openerp-addons"), opts.get("odoo-addons")) {
        (Some(_), Some(o)) => {
            err(o.line, ErrorKind::TwoAddonsOptions);
            None
        }
        (Some(o), None) | (None, Some(o)) => Some(o.value.as_str()),
        (None, None) => None,
    };
    let addons: Vec<String> = match addons_text {
        Some(v) => v
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect(),
        None => vec!["all".to_string()],
    };

    let part = text("buildout-part")
        .filter(|p| !p.is_empty())
        .unwrap_or("openerp")
        .to_string();
    let steps_ctx = steps::Context {
        path,
        section: &name,
        opts,
        line_of: &line_of,
    };
    let db_steps = steps_ctx.db_steps(&mut err);
    let post_dl_steps = steps_ctx.post_dl_steps(&mut err);
    let post_buildout_steps = steps_ctx.post_buildout_steps(&mut err, warnings);
    steps_ctx.check_needed(
        &db_steps,
        &post_dl_steps,
        &post_buildout_steps,
        opts.get("openerp-addons")
            .or(opts.get("odoo-addons"))
            .is_some(),
        &mut err,
    );
    path_options::check(&name, source.as_ref(), opts, &line_of, &mut err);

    // Only the section's own options: a parent's typo is reported once, by the parent.
    for opt in &section.options {
        let known = KNOWN.contains(&opt.name.as_str())
            || STEP_PREFIXES.iter().any(|p| opt.name.starts_with(p));
        if !known {
            warnings.push(Warning::new(
                path,
                opt.line,
                format!(
                    "unknown option `{}` in [{name}]; it is ignored (check its spelling)",
                    opt.name
                ),
            ));
        }
    }

    Buildout {
        auto_watch: auto_watch && !post_dl_steps.contains(&PostDlStep::Packaging),
        source,
        watch,
        build_for,
        build_requires,
        category: text("build-category").unwrap_or("").to_string(),
        db_template: text("db_template")
            .filter(|t| !t.is_empty())
            .unwrap_or("template1")
            .to_string(),
        start_command: text("start-command")
            .map_or_else(|| format!("bin/start_{part}"), String::from),
        test_command: text("test-command").map_or_else(|| format!("bin/test_{part}"), String::from),
        part,
        addons,
        tree_stable_timer,
        db_steps,
        post_dl_steps,
        post_buildout_steps,
        bootstrap_version: text("bootstrap-version")
            .filter(|v| !v.is_empty())
            .map(String::from),
        virtualenv,
        git_shallow,
        inherit: section.get("inherit").map(|o| o.value.trim().to_string()),
        analyze_ignore_file: text("analyze.ignore-file")
            .filter(|f| !f.is_empty())
            .map(|f| path.parent().unwrap_or(Path::new("")).join(f)),
        analyze_warnings_fail,
        analyze_known_noise,
        options: opts
            .options
            .iter()
            .map(|o| (o.name.clone(), o.value.clone()))
            .collect(),
        option_lines: opts
            .options
            .iter()
            .map(|o| (o.name.clone(), o.line))
            .collect(),
        name,
        manifest: path.to_path_buf(),
        line: section.line,
    }
}

/// Non-empty lines of a multi-line value (re-exported for step lists).
fn lines(v: &str) -> Vec<&str> {
    value_lines(v).collect()
}

#[cfg(test)]
mod tests;
