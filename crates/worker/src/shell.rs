//! The `shell` command: header lines, environment, then the process.

use oebb_protocol::{Arg, CommandLine, ShellArgs, Update};

use crate::command::Context;
use crate::output::Output;
use crate::process::{self, ProcessSpec};

/// Runs a `shell` command; returns its rc.
pub(crate) async fn shell(ctx: &mut Context, output: &mut Output, args: ShellArgs) -> i64 {
    let workdir = ctx.resolve(&args.workdir);
    if let Err(e) = crate::owner::create_dir_all(&workdir, ctx.run_as.as_ref()) {
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
    // As the stock worker: a timeout only when there is one (oebb's master gives none and
    // enforces the step's own, which its first log line states).
    let timeout = args
        .timeout
        .map_or_else(String::new, |t| format!(" (timeout {t} secs)"));
    header += &format!(" in dir {}{timeout}\n", workdir.display());
    let watched: Vec<String> = args
        .logfiles
        .iter()
        .map(|(name, spec)| format!("'{name}': '{}'", spec.filename))
        .collect();
    header += &format!(" watching logfiles {{{}}}\n", watched.join(", "));
    let quoted: Vec<String> = shown.iter().map(|a| python_bytes(a)).collect();
    header += &format!(" argv: [{}]\n", quoted.join(", "));
    if args.log_environ {
        // Only what the step set: the worker's own environment stays on the worker.
        header += " environment (set by the step):\n";
        for (name, value) in &step_vars {
            header += &format!("  {name}={value}\n");
        }
    }
    header += match args.use_pty {
        true => " using PTY: False (usePTY asked for, but oebb worker runs commands on pipes)\n",
        false => " using PTY: False\n",
    };
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
        logfiles: args.logfiles,
        run_as: ctx.run_as.clone(),
    };
    let started = std::time::Instant::now();
    let rc = process::run(spec, output, &mut ctx.interrupt).await;
    output.push(Update::Rc(rc));
    let elapsed = started.elapsed().as_secs_f64();
    output.header(&format!("elapsedTime={elapsed:.6}\n"));
    rc
}

/// An argument as Python shows `bytes` (`b'echo'`), as in the stock worker's `argv:` line.
fn python_bytes(arg: &str) -> String {
    let mut out = String::from("b'");
    for byte in arg.bytes() {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn argv_is_shown_like_python_bytes() {
        assert_eq!(super::python_bytes("echo"), "b'echo'");
        assert_eq!(
            super::python_bytes("it's\n\u{e9}"),
            "b'it\\'s\\n\\xc3\\xa9'"
        );
    }
}
