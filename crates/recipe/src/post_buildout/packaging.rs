//! `packaging` after the buildout (seed-system §5.5): the release archive `dist/<prefix>-<tag>`
//! `.tar.bz2` and its `.md5`, beside the builder's `build`, are brought back to the master into
//! `<packaging.root-dir>/<packaging.upload-dir>/` (anybox hard-coded `/var/www/livraison`,
//! §10) and served under `<packaging.base-url>/<packaging.upload-dir>`.

use crate::context::{Context, RecipeError};
use crate::step::{Step, StepCommand};
use std::path::PathBuf;

/// The upload steps of the archive and its checksum.
pub fn steps(cx: &Context) -> Result<Vec<Step>, RecipeError> {
    let need = |name: &str, what: &str| {
        cx.option(name)
            .map(|v| v.trim_end_matches('/').to_string())
            .ok_or_else(|| cx.bad(name, "", what))
    };
    let prefix = need("packaging.prefix", "the release archive's name prefix")?;
    let upload_dir = need(
        "packaging.upload-dir",
        "the master sub-directory receiving release archives",
    )?;
    let root = need(
        "packaging.root-dir",
        "the master directory holding release archives",
    )?;
    let url = cx
        .option("packaging.base-url")
        .map(|b| format!("{}/{upload_dir}", b.trim_end_matches('/')));
    let archive = format!("{prefix}-%(prop:buildout-tag)s.tar.bz2");
    let dest = PathBuf::from(root).join(&upload_dir);
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
