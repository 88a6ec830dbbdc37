//! `oebb analyze-log`: verdict on Odoo/OpenERP server logs.

use clap::Args;
use std::path::PathBuf;

/// Arguments of `oebb analyze-log`.
#[derive(Args)]
pub struct AnalyzeLogArgs {
    /// Log files to analyse.
    pub files: Vec<PathBuf>,
}

/// Runs the command.
pub fn run(_args: AnalyzeLogArgs) -> anyhow::Result<u8> {
    anyhow::bail!("oebb analyze-log: not yet implemented")
}
