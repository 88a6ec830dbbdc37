//! Helpers shared by the unit tests.

use crate::buildout::{parse_manifest, Buildout};
use crate::ini::Ini;
use crate::master_settings::{parse_master_settings, MasterSettings};
use crate::worker::{parse_workers, Worker};
use std::path::{Path, PathBuf};

/// The project's shared reference files: `$OEBB_REFERENCE`, set by scripts/test, or
/// `../shared/reference` beside the repository.
fn reference_root() -> PathBuf {
    std::env::var_os("OEBB_REFERENCE").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference"),
        PathBuf::from,
    )
}

/// The reference files of anybox.buildbot.openerp.
pub fn reference(name: &str) -> PathBuf {
    reference_root().join("anybox-config-cases").join(name)
}

/// Parses `text` as `t.cfg`, panicking on syntax errors.
pub fn ini(text: &str) -> Ini {
    let (ini, errors) = Ini::parse(Path::new("t.cfg"), text);
    assert_eq!(strings(&errors), Vec::<String>::new());
    ini
}

/// Display forms of errors.
pub fn strings<T: ToString>(errors: &[T]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

/// Every error of reading `text` as a workers file `t.cfg`.
pub fn worker_errors(text: &str) -> Vec<String> {
    let (ini, mut errors) = Ini::parse(Path::new("t.cfg"), text);
    errors.extend(parse_workers(&ini).1);
    strings(&errors)
}

/// Workers of `text`, panicking on errors.
pub fn workers(text: &str) -> Vec<Worker> {
    let (workers, errors) = parse_workers(&ini(text));
    assert_eq!(strings(&errors), Vec::<String>::new());
    workers
}

/// Every error of reading `text` as a manifest `t.cfg`.
pub fn manifest_errors(text: &str) -> Vec<String> {
    let (ini, mut errors) = Ini::parse(Path::new("t.cfg"), text);
    errors.extend(parse_manifest(&ini).1);
    strings(&errors)
}

/// Buildouts of `text`, panicking on errors.
pub fn buildouts(text: &str) -> Vec<Buildout> {
    let (buildouts, errors, _) = parse_manifest(&ini(text));
    assert_eq!(strings(&errors), Vec::<String>::new());
    buildouts
}

/// Settings and every error of reading `text` as `t.cfg`.
pub fn settings(text: &str) -> (MasterSettings, Vec<String>) {
    let (ini, mut errors) = Ini::parse(Path::new("t.cfg"), text);
    let (s, errs) = parse_master_settings(&ini);
    errors.extend(errs);
    (s, strings(&errors))
}

/// Reads a reference file as INI.
pub fn reference_ini(name: &str) -> Ini {
    let path = reference(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (ini, errors) = Ini::parse_bytes(&path, &bytes);
    assert_eq!(strings(&errors), Vec::<String>::new());
    ini
}
