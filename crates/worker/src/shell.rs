//! The `shell` command: header lines, environment, then the process.

use oebb_protocol::{Arg, CommandLine, ShellArgs, Update};

use crate::command::Context;
use crate::output::Output;
use crate::process::{self, ProcessSpec};

/// Runs a `shell` command; returns its rc.
pub(crate) async fn shell(ctx: &mut Context, output: &mut Output, args: ShellArgs) -> i64 {
    let workdir = ctx.resolve(&args.workdir);
    if let Err(e) = std::fs::create_dir_all(&workdir) {
        output.header(&format!(
            "cannot create workdir {}: {e}\n",
            workdir.display()
        ));
        let rc = e.raw_os_error().map_or(1, i64::from);
        output.push(Update::Rc(rc));
        return rc;
    }
    let (argv, shown): (Vec<String>, Vec<String>) = match &args.command {
        CommandLine::Script(script) => (
            vec!["/bin/sh".into(), "-c".into(), script.clone()],
            vec!["/bin/sh".into(), "-c".into(), script.clone()],
        ),
        CommandLine::Argv(items) => items
            .iter()
            .map(|arg| match arg {
                Arg::Plain(s) => (s.clone(), s.clone()),
                Arg::Obfuscated { real, fake } => (real.clone(), fake.clone()),
            })
            .unzip(),
    };
    if argv.is_empty() {
        output.header("empty command\n");
        output.push(Update::Rc(1));
        return 1;
    }
    let display = match &args.command {
        CommandLine::Script(script) => script.clone(),
        CommandLine::Argv(_) => shown.join(" "),
    };
    let (env, step_vars) = crate::env::merge(&ctx.environment, &args.env);

    let mut header = format!("{display}\n");
    let timeout = args
        .timeout
        .map_or_else(|| "None".to_string(), |t| t.to_string());
    header += &format!(" in dir {} (timeout {timeout} secs)\n", workdir.display());
    let names: Vec<&str> = args.logfiles.keys().map(String::as_str).collect();
    if names.is_empty() {
        header += " watching logfiles {}\n";
    } else {
        // Said in the log so nobody waits for them: oebb's master reads log files itself.
        header +=
            &format!(" not watching logfiles {names:?}: oebb worker does not send logfiles\n");
    }
    let quoted: Vec<String> = shown.iter().map(|a| format!("b{a:?}")).collect();
    header += &format!(" argv: [{}]\n", quoted.join(", "));
    if args.log_environ {
        // Only what the step set: the worker's own environment stays on the worker.
        header += " environment (set by the step):\n";
        for (name, value) in &step_vars {
            header += &format!("  {name}={value}\n");
        }
    }
    header += " using PTY: False\n";
    output.header(&header);

    let spec = ProcessSpec {
        argv,
        display,
        workdir,
        env,
        timeout: args.timeout,
        max_time: args.max_time,
        max_lines: args.max_lines,
        sigterm_time: args.sigterm_time,
        interrupt_signal: args.interrupt_signal,
        want_stdout: args.want_stdout,
        want_stderr: args.want_stderr,
        initial_stdin: args.initial_stdin,
    };
    let started = std::time::Instant::now();
    let rc = process::run(spec, output, &mut ctx.interrupt).await;
    output.push(Update::Rc(rc));
    let elapsed = started.elapsed().as_secs_f64();
    output.header(&format!("elapsedTime={elapsed:.6}\n"));
    rc
}
