//! `doc`: build the Sphinx documentation and upload the HTML to the master.

use crate::context::{Context, RecipeError};
use crate::shell::properties_of_manifest;
use crate::step::{Step, StepCommand};

/// Where uploaded documentation goes when `doc.upload-root` is not given, relative to the
/// master directory.
pub const DEFAULT_UPLOAD_ROOT: &str = "public_html/doc";

/// The `doc` steps.
pub fn steps(cx: &Context) -> Result<Vec<Step>, RecipeError> {
    let (build, html) = match cx.option("doc.sphinx-sourcedir") {
        // collective.recipe.sphinxbuilder's script.
        None => (
            Step::argv("sphinx", &["sh", "bin/sphinx"]),
            "doc/_build/html".to_string(),
        ),
        Some(source) => {
            let out = cx
                .option("doc.sphinx-builddir")
                .map_or_else(|| format!("{source}/_build"), String::from);
            let mut argv = vec![
                cx.option("doc.sphinx-bin")
                    .unwrap_or("bin/sphinx-build")
                    .to_string(),
                "-b".into(),
                "html".into(),
            ];
            if cx.option("doc.sphinx-mode") == Some("full") {
                argv.push("-E".into());
            }
            argv.extend([source.to_string(), out.clone()]);
            (Step::new("sphinx", StepCommand::Argv(argv)), out)
        }
    };
    let mut steps = vec![build.envs(&cx.env)];
    if let Some(dir) = cx.path_option("doc.upload-dir")? {
        let dir = dir.display();
        let version = cx.option("doc.version").map_or_else(
            || "%(prop:buildout-tag:-current)s".into(),
            properties_of_manifest,
        );
        // Relative to the master directory, never the directory itself nor outside it: the
        // upload replaces `<root>/<dir>/<version>` (DESIGN.md decision 6).
        let root = cx
            .path_option("doc.upload-root")?
            .unwrap_or_else(|| DEFAULT_UPLOAD_ROOT.into());
        let url = cx
            .option("doc.base-url")
            .map(|b| format!("{}/{dir}/{version}", b.trim_end_matches('/')));
        steps.push(
            Step::new(
                "upload_doc",
                StepCommand::UploadDirectory {
                    source: html,
                    dest: format!("{}/{dir}/{version}", root.display()),
                    url,
                },
            )
            .halt_on_failure(true),
        );
    }
    Ok(steps)
}
