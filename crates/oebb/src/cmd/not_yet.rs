//! Placeholder for subcommands whose issue has not landed yet.

use clap::Args;

/// Accepts and ignores any arguments, so scripts get the clear message below.
#[derive(Args)]
pub struct NotYetArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

/// Says the subcommand is not available in this version and exits 3.
pub fn run(name: &str) -> anyhow::Result<u8> {
    eprintln!("oebb {name}: not yet available in this version of oebb");
    Ok(3)
}
