//! Helpers shared by the integration tests: the public sample logs and short summaries.
#![allow(dead_code)]

use oebb_analyze::{Report, Rule};
use std::path::PathBuf;

/// The project's shared reference files: `$OEBB_REFERENCE`, set by scripts/test, or
/// `../shared/reference` beside the repository.
fn reference_root() -> PathBuf {
    std::env::var_os("OEBB_REFERENCE").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference"),
        PathBuf::from,
    )
}

/// Where the public sample logs live (never copied into the repository).
pub fn samples_dir() -> PathBuf {
    reference_root().join("odoo-logs")
}

/// A sample log with its `#### SOURCE:` header line stripped.
pub fn sample(name: &str) -> Vec<u8> {
    let path = samples_dir().join(name);
    let raw =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        raw.starts_with(b"#### SOURCE:"),
        "{name}: missing header line"
    );
    match memchr::memchr(b'\n', &raw) {
        Some(i) => raw[i + 1..].to_vec(),
        None => Vec::new(),
    }
}

/// Every sample file name, sorted.
pub fn sample_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(samples_dir())
        .expect("the samples directory ../shared/reference/odoo-logs")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// `(rule, line)` of every kept finding, in report order.
pub fn rules_and_lines(r: &Report) -> Vec<(Rule, u64)> {
    r.findings.iter().map(|f| (f.rule, f.line)).collect()
}

/// The rules of the kept findings, in report order, without duplicates next to each other.
pub fn rules(r: &Report) -> Vec<Rule> {
    let mut v: Vec<Rule> = r.findings.iter().map(|f| f.rule).collect();
    v.dedup();
    v
}
