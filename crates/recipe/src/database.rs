//! The testing database (`db-steps`, seed-system §5.3): `<db_prefix>-<builder>` on the cluster
//! of the PostgreSQL capability (`PGPORT`, `PGHOST`, `PATH` … come from the builder's env), and
//! the always-run final `dropdb`.

use crate::context::{Context, RecipeError};
use crate::step::Step;
use oebb_config::buildout::DbStep;
use std::time::Duration;

/// `dropdb --if-exists <testing_db>`.
fn dropdb(cx: &Context, name: &str) -> Step {
    Step::argv(name, &["dropdb", "--if-exists", &cx.testing_db]).envs(&cx.env)
}

/// The steps of every `db-steps` entry.
pub fn steps(cx: &Context) -> Result<Vec<Step>, RecipeError> {
    let mut steps = Vec::new();
    for kind in &cx.buildout.db_steps {
        steps.push(dropdb(cx, "dropdb").halt_on_failure(true));
        match kind {
            DbStep::SimpleCreate if crate::db_template::enabled(cx) => {
                steps.push(crate::db_template::createdb(cx)?)
            }
            DbStep::SimpleCreate => steps.push(
                Step::argv(
                    "createdb",
                    &["createdb", "-T", &cx.buildout.db_template, &cx.testing_db],
                )
                .envs(&cx.env)
                .halt_on_failure(true),
            ),
            DbStep::PgRemoteCopy => steps.push(pg_remote_copy(cx)?),
        }
    }
    Ok(steps)
}

/// `<executable> <db_option> <testing_db> <arguments…>`; an empty
/// `pg_remote_copy.db_option` passes the name alone (anybox could not, seed-system §10.17).
fn pg_remote_copy(cx: &Context) -> Result<Step, RecipeError> {
    let mut argv = vec![cx
        .option("pg_remote_copy.executable")
        .unwrap_or("pg_remote_copy")
        .to_string()];
    match cx.buildout.options.get("pg_remote_copy.db_option") {
        Some(o) if o.trim().is_empty() => {}
        Some(o) => argv.push(o.trim().to_string()),
        None => argv.push("--copied_db_name".into()),
    }
    argv.push(cx.testing_db.clone());
    argv.extend(
        cx.option("pg_remote_copy.arguments")
            .unwrap_or("")
            .split_whitespace()
            .map(String::from),
    );
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut step = Step::argv("pg_remote_copy", &argv)
        .envs(&cx.env)
        .halt_on_failure(true);
    if cx.option("pg_remote_copy.timeout").is_some() {
        step = step.timeout(Duration::from_secs(cx.number("pg_remote_copy.timeout", 0)?));
    }
    Ok(step)
}

/// The final `dropdb`, run whatever happened before so no testing database is left behind;
/// its failure only warns.
pub fn final_steps(cx: &Context) -> Vec<Step> {
    if cx.buildout.db_steps.is_empty() {
        return Vec::new();
    }
    // Nothing to drop when no database was made (a buildout that failed): not run, not red.
    let makers: Vec<&str> = cx
        .buildout
        .db_steps
        .iter()
        .map(|kind| match kind {
            DbStep::SimpleCreate => "createdb",
            DbStep::PgRemoteCopy => "pg_remote_copy",
        })
        .collect();
    let step = dropdb(cx, "final_dropdb")
        .needs_success_of(&makers)
        .always_run(true)
        .flunk_on_failure(false)
        .warn_on_failure(true);
    // As anybox did: a failed build's database stays for a post-mortem until the next build
    // of the builder drops it (its first `dropdb`); `keep-failed-db = false` drops it at once.
    if cx.option("keep-failed-db").map(str::trim) == Some("false") {
        return vec![step];
    }
    let port = cx.env.get("PGPORT").map_or("5432", String::as_str);
    let cluster = match cx.env.get("PGHOST") {
        Some(host) => format!("{host}:{port}"),
        None => format!("the local socket, port {port}"),
    };
    vec![step.kept_on_failure(&format!(
        "database {} kept on {cluster} until the next build",
        cx.testing_db
    ))]
}
