//! One module per subcommand; each exposes its clap `Args` and `run`, returning the exit code.

pub mod analyze_log;
pub mod check;
pub mod create_master;
pub mod not_yet;
