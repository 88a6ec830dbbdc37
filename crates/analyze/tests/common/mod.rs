//! Helpers shared by the integration tests: the project's fixture logs, the optional
//! reference corpus, and short summaries of a report.
#![allow(dead_code)]

use oebb_analyze::{Report, Rule};
use std::path::PathBuf;

/// The project's own Odoo/OpenERP logs, one per version and case (`fixtures/odoo-logs`).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/odoo-logs")
}

/// A fixture log, as written by the server (no header line).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every fixture log name, sorted.
pub fn fixture_names() -> Vec<String> {
    names_in(fixtures_dir())
}

/// The shared reference corpus: `$OEBB_REFERENCE`, else `../shared/reference` beside the
/// repository. Only the `reference_corpus` tests (ignored unless asked for) read it, so a
/// missing corpus is an error of whoever asked.
fn reference_root() -> PathBuf {
    let root = std::env::var_os("OEBB_REFERENCE").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference"),
        PathBuf::from,
    );
    assert!(
        root.is_dir(),
        "the reference corpus is not at {}: set OEBB_REFERENCE to its directory, or run the \
         tests without --ignored (the project's own fixtures need no corpus)",
        root.display()
    );
    root
}

/// Where the public sample logs of the reference corpus live (never copied here).
pub fn reference_samples_dir() -> PathBuf {
    reference_root().join("odoo-logs")
}

/// A sample log of the reference corpus with its `#### SOURCE:` header line stripped.
pub fn reference_sample(name: &str) -> Vec<u8> {
    let path = reference_samples_dir().join(name);
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

/// Every sample name of the reference corpus, sorted.
pub fn reference_sample_names() -> Vec<String> {
    names_in(reference_samples_dir())
}

fn names_in(dir: PathBuf) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log") || n.ends_with(".txt"))
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
