//! `oebb create-master`: write a commented master directory that `oebb check` accepts.

use clap::Args;
use std::path::PathBuf;

/// Arguments of `oebb create-master`.
#[derive(Args)]
pub struct CreateMasterArgs {
    /// Directory to create.
    pub dir: PathBuf,
}

/// Runs the command.
pub fn run(_args: CreateMasterArgs) -> anyhow::Result<u8> {
    anyhow::bail!("oebb create-master: not yet implemented")
}
