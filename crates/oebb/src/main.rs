//! `oebb`: one binary for the master, the worker and the offline tools.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Continuous integration for buildout-based OpenERP/Odoo installations.
#[derive(Parser)]
#[command(name = "oebb", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load a master directory and print the builder matrix (or every error).
    Check(cmd::check::CheckArgs),
    /// Write a new master directory with commented example files.
    CreateMaster(cmd::create_master::CreateMasterArgs),
    /// Analyse Odoo/OpenERP server logs: did the modules install and pass their tests?
    AnalyzeLog(cmd::analyze_log::AnalyzeLogArgs),
    /// Run the master (not yet available).
    Master(cmd::not_yet::NotYetArgs),
    /// Run a worker (not yet available).
    Worker(cmd::not_yet::NotYetArgs),
    /// Force a build on a running master (not yet available).
    Force(cmd::not_yet::NotYetArgs),
    /// List recent builds (not yet available).
    Builds(cmd::not_yet::NotYetArgs),
    /// Print a step's log (not yet available).
    Log(cmd::not_yet::NotYetArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::CreateMaster(args) => cmd::create_master::run(args),
        Command::AnalyzeLog(args) => cmd::analyze_log::run(args),
        Command::Master(_) => cmd::not_yet::run("master"),
        Command::Worker(_) => cmd::not_yet::run("worker"),
        Command::Force(_) => cmd::not_yet::run("force"),
        Command::Builds(_) => cmd::not_yet::run("builds"),
        Command::Log(_) => cmd::not_yet::run("log"),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("oebb: {err:#}");
            ExitCode::from(1)
        }
    }
}
