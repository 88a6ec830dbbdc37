//! Post-buildout steps (`post-buildout-steps`, seed-system §5.5), one module per family. Steps
//! that clean up after a family (server stop, port release) follow it at once and always run.

mod doc;
mod functional;
mod install;
mod nose;
pub(crate) mod packaging;
mod static_analysis;

use crate::context::{Context, RecipeError};
use crate::step::Step;
use oebb_config::buildout::PostBuildoutStep;
use std::time::Duration;

/// Default timeout of a step running Odoo (`odoo.timeout`, seconds, changes it).
pub const ODOO_TIMEOUT: Duration = Duration::from_secs(2 * 3600);

/// The steps of one `post-buildout-steps` entry.
pub fn steps(cx: &Context, kind: PostBuildoutStep) -> Result<Vec<Step>, RecipeError> {
    use PostBuildoutStep as P;
    match kind {
        P::InstallModulesTest => install::install_modules_test(cx),
        P::InstallModules => install::install_modules(cx),
        P::UpdateOpenerp => install::update(cx),
        P::OpenerpcommandInitializeTests => install::openerp_command(cx),
        P::Nose => nose::steps(cx),
        P::Functional => functional::steps(cx),
        P::StaticAnalysis => static_analysis::steps(cx),
        P::Doc => doc::steps(cx),
        P::Autocommit => Ok(vec![autocommit(cx)]),
        P::Packaging => packaging::steps(cx),
    }
}

/// The timeout of Odoo runs.
pub fn odoo_timeout(cx: &Context) -> Result<Duration, RecipeError> {
    Ok(Duration::from_secs(
        cx.number("odoo.timeout", ODOO_TIMEOUT.as_secs())?,
    ))
}

/// A command option (`start-command`, `test-command`) split into words.
pub fn words(command: &str) -> Vec<String> {
    command.split_whitespace().map(String::from).collect()
}

/// The logs a family writes in `build`.
fn logs(kind: PostBuildoutStep) -> &'static [&'static str] {
    use PostBuildoutStep as P;
    match kind {
        P::InstallModulesTest => &["test.log"],
        P::InstallModules | P::Nose => &["install.log"],
        P::UpdateOpenerp => &["update.log"],
        P::Functional => &["server-functional.log"],
        _ => &[],
    }
}

/// `clean_logs`, first of the build: the analysis steps always run (a failed test run's log
/// is the one worth reading), so a log of an earlier build must be gone before anything can
/// fail. Runs in the builder directory: `build` may not exist yet.
pub fn clean_logs(cx: &Context) -> Option<Step> {
    let mut argv = vec!["rm".to_string(), "-f".into()];
    for kind in &cx.buildout.post_buildout_steps {
        for log in logs(*kind) {
            let path = format!("build/{log}");
            if !argv.contains(&path) {
                argv.push(path);
            }
        }
    }
    (argv.len() > 2).then(|| {
        Step::new("clean_logs", crate::step::StepCommand::Argv(argv))
            .workdir(".")
            .halt_on_failure(true)
    })
}

/// `autocommit`: commit and push with the recipe's autocommit script.
fn autocommit(cx: &Context) -> Step {
    let script = cx
        .option("autocommit.script")
        .map_or_else(|| format!("bin/autocommit_{}", cx.part()), String::from);
    let mut argv = words(&script);
    argv.extend(["-c".into(), cx.config.clone(), "--push".into(), "-m".into()]);
    argv.push(
        cx.option("autocommit.message")
            .unwrap_or("Commit by oebb")
            .to_string(),
    );
    Step::new("autocommit", crate::step::StepCommand::Argv(argv)).envs(&cx.env)
}

#[cfg(test)]
mod tests;
