//! `oebb log`: print the log of one step of a build, from the master's store.

use std::io::Write;
use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use oebb_master::{BuildId, Store};

use super::master::{load_config, runtime};

/// Arguments of `oebb log`.
#[derive(Args)]
pub struct LogArgs {
    /// The master directory.
    dir: PathBuf,
    /// The build's number (see `oebb builds`).
    build: i64,
    /// The step: its name, or its number from 0.
    step: String,
    /// Which of the step's logs: `stdio` (its output, the default) or a file it kept, such as
    /// `test` (the Odoo server's log).
    #[arg(default_value = "stdio")]
    log: String,
}

/// Runs the command.
pub fn run(args: LogArgs) -> anyhow::Result<u8> {
    let config = load_config(&args.dir)?;
    runtime()?.block_on(async {
        let store = Store::open(&config.settings.database, &config.dir).await?;
        let Some(step) = store.find_step(BuildId(args.build), &args.step).await? else {
            bail!(
                "build {} has no step {:?}; `oebb builds` lists the builds",
                args.build,
                args.step
            );
        };
        if args.log != oebb_master::store::STDIO {
            let names = store.log_names(step.id).await?;
            if !names.contains(&args.log) {
                bail!(
                    "step {:?} of build {} has no log {:?}; its logs: stdio{}",
                    step.name,
                    args.build,
                    args.log,
                    names.iter().map(|n| format!(", {n}")).collect::<String>()
                );
            }
        }
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let mut failed = None;
        // Chunk by chunk: a log of any size goes out without being held in memory.
        store
            .read_named_log(step.id, &args.log, |chunk| match out.write_all(chunk) {
                Ok(()) => true,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            })
            .await?;
        out.flush()?;
        store.close().await;
        match failed {
            Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
            Some(e) => Err(e.into()),
            None => Ok(0),
        }
    })
}
