//! `oebb worker`: run a worker that connects to a master.

use clap::Args;

/// Arguments of `oebb worker`.
#[derive(Args)]
pub struct WorkerArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

/// Runs the command.
pub fn run(_args: WorkerArgs) -> anyhow::Result<u8> {
    eprintln!("oebb worker: not yet available in this version of oebb");
    Ok(3)
}
