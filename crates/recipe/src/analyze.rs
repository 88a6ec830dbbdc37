//! The log-analysis step: the master fetches the log an Odoo step wrote and judges it with
//! oebb-analyze (every Odoo version's grammar; zero tests run is not a success when tests were
//! asked for), with the buildout's ignore patterns and the exit status of the step that wrote
//! it, so a server that exits non-zero fails the analysis even when its log looks clean.

use crate::context::Context;
use crate::step::{Step, StepCommand};

/// Analyses `logfile` (relative to `build`); fails the build, never halts it. It always runs,
/// so the log of an Odoo run that failed (and halted the build) is still judged and its
/// findings shown; when the log is missing because its step never ran, the step fails saying
/// so (the build has failed already).
/// `writer` is the name of the step writing the log.
pub fn step(cx: &Context, name: &str, logfile: &str, writer: &str, tests_requested: bool) -> Step {
    Step::new(
        name,
        StepCommand::Analyze {
            logfile: logfile.to_string(),
            exit_status_of: Some(writer.to_string()),
            odoo_version: cx.odoo.map(|s| s.to_string()),
            tests_requested,
            ignore_file: cx.buildout.analyze_ignore_file.clone(),
            warnings_fail: cx.buildout.analyze_warnings_fail,
            known_noise: cx.buildout.analyze_known_noise,
        },
    )
    .always_run(true)
}
