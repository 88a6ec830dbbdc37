//! The log-analysis step: the master fetches the log an Odoo step wrote and judges it with
//! oebb-analyze (every Odoo version's grammar; zero tests run is not a success when tests were
//! asked for), with the buildout's ignore patterns. The writing step's own exit status is
//! judged by that step, so the build fails on either.

use crate::context::Context;
use crate::step::{Step, StepCommand};

/// Analyses `logfile` (relative to `build`); fails the build, never halts it. It always runs,
/// so the log of an Odoo run that failed (and halted the build) is still judged and its
/// findings shown; when the log is missing because its step never ran, the step fails saying
/// so (the build has failed already).
pub fn step(cx: &Context, name: &str, logfile: &str, tests_requested: bool) -> Step {
    Step::new(
        name,
        StepCommand::Analyze {
            logfile: logfile.to_string(),
            odoo_version: cx.odoo.map(|s| s.to_string()),
            tests_requested,
            ignore_file: cx.buildout.analyze_ignore_file.clone(),
            warnings_fail: cx.buildout.analyze_warnings_fail,
        },
    )
    .always_run(true)
}
