//! Steps are data: what to run on the worker, where, with which flags and locks. The build
//! recipe produces them; the runner executes them without knowing what they are for.
//!
//! A superset of the master's own `step` module (same names, fields and constructors), so the
//! master can replace it by `pub use oebb_recipe::step::*;`. Additions, each needed by the recipe:
//! - [`Step::description`]: a one-line human description shown beside the name;
//! - [`Step::log_files`]: files the step writes that are kept as build logs (`test.log`);
//! - [`StepCommand::UploadDirectory`]: bring a worker directory back (Sphinx HTML, coverage);
//! - [`StepCommand::SetProperties`]: set build properties on the master, no worker command;
//! - [`StepCommand::Analyze`]: the master fetches a worker log and judges it with oebb-analyze;
//! - [`Step::skip_if`]: not run when an earlier step found its work already done.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// One step of a build.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Its name, unique within the build.
    pub name: String,
    /// What it does.
    pub command: StepCommand,
    /// Directory on the worker, relative to the builder's directory (Buildbot's `workdir`).
    pub workdir: String,
    /// Environment changes; values may use `%(prop:NAME)s`.
    pub env: BTreeMap<String, String>,
    /// A failure stops the build (later steps run only if `always_run`).
    pub halt_on_failure: bool,
    /// A failure makes the build fail.
    pub flunk_on_failure: bool,
    /// A failure makes the build end with warnings (when it does not flunk it).
    pub warn_on_failure: bool,
    /// Runs even after an earlier step halted the build.
    pub always_run: bool,
    /// The command is interrupted and the step fails after this long.
    pub timeout: Option<Duration>,
    /// Worker locks held while the step runs.
    pub locks: Vec<LockAccess>,
    /// Sets this build property to the command's standard output, trimmed.
    pub property_from_stdout: Option<String>,
    /// Addition: what the step does, in a few words (empty: the name says it).
    pub description: String,
    /// Addition: log name → worker file (relative to the workdir) kept with the build's logs.
    pub log_files: BTreeMap<String, String>,
    /// Addition: the step acts on what one of these steps made (the final `dropdb` on the
    /// database `createdb` made): when none of them succeeded it is not run, and shows as
    /// skipped instead of failing as a consequence. Empty: no such condition.
    pub needs_success_of: Vec<String>,
    /// Addition: what the step would remove is kept when the build has failed (the test
    /// database, for a post-mortem): the step is then not run, and this text says what is kept
    /// (`%(prop:NAME)s` interpolated). `None`: it runs whatever happened.
    pub kept_on_failure: Option<String>,
    /// Addition: the step is not run, and shows as skipped with this reason, when a property
    /// an earlier step set says its work is already done (the buildout run when nothing it
    /// reads changed). `None`: it runs.
    pub skip_if: Option<SkipIf>,
}

/// When a step is skipped because its work is already done.
#[derive(Clone, Debug, PartialEq)]
pub struct SkipIf {
    /// Skipped when this build property is set and not empty.
    pub property: String,
    /// Why, for the step's log and result text (`%(prop:NAME)s` interpolated).
    pub reason: String,
    /// A build property set to `true` when the step is skipped, `false` when it runs.
    pub records: Option<String>,
}

/// What a step does on the worker.
#[derive(Clone, Debug, PartialEq)]
pub enum StepCommand {
    /// Run a program with these arguments (`%(prop:NAME)s` interpolated).
    Argv(Vec<String>),
    /// Run a `/bin/sh -c` script (`%(prop:NAME)s` interpolated).
    Script(String),
    /// Send a file of the master to the worker.
    Download {
        /// The master's file.
        source: PathBuf,
        /// Path on the worker, relative to the workdir unless absolute.
        dest: String,
        /// File mode on the worker.
        mode: Option<u32>,
    },
    /// Bring a worker's file back to the master.
    Upload {
        /// Path on the worker, relative to the workdir unless absolute.
        source: String,
        /// The master's file, written anew; relative paths are relative to the master
        /// directory; `%(prop:NAME)s` interpolated.
        dest: PathBuf,
    },
    /// Addition: bring a worker's directory back to the master (`doc` HTML, `nose` output).
    UploadDirectory {
        /// Directory on the worker, relative to the workdir unless absolute.
        source: String,
        /// The master's directory, replaced; relative paths are relative to the master
        /// directory; `%(prop:NAME)s` interpolated.
        dest: String,
        /// Where the uploaded directory is served, shown as a link on the build page.
        url: Option<String>,
    },
    /// Addition: set build properties on the master (Buildbot's `SetProperties`); nothing runs
    /// on the worker. Used for the capability properties (`cap_postgresql_port`, `testing_db`).
    SetProperties(BTreeMap<String, String>),
    /// Addition: fetch a log file from the worker and judge it with oebb-analyze, together with
    /// the exit status of the step that wrote it; the step fails when the verdict does.
    Analyze {
        /// The log on the worker, relative to the workdir.
        logfile: String,
        /// The step that wrote the log: its exit status is judged with the log (a non-zero
        /// status fails even a clean-looking log). `None`: the log alone is judged.
        exit_status_of: Option<String>,
        /// The Odoo series (`7.0`, `16.0`) when known, to pick the log grammar.
        odoo_version: Option<String>,
        /// Tests were asked for: a log where no test ran is then a failure.
        tests_requested: bool,
        /// `analyze.ignore-file` of the buildout, on the master.
        ignore_file: Option<PathBuf>,
        /// `analyze.warnings-fail`: WARNING records fail the step instead of warning.
        warnings_fail: bool,
        /// `analyze.known-noise`: ignore oebb's list of known environment noise.
        known_noise: bool,
        // A missing log fails the step ("the step writing it did not run").
    },
}

/// A lock a step holds: exclusively (all of its slots) or one slot of a counting lock.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LockAccess {
    /// The lock's name; `buildout` is the per-worker lock of buildout runs.
    pub lock: String,
    /// Take every slot, so nothing else holding this lock runs at the same time.
    pub exclusive: bool,
}

impl LockAccess {
    /// Exclusive access to a lock.
    pub fn exclusive(lock: &str) -> LockAccess {
        LockAccess {
            lock: lock.to_string(),
            exclusive: true,
        }
    }

    /// One slot of a counting lock.
    pub fn counting(lock: &str) -> LockAccess {
        LockAccess {
            lock: lock.to_string(),
            exclusive: false,
        }
    }
}

impl Step {
    /// A step with Buildbot's default flags (flunk on failure, nothing else) in `build`.
    pub fn new(name: &str, command: StepCommand) -> Step {
        Step {
            name: name.to_string(),
            command,
            workdir: "build".to_string(),
            env: BTreeMap::new(),
            halt_on_failure: false,
            flunk_on_failure: true,
            warn_on_failure: false,
            always_run: false,
            timeout: None,
            locks: Vec::new(),
            property_from_stdout: None,
            description: String::new(),
            log_files: BTreeMap::new(),
            needs_success_of: Vec::new(),
            kept_on_failure: None,
            skip_if: None,
        }
    }

    /// A shell script step.
    pub fn script(name: &str, script: &str) -> Step {
        Step::new(name, StepCommand::Script(script.to_string()))
    }

    /// A program step.
    pub fn argv(name: &str, argv: &[&str]) -> Step {
        Step::new(
            name,
            StepCommand::Argv(argv.iter().map(|a| a.to_string()).collect()),
        )
    }

    /// Sets `halt_on_failure`.
    pub fn halt_on_failure(mut self, yes: bool) -> Step {
        self.halt_on_failure = yes;
        self
    }

    /// Sets `flunk_on_failure`.
    pub fn flunk_on_failure(mut self, yes: bool) -> Step {
        self.flunk_on_failure = yes;
        self
    }

    /// Sets `warn_on_failure`.
    pub fn warn_on_failure(mut self, yes: bool) -> Step {
        self.warn_on_failure = yes;
        self
    }

    /// Sets `always_run`.
    pub fn always_run(mut self, yes: bool) -> Step {
        self.always_run = yes;
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Step {
        self.timeout = Some(timeout);
        self
    }

    /// Adds a lock.
    pub fn lock(mut self, access: LockAccess) -> Step {
        self.locks.push(access);
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, name: &str, value: &str) -> Step {
        self.env.insert(name.to_string(), value.to_string());
        self
    }

    /// Sets the workdir.
    pub fn workdir(mut self, workdir: &str) -> Step {
        self.workdir = workdir.to_string();
        self
    }

    /// Stores the command's trimmed standard output in a build property.
    pub fn property_from_stdout(mut self, property: &str) -> Step {
        self.property_from_stdout = Some(property.to_string());
        self
    }

    /// Addition: sets the description.
    pub fn description(mut self, text: &str) -> Step {
        self.description = text.to_string();
        self
    }

    /// Addition: keeps the worker file `path` as the build log `name`.
    pub fn log_file(mut self, name: &str, path: &str) -> Step {
        self.log_files.insert(name.to_string(), path.to_string());
        self
    }

    /// Addition: runs only when one of `steps` succeeded.
    pub fn needs_success_of(mut self, steps: &[&str]) -> Step {
        self.needs_success_of = steps.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Addition: not run when the build has failed; `what` says what it leaves in place.
    pub fn kept_on_failure(mut self, what: &str) -> Step {
        self.kept_on_failure = Some(what.to_string());
        self
    }

    /// Addition: skipped when property `property` is set and not empty, saying `reason`.
    pub fn skip_if(mut self, property: &str, reason: &str, records: Option<&str>) -> Step {
        self.skip_if = Some(SkipIf {
            property: property.to_string(),
            reason: reason.to_string(),
            records: records.map(str::to_string),
        });
        self
    }

    /// Addition: sets every variable of `env` (the builder's environment for the worker).
    pub fn envs(mut self, env: &BTreeMap<String, String>) -> Step {
        self.env
            .extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        self
    }

    /// Addition: whether the step holds lock `name` exclusively.
    pub fn holds_exclusive(&self, name: &str) -> bool {
        self.locks.iter().any(|l| l.lock == name && l.exclusive)
    }
}
