//! Test helpers: a manifest and a workers file in memory → the steps of one builder.

use crate::step::{Step, StepCommand};
use crate::{build_steps, BuildInput, RecipeError};
use oebb_config::buildout::parse_manifest;
use oebb_config::ini::Ini;
use oebb_config::worker::parse_workers;
use oebb_config::{build_matrix, Buildout, Matrix, Worker};
use std::path::Path;

/// A worker with PostgreSQL 16 on port 5433 and Python 3.11, `db_prefix = ci`.
pub const WORKERS: &str = "[w1]\npassword = x\n\
capability = postgresql 16 port=5433 bin=/usr/lib/postgresql/16/bin lib=/usr/lib/pg16 host=/tmp user=ci passwd=secret\n\
\x20   python 3.11 bin=/usr/bin/python3.11\n\
db_prefix = ci\n\
[w2]\npassword = x\ncapability = postgresql 16 port=5434\n";

/// A parsed master configuration.
pub struct Fixture {
    /// Buildouts of the manifest.
    pub buildouts: Vec<Buildout>,
    /// Workers.
    pub workers: Vec<Worker>,
    /// Their matrix.
    pub matrix: Matrix,
}

/// Parses `manifest` (at `/master/buildouts/MANIFEST.cfg`) and `workers`; panics on errors.
pub fn fixture(manifest: &str, workers: &str) -> Fixture {
    let (ini, errs) = Ini::parse_bytes(
        Path::new("/master/buildouts/MANIFEST.cfg"),
        manifest.as_bytes(),
    );
    assert!(errs.is_empty(), "{errs:?}");
    let (buildouts, errs, _) = parse_manifest(&ini);
    assert!(errs.is_empty(), "{errs:?}");
    let (ini, errs) = Ini::parse_bytes(Path::new("/master/slaves.cfg"), workers.as_bytes());
    assert!(errs.is_empty(), "{errs:?}");
    let (workers, errs) = parse_workers(&ini);
    assert!(errs.is_empty(), "{errs:?}");
    let (matrix, errs) = build_matrix(&buildouts, &workers);
    assert!(errs.is_empty(), "{errs:?}");
    Fixture {
        buildouts,
        workers,
        matrix,
    }
}

impl Fixture {
    /// The steps of `builder` on `worker`.
    pub fn steps(
        &self,
        builder: &str,
        worker: &str,
        extends: &[String],
    ) -> Result<Vec<Step>, RecipeError> {
        let builder = self
            .matrix
            .builder(builder)
            .unwrap_or_else(|| panic!("no builder {builder}: {:?}", self.matrix));
        let buildout = self
            .buildouts
            .iter()
            .find(|b| b.name == builder.buildout)
            .unwrap();
        let worker = self
            .workers
            .iter()
            .find(|w| w.name.as_str() == worker)
            .unwrap();
        build_steps(&BuildInput {
            buildout,
            builder,
            worker,
            extends,
            live_sources: &[],
        })
    }
}

/// The steps of the only builder of section `[b]` given by `options`, on worker `w1`.
pub fn steps_of(options: &str) -> Vec<Step> {
    try_steps_of(options).unwrap()
}

/// Like [`steps_of`], keeping the error.
pub fn try_steps_of(options: &str) -> Result<Vec<Step>, RecipeError> {
    let f = fixture(&format!("[b]\n{options}\n"), WORKERS);
    let name = f.matrix.builders[0].name.to_string();
    f.steps(&name, "w1", &[])
}

/// The step called `name`.
pub fn step<'a>(steps: &'a [Step], name: &str) -> &'a Step {
    steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name} in {:?}", names(steps)))
}

/// Every step name, in order.
pub fn names(steps: &[Step]) -> Vec<&str> {
    steps.iter().map(|s| s.name.as_str()).collect()
}

/// A step's command as one line (argv joined by spaces, or the script).
pub fn text(step: &Step) -> String {
    match &step.command {
        StepCommand::Argv(argv) => argv.join(" "),
        StepCommand::Script(s) => s.clone(),
        other => format!("{other:?}"),
    }
}
