//! Running `bin/buildout` (DESIGN.md standard build, step 3): the shared per-worker caches, the
//! Odoo part's CI options and the database options of the PostgreSQL capability, under the
//! exclusive `buildout` lock with a long timeout.

use crate::buildout_key;
use crate::context::Context;
use crate::shell::cache;
use crate::step::{LockAccess, Step, StepCommand};
use crate::BUILDOUT_LOCK;
use std::time::Duration;

/// Default timeout of the buildout run (`buildout.timeout`, seconds, changes it).
pub const BUILDOUT_TIMEOUT: Duration = Duration::from_secs(4 * 3600);

/// `buildout:…` overrides making buildout use the worker's shared caches. Both names of the
/// Odoo downloads directory are given: `openerp-` for anybox.recipe.openerp (≤ 7.0), `odoo-`
/// for anybox.recipe.odoo; each recipe ignores the other's.
pub fn cache_options() -> Vec<String> {
    vec![
        format!("buildout:eggs-directory={}", cache("eggs")),
        format!("buildout:download-cache={}", cache("downloads")),
        format!(
            "buildout:openerp-downloads-directory={}",
            cache("odoo-downloads")
        ),
        format!(
            "buildout:odoo-downloads-directory={}",
            cache("odoo-downloads")
        ),
    ]
}

/// The Odoo part's options for CI runs and its database connection (seed-system §4.4).
pub fn part_options(cx: &Context) -> Vec<String> {
    let part = cx.part();
    let mut out: Vec<String> = [
        "vcs-clear-locks=true",
        "vcs-clear-retry=true",
        "clean=true",
        "vcs-revert=on-merge",
    ]
    .iter()
    .map(|o| format!("{part}:{o}"))
    .collect();
    if cx.buildout.git_shallow {
        out.push(format!("{part}:git-depth=2"));
    }
    let password = cx.pg("passwd").or(cx.pg("password"));
    for (option, value) in [
        ("db_port", cx.pg("port").unwrap_or("5432")),
        ("db_host", cx.pg("host").unwrap_or("False")),
        ("db_user", cx.pg("user").unwrap_or("False")),
        ("db_password", password.unwrap_or("False")),
        ("db_name", &cx.testing_db),
    ] {
        out.push(format!("{part}:options.{option}={value}"));
    }
    out.push(format!("{part}:with_devtools=true"));
    // OpenERP's external-dependency check cannot read zipped eggs.
    out.push("buildout:unzip=true".into());
    out
}

/// `bin/buildout -c CFG <caches>` plus `extra` arguments.
pub fn buildout_argv(cx: &Context, extra: &[String]) -> StepCommand {
    let mut argv = vec!["bin/buildout".to_string(), "-c".into(), cx.config.clone()];
    argv.extend(cache_options());
    argv.extend(extra.iter().cloned());
    StepCommand::Argv(argv)
}

/// The `buildout` step, with the steps of its key around it (skipped when nothing it reads
/// changed, [`crate::buildout_key`]).
pub fn steps(cx: &Context) -> Result<Vec<Step>, crate::RecipeError> {
    let timeout = cx.number("buildout.timeout", BUILDOUT_TIMEOUT.as_secs())?;
    let overrides = part_options(cx);
    let mut steps = buildout_key::before(cx, &overrides);
    let mut run = Step::new("buildout", buildout_argv(cx, &overrides))
        .envs(&cx.env)
        .lock(LockAccess::exclusive(BUILDOUT_LOCK))
        .halt_on_failure(true)
        .timeout(Duration::from_secs(timeout));
    if buildout_key::enabled(cx) {
        let reason = buildout_key::skip_reason();
        run = run.skip_if(
            buildout_key::UNCHANGED_SINCE,
            &reason,
            Some(buildout_key::SKIPPED),
        );
    }
    steps.push(run);
    steps.extend(buildout_key::after(cx));
    Ok(steps)
}

/// A `bin/buildout install PARTS` step for tool parts (`static-analysis`, `functional`), under
/// the same lock as the main run: anybox ran these without it, racing on the shared caches.
pub fn install_parts(cx: &Context, name: &str, parts: &[&str]) -> Step {
    let mut extra = vec!["install".to_string()];
    extra.extend(parts.iter().map(|p| p.to_string()));
    Step::new(name, buildout_argv(cx, &extra))
        .envs(&cx.env)
        .lock(LockAccess::exclusive(BUILDOUT_LOCK))
        .halt_on_failure(true)
        .timeout(BUILDOUT_TIMEOUT)
}
