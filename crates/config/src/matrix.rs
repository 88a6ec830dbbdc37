//! The builder matrix (seed-system §4): buildouts × workers → builders, each with its workers,
//! properties and the environment every worker gets for the capability versions it was split on.

use crate::buildout::Buildout;
use crate::error::{ConfigError, ErrorKind, Warning};
use crate::names::{name_problem, BuilderName, WorkerName};
use crate::requirement::Requirement;
use crate::version::Version;
use crate::worker::Worker;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A build property value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PropertyValue {
    /// Text.
    Text(String),
    /// A list of texts (`build_requires`).
    List(Vec<String>),
}

/// The capability version a builder was made for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Capability name, e.g. `postgresql`.
    pub capability: String,
    /// The version; None for `not-used`.
    pub version: Option<Version>,
}

/// Environment variables for one worker of one builder.
pub type Env = BTreeMap<String, String>;

/// One builder: a buildout on some workers for one combination of capability versions.
#[derive(Clone, Debug, PartialEq)]
pub struct Builder {
    /// `<buildout>[-<abbrev><version>…]`.
    pub name: BuilderName,
    /// The buildout section it builds.
    pub buildout: String,
    /// Workers that may run it, in workers-file order.
    pub workers: Vec<WorkerName>,
    /// `build-category` of the buildout.
    pub category: String,
    /// `build_requires` and the version properties (`pg_version`, `py_version`, …).
    pub properties: BTreeMap<String, PropertyValue>,
    /// The `build-for` capability versions, in manifest order.
    pub split: Vec<Split>,
    /// For each worker, the variables its builds get (`PGPORT`, `PATH`, …); shared between
    /// builders, since most workers give the same variables to many builders.
    pub env: BTreeMap<WorkerName, Arc<Env>>,
}

/// Every builder, in manifest order then split order, and what the user should know.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Matrix {
    /// The builders.
    pub builders: Vec<Builder>,
    /// Buildouts that no worker can build, and why.
    pub warnings: Vec<Warning>,
}

impl Matrix {
    /// The builder named `name`.
    pub fn builder(&self, name: &str) -> Option<&Builder> {
        self.builders.iter().find(|b| b.name.as_str() == name)
    }
}

/// Short name of a capability in builder names (`-pg9.1`, `-py2.7`); others use their name.
pub fn abbreviation(capability: &str) -> &str {
    match capability {
        "postgresql" => "pg",
        "python" => "py",
        other => other,
    }
}

/// Build property holding the version a builder was made for.
pub fn version_property(capability: &str) -> String {
    match capability {
        "postgresql" => "pg_version".into(),
        "python" => "py_version".into(),
        "wkhtmltopdf" => "wkhtml2pdf_version".into(),
        other => format!(
            "{}_version",
            other.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        ),
    }
}

/// Variables a capability version's options give (seed-system §4.3); PATH is prepended.
pub fn capability_env(capability: &str, options: &BTreeMap<String, String>, env: &mut Env) {
    let mut set = |var: &str, key: &str| {
        if let Some(v) = options.get(key).filter(|v| !v.is_empty()) {
            env.insert(var.to_string(), v.clone());
        }
    };
    match capability {
        "postgresql" => {
            set("PGPORT", "port");
            set("PGHOST", "host");
            set("PGUSER", "user");
            set("PGPASSWORD", "passwd");
            set("PGPASSWORD", "password");
            set("LD_LIBRARY_PATH", "lib");
            if let Some(bin) = options.get("bin").filter(|v| !v.is_empty()) {
                env.insert("PATH".into(), format!("{bin}:${{PATH}}"));
            }
        }
        "wkhtmltopdf" => {
            let display = options.get("display").map_or(":0", String::as_str);
            env.insert("DISPLAY".into(), display.to_string());
        }
        _ => {}
    }
}

/// Whether `worker` meets `req` with at least one declared version.
fn meets(worker: &Worker, req: &Requirement) -> bool {
    worker
        .capability(&req.capability)
        .iter()
        .any(|c| req.matches(c.version.as_ref()))
}

/// Indices of the workers that may build a buildout: they meet every `build-requires`, and
/// every name of their `build-only-if-requires` is required.
fn eligible(buildout: &Buildout, workers: &[Worker]) -> Vec<usize> {
    let required = |name: &String| {
        buildout
            .build_requires
            .iter()
            .any(|r| &r.capability == name)
    };
    workers
        .iter()
        .enumerate()
        .filter(|(_, w)| buildout.build_requires.iter().all(|r| meets(w, r)))
        .filter(|(_, w)| w.build_only_if_requires.iter().all(required))
        .map(|(i, _)| i)
        .collect()
}

/// Why no worker can build `buildout`, naming the requirement nobody meets.
fn nobody_reason(buildout: &Buildout, workers: &[Worker]) -> String {
    if workers.is_empty() {
        return "there are no workers".into();
    }
    let unmet: Vec<String> = buildout
        .build_requires
        .iter()
        .filter(|r| !workers.iter().any(|w| meets(w, r)))
        .map(|r| format!("`{r}`"))
        .collect();
    if !unmet.is_empty() {
        return format!("no worker meets build-requires {}", unmet.join(", "));
    }
    let reqs: Vec<String> = buildout
        .build_requires
        .iter()
        .map(|r| format!("`{r}`"))
        .collect();
    if workers
        .iter()
        .any(|w| buildout.build_requires.iter().all(|r| meets(w, r)))
    {
        return "the workers that meet its build-requires only build buildouts requiring their \
                build-only-if-requires capabilities"
            .into();
    }
    format!(
        "no single worker meets all of build-requires {}",
        reqs.join(", ")
    )
}

/// A builder being refined by successive `build-for` splits.
struct Draft {
    name: String,
    /// Indices into the workers.
    workers: Vec<usize>,
    split: Vec<Split>,
}

/// Environments already computed, by (split and requirements text, worker index): a worker
/// gives the same variables to every builder of the same capability versions.
type EnvCache = HashMap<String, Vec<Option<Arc<Env>>>>;

/// Builds the matrix; errors are builder-name clashes between buildouts.
pub fn build_matrix(buildouts: &[Buildout], workers: &[Worker]) -> (Matrix, Vec<ConfigError>) {
    let mut matrix = Matrix::default();
    let mut errors = Vec::new();
    let mut made_by: HashMap<String, &str> = HashMap::new();
    let mut cache = EnvCache::new();
    for buildout in buildouts.iter().filter(|b| b.source.is_some()) {
        let candidates = eligible(buildout, workers);
        let warn = |message: String| {
            let text = format!("buildout [{}] gets no builder: {message}", buildout.name);
            Warning::new(&buildout.manifest, buildout.line, text)
        };
        if candidates.is_empty() {
            matrix.warnings.push(warn(nobody_reason(buildout, workers)));
            continue;
        }
        let mut drafts = vec![Draft {
            name: buildout.name.clone(),
            workers: candidates,
            split: Vec::new(),
        }];
        for req in &buildout.build_for {
            if req.is_not_used() {
                for d in &mut drafts {
                    d.split.push(Split {
                        capability: req.capability.clone(),
                        version: None,
                    });
                }
                continue;
            }
            drafts = drafts
                .into_iter()
                .flat_map(|d| split(d, req, workers))
                .collect();
            if drafts.is_empty() {
                let markers_only = workers.iter().any(|w| {
                    let c = w.capability(&req.capability);
                    !c.is_empty() && c.iter().all(|c| c.version.is_none())
                });
                let message = if markers_only {
                    format!(
                        "no worker has a version matching build-for `{req}`; workers that declare \
                         `{}` without a version cannot be split on, so move it to build-requires",
                        req.capability
                    )
                } else {
                    format!("no worker meeting its build-requires has a version matching build-for `{req}`")
                };
                matrix.warnings.push(warn(message));
                break;
            }
        }
        for draft in drafts {
            // The buildout's own name was checked with it; a version can still add a `/`
            // or make the name too long for the builder's directory on the workers.
            if let Some(what) = name_problem(&draft.name) {
                let kind = ErrorKind::BadName {
                    name: draft.name.clone(),
                    what: what.into(),
                };
                errors.push(ConfigError::new(&buildout.manifest, buildout.line, kind));
                continue;
            }
            if let Some(first) = made_by.insert(draft.name.clone(), &buildout.name) {
                errors.push(ConfigError::new(
                    &buildout.manifest,
                    buildout.line,
                    ErrorKind::DuplicateBuilder {
                        name: draft.name.clone(),
                        first: first.into(),
                        second: buildout.name.clone(),
                    },
                ));
                continue;
            }
            matrix
                .builders
                .push(finish(buildout, draft, workers, &mut cache));
        }
    }
    (matrix, errors)
}

/// One draft per version of `req.capability` that matches, newest first.
fn split(draft: Draft, req: &Requirement, workers: &[Worker]) -> Vec<Draft> {
    let caps = |i: &usize| workers[*i].capability(&req.capability);
    let mut versions: Vec<&Version> = draft
        .workers
        .iter()
        .flat_map(caps)
        .filter_map(|c| c.version.as_ref())
        .filter(|v| req.matches(Some(v)))
        .collect();
    versions.sort_unstable_by(|a, b| b.cmp(a));
    versions.dedup();
    versions
        .into_iter()
        .map(|v| {
            let mut split = draft.split.clone();
            split.push(Split {
                capability: req.capability.clone(),
                version: Some(v.clone()),
            });
            Draft {
                name: format!("{}-{}{}", draft.name, abbreviation(&req.capability), v),
                workers: draft
                    .workers
                    .iter()
                    .copied()
                    .filter(|i| caps(i).iter().any(|c| c.version.as_ref() == Some(v)))
                    .collect(),
                split,
            }
        })
        .collect()
}

fn finish(buildout: &Buildout, draft: Draft, workers: &[Worker], cache: &mut EnvCache) -> Builder {
    let mut properties = BTreeMap::new();
    if !buildout.build_requires.is_empty() {
        let reqs = buildout
            .build_requires
            .iter()
            .map(ToString::to_string)
            .collect();
        properties.insert("build_requires".to_string(), PropertyValue::List(reqs));
    }
    let mut key = String::new();
    for s in &draft.split {
        let value = s
            .version
            .as_ref()
            .map_or_else(|| "not-used".to_string(), Version::to_string);
        key.push_str(&format!("{} {value}\n", s.capability));
        properties.insert(version_property(&s.capability), PropertyValue::Text(value));
    }
    for r in &buildout.build_requires {
        key.push_str(&format!("{r}\n"));
    }
    let per_worker = cache
        .entry(key)
        .or_insert_with(|| vec![None; workers.len()]);
    let env = draft
        .workers
        .iter()
        .map(|&i| {
            let env = per_worker[i]
                .get_or_insert_with(|| Arc::new(worker_env(buildout, &draft.split, &workers[i])));
            (workers[i].name.clone(), Arc::clone(env))
        })
        .collect();
    Builder {
        name: BuilderName(draft.name),
        buildout: buildout.name.clone(),
        workers: draft
            .workers
            .iter()
            .map(|&i| workers[i].name.clone())
            .collect(),
        category: buildout.category.clone(),
        properties,
        split: draft.split,
        env,
    }
}

/// The environment of `worker`: from the split versions, and for capabilities only named in
/// `build-requires`, from the highest version meeting them (anybox picked at random).
fn worker_env(buildout: &Buildout, split: &[Split], worker: &Worker) -> Env {
    let mut env = Env::new();
    for s in split {
        if let Some(v) = &s.version {
            if let Some(c) = worker
                .capability(&s.capability)
                .iter()
                .find(|c| c.version.as_ref() == Some(v))
            {
                capability_env(&s.capability, &c.options, &mut env);
            }
        }
    }
    for req in &buildout.build_requires {
        if split.iter().any(|s| s.capability == req.capability) {
            continue;
        }
        let reqs: Vec<&Requirement> = buildout
            .build_requires
            .iter()
            .filter(|r| r.capability == req.capability)
            .collect();
        let best = worker
            .capability(&req.capability)
            .iter()
            .filter(|c| reqs.iter().all(|r| r.matches(c.version.as_ref())))
            .max_by(|a, b| a.version.cmp(&b.version));
        if let Some(c) = best {
            capability_env(&req.capability, &c.options, &mut env);
        }
    }
    env
}

#[cfg(test)]
mod tests;
