//! Build properties: the builder directory, the capability options (`props_<cap>`, seed-system
//! §4.2) and the testing database (`pg_cluster_props`).

use crate::context::{Context, RecipeError};
use crate::step::{Step, StepCommand};
use std::collections::BTreeMap;

/// Creates the per-worker caches and records the builder directory's absolute path in the
/// property `builddir`, which later steps use for every absolute path.
pub fn builddir_step() -> Vec<Step> {
    let script = "mkdir -p ../caches/eggs ../caches/downloads ../caches/odoo-downloads \
                  ../caches/ports && pwd -P";
    vec![Step::script("builddir", script)
        .workdir(".")
        .halt_on_failure(true)
        .property_from_stdout("builddir")
        .description("create the worker's caches")]
}

/// One `props_<cap>` step per capability of `build-for`/`build-requires` with options, then
/// `pg_cluster_props`. A worker lacking a required capability is an error here, not a crash
/// at build time (seed-system §10.11).
pub fn capability_steps(cx: &Context) -> Result<Vec<Step>, RecipeError> {
    let mut names: Vec<&str> = Vec::new();
    let reqs = cx
        .buildout
        .build_for
        .iter()
        .chain(&cx.buildout.build_requires);
    for r in reqs {
        if !names.contains(&r.capability.as_str()) {
            names.push(&r.capability);
        }
    }
    let mut steps = Vec::new();
    for name in names {
        let not_used = cx
            .builder
            .split
            .iter()
            .any(|s| s.capability == name && s.version.is_none());
        if not_used {
            continue;
        }
        let Some(version) = cx.capability(name) else {
            return Err(RecipeError::MissingCapability {
                worker: cx.worker.name.to_string(),
                capability: name.into(),
                buildout: cx.buildout.name.clone(),
            });
        };
        let props: BTreeMap<String, String> = version
            .options
            .iter()
            .map(|(k, v)| (format!("cap_{name}_{k}"), v.clone()))
            .collect();
        if !props.is_empty() {
            steps.push(
                Step::new(&format!("props_{name}"), StepCommand::SetProperties(props))
                    .halt_on_failure(true),
            );
        }
    }
    let db = BTreeMap::from([("testing_db".to_string(), cx.testing_db.clone())]);
    steps.push(Step::new("pg_cluster_props", StepCommand::SetProperties(db)).halt_on_failure(true));
    Ok(steps)
}
