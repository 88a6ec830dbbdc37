//! `oebb force`: force a build of a builder on a running master.

use clap::Args;

/// Arguments of `oebb force`.
#[derive(Args)]
pub struct ForceArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

/// Runs the command.
pub fn run(_args: ForceArgs) -> anyhow::Result<u8> {
    eprintln!("oebb force: not yet available in this version of oebb");
    Ok(3)
}
