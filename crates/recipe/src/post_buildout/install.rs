//! Installing and testing the addons with the recipe's scripts: `install-modules-test`,
//! `install-modules`, `update-openerp`, `openerpcommand-initialize-tests`.

use super::{odoo_timeout, words};
use crate::analyze;
use crate::context::{Context, RecipeError};
use crate::ports::{reserve, PORT_PROPERTY};
use crate::shell::in_build;
use crate::step::{Step, StepCommand};

/// `odoo.use-port`: the reservation and release steps, with the `odoo.http-port-*` range.
fn use_port(cx: &Context) -> Result<Option<(Step, Step)>, RecipeError> {
    if !cx.flag("odoo.use-port") {
        return Ok(None);
    }
    let min = cx.number("odoo.http-port-min", 6069)?;
    let max = cx.number("odoo.http-port-max", 7068)?;
    let step = cx.number("odoo.http-port-step", 5)?.max(1);
    Ok(Some(reserve(cx, min, max, step)))
}

/// `--http-port=<reserved>` (`--xmlrpc-port` before Odoo 11).
fn port_arg(cx: &Context) -> String {
    let flag = cx.odoo.map_or("--xmlrpc-port", |s| s.port_flag());
    format!("{flag}=%(prop:{PORT_PROPERTY})s")
}

/// The test flags of the Odoo version, as anybox.recipe.openerp 1.9.1's `bin/test_<part>`
/// (`runtime/start_openerp.py`) prepends them: `--log-level=test` for 6.0 and 6.1,
/// `--log-level=test --test-enable` for 7.0, `--test-enable` from Odoo 8.0 (its tests log at
/// `INFO`), and also when the version is unknown (set `odoo.version` for OpenERP ≤ 7.0). So a
/// `test-command = bin/start_<part>` runs the tests too.
pub fn test_flags(cx: &Context) -> Vec<String> {
    let Some(series) = cx.odoo else {
        return vec!["--test-enable".into()];
    };
    let mut flags = Vec::new();
    if series.logs_tests_at_test_level() {
        flags.push("--log-level=test".into());
    }
    if series.has_test_enable() {
        flags.push("--test-enable".into());
    }
    flags
}

/// `install-modules-test`: `bin/test_<part> -i ADDONS` with the version's test flags.
pub fn install_modules_test(cx: &Context) -> Result<Vec<Step>, RecipeError> {
    let ports = use_port(cx)?;
    let mut argv = words(&cx.buildout.test_command);
    argv.extend(["-d".into(), cx.testing_db.clone(), "-i".into(), cx.addons()]);
    argv.extend(test_flags(cx));
    argv.push("--stop-after-init".into());
    argv.push(format!("--logfile={}", in_build("test.log")));
    if ports.is_some() {
        argv.push(port_arg(cx));
    }
    let mut steps = Vec::new();
    let release = ports.map(|(r, release)| {
        steps.push(r);
        release
    });
    steps.push(
        Step::new("test", StepCommand::Argv(argv))
            .envs(&cx.env)
            .log_file("test", "test.log")
            .halt_on_failure(true)
            .timeout(odoo_timeout(cx)?),
    );
    steps.push(analyze::step(cx, "analyze", "test.log", "test", true));
    steps.extend(release);
    Ok(steps)
}

/// `install-modules`: `bin/start_<part> -i ADDONS --stop-after-init`, without demo data when
/// `install.demo-data = false`.
pub fn install_modules(cx: &Context) -> Result<Vec<Step>, RecipeError> {
    let mut argv = words(&cx.buildout.start_command);
    argv.extend([
        "-d".into(),
        cx.testing_db.clone(),
        "-i".into(),
        cx.addons(),
        "--stop-after-init".into(),
        format!("--logfile={}", in_build("install.log")),
    ]);
    if cx.option("install.demo-data").is_some() && !cx.flag("install.demo-data") {
        argv.push("--without-demo=all".into());
    }
    Ok(vec![
        Step::new("install", StepCommand::Argv(argv))
            .envs(&cx.env)
            .log_file("install", "install.log")
            .halt_on_failure(true)
            .timeout(odoo_timeout(cx)?),
        analyze::step(cx, "analyze", "install.log", "install", false),
    ])
}

/// `update-openerp`: the recipe's upgrade script (`bin/upgrade_<part>`).
pub fn update(cx: &Context) -> Result<Vec<Step>, RecipeError> {
    let script = cx
        .option("upgrade.script")
        .map_or_else(|| format!("bin/upgrade_{}", cx.part()), String::from);
    let mut argv = words(&script);
    argv.push(
        cx.option("update.log_file_option")
            .unwrap_or("--log-file")
            .to_string(),
    );
    argv.push(in_build("update.log"));
    Ok(vec![
        Step::new("updating", StepCommand::Argv(argv))
            .envs(&cx.env)
            .log_file("update", "update.log")
            .halt_on_failure(true)
            .timeout(odoo_timeout(cx)?),
        analyze::step(cx, "analyze", "update.log", "updating", false),
    ])
}

/// `openerpcommand-initialize-tests`: `bin/<part>_command initialize --tests`.
pub fn openerp_command(cx: &Context) -> Result<Vec<Step>, RecipeError> {
    let ports = use_port(cx)?;
    let mut argv: Vec<String> = vec![
        format!("bin/{}_command", cx.part()),
        "initialize".into(),
        "--no-create".into(),
        "--tests".into(),
        "--database".into(),
        cx.testing_db.clone(),
    ];
    if cx.buildout.addons == ["all"] {
        argv.extend(
            [
                "--all-modules",
                "--exclude",
                "auth_ldap",
                "--exclude",
                "document_ftp",
            ]
            .map(String::from),
        );
    } else {
        for a in &cx.buildout.addons {
            argv.extend(["--module".into(), a.clone()]);
        }
    }
    if ports.is_some() {
        argv.push(format!("--port=%(prop:{PORT_PROPERTY})s"));
    }
    let mut steps = Vec::new();
    let release = ports.map(|(r, release)| {
        steps.push(r);
        release
    });
    steps.push(
        Step::new("testing", StepCommand::Argv(argv))
            .envs(&cx.env)
            .halt_on_failure(true)
            .timeout(odoo_timeout(cx)?),
    );
    steps.extend(release);
    Ok(steps)
}
