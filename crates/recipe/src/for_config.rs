//! The recipe for a builder of a loaded master configuration: finds its buildout and worker and
//! the files a standalone buildout extends, so the master and `oebb check --steps` make steps
//! with one call.

use crate::context::{BuildInput, RecipeError};
use crate::step::Step;
use crate::{build_steps, extends};
use oebb_config::buildout::Watch;
use oebb_config::paths::{RootedPath, Subject};
use oebb_config::{Buildout, BuildoutSource, MasterConfig};
use std::path::{Path, PathBuf};

/// The steps of `builder` on `worker` (None: the builder's first worker); `read` gives the text
/// of a file on the master (None when it cannot be read).
pub fn steps_for(
    config: &MasterConfig,
    builder: &str,
    worker: Option<&str>,
    mut read: impl FnMut(&Path) -> Option<String>,
) -> Result<Vec<Step>, RecipeError> {
    let Some(b) = config.matrix.builder(builder) else {
        let names: Vec<&str> = config
            .matrix
            .builders
            .iter()
            .map(|b| b.name.as_str())
            .collect();
        return Err(RecipeError::UnknownBuilder {
            builder: builder.into(),
            valid: names.join(", "),
        });
    };
    let worker = worker.unwrap_or_else(|| b.workers.first().map_or("", |w| w.as_str()));
    let Some(w) = config.workers.iter().find(|w| w.name.as_str() == worker) else {
        return Err(RecipeError::UnknownWorker {
            worker: worker.into(),
            file: config.workers_file.display().to_string(),
        });
    };
    let Some(buildout) = config.buildouts.iter().find(|x| x.name == b.buildout) else {
        return Err(RecipeError::NoSource {
            buildout: b.buildout.clone(),
        });
    };
    build_steps(&BuildInput {
        buildout,
        builder: b,
        worker: w,
        extends: &extended_files(buildout, &mut read),
        live_sources: &standalone_live_sources(buildout, &mut read)
            .map(|(watches, _)| watches)
            .unwrap_or_default(),
    })
}

/// Where a standalone buildout's file is on the master: its path is relative to the manifest's
/// directory and stays in it (None for other sources, or a path leading elsewhere, which
/// loading the configuration refused already).
pub fn standalone_file(buildout: &Buildout) -> Option<PathBuf> {
    let Some(BuildoutSource::Standalone { path }) = &buildout.source else {
        return None;
    };
    let dir = buildout.manifest.parent().unwrap_or(Path::new(""));
    RootedPath::join(Subject::Option("buildout".into()), dir, path)
        .ok()
        .filter(RootedPath::is_below_root)
        .map(|p| p.path().to_path_buf())
}

/// The texts of the files a standalone buildout's file extends, read with `read`, which gives
/// the text of a file on the master (None when it cannot be read); none for other sources.
pub fn extended_files(
    buildout: &Buildout,
    mut read: impl FnMut(&Path) -> Option<String>,
) -> Vec<String> {
    let Some((dir, name)) = standalone_dir_and_name(buildout) else {
        return Vec::new();
    };
    extends::standalone_files(&name, |p| read(&dir.join(p)))
}

/// A standalone buildout's file on the master as its directory and its name.
fn standalone_dir_and_name(buildout: &Buildout) -> Option<(PathBuf, String)> {
    let file = standalone_file(buildout)?;
    let dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
    let name = file.file_name()?.to_string_lossy().into_owned();
    Some((dir, name))
}

/// The live sources of a standalone buildout's Odoo part, read from its files on the master
/// with `read`, and the files that could not be read; `None` for other sources.
pub fn standalone_live_sources(
    buildout: &Buildout,
    mut read: impl FnMut(&Path) -> Option<String>,
) -> Option<(Vec<Watch>, Vec<String>)> {
    let (dir, name) = standalone_dir_and_name(buildout)?;
    Some(crate::live_sources::live_sources(
        &name,
        &buildout.part,
        |p| read(&dir.join(p)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step::StepCommand;
    use crate::testutil::{fixture, names, WORKERS};
    use oebb_config::MasterSettings;
    use std::path::PathBuf;

    fn config() -> MasterConfig {
        let f = fixture(
            "[b]\nbuildout = standalone odoo.cfg\nbuild-for = postgresql == 16\n",
            WORKERS,
        );
        MasterConfig {
            dir: PathBuf::from("/master"),
            settings: MasterSettings::default(),
            workers_file: PathBuf::from("/master/slaves.cfg"),
            manifest_files: vec![PathBuf::from("/master/buildouts/MANIFEST.cfg")],
            workers: f.workers,
            buildouts: f.buildouts,
            matrix: f.matrix,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn finds_builder_worker_and_the_extended_files() {
        let read = |p: &Path| match p.to_str() {
            Some("/master/buildouts/odoo.cfg") => Some("[buildout]\nextends = base.cfg\n".into()),
            _ => None,
        };
        let steps = steps_for(&config(), "b-pg16", Some("w2"), read).unwrap();
        assert_eq!(names(&steps)[2..4], ["download", "download base.cfg"]);
        match &steps[3].command {
            StepCommand::Download { source, .. } => {
                assert_eq!(source, &PathBuf::from("/master/buildouts/base.cfg"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            steps.iter().find(|s| s.name == "createdb").unwrap().env["PGPORT"],
            "5434"
        );
        let first = steps_for(&config(), "b-pg16", None, |_| None).unwrap();
        assert_eq!(
            first.iter().find(|s| s.name == "createdb").unwrap().env["PGPORT"],
            "5433"
        );
    }

    #[test]
    fn unknown_builder_and_worker_name_the_choices() {
        let err = steps_for(&config(), "nope", None, |_| None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no builder `nope`; the builders are: b-pg16"
        );
        let err = steps_for(&config(), "b-pg16", Some("ghost"), |_| None).unwrap_err();
        assert_eq!(err.to_string(), "no worker `ghost` in /master/slaves.cfg");
    }
}
