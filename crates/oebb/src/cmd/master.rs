//! `oebb master`: run the master of a master directory.

use clap::Args;

/// Arguments of `oebb master`.
#[derive(Args)]
pub struct MasterArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

/// Runs the command.
pub fn run(_args: MasterArgs) -> anyhow::Result<u8> {
    eprintln!("oebb master: not yet available in this version of oebb");
    Ok(3)
}
