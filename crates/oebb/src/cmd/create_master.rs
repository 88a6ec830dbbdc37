//! `oebb create-master`: write a commented master directory that `oebb check` accepts, whose
//! OpenERP 7.0 example builds green on a machine that has what its comments say it needs.

use anyhow::Context;
use clap::Args;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::private_file;

mod capability_lines;
mod machine;
mod probe;
mod python_probe;
mod worker_user;

/// Arguments of `oebb create-master`.
#[derive(Args)]
pub struct CreateMasterArgs {
    /// Directory to create.
    pub dir: PathBuf,
    /// Write example capability lines (postgresql 16 port=5432, python 2.7, python 3.11) instead of the
    /// PostgreSQL clusters and Pythons found on this machine, and no local worker user unless
    /// --local-worker-user is given.
    #[arg(long)]
    pub no_probe: bool,
    /// The user the local worker runs its commands as (`local-worker-user` in oebb.cfg).
    /// Default, when run as root: SUDO_USER, else the user `oebb` if it exists; not root:
    /// nobody (the master's own user).
    #[arg(long, value_name = "USER")]
    pub local_worker_user: Option<String>,
}

/// Where slaves.cfg gets the local worker's capability lines.
const CAPABILITY_MARK: &str = "@CAPABILITY@\n";

/// Where oebb.cfg gets its `local-worker-user` lines.
const LOCAL_WORKER_USER_MARK: &str = "@LOCAL_WORKER_USER@\n";

/// Where the OpenERP 7.0 buildout gets the absolute path of [`DISTS_DIR`].
const FIND_LINKS_MARK: &str = "@FIND_LINKS@";

/// The stand-in distributions the OpenERP 7.0 buildout finds with `find-links`.
const DISTS_DIR: &str = "buildouts/openerp-7.0-dists";

/// The capability block of `--no-probe`.
const EXAMPLE_CAPABILITIES: &str = "\
# Example lines (create-master --no-probe): adjust them to this machine.
capability = postgresql 16 port=5432
             python 2.7 bin=python2.7
             python 3.11 bin=python3.11
";

/// The files written, relative to the master directory, and whether they hold secrets (the
/// web users' password hashes, the workers' passwords): those are readable by their owner only.
const FILES: &[(&str, &str, bool)] = &[
    ("oebb.cfg", include_str!("create_master/oebb.cfg"), true),
    ("slaves.cfg", include_str!("create_master/slaves.cfg"), true),
    (
        "buildouts/MANIFEST.cfg",
        include_str!("create_master/MANIFEST.cfg"),
        false,
    ),
    (
        "buildouts/openerp-7.0.cfg",
        include_str!("create_master/openerp-7.0.cfg"),
        false,
    ),
    (
        "buildouts/odoo-16.0.cfg",
        include_str!("create_master/odoo-16.0.cfg"),
        false,
    ),
];

/// The stand-ins under [`DISTS_DIR`]: unpacked eggs, which setuptools takes from a find-links
/// directory as they are (no archive to build). `PyChart` only requires PyPI's `Python-Chart`
/// (the same code under the name OpenERP 7.0 asks for); `openerp-command` stands for the
/// distribution anybox.recipe.openerp asks for, which is not on PyPI.
const DISTS: &[(&str, &str)] = &[
    (
        "PyChart-1.39-py2.7.egg/EGG-INFO/PKG-INFO",
        include_str!("create_master/dists/PyChart-1.39-py2.7.egg/EGG-INFO/PKG-INFO"),
    ),
    (
        "PyChart-1.39-py2.7.egg/EGG-INFO/requires.txt",
        include_str!("create_master/dists/PyChart-1.39-py2.7.egg/EGG-INFO/requires.txt"),
    ),
    ("PyChart-1.39-py2.7.egg/EGG-INFO/top_level.txt", ""),
    (
        "openerp_command-0.0.1-py2.7.egg/EGG-INFO/PKG-INFO",
        include_str!("create_master/dists/openerp_command-0.0.1-py2.7.egg/EGG-INFO/PKG-INFO"),
    ),
    (
        "openerp_command-0.0.1-py2.7.egg/EGG-INFO/entry_points.txt",
        include_str!(
            "create_master/dists/openerp_command-0.0.1-py2.7.egg/EGG-INFO/entry_points.txt"
        ),
    ),
    (
        "openerp_command-0.0.1-py2.7.egg/EGG-INFO/top_level.txt",
        include_str!("create_master/dists/openerp_command-0.0.1-py2.7.egg/EGG-INFO/top_level.txt"),
    ),
    (
        "openerp_command-0.0.1-py2.7.egg/openerpcommand/__init__.py",
        "",
    ),
    (
        "openerp_command-0.0.1-py2.7.egg/openerpcommand/main.py",
        include_str!("create_master/dists/openerp_command-0.0.1-py2.7.egg/openerpcommand/main.py"),
    ),
];

/// The local worker's capability lines, with comments on what was found and what is missing.
fn capability_block(no_probe: bool, worker: Option<&oebb_worker::RunAs>) -> String {
    if no_probe {
        return EXAMPLE_CAPABILITIES.to_string();
    }
    capability_lines::render(&capability_lines::worker_lines(&probe::machine(worker)))
}

/// Runs the command; refuses to overwrite any existing file.
pub fn run(args: CreateMasterArgs) -> anyhow::Result<u8> {
    for name in FILES.iter().map(|f| f.0).chain([DISTS_DIR]) {
        let path = args.dir.join(name);
        if path.exists() {
            anyhow::bail!(
                "{} already exists; choose a new directory or remove it",
                path.display()
            );
        }
    }
    let choice = match (&args.local_worker_user, args.no_probe) {
        (None, true) => worker_user::not_looked_for(),
        (given, _) => worker_user::choose(given.as_deref()),
    };
    let worker = match &choice.user {
        Some(name) => Some(oebb_worker::RunAs::lookup(name).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let capabilities = capability_block(args.no_probe, worker.as_ref());
    // The master directory will also hold the store and the API token: owner only.
    private_file::create_dir(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let dir = std::fs::canonicalize(&args.dir)
        .with_context(|| format!("resolving {}", args.dir.display()))?;
    let find_links = dir.join(DISTS_DIR);
    for (name, text, secret) in FILES {
        let text = text
            .replace(CAPABILITY_MARK, &capabilities)
            .replace(LOCAL_WORKER_USER_MARK, &worker_user::config_lines(&choice))
            .replace(FIND_LINKS_MARK, &find_links.display().to_string());
        write(&dir.join(name), &text, *secret)?;
    }
    for (name, text) in DISTS {
        write(&find_links.join(name), text, false)?;
    }
    let mut notes = Vec::new();
    if let Some(worker) = &worker {
        notes.extend(let_worker_in(&dir, worker)?);
    }
    if choice.needs_a_user {
        notes.push(format!("warning: {}.", choice.reason));
    }
    println!(
        "wrote a master directory in {}; read the comments of its slaves.cfg on what this \
         machine has and lacks, then run: oebb check {}",
        args.dir.display(),
        args.dir.display()
    );
    for note in notes {
        println!("{note}");
    }
    Ok(0)
}

/// Writes `text` at `path`, its directories first: secrets for the owner only, the rest
/// readable by all (the local worker's user reads the buildouts and the stand-ins).
fn write(path: &Path, text: &str, secret: bool) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let written = if secret {
        private_file::create_new(path, text)
    } else {
        std::fs::write(path, text)
            .and_then(|()| std::fs::set_permissions(path, PermissionsExt::from_mode(0o644)))
    };
    written.with_context(|| format!("writing {}", path.display()))
}

/// Lets the local worker's user through the master directory (`0711`: it may enter, not list;
/// the secrets and the store stay owner-only) and into the buildouts, where its stand-ins are.
/// Returns what to tell when a directory above stays closed to it.
fn let_worker_in(dir: &Path, worker: &oebb_worker::RunAs) -> anyhow::Result<Vec<String>> {
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, PermissionsExt::from_mode(mode))
            .with_context(|| format!("opening {} to {}", path.display(), worker.name))
    };
    mode(dir, 0o711)?;
    let buildouts = dir.join("buildouts");
    mode(&buildouts, 0o755)?;
    for entry in walkdir(&buildouts.join("openerp-7.0-dists"))? {
        mode(&entry, 0o755)?;
    }
    let closed: Vec<String> = dir
        .ancestors()
        .skip(1)
        .filter(|p| {
            std::fs::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                m.mode() & 0o001 == 0 && m.uid() != worker.uid
            })
        })
        .map(|p| p.display().to_string())
        .collect();
    Ok(closed
        .iter()
        .map(|p| {
            format!(
                "warning: {} runs the local worker's commands but cannot enter {p}, above the \
                 master directory: create the master directory elsewhere (e.g. under /srv) or \
                 let others through {p} (chmod o+x {p}).",
                worker.name
            )
        })
        .collect())
}

/// `root` and every directory under it.
fn walkdir(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = vec![root.to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        for entry in
            std::fs::read_dir(&dirs[i]).with_context(|| format!("reading {}", dirs[i].display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            }
        }
        i += 1;
    }
    Ok(dirs)
}
