//! `oebb check`: load a master directory, print every error or the builder matrix, or with
//! `--steps BUILDER` the steps of one build ([`steps`]).

mod buildbot_master;
mod steps;

use clap::Args;
use oebb_config::{load, Buildout, MasterConfig, Overrides, PropertyValue, Warning, Worker};
use oebb_recipe::{
    build_steps, extended_files, standalone_file, standalone_live_sources, BuildInput, RecipeError,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Arguments of `oebb check`.
#[derive(Args)]
pub struct CheckArgs {
    /// Master directory (default: current directory).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Workers file to use instead of the directory's slaves.cfg / workers.cfg.
    #[arg(long, value_name = "FILE")]
    pub workers: Option<PathBuf>,
    /// Manifest to use instead of the directory's (repeat for several).
    #[arg(long = "manifest", value_name = "FILE")]
    pub manifests: Vec<PathBuf>,
    /// Print the matrix as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Print the steps of one build of this builder, with command lines and environment.
    #[arg(long, value_name = "BUILDER", conflicts_with = "json")]
    pub steps: Option<String>,
    /// With --steps: the worker that runs the build (default: the builder's first worker).
    #[arg(long, value_name = "WORKER", requires = "steps")]
    pub worker: Option<String>,
}

/// Runs the command: exit 0 with the matrix, or 1 after printing every error.
pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    let overrides = Overrides {
        workers: args.workers,
        manifests: args.manifests,
    };
    let config = match load_checked(&args.dir, &overrides) {
        Ok(config) => config,
        Err(errors) => {
            let stderr = std::io::stderr();
            let mut err = stderr.lock();
            for e in &errors {
                writeln!(err, "{e}")?;
            }
            let s = if errors.len() == 1 { "" } else { "s" };
            writeln!(err, "oebb check: {} error{s}", errors.len())?;
            return Ok(1);
        }
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if let Some(builder) = &args.steps {
        let code = steps::run(&config, builder, args.worker.as_deref(), &mut out)?;
        out.flush()?;
        return Ok(code);
    }
    if args.json {
        serde_json::to_writer(&mut out, &JsonMatrix::from(&config))?;
        writeln!(out)?;
    } else {
        write_table(&mut out, &config)?;
    }
    out.flush()?;
    Ok(0)
}

/// Loads a master directory with every check of `oebb check`: the configuration, or every
/// error, one line each (what `oebb master` does at a reconfig too).
pub fn load_checked(dir: &Path, overrides: &Overrides) -> Result<MasterConfig, Vec<String>> {
    load(dir, overrides)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect())
        .and_then(|mut config| {
            let mut errors = ignore_file_errors(&config);
            errors.extend(check_recipes(&mut config));
            let left_over = buildbot_master::warnings(&config.dir, &config.settings);
            config.warnings.extend(left_over);
            if errors.is_empty() {
                Ok(config)
            } else {
                Err(errors)
            }
        })
}

/// Reads every buildout's `analyze.ignore-file` now, so a bad pattern is found by `check`
/// rather than by the first build that needs it.
fn ignore_file_errors(config: &MasterConfig) -> Vec<String> {
    let mut errors = Vec::new();
    for buildout in &config.buildouts {
        let Some(file) = &buildout.analyze_ignore_file else {
            continue;
        };
        let origin = file.display().to_string();
        match std::fs::read_to_string(file) {
            Ok(text) => {
                if let Err(e) = oebb_analyze::IgnoreList::parse_config(&text, &origin) {
                    errors.push(e.to_string());
                }
            }
            Err(e) => errors.push(format!(
                "{}:{}: `analyze.ignore-file` of [{}] cannot be read ({origin}: {e}); \
                 give a checklog-odoo file relative to the manifest",
                buildout.manifest.display(),
                buildout.line_of("analyze.ignore-file"),
                buildout.name
            )),
        }
    }
    errors
}

/// Makes the steps of one builder of every buildout, on its first worker, now: an option the
/// recipe cannot use (a bad `odoo.version`, a missing `packaging.*`) is then an error of `check`
/// rather than of a build's first step; a step oebb does not make yet is a warning, as the build
/// will say. One builder per buildout, because making the steps of all 2,500 builders × 50
/// workers of bench/check took 2.2 s and of each builder's first worker 50 ms, against 10 ms;
/// what differs between builders and workers (capabilities) was matched when the matrix was made.
fn check_recipes(config: &mut MasterConfig) -> Vec<String> {
    let buildouts: HashMap<&str, &Buildout> = config
        .buildouts
        .iter()
        .map(|b| (b.name.as_str(), b))
        .collect();
    let workers: HashMap<&str, &Worker> = config
        .workers
        .iter()
        .map(|w| (w.name.as_str(), w))
        .collect();
    let mut checked = HashSet::new();
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    for builder in &config.matrix.builders {
        let Some(&buildout) = buildouts.get(builder.buildout.as_str()) else {
            continue;
        };
        let Some(worker) = builder
            .workers
            .first()
            .and_then(|w| workers.get(w.as_str()))
        else {
            continue;
        };
        if !checked.insert(builder.buildout.as_str()) {
            continue;
        }
        if let Some(file) = standalone_file(buildout) {
            if !file.is_file() {
                warnings.push(Warning::new(
                    &buildout.manifest,
                    buildout.line_of("buildout"),
                    format!(
                        "the buildout file of [{}] is missing ({}); its builds will fail in \
                         their `download` step until it is there",
                        buildout.name,
                        file.display()
                    ),
                ));
            }
        }
        // Read now, for the one builder of the buildout that is checked.
        let extends = extended_files(buildout, oebb_config::load::read_text);
        let live = standalone_live_sources(buildout, oebb_config::load::read_text)
            .map(|(watches, _)| watches)
            .unwrap_or_default();
        let input = BuildInput {
            buildout,
            builder,
            worker,
            extends: &extends,
            live_sources: &live,
        };
        let Err(e) = build_steps(&input) else {
            continue;
        };
        let file = &buildout.manifest;
        let line = match &e {
            RecipeError::BadOption { option, .. } => buildout.line_of(option),
            _ => buildout.line,
        };
        if matches!(e, RecipeError::Unsupported { .. }) {
            warnings.push(Warning::new(file, line, e.to_string()));
        } else {
            errors.push(format!("{}:{line}: {e}", file.display()));
        }
    }
    config.warnings.extend(warnings);
    errors
}

#[derive(Serialize)]
struct JsonMatrix<'a> {
    workers: Vec<JsonWorker<'a>>,
    builders: Vec<JsonBuilder<'a>>,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct JsonWorker<'a> {
    name: &'a str,
    max_builds: Option<u32>,
    capabilities: BTreeMap<&'a str, BTreeMap<String, &'a BTreeMap<String, String>>>,
    properties: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct JsonBuilder<'a> {
    name: &'a str,
    buildout: &'a str,
    workers: Vec<&'a str>,
    category: &'a str,
    properties: &'a BTreeMap<String, PropertyValue>,
    env: BTreeMap<&'a str, &'a oebb_config::Env>,
}

impl<'a> From<&'a MasterConfig> for JsonMatrix<'a> {
    fn from(c: &'a MasterConfig) -> Self {
        JsonMatrix {
            workers: c.workers.iter().map(json_worker).collect(),
            builders: c
                .matrix
                .builders
                .iter()
                .map(|b| JsonBuilder {
                    name: b.name.as_str(),
                    buildout: &b.buildout,
                    workers: b.workers.iter().map(|w| w.as_str()).collect(),
                    category: &b.category,
                    properties: &b.properties,
                    env: b.env.iter().map(|(w, e)| (w.as_str(), &**e)).collect(),
                })
                .collect(),
            warnings: c
                .warnings
                .iter()
                .map(|w| format!("{}: {}", w.location, w.message))
                .collect(),
        }
    }
}

fn json_worker(w: &Worker) -> JsonWorker<'_> {
    let capabilities = w
        .capabilities
        .iter()
        .map(|(name, versions)| {
            let by_version = versions
                .iter()
                .map(|c| {
                    (
                        c.version
                            .as_ref()
                            .map_or_else(String::new, ToString::to_string),
                        &c.options,
                    )
                })
                .collect();
            (name.as_str(), by_version)
        })
        .collect();
    JsonWorker {
        name: w.name.as_str(),
        max_builds: w.max_builds,
        capabilities,
        properties: &w.properties,
    }
}

/// Short text of a worker's capabilities: `postgresql 9.1 9.0, selenium`.
fn capabilities_text(w: &Worker) -> String {
    let parts: Vec<String> = w
        .capabilities
        .iter()
        .map(|(name, versions)| {
            let mut s = name.clone();
            for v in versions.iter().filter_map(|c| c.version.as_ref()) {
                s.push(' ');
                s.push_str(&v.to_string());
            }
            s
        })
        .collect();
    parts.join(", ")
}

fn write_rows(out: &mut impl Write, rows: &[Vec<String>]) -> std::io::Result<()> {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == columns {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(
                    ' ',
                    widths[i] - cell.chars().count() + 2,
                ));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn write_table(out: &mut impl Write, c: &MasterConfig) -> std::io::Result<()> {
    let mut rows = vec![vec![
        "WORKER".into(),
        "MAX_BUILDS".into(),
        "CAPABILITIES".into(),
    ]];
    for w in &c.workers {
        let max = w.max_builds.map_or_else(|| "-".into(), |n| n.to_string());
        rows.push(vec![w.name.to_string(), max, capabilities_text(w)]);
    }
    write_rows(out, &rows)?;
    writeln!(out)?;
    let mut rows = vec![vec![
        "BUILDER".into(),
        "BUILDOUT".into(),
        "CATEGORY".into(),
        "WORKERS".into(),
    ]];
    for b in &c.matrix.builders {
        let workers: Vec<&str> = b.workers.iter().map(|w| w.as_str()).collect();
        let category = if b.category.is_empty() {
            "-".to_string()
        } else {
            b.category.clone()
        };
        rows.push(vec![
            b.name.to_string(),
            b.buildout.clone(),
            category,
            workers.join(", "),
        ]);
    }
    write_rows(out, &rows)?;
    for w in &c.warnings {
        writeln!(out, "{w}")?;
    }
    let buildouts = c.buildouts.iter().filter(|b| b.source.is_some()).count();
    writeln!(
        out,
        "\n{} workers, {} buildouts, {} builders, {} warnings",
        c.workers.len(),
        buildouts,
        c.matrix.builders.len(),
        c.warnings.len()
    )
}
