//! `oebb check DIR --steps BUILDER [--worker W]`: print the steps of one build as the recipe
//! makes them, with full command lines and environment. Paths on the master are printed
//! relative to the master directory, so the output is the same wherever the directory is.

use oebb_config::MasterConfig;
use oebb_recipe::shell::line;
use oebb_recipe::step::{Step, StepCommand};
use oebb_recipe::steps_for;
use std::io::Write;
use std::path::Path;

/// Prints the steps of `builder` on `worker` (default: its first worker); exit 0, or 1 after
/// saying what is wrong.
pub fn run(
    config: &MasterConfig,
    builder: &str,
    worker: Option<&str>,
    out: &mut impl Write,
) -> anyhow::Result<u8> {
    let read = oebb_config::load::read_text;
    let steps = match steps_for(config, builder, worker, read) {
        Ok(steps) => steps,
        Err(e) => {
            eprintln!("oebb check: {e}");
            return Ok(1);
        }
    };
    // steps_for succeeded, so the builder and the worker exist.
    let b = config
        .matrix
        .builder(builder)
        .expect("builder found by steps_for");
    let worker = worker.unwrap_or_else(|| b.workers[0].as_str());
    writeln!(
        out,
        "builder {} (buildout [{}]) on worker {}: {} steps",
        b.name,
        b.buildout,
        worker,
        steps.len()
    )?;
    for (i, step) in steps.iter().enumerate() {
        writeln!(out)?;
        write_step(out, i + 1, step, &config.dir)?;
    }
    Ok(0)
}

/// `path` relative to the master directory when it is inside it.
fn shown(path: &Path, master: &Path) -> String {
    path.strip_prefix(master)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn write_step(out: &mut impl Write, n: usize, s: &Step, master: &Path) -> std::io::Result<()> {
    match s.description.is_empty() {
        true => writeln!(out, "{n}. {}", s.name)?,
        false => writeln!(out, "{n}. {} — {}", s.name, s.description)?,
    }
    let flags: Vec<&str> = [
        (s.halt_on_failure, "halt"),
        (s.flunk_on_failure, "flunk"),
        (s.warn_on_failure, "warn"),
        (s.always_run, "always-run"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, f)| *f)
    .collect();
    // Master-side steps have no worker directory.
    if !matches!(
        s.command,
        StepCommand::SetProperties(_) | StepCommand::Analyze { .. }
    ) {
        writeln!(out, "   workdir: {}", s.workdir)?;
    }
    writeln!(out, "   on failure: {}", flags.join(", "))?;
    if !s.locks.is_empty() {
        let locks: Vec<String> = s
            .locks
            .iter()
            .map(|l| {
                format!(
                    "{} ({})",
                    l.lock,
                    if l.exclusive { "exclusive" } else { "counting" }
                )
            })
            .collect();
        writeln!(out, "   locks: {}", locks.join(", "))?;
    }
    if let Some(t) = s.timeout {
        writeln!(out, "   timeout: {}s", t.as_secs())?;
    }
    if !s.needs_success_of.is_empty() {
        let needs = s.needs_success_of.join(" or ");
        writeln!(out, "   runs only after {needs} succeeded")?;
    }
    if let Some(skip) = &s.skip_if {
        writeln!(
            out,
            "   skipped when property {} is set: {}",
            skip.property, skip.reason
        )?;
        if let Some(records) = &skip.records {
            writeln!(out, "   sets property {records} to whether it was skipped")?;
        }
    }
    if let Some(kept) = &s.kept_on_failure {
        writeln!(out, "   not run when the build failed: {kept}")?;
    }
    if let Some(p) = &s.property_from_stdout {
        writeln!(out, "   sets property {p} from its output")?;
    }
    for (name, file) in &s.log_files {
        writeln!(out, "   keeps log {name}: {file}")?;
    }
    for (i, (k, v)) in s.env.iter().enumerate() {
        let label = if i == 0 { "env:" } else { "    " };
        writeln!(out, "   {label} {k}={v}")?;
    }
    match &s.command {
        StepCommand::Argv(argv) => writeln!(out, "   $ {}", line(argv)),
        StepCommand::Script(script) => {
            writeln!(out, "   script:")?;
            for l in script.lines() {
                writeln!(out, "     | {l}")?;
            }
            Ok(())
        }
        StepCommand::Download { source, dest, mode } => {
            let mode = mode.map_or_else(String::new, |m| format!(" (mode {m:o})"));
            writeln!(
                out,
                "   download {} from the master to {dest}{mode}",
                shown(source, master)
            )
        }
        StepCommand::Upload { source, dest } => {
            writeln!(
                out,
                "   upload {source} to the master's {}",
                shown(dest, master)
            )
        }
        StepCommand::UploadDirectory { source, dest, url } => {
            writeln!(out, "   upload directory {source} to the master's {dest}")?;
            match url {
                Some(u) => writeln!(out, "   served at {u}"),
                None => Ok(()),
            }
        }
        StepCommand::SetProperties(props) => {
            for (k, v) in props {
                writeln!(out, "   set property {k}={v}")?;
            }
            Ok(())
        }
        StepCommand::Analyze {
            logfile,
            exit_status_of,
            odoo_version,
            tests_requested,
            ignore_file,
            warnings_fail,
            known_noise,
        } => {
            let version = odoo_version.as_deref().unwrap_or("any version");
            let tests = if *tests_requested {
                "tests requested"
            } else {
                "no tests requested"
            };
            write!(
                out,
                "   analyze log {logfile} on the master ({version}, {tests}"
            )?;
            if let Some(writer) = exit_status_of {
                write!(out, ", with the exit status of step {writer}")?;
            }
            if let Some(f) = ignore_file {
                write!(out, ", ignoring patterns of {}", shown(f, master))?;
            }
            if *warnings_fail {
                write!(out, ", warnings fail")?;
            }
            if !*known_noise {
                write!(out, ", known environment noise counted")?;
            }
            writeln!(out, ")")
        }
    }
}
