//! Helpers shared by the unit tests.

use crate::buildout::{parse_manifest, Buildout};
use crate::ini::Ini;
use crate::master_settings::{parse_master_settings, MasterSettings};
use crate::worker::{parse_workers, Worker};
use std::path::{Path, PathBuf};

/// The project's own configuration cases (`fixtures/config-cases`): manifests and workers
/// files written for these tests, one per feature of the format.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/config-cases")
        .join(name)
}

/// The text of a configuration case.
pub fn fixture_text(name: &str) -> String {
    let path = fixture(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads a configuration case as INI, panicking on syntax errors.
pub fn fixture_ini(name: &str) -> Ini {
    read_ini(&fixture(name))
}

/// The shared reference corpus: `$OEBB_REFERENCE`, else `../shared/reference` beside the
/// repository. Only the `reference_corpus` tests read it; they are ignored unless asked for
/// (scripts/test asks when the corpus is there), so a missing corpus is the asker's error.
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

/// A configuration file of anybox.buildbot.openerp's test suite, in the reference corpus.
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

/// Reads a file of the reference corpus as INI.
pub fn reference_ini(name: &str) -> Ini {
    read_ini(&reference(name))
}

fn read_ini(path: &Path) -> Ini {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (ini, errors) = Ini::parse_bytes(path, &bytes);
    assert_eq!(strings(&errors), Vec::<String>::new());
    ini
}
