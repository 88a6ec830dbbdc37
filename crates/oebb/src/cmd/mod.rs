//! One module per subcommand; each exposes its clap `Args` and `run`, returning the exit code.

pub mod analyze_log;
pub mod builds;
pub mod check;
pub mod create_master;
pub mod force;
pub mod log;
pub mod master;
pub mod worker;
