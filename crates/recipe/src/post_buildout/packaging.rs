//! `packaging` after the buildout (seed-system §5.5): the release archive `dist/<prefix>-<tag>`
//! `.tar.bz2` and its `.md5`, beside the builder's `build`, are brought back to the master into
//! `<packaging.root-dir>/<packaging.upload-dir>/` (anybox hard-coded `/var/www/livraison`,
//! §10) and served under `<packaging.base-url>/<packaging.upload-dir>`.

use crate::context::{Context, RecipeError};
use crate::step::{Step, StepCommand};
use oebb_config::paths::normalize;
use std::path::{Path, PathBuf};

/// The upload steps of the archive and its checksum: `<root-dir>/<upload-dir>/<prefix>-<tag>
/// .tar.bz2`, where only `root-dir` may be absolute (the administrator's) and the file name
/// stays one name (the master checks the tag when the build runs).
pub fn steps(cx: &Context) -> Result<Vec<Step>, RecipeError> {
    let missing = |name: &str, what: &str| cx.bad(name, "", what);
    let prefix = cx
        .name_option("packaging.prefix")?
        .ok_or_else(|| missing("packaging.prefix", "the release archive's name prefix"))?;
    let upload_dir = cx.path_option("packaging.upload-dir")?.ok_or_else(|| {
        missing(
            "packaging.upload-dir",
            "the master sub-directory receiving release archives",
        )
    })?;
    let root = root_dir(cx)?;
    let url = cx
        .option("packaging.base-url")
        .map(|b| format!("{}/{}", b.trim_end_matches('/'), upload_dir.display()));
    let archive = format!("{prefix}-%(prop:buildout-tag)s.tar.bz2");
    let dest = root.join(&upload_dir);
    let upload = |name: &str, file: String| {
        Step::new(
            name,
            StepCommand::Upload {
                source: format!("../dist/{file}"),
                dest: dest.join(&file),
            },
        )
        .halt_on_failure(true)
        .description(&match &url {
            Some(u) => format!("served at {u}/{file}"),
            None => String::new(),
        })
    };
    Ok(vec![
        upload("upload_archive", archive.clone()),
        upload("upload_md5", format!("{archive}.md5")),
    ])
}

/// `packaging.root-dir`: an absolute directory, or one relative to the master directory that
/// stays in it.
pub fn root_dir(cx: &Context) -> Result<PathBuf, RecipeError> {
    let name = "packaging.root-dir";
    match cx.option(name) {
        None => Err(cx.bad(
            name,
            "",
            "the master directory holding release archives (needed by `packaging` and \
             `buildout = archive`)",
        )),
        Some(root) if root.starts_with('/') => Ok(normalize(Path::new(root))),
        Some(_) => Ok(cx.path_option(name)?.expect("the option is set")),
    }
}
