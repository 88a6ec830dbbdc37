//! `oebb create-master`: write a commented master directory that `oebb check` accepts.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

use crate::private_file;

mod capability_lines;
mod machine;
mod probe;
mod python_probe;

/// Arguments of `oebb create-master`.
#[derive(Args)]
pub struct CreateMasterArgs {
    /// Directory to create.
    pub dir: PathBuf,
    /// Write example capability lines (postgresql 16 port=5432, python 3) instead of the
    /// PostgreSQL clusters and Pythons found on this machine.
    #[arg(long)]
    pub no_probe: bool,
}

/// Where slaves.cfg gets the local worker's capability lines.
const CAPABILITY_MARK: &str = "@CAPABILITY@\n";

/// The capability block of `--no-probe`.
const EXAMPLE_CAPABILITIES: &str = "\
# Example lines (create-master --no-probe): adjust them to this machine.
capability = postgresql 16 port=5432
             python 3
";

/// The local worker's capability lines, with comments on what was found and what is missing.
fn capability_block(no_probe: bool) -> String {
    if no_probe {
        return EXAMPLE_CAPABILITIES.to_string();
    }
    capability_lines::render(&capability_lines::worker_lines(&probe::machine()))
}

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
        "buildouts/odoo-16.0.cfg",
        include_str!("create_master/odoo-16.0.cfg"),
        false,
    ),
];

/// Runs the command; refuses to overwrite any existing file.
pub fn run(args: CreateMasterArgs) -> anyhow::Result<u8> {
    for (name, _, _) in FILES {
        let path = args.dir.join(name);
        if path.exists() {
            anyhow::bail!(
                "{} already exists; choose a new directory or remove it",
                path.display()
            );
        }
    }
    let capabilities = capability_block(args.no_probe);
    // The master directory will also hold the store and the API token: owner only.
    private_file::create_dir(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    for (name, text, secret) in FILES {
        let path = args.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let text = text.replace(CAPABILITY_MARK, &capabilities);
        let written = if *secret {
            private_file::create_new(&path, &text)
        } else {
            std::fs::write(&path, &text)
        };
        written.with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "wrote a master directory in {}; read the comments of its slaves.cfg on what this \
         machine has and lacks, then run: oebb check {}",
        args.dir.display(),
        args.dir.display()
    );
    Ok(0)
}
