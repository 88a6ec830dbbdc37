//! Loading a master directory: `oebb.cfg`, the workers file and the manifests, then the matrix.

use crate::buildout::{parse_manifest, Buildout};
use crate::error::{ConfigError, ErrorKind, Warning};
use crate::ini::Ini;
use crate::master_settings::{parse_master_settings, MasterSettings};
use crate::matrix::{build_matrix, Matrix};
use crate::worker::{parse_workers, Worker};
use std::path::{Path, PathBuf};

/// Files to use instead of those of the master directory.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Workers file to use instead of the directory's.
    pub workers: Option<PathBuf>,
    /// Manifests to use instead of the directory's (in order).
    pub manifests: Vec<PathBuf>,
}

/// A loaded master directory.
#[derive(Clone, Debug)]
pub struct MasterConfig {
    /// The master directory.
    pub dir: PathBuf,
    /// `oebb.cfg` (defaults when absent).
    pub settings: MasterSettings,
    /// The workers file that was read.
    pub workers_file: PathBuf,
    /// The manifests that were read.
    pub manifest_files: Vec<PathBuf>,
    /// Workers, in file order.
    pub workers: Vec<Worker>,
    /// Buildout sections of every manifest, in order (watch-only ones included).
    pub buildouts: Vec<Buildout>,
    /// The builder matrix.
    pub matrix: Matrix,
    /// Everything worth telling that is not an error, the matrix's warnings included.
    pub warnings: Vec<Warning>,
}

/// Reads a file as INI; a missing or unreadable file is an error at line 0.
fn read_ini(path: &Path, errors: &mut Vec<ConfigError>) -> Option<Ini> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let (ini, errs) = Ini::parse_bytes(path, &bytes);
            errors.extend(errs);
            Some(ini)
        }
        Err(e) => {
            errors.push(ConfigError::new(
                path,
                0,
                ErrorKind::Unreadable {
                    reason: e.to_string(),
                },
            ));
            None
        }
    }
}

/// Loads the master directory `dir` and builds its matrix, or returns every error found.
pub fn load(dir: &Path, overrides: &Overrides) -> Result<MasterConfig, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let settings_path = dir.join("oebb.cfg");
    let settings = if settings_path.exists() {
        read_ini(&settings_path, &mut errors).map_or_else(MasterSettings::default, |ini| {
            let (s, errs) = parse_master_settings(&ini);
            errors.extend(errs);
            s
        })
    } else {
        MasterSettings::default()
    };

    let workers_file = match (&overrides.workers, &settings.workers) {
        (Some(f), _) => f.clone(),
        (None, Some(f)) => dir.join(f),
        (None, None) => {
            let (slaves, workers) = (dir.join("slaves.cfg"), dir.join("workers.cfg"));
            match (slaves.exists(), workers.exists()) {
                (true, true) => {
                    errors.push(ConfigError::new(&workers, 0, ErrorKind::TwoWorkerFiles));
                    slaves
                }
                (false, true) => workers,
                _ => slaves,
            }
        }
    };
    let workers = read_ini(&workers_file, &mut errors).map_or_else(Vec::new, |ini| {
        let (w, errs) = parse_workers(&ini);
        errors.extend(errs);
        if ini.sections.is_empty() {
            warnings.push(Warning::new(
                &workers_file,
                0,
                "no worker is defined; add a [worker-name] section with a password",
            ));
        }
        w
    });

    let manifest_files: Vec<PathBuf> = if overrides.manifests.is_empty() {
        settings.manifests.iter().map(|m| dir.join(m)).collect()
    } else {
        overrides.manifests.clone()
    };
    let mut buildouts: Vec<Buildout> = Vec::new();
    for path in &manifest_files {
        let Some(ini) = read_ini(path, &mut errors) else {
            continue;
        };
        let (found, errs, warns) = parse_manifest(&ini);
        errors.extend(errs);
        warnings.extend(warns);
        for b in found {
            if let Some(first) = buildouts.iter().find(|o| o.name == b.name) {
                errors.push(ConfigError::new(
                    &b.manifest,
                    b.line,
                    ErrorKind::DuplicateBuildout {
                        name: b.name.clone(),
                        first: format!("{}:{}", first.manifest.display(), first.line),
                    },
                ));
            } else {
                buildouts.push(b);
            }
        }
    }

    let (matrix, errs) = build_matrix(&buildouts, &workers);
    errors.extend(errs);
    if !errors.is_empty() {
        return Err(errors);
    }
    warnings.extend(matrix.warnings.iter().cloned());
    Ok(MasterConfig {
        dir: dir.to_path_buf(),
        settings,
        workers_file,
        manifest_files,
        workers,
        buildouts,
        matrix,
        warnings,
    })
}
