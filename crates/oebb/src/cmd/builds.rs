//! `oebb builds`: list recent builds with their results.

use clap::Args;

/// Arguments of `oebb builds`.
#[derive(Args)]
pub struct BuildsArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

/// Runs the command.
pub fn run(_args: BuildsArgs) -> anyhow::Result<u8> {
    eprintln!("oebb builds: not yet available in this version of oebb");
    Ok(3)
}
