//! `oebb create-master`: write a commented master directory that `oebb check` accepts.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `oebb create-master`.
#[derive(Args)]
pub struct CreateMasterArgs {
    /// Directory to create.
    pub dir: PathBuf,
}

/// The files written, relative to the master directory.
const FILES: &[(&str, &str)] = &[
    ("oebb.cfg", include_str!("create_master/oebb.cfg")),
    ("slaves.cfg", include_str!("create_master/slaves.cfg")),
    (
        "buildouts/MANIFEST.cfg",
        include_str!("create_master/MANIFEST.cfg"),
    ),
    (
        "buildouts/odoo-16.0.cfg",
        include_str!("create_master/odoo-16.0.cfg"),
    ),
];

/// Runs the command; refuses to overwrite any existing file.
pub fn run(args: CreateMasterArgs) -> anyhow::Result<u8> {
    for (name, _) in FILES {
        let path = args.dir.join(name);
        if path.exists() {
            anyhow::bail!(
                "{} already exists; choose a new directory or remove it",
                path.display()
            );
        }
    }
    for (name, text) in FILES {
        let path = args.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "wrote a master directory in {}; adjust slaves.cfg to your PostgreSQL, then run: oebb check {}",
        args.dir.display(),
        args.dir.display()
    );
    Ok(0)
}
