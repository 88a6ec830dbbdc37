//! `oebb analyze-log`: verdict on Odoo/OpenERP server logs.

use clap::Args;
use oebb_analyze::{
    analyze_reader, render_text, Analyzer, IgnoreList, Options, Report, TestsExpectation, Verdict,
    Version,
};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Exit code for usage errors (bad flag values, unreadable files or ignore files).
const USAGE: u8 = 3;

/// Arguments of `oebb analyze-log`.
#[derive(Args)]
#[command(after_help = "\
Exit status: 0 pass, 1 fail, 2 warnings only, 3 usage error (with several files: the worst).

Tests: by default the analyser infers whether tests were requested. It then fails on zero
tests only when the log itself proves tests were enabled (an Odoo 14+ summary '… of 0 tests').
Give --tests-requested when the run used --test-enable / --log-level=test (the build does):
then the log must show at least one test, and Odoo 14+ must print its summary. Give
--no-tests-expected for install-only runs.

A full log must end with 'Initiating shutdown' (Odoo 8.0+, or when the version is unknown);
otherwise it is reported as truncated. Give --excerpt for partial logs.")]
pub struct AnalyzeLogArgs {
    /// Log files to analyse ('-' reads standard input).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Exit status of the command that wrote the log; non-zero always fails.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub exit_status: Option<String>,
    /// Odoo/OpenERP version (6.0 … 19.0, saas~17.2); detected from the log when omitted.
    #[arg(long, value_name = "V")]
    pub odoo_version: Option<String>,
    /// Ignore file in checklog-odoo's format ([checklog-odoo] ignore = one regex per line).
    /// Repeatable.
    #[arg(long = "ignore", value_name = "FILE")]
    pub ignore_files: Vec<PathBuf>,
    /// One ignore regex, searched in each record's text (repeatable).
    #[arg(long = "ignore-pattern", value_name = "REGEX")]
    pub ignore_patterns: Vec<String>,
    /// WARNING records fail the build instead of giving exit 2.
    #[arg(long)]
    pub warnings_fail: bool,
    /// Tests were requested: require evidence that at least one test ran.
    #[arg(long)]
    pub tests_requested: bool,
    /// No tests were requested (install only): never fail for lack of tests.
    #[arg(long)]
    pub no_tests_expected: bool,
    /// The log is an excerpt: a missing 'Initiating shutdown' is not a truncation.
    #[arg(long)]
    pub excerpt: bool,
    /// Print one JSON document instead of the human report.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command; returns the exit code (0 pass, 1 fail, 2 warnings, 3 usage error).
pub fn run(args: AnalyzeLogArgs) -> anyhow::Result<u8> {
    let options = match options(&args) {
        Ok(o) => o,
        Err(msg) => return usage(&msg),
    };
    if args.files.is_empty() {
        return usage("no log file given (use '-' for standard input); see --help");
    }
    let mut reports = Vec::with_capacity(args.files.len());
    for path in &args.files {
        match analyze_file(path, &options) {
            Ok(r) => reports.push((display(path), r)),
            Err(msg) => return usage(&msg),
        }
    }
    let verdict = reports
        .iter()
        .map(|(_, r)| r.verdict)
        .max()
        .unwrap_or(Verdict::Pass);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.json {
        let logs: Vec<serde_json::Value> = reports
            .iter()
            .map(|(name, r)| {
                let mut v = serde_json::to_value(r).expect("a report always serialises");
                v["file"] = serde_json::Value::String(name.clone());
                v
            })
            .collect();
        let doc = serde_json::json!({
            "verdict": verdict,
            "exit_code": verdict.exit_code(),
            "logs": logs,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        for (name, r) in &reports {
            write!(out, "{}", render_text(r, name))?;
        }
        if reports.len() > 1 {
            writeln!(out, "overall: {}", verdict.label())?;
        }
    }
    out.flush()?;
    Ok(verdict.exit_code())
}

fn usage(msg: &str) -> anyhow::Result<u8> {
    eprintln!("oebb analyze-log: {msg}");
    Ok(USAGE)
}

fn display(path: &Path) -> String {
    if path == Path::new("-") {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    }
}

/// Turns the flags into analysis options; `Err` is a usage message.
fn options(args: &AnalyzeLogArgs) -> Result<Options, String> {
    let exit_status = match &args.exit_status {
        None => None,
        Some(s) => Some(
            s.trim()
                .parse::<i32>()
                .map_err(|_| format!("--exit-status {s:?} is not an integer exit status"))?,
        ),
    };
    let version = match &args.odoo_version {
        None => None,
        Some(s) => Some(Version::parse(s).ok_or_else(|| {
            format!("--odoo-version {s:?} is not a version such as 7.0, 8.0, 16.0 or saas~17.2")
        })?),
    };
    let tests = match (args.tests_requested, args.no_tests_expected) {
        (true, true) => {
            return Err("--tests-requested and --no-tests-expected contradict each other".into())
        }
        (true, false) => TestsExpectation::Requested,
        (false, true) => TestsExpectation::NotExpected,
        (false, false) => TestsExpectation::Auto,
    };
    let mut ignore = IgnoreList::default();
    for file in &args.ignore_files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read ignore file {}: {e}", file.display()))?;
        let list = IgnoreList::parse_config(&text, &file.display().to_string())
            .map_err(|e| e.to_string())?;
        ignore.extend(list);
    }
    let patterns = IgnoreList::from_patterns(
        args.ignore_patterns.iter().map(String::as_str),
        "--ignore-pattern",
    )
    .map_err(|e| e.to_string())?;
    ignore.extend(patterns);
    Ok(Options {
        version,
        exit_status,
        tests,
        warnings_fail: args.warnings_fail,
        require_shutdown: args.excerpt.then_some(false),
        ignore,
    })
}

fn analyze_file(path: &Path, options: &Options) -> Result<Report, String> {
    let cannot_read = |e: std::io::Error| format!("cannot read {}: {e}", display(path));
    if path == Path::new("-") {
        return analyze_reader(std::io::stdin().lock(), options).map_err(cannot_read);
    }
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let metadata = file.metadata().map_err(cannot_read)?;
    if metadata.is_file() {
        analyze_mapped(&file, metadata.len(), options).map_err(cannot_read)
    } else {
        analyze_reader(file, options).map_err(cannot_read)
    }
}

/// Bytes mapped at once: large enough that mapping costs nothing, small enough that the pages
/// of a window are dropped before the next one, so memory stays flat on logs of any size.
const MAP_WINDOW: u64 = 4 << 20;

/// Analyses a regular file through successive memory-mapped windows. Reading through a map
/// saves the kernel's copy into a buffer, which was a quarter of the time on large logs.
fn analyze_mapped(file: &File, len: u64, options: &Options) -> std::io::Result<Report> {
    let mut analyzer = Analyzer::new(options.clone());
    let mut offset = 0;
    while offset < len {
        let window = MAP_WINDOW.min(len - offset);
        // SAFETY: the map is only read while `file` is open. A log truncated by another process
        // during the analysis would fault (SIGBUS); logs are analysed once their writer is done.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(window as usize)
                .populate()
                .map(file)?
        };
        analyzer.feed(&map);
        offset += window;
    }
    Ok(analyzer.finish())
}
