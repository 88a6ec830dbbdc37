//! The build recipe: a pure function from (buildout section, builder, worker) to the ordered
//! steps of a build (DESIGN.md decision 4, "The standard build"; seed-system §5 with the bugs of
//! §10 fixed). No I/O, no async: the caller reads the files a standalone buildout extends
//! ([`extends::standalone_files`]) and passes their names in.
//!
//! Worker-side layout, shared by every builder of a worker (`<basedir>` is the worker's base
//! directory, `<builder>` the builder's directory in it):
//! - `<basedir>/caches/eggs`, `…/downloads`, `…/odoo-downloads`: buildout's egg directory,
//!   download cache and the Odoo recipe's downloads directory;
//! - `<basedir>/caches/ports`: port claims of `odoo.use-port` and `functional`;
//! - `<basedir>/caches/virtualenv-tool`: a Python 3 virtualenv holding `virtualenv<20.22`, the
//!   last series that still creates Python 2.7 environments;
//! - `<basedir>/caches/buildout-venvs/<checksum>`: the virtualenvs buildout is bootstrapped
//!   with, one per Python and zc.buildout (and setuptools) versions, shared by the builders;
//! - `<builder>/build`: the buildout (a symlink into the checkout with `subdir=`).
//!
//! Absolute paths come from the build property `builddir`, set by the first worker step
//! (`builddir`, which also creates the caches), so the steps print the same on every worker.
//!
//! Manifest options read here beyond anybox's (through `Buildout::options`):
//! - `odoo.version` (`7.0`, `16.0`): picks the test flags (`--log-level=test` for 6.x, with
//!   `--test-enable` for 7.0, `--test-enable` from 8.0; unknown: `--test-enable`), the port
//!   flag and the log grammar;
//!   the builder's or the worker's `odoo_version` property is used when it is not set;
//! - `odoo.timeout` (seconds, default 7200): Odoo runs; `buildout.timeout` (default 14400);
//! - `bootstrap-setuptools`: the setuptools given to zc.buildout 2;
//! - `nose.runner = pytest`: run the `nose` step's tests with pytest-odoo;
//! - `buildout.skip-unchanged = false`: run buildout even when nothing it reads changed
//!   (default: skipped then, [`buildout_key`]);
//! - `db.template-cache = true` (`db.template-max-age` days, `db.template-keep`): the testing
//!   database from a template of the addons' dependencies ([`db_template`]).
//!
//! The testing database is `<db_prefix>-<builder>`, `db_prefix` defaulting to `oebb` (the
//! worker's property when it sets one).

#![warn(missing_docs)]

mod analyze;
mod bootstrap;
pub mod buildout_cfg;
mod buildout_key;
mod buildout_run;
mod context;
mod database;
mod db_template;
pub mod extends;
mod for_config;
pub mod live_sources;
mod ports;
mod post_buildout;
mod properties;
pub mod shell;
mod source;
pub mod step;

pub use context::{BuildInput, OdooSeries, RecipeError};
pub use for_config::{extended_files, standalone_file, standalone_live_sources, steps_for};

use step::Step;

/// Lock name of the per-worker lock around bootstrap and buildout runs.
pub const BUILDOUT_LOCK: &str = "buildout";
/// Lock name of the per-worker lock around port reservations.
pub const PORT_LOCK: &str = "port-reserve";

/// The ordered steps of one build of `input.builder` on `input.worker`.
pub fn build_steps(input: &BuildInput) -> Result<Vec<Step>, RecipeError> {
    let cx = context::Context::new(input)?;
    let mut steps = Vec::new();
    steps.extend(properties::builddir_step());
    steps.extend(post_buildout::clean_logs(&cx));
    steps.extend(source::steps(&cx)?);
    steps.extend(source::got_revision(&cx));
    steps.extend(properties::capability_steps(&cx)?);
    steps.extend(bootstrap::steps(&cx));
    steps.extend(buildout_run::steps(&cx)?);
    steps.push(source::got_revisions());
    steps.extend(database::steps(&cx)?);
    for kind in &cx.buildout.post_buildout_steps {
        steps.extend(post_buildout::steps(&cx, *kind)?);
    }
    steps.extend(database::final_steps(&cx));
    unique_names(&mut steps);
    Ok(steps)
}

/// Step names are unique within a build: a family used twice (two port reservations, two
/// `analyze`) gets `_2`, `_3` … on its later steps. An analysis keeps naming the step that
/// wrote its log: the latest step of that name before it.
fn unique_names(steps: &mut [Step]) {
    let mut seen = std::collections::BTreeMap::<String, u32>::new();
    let mut latest = std::collections::BTreeMap::<String, String>::new();
    for step in steps.iter_mut() {
        if let step::StepCommand::Analyze {
            exit_status_of: Some(writer),
            ..
        } = &mut step.command
        {
            if let Some(renamed) = latest.get(writer.as_str()) {
                *writer = renamed.clone();
            }
        }
        let original = step.name.clone();
        let n = seen.entry(original.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            step.name = format!("{}_{}", step.name, n);
        }
        latest.insert(original, step.name.clone());
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;
