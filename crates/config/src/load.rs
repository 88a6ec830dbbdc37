//! Loading a master directory: `oebb.cfg`, the workers file and the manifests, then the matrix.

use crate::buildout::{parse_manifest, Buildout};
use crate::error::{ConfigError, ErrorKind, Warning};
use crate::ini::{Ini, MAX_ERRORS};
use crate::master_settings::{parse_master_settings, MasterSettings};
use crate::matrix::{build_matrix, Matrix};
use crate::worker::{parse_workers, Worker};
use std::collections::HashMap;
use std::io::Read;
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

/// The largest configuration file read; real ones are a few hundred kilobytes at most.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a file as INI; a missing, unreadable, special or oversized file is an error at line 0.
fn read_ini(path: &Path, errors: &mut Vec<ConfigError>) -> Option<Ini> {
    match read_file(path) {
        Ok(bytes) => {
            let (ini, errs) = Ini::parse_bytes(path, &bytes);
            errors.extend(errs);
            Some(ini)
        }
        Err(kind) => {
            errors.push(ConfigError::new(path, 0, kind));
            None
        }
    }
}

/// The bytes of the regular file `path`, at most [`MAX_FILE_BYTES`] of them. A FIFO, a device
/// or a directory is refused before anything is read: `/dev/zero` never ends and a FIFO
/// without a writer blocks forever.
pub fn read_file(path: &Path) -> Result<Vec<u8>, ErrorKind> {
    let unreadable = |e: std::io::Error| ErrorKind::Unreadable {
        reason: e.to_string(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Opening a FIFO for reading waits for a writer, unless non-blocking.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(unreadable)?;
    let kind = file.metadata().map_err(unreadable)?.file_type();
    if !kind.is_file() {
        return Err(ErrorKind::NotAFile {
            what: file_kind(kind).to_string(),
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ErrorKind::FileTooLarge {
            limit: MAX_FILE_BYTES,
        });
    }
    Ok(bytes)
}

/// [`read_file`] as UTF-8 text, `None` when it cannot be read: for the files `check` reads
/// beside the manifests (buildout files), whose absence is reported elsewhere.
pub fn read_text(path: &Path) -> Option<String> {
    read_file(path).ok().and_then(|b| String::from_utf8(b).ok())
}

/// What a file that is not a regular file is, in words.
fn file_kind(kind: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "not a regular file"
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
    // Index in `buildouts` by name: manifests may hold tens of thousands of sections.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for path in &manifest_files {
        let Some(ini) = read_ini(path, &mut errors) else {
            continue;
        };
        let (found, errs, warns) = parse_manifest(&ini);
        errors.extend(errs);
        warnings.extend(warns);
        for b in found {
            if let Some(first) = seen.get(&b.name).map(|&i| &buildouts[i]) {
                errors.push(ConfigError::new(
                    &b.manifest,
                    b.line,
                    ErrorKind::DuplicateBuildout {
                        name: b.name.clone(),
                        first: format!("{}:{}", first.manifest.display(), first.line),
                    },
                ));
            } else {
                seen.insert(b.name.clone(), buildouts.len());
                buildouts.push(b);
            }
        }
    }

    let (matrix, errs) = build_matrix(&buildouts, &workers);
    errors.extend(errs);
    mail_checks(
        &settings,
        &settings_path,
        &workers,
        &matrix,
        &mut errors,
        &mut warnings,
    );
    if !errors.is_empty() {
        if errors.len() > MAX_ERRORS {
            let location = errors[MAX_ERRORS].location.clone();
            errors.truncate(MAX_ERRORS);
            let kind = ErrorKind::TooManyErrors { limit: MAX_ERRORS };
            errors.push(ConfigError { location, kind });
        }
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

/// The mail rules name existing builders and categories; workers to watch need `[mail]`.
fn mail_checks(
    settings: &MasterSettings,
    settings_path: &Path,
    workers: &[Worker],
    matrix: &Matrix,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<Warning>,
) {
    match &settings.mail {
        Some(mail) => errors.extend(crate::master_settings::check_rules(
            mail,
            matrix,
            settings_path,
        )),
        None => {
            for w in workers.iter().filter(|w| !w.notify_on_missing.is_empty()) {
                warnings.push(Warning::new(
                    &w.file,
                    w.line,
                    format!(
                        "worker {} has notify_on_missing but oebb.cfg has no [mail] section: \
                         no mail is sent until [mail] names the relay and the sender",
                        w.name
                    ),
                ));
            }
        }
    }
}
