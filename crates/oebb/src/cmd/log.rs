//! `oebb log`: print the log of one step of a build.

use clap::Args;

/// Arguments of `oebb log`.
#[derive(Args)]
pub struct LogArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

/// Runs the command.
pub fn run(_args: LogArgs) -> anyhow::Result<u8> {
    eprintln!("oebb log: not yet available in this version of oebb");
    Ok(3)
}
