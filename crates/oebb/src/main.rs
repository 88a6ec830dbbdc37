//! `oebb`: one binary for the master, the worker and the offline tools.

mod cmd;
mod private_file;
mod resident;

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
    /// Run the master of a master directory.
    Master(cmd::master::MasterArgs),
    /// Run a worker that connects to a master.
    Worker(cmd::worker::WorkerArgs),
    /// Force a build of a builder on a running master.
    Force(cmd::force::ForceArgs),
    /// List recent builds with their results.
    Builds(cmd::builds::BuildsArgs),
    /// Print the log of one step of a build.
    Log(cmd::log::LogArgs),
    /// Set a web user's password (its argon2 hash goes into oebb.cfg).
    Passwd(cmd::passwd::PasswdArgs),
    /// Make a running master read its configuration again (as SIGHUP does).
    Reconfig(cmd::reconfig::ReconfigArgs),
    /// Send one test mail through the relay of oebb.cfg's [mail] and say what failed.
    MailTest(cmd::mail_test::MailTestArgs),
}

fn main() -> ExitCode {
    // Usage errors exit 3, because 1 and 2 mean "fail" and "warnings" to scripts running
    // `oebb analyze-log`.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
            let help = matches!(err.kind(), DisplayHelp | DisplayVersion);
            return ExitCode::from(if help { 0 } else { 3 });
        }
    };
    let result = match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::CreateMaster(args) => cmd::create_master::run(args),
        Command::AnalyzeLog(args) => cmd::analyze_log::run(args),
        Command::Master(args) => cmd::master::run(args),
        Command::Worker(args) => cmd::worker::run(args),
        Command::Force(args) => cmd::force::run(args),
        Command::Builds(args) => cmd::builds::run(args),
        Command::Log(args) => cmd::log::run(args),
        Command::Passwd(args) => cmd::passwd::run(args),
        Command::Reconfig(args) => cmd::reconfig::run(args),
        Command::MailTest(args) => cmd::mail_test::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("oebb: {err:#}");
            ExitCode::from(1)
        }
    }
}
