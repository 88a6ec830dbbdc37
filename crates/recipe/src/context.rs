//! What the recipe derives once from its inputs: names, paths, versions and environment.

use oebb_config::buildout::{PostDlStep, Watch};
use oebb_config::paths::{Component, RelativePath, Subject};
use oebb_config::{Builder, Buildout, BuildoutSource, CapabilityVersion, Worker};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The inputs of the recipe.
#[derive(Clone, Copy, Debug)]
pub struct BuildInput<'a> {
    /// The buildout section the builder builds.
    pub buildout: &'a Buildout,
    /// The builder.
    pub builder: &'a Builder,
    /// The worker that runs the build.
    pub worker: &'a Worker,
    /// For a `standalone` buildout: the files it extends, relative to its directory, as found
    /// by [`crate::extends::standalone_files`]; they are sent beside it.
    pub extends: &'a [String],
    /// For a standalone buildout: the live sources of its Odoo part, as
    /// [`crate::live_sources::live_sources`] reads them from its files (the key of the buildout
    /// run resolves their branches on the worker); empty for other sources.
    pub live_sources: &'a [Watch],
}

/// Why the steps of a build cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecipeError {
    /// No builder of that name.
    #[error("no builder `{builder}`; the builders are: {valid}")]
    UnknownBuilder {
        /// The name asked for.
        builder: String,
        /// The builders.
        valid: String,
    },
    /// No worker of that name.
    #[error("no worker `{worker}` in {file}")]
    UnknownWorker {
        /// The name asked for.
        worker: String,
        /// The workers file.
        file: String,
    },
    /// The builder does not list the worker.
    #[error("worker `{worker}` is not a worker of builder `{builder}`; choose one of: {valid}")]
    WorkerNotInBuilder {
        /// The worker.
        worker: String,
        /// The builder.
        builder: String,
        /// The builder's workers.
        valid: String,
    },
    /// The builder builds another buildout.
    #[error("builder `{builder}` builds buildout [{expected}], not [{given}]")]
    WrongBuildout {
        /// The builder.
        builder: String,
        /// Its buildout.
        expected: String,
        /// The buildout given.
        given: String,
    },
    /// A watch-only section.
    #[error("buildout [{buildout}] has no `buildout` option, so it has no build")]
    NoSource {
        /// The section.
        buildout: String,
    },
    /// The worker lacks a capability the buildout asks for (anybox crashed with KeyError).
    #[error("worker `{worker}` has no capability `{capability}` matching what [{buildout}] asks for; declare it in the workers file")]
    MissingCapability {
        /// The worker.
        worker: String,
        /// The capability.
        capability: String,
        /// The buildout.
        buildout: String,
    },
    /// A step oebb does not make yet.
    #[error(
        "[{buildout}]: {what} is not supported by oebb yet; remove it from the manifest (a \
         release archive made elsewhere can be tested with `buildout = archive …`)"
    )]
    Unsupported {
        /// The buildout.
        buildout: String,
        /// The step.
        what: String,
    },
    /// An option value the recipe cannot use.
    #[error("[{buildout}] option `{option}` = `{value}`: expected {expected}")]
    BadOption {
        /// The buildout.
        buildout: String,
        /// The option.
        option: String,
        /// Its value.
        value: String,
        /// What is expected.
        expected: String,
    },
}

/// An Odoo/OpenERP series, `7.0` or `16.0`: what decides the test flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OdooSeries {
    /// `16` in `16.0`.
    pub major: u32,
    /// `0` in `16.0`.
    pub minor: u32,
}

impl OdooSeries {
    /// Parses `16.0`, `16`, `saas~16.3`, `6.1`.
    pub fn parse(text: &str) -> Option<OdooSeries> {
        let t = text
            .trim()
            .trim_start_matches("saas~")
            .trim_start_matches("saas-");
        let mut parts = t.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = match parts.next() {
            Some(m) => m.parse().ok()?,
            None => 0,
        };
        Some(OdooSeries { major, minor })
    }

    /// `--test-enable` came with OpenERP 7.0 (`openerp/tools/config.py` of `openerp-core`
    /// 7.0.406), whose `openerp/modules/loading.py` runs a module's YAML and unit tests only
    /// with it. OpenERP 6.0 and 6.1 have no such option (their optparse refuses it) and run
    /// YAML tests unless `--test-disable`.
    pub fn has_test_enable(self) -> bool {
        self >= OdooSeries { major: 7, minor: 0 }
    }

    /// OpenERP 6.0 to 7.0 log their tests' results at level `TEST` (15, below `INFO`), so the
    /// failures are in the log only with `--log-level=test`; from Odoo 8.0 they are at `INFO`
    /// and above.
    pub fn logs_tests_at_test_level(self) -> bool {
        self.major <= 7
    }

    /// Odoo 11 renamed `--xmlrpc-port` to `--http-port`.
    pub fn port_flag(self) -> &'static str {
        if self.major >= 11 {
            "--http-port"
        } else {
            "--xmlrpc-port"
        }
    }
}

impl std::fmt::Display for OdooSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Everything the step families read.
pub struct Context<'a> {
    /// The buildout section.
    pub buildout: &'a Buildout,
    /// The builder.
    pub builder: &'a Builder,
    /// The worker.
    pub worker: &'a Worker,
    /// Files a standalone buildout extends.
    pub extends: &'a [String],
    /// The live sources of a standalone buildout.
    pub live_sources: &'a [Watch],
    /// The buildout's source.
    pub source: &'a BuildoutSource,
    /// Buildout config, relative to `build`.
    pub config: String,
    /// `<db_prefix>-<builder>`.
    pub testing_db: String,
    /// From `odoo.version`, or the `odoo_version` property of the builder or the worker.
    pub odoo: Option<OdooSeries>,
    /// The builder's environment on this worker.
    pub env: BTreeMap<String, String>,
    /// The PostgreSQL capability version the build runs against, if any.
    pub postgresql: Option<&'a CapabilityVersion>,
    /// The Python capability version, if any.
    pub python: Option<&'a CapabilityVersion>,
}

impl<'a> Context<'a> {
    /// Checks the inputs belong together and derives the facts.
    pub fn new(input: &BuildInput<'a>) -> Result<Context<'a>, RecipeError> {
        let BuildInput {
            buildout,
            builder,
            worker,
            extends,
            live_sources,
        } = *input;
        if builder.buildout != buildout.name {
            return Err(RecipeError::WrongBuildout {
                builder: builder.name.to_string(),
                expected: builder.buildout.clone(),
                given: buildout.name.clone(),
            });
        }
        if !builder.workers.contains(&worker.name) {
            let valid: Vec<&str> = builder.workers.iter().map(|w| w.as_str()).collect();
            return Err(RecipeError::WorkerNotInBuilder {
                worker: worker.name.to_string(),
                builder: builder.name.to_string(),
                valid: valid.join(", "),
            });
        }
        let Some(source) = buildout.source.as_ref() else {
            return Err(RecipeError::NoSource {
                buildout: buildout.name.clone(),
            });
        };
        if buildout.post_dl_steps.contains(&PostDlStep::Packaging) {
            return Err(RecipeError::Unsupported {
                buildout: buildout.name.clone(),
                what: "`post-dl-steps = packaging` (building a release archive from an hgtag \
                       checkout)"
                    .into(),
            });
        }
        // The builder name, not the section name (seed-system §10.5): two builders of one
        // buildout sharing a cluster then never drop each other's database.
        let testing_db = format!("{}-{}", worker.db_prefix, builder.name);
        let odoo = odoo_series(buildout, builder, worker)?;
        let env = builder
            .env
            .get(&worker.name)
            .map(|e| (**e).clone())
            .unwrap_or_default();
        let mut cx = Context {
            buildout,
            builder,
            worker,
            extends,
            live_sources,
            source,
            config: config_path(source),
            testing_db,
            odoo,
            env,
            postgresql: None,
            python: None,
        };
        cx.postgresql = cx.capability("postgresql");
        cx.python = cx.capability("python");
        Ok(cx)
    }

    /// The version of capability `name` this build uses on the worker: the one the builder was
    /// split on, else the highest meeting `build-requires`, else the highest declared.
    pub fn capability(&self, name: &str) -> Option<&'a CapabilityVersion> {
        let declared = self.worker.capability(name);
        if let Some(split) = self.builder.split.iter().find(|s| s.capability == name) {
            return split
                .version
                .as_ref()
                .and_then(|v| declared.iter().find(|c| c.version.as_ref() == Some(v)));
        }
        let reqs: Vec<_> = self
            .buildout
            .build_requires
            .iter()
            .filter(|r| r.capability == name)
            .collect();
        declared
            .iter()
            .filter(|c| reqs.iter().all(|r| r.matches(c.version.as_ref())))
            .max_by(|a, b| a.version.cmp(&b.version))
    }

    /// The buildout part (`buildout-part`).
    pub fn part(&self) -> &str {
        &self.buildout.part
    }

    /// A step option, trimmed, None when unset or empty.
    pub fn option(&self, name: &str) -> Option<&'a str> {
        self.buildout
            .options
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A boolean step option (`true`/`false`, any case; config checked the spelling).
    pub fn flag(&self, name: &str) -> bool {
        self.option(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// A whole-number step option, or `default`.
    pub fn number(&self, name: &str, default: u64) -> Result<u64, RecipeError> {
        match self.option(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| self.bad(name, v, "a whole number")),
        }
    }

    /// A path option, checked with [`oebb_config::paths`] (loading the configuration checked
    /// it already; the recipe does not rely on that): a relative path that stays in its
    /// directory (`doc.upload-dir`), normalised.
    pub fn path_option(&self, name: &str) -> Result<Option<PathBuf>, RecipeError> {
        let Some(value) = self.option(name) else {
            return Ok(None);
        };
        RelativePath::new(Subject::Option(name.into()), value)
            .map(|p| Some(p.as_path().to_path_buf()))
            .map_err(|e| {
                let expected = format!("a relative path inside its directory, but {}", e.reason());
                self.bad(name, value, &expected)
            })
    }

    /// A name option (`packaging.prefix`): one path component.
    pub fn name_option(&self, name: &str) -> Result<Option<Component>, RecipeError> {
        let Some(value) = self.option(name) else {
            return Ok(None);
        };
        Component::new(Subject::Option(name.into()), value)
            .map(Some)
            .map_err(|e| self.bad(name, value, &format!("a single name, but {}", e.reason())))
    }

    /// The error for option `name`.
    pub fn bad(&self, name: &str, value: &str, expected: &str) -> RecipeError {
        RecipeError::BadOption {
            buildout: self.buildout.name.clone(),
            option: name.into(),
            value: value.into(),
            expected: expected.into(),
        }
    }

    /// An option of the PostgreSQL capability version.
    pub fn pg(&self, key: &str) -> Option<&'a str> {
        self.postgresql
            .and_then(|c| c.options.get(key))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The comma-joined addons to install.
    pub fn addons(&self) -> String {
        self.buildout.addons.join(",")
    }
}

/// The buildout config's path relative to `build`.
fn config_path(source: &BuildoutSource) -> String {
    match source {
        BuildoutSource::Standalone { path } => path.rsplit('/').next().unwrap_or(path).to_string(),
        BuildoutSource::Hg { config, .. }
        | BuildoutSource::Git { config, .. }
        | BuildoutSource::Bzr { config, .. }
        | BuildoutSource::HgTag { config, .. }
        | BuildoutSource::GitTag { config, .. }
        | BuildoutSource::Archive { config, .. } => config.clone(),
    }
}

/// `odoo.version` of the buildout, else the builder's or the worker's `odoo_version` property.
fn odoo_series(
    buildout: &Buildout,
    builder: &Builder,
    worker: &Worker,
) -> Result<Option<OdooSeries>, RecipeError> {
    let from_builder = match builder.properties.get("odoo_version") {
        Some(oebb_config::PropertyValue::Text(t)) => Some(t.as_str()),
        _ => None,
    };
    let given = buildout
        .options
        .get("odoo.version")
        .map(String::as_str)
        .or(from_builder)
        .or(worker.properties.get("odoo_version").map(String::as_str))
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match given {
        None => Ok(None),
        Some(v) => OdooSeries::parse(v)
            .map(Some)
            .ok_or_else(|| RecipeError::BadOption {
                buildout: buildout.name.clone(),
                option: "odoo.version".into(),
                value: v.into(),
                expected: "an Odoo series such as 7.0 or 16.0".into(),
            }),
    }
}
