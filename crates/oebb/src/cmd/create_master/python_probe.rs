//! The Python probes of `oebb create-master`: Python 2.7 from pyenv, then the Pythons of
//! `PATH`, each run once under the probes' timeout.

use super::machine::Python;
use super::probe::run;
use oebb_worker::RunAs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Most interpreters tried on `PATH`.
const MAX_PYTHON_CANDIDATES: usize = 32;

/// Python 2.7 from pyenv first, then the `python2.7`, `python3` and `python3.N` of `PATH`, in
/// `PATH` order; each run once, side by side (pyenv's own commands meanwhile).
pub fn pythons(worker: Option<&RunAs>) -> Vec<Python> {
    let candidates = path_pythons();
    std::thread::scope(|s| {
        let pyenv = s.spawn(|| {
            let (bin, how) = pyenv_python27()?;
            python(&bin, &how, worker)
        });
        let runs: Vec<_> = candidates
            .iter()
            .map(|(bin, how)| s.spawn(move || python(bin, how, worker)))
            .collect();
        let mut found: Vec<Python> = pyenv.join().ok().flatten().into_iter().collect();
        found.extend(runs.into_iter().filter_map(|r| r.join().ok().flatten()));
        found
    })
}

fn path_pythons() -> Vec<(PathBuf, String)> {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            // pyenv's shims start a shell script each (over a second on a loaded machine), and
            // one of a version not selected searches every version for seconds before it fails:
            // only the selected python3 is run (pyenv's 2.7 is found by `pyenv prefix`).
            let shims = dir.ends_with("shims");
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| is_python_name(n) && (!shims || n == "python3"))
                .collect();
            names.sort();
            for name in names {
                candidates.push((dir.join(&name), format!("{name} on PATH")));
            }
        }
    }
    // The same program under several names or directories (/bin → /usr/bin) is run once.
    let mut seen = std::collections::HashSet::new();
    candidates.retain(|(bin, _)| seen.insert(std::fs::canonicalize(bin).unwrap_or(bin.clone())));
    candidates.truncate(MAX_PYTHON_CANDIDATES);
    candidates
}

fn is_python_name(name: &str) -> bool {
    match name.strip_prefix("python") {
        Some("2.7") | Some("3") => true,
        Some(rest) => rest
            .strip_prefix("3.")
            .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// `pyenv prefix` of the highest 2.7 release pyenv has.
fn pyenv_python27() -> Option<(PathBuf, String)> {
    let versions = run(Command::new("pyenv").args(["versions", "--bare"])).ok()?;
    let version = versions
        .lines()
        .map(str::trim)
        .filter(|v| v.starts_with("2.7.") && v[4..].bytes().all(|b| b.is_ascii_digit()))
        .max_by_key(|v| v[4..].parse::<u32>().unwrap_or(0))?
        .to_string();
    let prefix = run(Command::new("pyenv").args(["prefix", &version])).ok()?;
    let bin = Path::new(prefix.trim()).join("bin/python2.7");
    Some((bin, format!("pyenv {version}")))
}

fn python(bin: &Path, found_by: &str, worker: Option<&RunAs>) -> Option<Python> {
    let out = run(Command::new(bin).args([
        "-c",
        "import sys; print('%d %d %d %s' % (sys.version_info[0], sys.version_info[1], \
         sys.version_info[2], sys.executable))",
    ]))
    .ok()?;
    let mut words = out.trim().splitn(4, ' ');
    let mut number = || words.next()?.parse::<u32>().ok();
    let version = (number()?, number()?, number()?);
    let executable = words.next().filter(|e| e.starts_with('/'))?.to_string();
    let open_to_others = match worker {
        Some(w) => runs_as(w, &executable),
        None => open_to_others(Path::new(&executable)),
    };
    Some(Python {
        version,
        open_to_others,
        bin: executable,
        found_by: found_by.to_string(),
    })
}

/// Whether `worker` can run the interpreter (its directories, its shared library): tried.
/// (std drops root's supplementary groups when it changes the user id.)
fn runs_as(worker: &RunAs, python: &str) -> bool {
    use std::os::unix::process::CommandExt;
    run(Command::new(python)
        .args(["-c", "pass"])
        .env("HOME", &worker.home)
        .uid(worker.uid)
        .gid(worker.gid))
    .is_ok()
}

/// Whether every directory up to `file`, and the file, may be entered or run by others.
fn open_to_others(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Ok(real) = std::fs::canonicalize(file) else {
        return false;
    };
    real.ancestors()
        .all(|p| std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

#[cfg(test)]
mod tests {
    use super::is_python_name;

    #[test]
    fn python_names() {
        for yes in ["python3", "python2.7", "python3.11", "python3.6"] {
            assert!(is_python_name(yes), "{yes}");
        }
        for no in [
            "python",
            "python2",
            "python3-config",
            "python3.11-config",
            "python3.",
            "pythonw",
        ] {
            assert!(!is_python_name(no), "{no}");
        }
    }
}
