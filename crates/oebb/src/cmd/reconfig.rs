//! `oebb reconfig`: make the running master of a master directory read its configuration
//! again, through its JSON API with the master's token, and print how it ended.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use oebb_master::reconfig::WEB_ADDRESS_FILE;
use serde_json::{json, Value};

use super::force::{api_token, message, Api};

/// Arguments of `oebb reconfig`.
#[derive(Args)]
pub struct ReconfigArgs {
    /// The master directory of the running master.
    dir: PathBuf,
}

/// How long the master may take to read and check a large configuration.
const TIMEOUT: Duration = Duration::from_secs(600);

/// Runs the command: 0 when the new configuration runs, 1 when it was refused (its errors on
/// stderr, one per line, as `oebb check` prints them).
pub fn run(args: ReconfigArgs) -> anyhow::Result<u8> {
    let file = args.dir.join(WEB_ADDRESS_FILE);
    let address = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "cannot read {}, which the running master writes when it starts: is `oebb master \
             {}` running?",
            file.display(),
            args.dir.display()
        )
    })?;
    let token = api_token(&args.dir)?;
    let api = Api::with_timeout(address.trim(), TIMEOUT);
    let (status, answer) = api.post("/api/reconfig", &json!({}), &token)?;
    match (status, answer["outcome"].as_str()) {
        (200, Some("applied")) => {
            print_applied(&answer);
            Ok(0)
        }
        (422, Some("refused")) => {
            let errors = lines(&answer["errors"]);
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "oebb reconfig: refused, {} error(s); the master runs on with its configuration",
                errors.len()
            );
            Ok(1)
        }
        _ => bail!("the master refused: HTTP {status}: {}", message(&answer)),
    }
}

fn lines(value: &Value) -> Vec<String> {
    let all = value.as_array().map(Vec::as_slice).unwrap_or_default();
    all.iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn print_applied(answer: &Value) {
    let summary = lines(&answer["summary"]);
    if summary.is_empty() {
        println!("reconfig applied: nothing changed");
    } else {
        println!("reconfig applied:");
    }
    for line in summary {
        println!("  {line}");
    }
    for w in lines(&answer["warnings"]) {
        println!("warning: {w}");
    }
}
