//! Facts that single INFO-or-above messages tell about the run: markers, test counts, version.
//!
//! Checked on every record, so each test dispatches on the first byte before comparing.

use crate::version::Version;

/// What one record's message says about the run as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `….modules.loading: Modules loaded.`: the registry finished loading.
    ModulesLoaded,
    /// `At least one test failed when loading the modules.`: 6.1–13 print it *instead of*
    /// `Modules loaded.`.
    LoadingTestsFailed,
    /// `Initiating shutdown`: the server reached its normal end.
    Shutdown,
    /// 14+ final summary `F failed, E error(s) of N tests …`.
    Summary {
        /// Failed tests.
        failed: u64,
        /// Tests in error.
        errors: u64,
        /// Tests run.
        tests: u64,
    },
    /// unittest's `Ran N tests in Xs` (7.0–13).
    Ran(u64),
    /// 13+ `Starting Class.test_x ...`: one test started.
    TestStarted,
    /// `module m: loading …test….yml`: a YAML test file run by 6.x/7.0.
    YamlTestFile,
    /// Per-module result line `Module m: F failures, E errors`.
    ModuleResult {
        /// Failures plus errors.
        failed: u64,
    },
    /// The server's start-up banner (`Odoo version 12.0`, `OpenERP version 7.0`).
    Version(Version),
}

/// Reads the signal, if any, of a record with this logger and message.
pub fn signal(logger: &[u8], message: &[u8]) -> Option<Signal> {
    match *message.first()? {
        b'M' => {
            if message.starts_with(b"Modules loaded.") && logger.ends_with(b"modules.loading") {
                Some(Signal::ModulesLoaded)
            } else if message.starts_with(b"Module ") {
                module_result(message)
            } else {
                None
            }
        }
        b'I' if message.starts_with(b"Initiating shutdown") => Some(Signal::Shutdown),
        b'A' if message.starts_with(b"At least one test failed when loading the modules") => {
            Some(Signal::LoadingTestsFailed)
        }
        b'0'..=b'9' => summary(message),
        b'R' if message.starts_with(b"Ran ") => {
            let (n, rest) = number(&message[4..])?;
            rest.starts_with(b" test").then_some(Signal::Ran(n))
        }
        b'S' if message.starts_with(b"Starting ") && message.ends_with(b" ...") => {
            Some(Signal::TestStarted)
        }
        b'm' if message.starts_with(b"module ")
            && message.ends_with(b".yml")
            && memchr::memmem::find(message, b"test").is_some()
            && memchr::memmem::find(message, b": loading ").is_some() =>
        {
            Some(Signal::YamlTestFile)
        }
        b'O' | b'v' if matches!(logger, b"odoo" | b"openerp" | b"server" | b"init") => {
            let rest = message
                .strip_prefix(b"Odoo version ")
                .or_else(|| message.strip_prefix(b"OpenERP version "))
                .or_else(|| message.strip_prefix(b"OpenERP Server version "))
                .or_else(|| message.strip_prefix(b"version - "))?;
            Version::parse_lenient(rest).map(Signal::Version)
        }
        _ => None,
    }
}

/// Parses the 14+ summary `F failed, E error(s) of N tests`.
pub fn summary(message: &[u8]) -> Option<Signal> {
    let (failed, rest) = number(message)?;
    let rest = rest.strip_prefix(b" failed, ")?;
    let (errors, rest) = number(rest)?;
    let rest = rest.strip_prefix(b" error(s) of ")?;
    let (tests, rest) = number(rest)?;
    rest.starts_with(b" test").then_some(Signal::Summary {
        failed,
        errors,
        tests,
    })
}

fn module_result(message: &[u8]) -> Option<Signal> {
    let colon = memchr::memmem::find(message, b": ")?;
    let (failures, rest) = number(&message[colon + 2..])?;
    let rest = rest.strip_prefix(b" failures, ")?;
    let (errors, rest) = number(rest)?;
    rest.starts_with(b" error").then_some(Signal::ModuleResult {
        failed: failures.saturating_add(errors),
    })
}

/// Reads a decimal number at the start of `b`; `None` when there is none.
pub fn number(b: &[u8]) -> Option<(u64, &[u8])> {
    let len = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if len == 0 {
        return None;
    }
    let n = b[..len].iter().fold(0u64, |acc, d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some((n, &b[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_all_three_numbers() {
        assert_eq!(
            signal(
                b"odoo.tests.runner",
                b"0 failed, 0 error(s) of 32 tests when loading database 'x'"
            ),
            Some(Signal::Summary {
                failed: 0,
                errors: 0,
                tests: 32
            })
        );
        // The classic ignore-pattern trap: 10 failed is not 0 failed.
        assert_eq!(
            summary(b"10 failed, 0 error(s) of 12 tests"),
            Some(Signal::Summary {
                failed: 10,
                errors: 0,
                tests: 12
            })
        );
        assert_eq!(
            summary(b"1 failed, 0 error(s) of 1 test when"),
            Some(Signal::Summary {
                failed: 1,
                errors: 0,
                tests: 1
            })
        );
        assert_eq!(summary(b"10 modules loaded"), None);
    }

    #[test]
    fn markers() {
        assert_eq!(
            signal(b"odoo.modules.loading", b"Modules loaded."),
            Some(Signal::ModulesLoaded)
        );
        assert_eq!(
            signal(b"openerp.modules.loading", b"Modules loaded."),
            Some(Signal::ModulesLoaded)
        );
        assert_eq!(signal(b"some.other", b"Modules loaded."), None);
        assert_eq!(
            signal(b"odoo.service.server", b"Initiating shutdown"),
            Some(Signal::Shutdown)
        );
        assert_eq!(
            signal(
                b"openerp.modules.loading",
                b"At least one test failed when loading the modules."
            ),
            Some(Signal::LoadingTestsFailed)
        );
    }

    #[test]
    fn test_counts() {
        assert_eq!(
            signal(b"x.tests", b"Ran 4 tests in 5.309s"),
            Some(Signal::Ran(4))
        );
        assert_eq!(
            signal(b"x.tests", b"Ran 1 test in 0.714s"),
            Some(Signal::Ran(1))
        );
        assert_eq!(
            signal(b"x.tests", b"Starting SupplierTest.test_create ..."),
            Some(Signal::TestStarted)
        );
        assert_eq!(
            signal(
                b"openerp.modules.loading",
                b"module sale: loading test/sale_order.yml"
            ),
            Some(Signal::YamlTestFile)
        );
        assert_eq!(
            signal(b"odoo.modules.module", b"Module m: 1 failures, 2 errors"),
            Some(Signal::ModuleResult { failed: 3 })
        );
        assert_eq!(
            signal(
                b"odoo.modules.loading",
                b"Module odp_demo: 1 failures, 0 errors of 2 tests"
            ),
            Some(Signal::ModuleResult { failed: 1 })
        );
    }

    #[test]
    fn version_banner() {
        assert_eq!(
            signal(b"odoo", b"Odoo version 10.0"),
            Some(Signal::Version(Version::new(10, 0)))
        );
        assert_eq!(
            signal(b"openerp", b"OpenERP version 7.0-20130101"),
            Some(Signal::Version(Version::new(7, 0)))
        );
        assert_eq!(
            signal(b"odoo", b"Odoo version saas~17.2"),
            Some(Signal::Version(Version::new(17, 2)))
        );
        assert_eq!(signal(b"odoo.x", b"Odoo version 10.0"), None);
    }
}
