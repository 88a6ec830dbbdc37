//! `oebb check`: load a master directory, print every error or the builder matrix.

use clap::Args;
use std::path::PathBuf;

/// Arguments of `oebb check`.
#[derive(Args)]
pub struct CheckArgs {
    /// Master directory (default: current directory).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

/// Runs the command.
pub fn run(_args: CheckArgs) -> anyhow::Result<u8> {
    anyhow::bail!("oebb check: not yet implemented")
}
