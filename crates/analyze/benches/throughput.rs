//! In-memory throughput of the analyzer on a log made of the project's fixture logs repeated
//! (`fixtures/odoo-logs`, every version's grammar). No I/O is measured: see
//! `bench/analyze/run.sh` for the end-to-end figure and the comparison with checklog-odoo.
//!
//! `cargo bench -p oebb-analyze` (env `BENCH_MB`, default 256; `SAMPLES` for another dir, such
//! as the reference corpus's `odoo-logs`, whose `#### SOURCE:` header lines are stripped).

use oebb_analyze::{Analyzer, Options};
use std::time::Instant;

fn main() {
    let dir = std::env::var("SAMPLES").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/odoo-logs").to_string()
    });
    let mb: usize = std::env::var("BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("sample logs in {dir}: {e}"))
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let mut unit = Vec::new();
    for p in names {
        let raw = std::fs::read(&p).unwrap();
        let body = match raw.iter().position(|&b| b == b'\n') {
            Some(i) if raw.starts_with(b"#### SOURCE:") => &raw[i + 1..],
            _ => &raw[..],
        };
        if !body.is_empty() {
            unit.extend_from_slice(body);
            if unit.last() != Some(&b'\n') {
                unit.push(b'\n');
            }
        }
    }
    let mut log = Vec::with_capacity(mb << 20);
    while log.len() + unit.len() <= mb << 20 {
        log.extend_from_slice(&unit);
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let mut a = Analyzer::new(Options::default());
        for chunk in log.chunks(1 << 20) {
            a.feed(chunk);
        }
        let r = a.finish();
        let s = t.elapsed().as_secs_f64();
        assert!(r.lines > 0);
        best = best.min(s);
    }
    println!(
        "analyze: {} bytes in {:.3} s = {:.2} GB/s (best of 5, in memory, 1 MiB chunks)",
        log.len(),
        best,
        log.len() as f64 / best / 1e9
    );
}
