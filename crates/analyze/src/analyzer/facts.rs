//! Facts about the run as a whole, gathered from the signals of its records.

use crate::record::signals::Signal;
use crate::version::VersionClues;

/// Facts about the run as a whole, gathered from signals.
#[derive(Debug, Default)]
pub(super) struct Facts {
    pub(super) modules_loaded: bool,
    pub(super) loading_tests_failed: bool,
    pub(super) shutdown: bool,
    pub(super) summary_seen: bool,
    pub(super) summary_failed: u64,
    pub(super) summary_errors: u64,
    pub(super) summary_tests: u64,
    pub(super) ran: u64,
    pub(super) started: u64,
    pub(super) yaml_files: u64,
}

impl Facts {
    pub(super) fn note(&mut self, s: Signal, clues: &mut VersionClues) {
        match s {
            Signal::ModulesLoaded => self.modules_loaded = true,
            Signal::LoadingTestsFailed => self.loading_tests_failed = true,
            Signal::Shutdown => self.shutdown = true,
            Signal::Summary {
                failed,
                errors,
                tests,
            } => {
                self.summary_seen = true;
                self.summary_failed = self.summary_failed.saturating_add(failed);
                self.summary_errors = self.summary_errors.saturating_add(errors);
                self.summary_tests = self.summary_tests.saturating_add(tests);
            }
            Signal::Ran(n) => self.ran = self.ran.saturating_add(n),
            Signal::TestStarted => self.started += 1,
            Signal::YamlTestFile => self.yaml_files += 1,
            Signal::ModuleResult { .. } => {}
            Signal::Version(v) => clues.banner(v),
        }
    }

    pub(super) fn tests_run(&self) -> u64 {
        self.summary_tests.max(self.ran).max(self.started)
    }
}
