//! Streaming Odoo/OpenERP server log analyzer.
//!
//! Reads a server log of any OpenERP 6.0 → Odoo 19 version and decides whether the modules
//! installed and their tests passed: [`Verdict::Pass`], [`Verdict::Warnings`] or
//! [`Verdict::Fail`], with the findings that decided it. Pure: no I/O except
//! [`analyze_reader`], which reads any `std::io::Read`.
//!
//! ```
//! use oebb_analyze::{analyze, Options, Verdict};
//! let log = b"2024-01-01 10:00:00,000 7 ERROR db odoo.x: boom\n";
//! assert_eq!(analyze(log, &Options::default()).verdict, Verdict::Fail);
//! ```
//!
//! Streaming, e.g. while a worker sends the log, with what the build knows about the run:
//!
//! ```
//! use oebb_analyze::{Analyzer, IgnoreList, Options, Rule, TestsExpectation, Verdict, Version};
//! let ignore = IgnoreList::parse_config("[checklog-odoo]\nignore =\n    no access rules\n", "checklog-odoo.cfg")?;
//! let mut analyzer = Analyzer::new(Options {
//!     version: Version::parse("16.0"),
//!     exit_status: Some(0),
//!     tests: TestsExpectation::Requested,
//!     ignore,
//!     ..Options::default()
//! });
//! analyzer.feed(b"2024-01-01 10:00:00,000 7 INFO db odoo.modules.loa");
//! analyzer.feed(b"ding: Modules loaded. \n");
//! let report = analyzer.finish();
//! assert_eq!(report.verdict, Verdict::Fail);
//! assert_eq!(report.count(Rule::NoTestsRun), 1);
//! assert_eq!(report.count(Rule::TruncatedLog), 1);
//! # Ok::<(), oebb_analyze::IgnoreError>(())
//! ```
//!
//! The rules are listed in [`Rule`]; how they depend on the version in [`Version`].

pub mod analyzer;
pub mod fingerprint;
pub mod ignore;
pub mod level;
pub mod newlines;
pub mod noise;
pub mod options;
pub mod record;
pub mod report;
pub mod rules;
pub mod step_cause;
pub mod verdict;
pub mod version;

pub use analyzer::Analyzer;
pub use ignore::{IgnoreError, IgnoreList};
pub use level::Level;
pub use options::{Options, TestsExpectation};
pub use report::{render_text, Finding, Report, TestCounts};
pub use rules::{Rule, Severity};
pub use verdict::Verdict;
pub use version::{DetectedVersion, Version};

use std::io::Read;

/// Size of the reads done by [`analyze_reader`]: small enough to stay in a core's L2 cache
/// between the kernel's copy and the scan.
const READ_CHUNK: usize = 256 << 10;

/// Analyses a whole log held in memory.
pub fn analyze(log: &[u8], options: &Options) -> Report {
    let mut a = Analyzer::new(options.clone());
    a.feed(log);
    a.finish()
}

/// Analyses a log read from `reader` in fixed-size chunks (memory stays flat).
pub fn analyze_reader<R: Read>(mut reader: R, options: &Options) -> std::io::Result<Report> {
    let mut a = Analyzer::new(options.clone());
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => a.feed(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(a.finish())
}
