//! `functional`: start the Odoo server in the background on a reserved port, run the
//! `functional.commands` against it (`CMD PORT DATABASE`), and stop it on every path: the stop
//! step always runs (anybox's was skipped after a failure and named `start`, seed-system §10.10).

use super::words;
use crate::buildout_run::install_parts;
use crate::context::{Context, RecipeError};
use crate::ports::{reserve, PORT_PROPERTY};
use crate::shell::{in_build, line, BUILDDIR};
use crate::step::{Step, StepCommand};

/// The `functional` steps.
pub fn steps(cx: &Context) -> Result<Vec<Step>, RecipeError> {
    let mut steps = Vec::new();
    if let Some(parts) = cx.option("functional.parts") {
        let parts: Vec<&str> = parts.split_whitespace().collect();
        steps.push(install_parts(cx, "functional_tools", &parts));
    }
    let (reserve, release) = reserve(cx, 9069, 11069, 5);
    steps.push(reserve);
    let pidfile = format!("{BUILDDIR}/openerp.pid");
    let port_flag = cx.odoo.map_or("--xmlrpc-port", |s| s.port_flag());
    let mut server = words(&cx.buildout.start_command);
    server.extend(["-d".into(), cx.testing_db.clone()]);
    let start = format!(
        "rm -f \"$PIDFILE\"\n\
         if command -v setsid >/dev/null 2>&1; then detach=setsid; else detach=; fi\n\
         $detach {} \"{port_flag}=$PORT\" {} </dev/null >/dev/null 2>&1 &\n\
         echo $! > \"$PIDFILE\"\n",
        line(&server),
        line(&[format!("--logfile={}", in_build("server-functional.log"))]),
    );
    steps.push(
        Step::script("start", &start)
            .envs(&cx.env)
            .env("PIDFILE", &pidfile)
            .env("PORT", &format!("%(prop:{PORT_PROPERTY})s"))
            .halt_on_failure(true)
            .description("start the server in the background"),
    );
    let wait = cx.number("functional.wait", 30)?;
    steps.push(Step::argv("wait", &["sleep", &wait.to_string()]).halt_on_failure(true));
    for command in cx
        .option("functional.commands")
        .unwrap_or("")
        .split_whitespace()
    {
        let name = command.rsplit('/').next().unwrap_or(command);
        let argv = vec![
            command.to_string(),
            format!("%(prop:{PORT_PROPERTY})s"),
            cx.testing_db.clone(),
        ];
        steps.push(
            Step::new(name, StepCommand::Argv(argv))
                .envs(&cx.env)
                .log_file("server", "server-functional.log"),
        );
    }
    let stop = "if [ -f \"$PIDFILE\" ]; then\n\
                \x20 pid=$(cat \"$PIDFILE\")\n\
                \x20 kill -TERM -- -\"$pid\" 2>/dev/null || kill -TERM \"$pid\" 2>/dev/null || true\n\
                \x20 for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 \"$pid\" 2>/dev/null || break; sleep 1; done\n\
                \x20 kill -KILL \"$pid\" 2>/dev/null || true\n\
                \x20 rm -f \"$PIDFILE\"\n\
                fi\n";
    steps.push(
        Step::script("stop", stop)
            .env("PIDFILE", &pidfile)
            .always_run(true)
            .flunk_on_failure(false)
            .warn_on_failure(true)
            .description("stop the server"),
    );
    steps.push(release);
    Ok(steps)
}
