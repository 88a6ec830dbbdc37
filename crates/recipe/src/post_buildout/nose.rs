//! `nose`: install the addons, check the install log, then run the Python tests with nosetests
//! or, with `nose.runner = pytest`, with pytest-odoo; coverage and profiles are uploaded.

use super::{odoo_timeout, words};
use crate::analyze;
use crate::context::{Context, RecipeError};
use crate::shell::{in_build, properties_of_manifest};
use crate::step::{Step, StepCommand};

/// Where the test runner writes coverage and profiles, relative to `build`.
const OUTPUT: &str = "nose_output";

/// The `nose` steps.
pub fn steps(cx: &Context) -> Result<Vec<Step>, RecipeError> {
    let install = if cx.flag("install-as-upgrade") {
        let script = cx
            .option("upgrade.script")
            .map_or_else(|| format!("bin/upgrade_{}", cx.part()), String::from);
        let mut argv = words(&script);
        argv.extend([
            "--init-load-demo-data".into(),
            "--log-file".into(),
            in_build("install.log"),
        ]);
        argv
    } else {
        let mut argv = words(&cx.buildout.start_command);
        argv.extend([
            "-d".into(),
            cx.testing_db.clone(),
            "--stop-after-init".into(),
            "-i".into(),
            cx.addons(),
            format!("--logfile={}", in_build("install.log")),
        ]);
        argv
    };
    let mut steps = vec![
        Step::new("install", StepCommand::Argv(install))
            .envs(&cx.env)
            .log_file("log", "install.log")
            .halt_on_failure(true)
            .timeout(odoo_timeout(cx)?),
        analyze::step(cx, "check", "install.log", "install", false),
    ];
    let coverage = cx.flag("nose.coverage");
    let profile = cx.flag("nose.profile");
    let cprofile = cx.flag("nose.cprofile");
    let pytest = match cx.option("nose.runner") {
        None | Some("nosetests") => false,
        Some("pytest") => true,
        Some(other) => return Err(cx.bad("nose.runner", other, "nosetests or pytest")),
    };
    let tests: Vec<String> = cx
        .option("nose.tests")
        .unwrap_or("")
        .split_whitespace()
        .map(String::from)
        .collect();
    let argv = if pytest {
        pytest_argv(cx, &tests, coverage)
    } else {
        nose_argv(cx, &tests, coverage, profile, cprofile)
    };
    let outputs = coverage || profile || cprofile;
    if outputs {
        steps.push(Step::argv("mkdir_output", &["mkdir", "-p", OUTPUT]).halt_on_failure(true));
    }
    steps.push(
        Step::new("tests", StepCommand::Argv(argv))
            .envs(&cx.env)
            .halt_on_failure(true)
            .timeout(std::time::Duration::from_secs(4 * 3600)),
    );
    if let (true, Some(path)) = (outputs, cx.option("nose.upload-path")) {
        // The upload replaces that directory: only ever one under the master directory.
        if path.starts_with('/') {
            let expected =
                "a directory relative to the master directory, which the upload replaces";
            return Err(cx.bad("nose.upload-path", path, expected));
        }
        steps.push(
            Step::new(
                "upload_output",
                StepCommand::UploadDirectory {
                    source: OUTPUT.into(),
                    dest: properties_of_manifest(path),
                    url: cx.option("nose.upload-url").map(properties_of_manifest),
                },
            )
            .halt_on_failure(true),
        );
    }
    Ok(steps)
}

fn nose_argv(
    cx: &Context,
    tests: &[String],
    coverage: bool,
    profile: bool,
    cprofile: bool,
) -> Vec<String> {
    let mut argv = vec!["bin/nosetests".to_string(), "-v".into()];
    argv.extend(tests.iter().cloned());
    if coverage {
        argv.extend([
            "--with-coverage".into(),
            "--cover-html".into(),
            format!("--cover-html-dir={OUTPUT}/coverage"),
        ]);
        argv.extend(words(
            cx.option("nose.cover-options")
                .unwrap_or("--cover-erase --cover-branches"),
        ));
        for addon in &cx.buildout.addons {
            argv.extend(["--cover-package".into(), addon.clone()]);
        }
    }
    if profile {
        argv.extend([
            "--with-profile".into(),
            "--profile-stats-file".into(),
            format!("{OUTPUT}/profile.stats"),
        ]);
        if let Some(r) = cx.option("nose.profile-restrict") {
            argv.extend(["--profile-restrict".into(), r.into()]);
        }
    }
    if cprofile {
        argv.extend([
            "--with-cprofile".into(),
            "--cprofile-stats-erase".into(),
            "--cprofile-stats-file".into(),
            format!("{OUTPUT}/cprofile.stats"),
        ]);
    }
    argv
}

fn pytest_argv(cx: &Context, tests: &[String], coverage: bool) -> Vec<String> {
    let mut argv = vec![
        "bin/pytest".to_string(),
        "-v".into(),
        format!("--odoo-database={}", cx.testing_db),
    ];
    if coverage {
        for addon in &cx.buildout.addons {
            argv.push(format!("--cov={addon}"));
        }
        argv.push(format!("--cov-report=html:{OUTPUT}/coverage"));
    }
    argv.extend(tests.iter().cloned());
    argv
}
