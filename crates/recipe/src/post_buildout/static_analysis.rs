//! `static-analysis`: install the flake8 part, run it on `static-analysis.flake-directories`.

use crate::buildout_run::install_parts;
use crate::context::{Context, RecipeError};
use crate::step::{Step, StepCommand};

/// The `static-analysis` steps.
pub fn steps(cx: &Context) -> Result<Vec<Step>, RecipeError> {
    let part = cx
        .option("static-analysis.part")
        .unwrap_or("static-analysis");
    let max = cx.number("static-analysis.max-line-length", 100)?;
    let dirs = cx.option("static-analysis.flake-directories").unwrap_or("");
    let mut argv = vec![
        "bin/flake8".to_string(),
        "--max-line-length".into(),
        max.to_string(),
        "--show-source".into(),
    ];
    argv.extend(dirs.split_whitespace().map(String::from));
    Ok(vec![
        install_parts(cx, "analysis_tools", &[part]),
        Step::new("flake8", StepCommand::Argv(argv)).envs(&cx.env),
    ])
}
