//! The `oebb` binary as the tests run it.
#![allow(dead_code)] // each test file uses what it needs

use std::process::{Command, Output};

/// Runs `oebb ARGS…` to its end.
pub fn oebb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oebb"))
        .args(args)
        .output()
        .unwrap()
}

/// What a run printed, standard output then standard error.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
