//! Streaming must not change the answer: any chunking of a log gives the same report, and
//! arbitrary bytes (invalid UTF-8 included) never panic.

mod common;

use common::{fixture, fixture_names};
use oebb_analyze::{analyze, analyze_reader, Analyzer, Options, Report, TestsExpectation};
use proptest::prelude::*;

fn chunked(log: &[u8], cuts: &[usize], options: &Options) -> Report {
    let mut a = Analyzer::new(options.clone());
    let mut from = 0;
    for &cut in cuts {
        let cut = cut.clamp(from, log.len());
        a.feed(&log[from..cut]);
        from = cut;
    }
    a.feed(&log[from..]);
    a.finish()
}

fn options() -> Options {
    Options {
        tests: TestsExpectation::Requested,
        ..Options::default()
    }
}

#[test]
fn every_fixture_split_at_every_byte_gives_the_same_report() {
    for name in fixture_names() {
        let log = fixture(&name);
        let whole = analyze(&log, &options());
        for cut in 0..=log.len() {
            assert_eq!(
                chunked(&log, &[cut], &options()),
                whole,
                "{name} cut at {cut}"
            );
        }
    }
}

#[test]
fn every_fixture_fed_byte_by_byte_gives_the_same_report() {
    for name in fixture_names() {
        let log = fixture(&name);
        let cuts: Vec<usize> = (0..log.len()).collect();
        assert_eq!(
            chunked(&log, &cuts, &options()),
            analyze(&log, &options()),
            "{name}"
        );
    }
}

#[test]
fn reader_gives_the_same_report_as_memory() {
    let log = fixture("odoo-8.0-test-failure.log");
    let from_reader = analyze_reader(&log[..], &options()).unwrap();
    assert_eq!(from_reader, analyze(&log, &options()));
    assert_eq!(from_reader.bytes, log.len() as u64);
}

/// Lines that look like Odoo logs, with the awkward cases mixed in, to make proptest's
/// random logs exercise the rules rather than only the "not a header" path.
fn odoo_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"2024-01-01 10:00:00,000 7 INFO db odoo.modules.loading: Modules loaded. ".to_vec()),
        Just(b"2024-01-01 10:00:00,000 7 ERROR db odoo.addons.m.tests.t: FAIL: T.test_x".to_vec()),
        Just(b"2024-01-01 10:00:00,000 7 WARNING db odoo.x: careful".to_vec()),
        Just(b"2024-01-01 10:00:00,000 7 _ERROR db odoo.x: FAIL: retried".to_vec()),
        Just(b"2024-01-01 10:00:00,000 7 INFO db odoo.tests.result: 10 failed, 0 error(s) of 12 tests".to_vec()),
        Just(b"2013-01-01 10:00:00,000 7 TEST db openerp.modules.module: ` Traceback (most recent call last):".to_vec()),
        Just(b"[2011-05-05 10:00:00,123][db] WARNING:tests.sale:AssertionError in Python code x".to_vec()),
        Just(b"2024-01-01 10:00:00,000 7 \x1b[1;31m\x1b[1;49mERROR\x1b[0m db odoo.x: coloured".to_vec()),
        Just(b"Traceback (most recent call last):".to_vec()),
        Just(b"  File \"/x.py\", line 3, in f".to_vec()),
        Just(b"Initiating shutdown\r".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..80),
    ]
}

fn odoo_log() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(odoo_line(), 0..40).prop_map(|lines| lines.join(&b'\n'))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let r = analyze(&bytes, &options());
        prop_assert_eq!(r.bytes, bytes.len() as u64);
        // Whatever the bytes, the report serialises (valid UTF-8 after lossy decoding) and
        // reads back as it was.
        let json = serde_json::to_string(&r).unwrap();
        let back: oebb_analyze::Report = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, r);
    }

    #[test]
    fn chunking_never_changes_the_report(
        log in odoo_log(),
        cuts in proptest::collection::vec(0usize..2000, 0..12),
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(chunked(&log, &cuts, &options()), analyze(&log, &options()));
    }

    #[test]
    fn chunking_of_random_bytes_never_changes_the_report(
        bytes in proptest::collection::vec(any::<u8>(), 0..1500),
        cuts in proptest::collection::vec(0usize..1500, 0..8),
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(chunked(&bytes, &cuts, &options()), analyze(&bytes, &options()));
    }
}

#[test]
fn lines_longer_than_the_cap_split_anywhere_give_the_same_report() {
    let mut log = b"2024-01-01 10:00:00,000 7 ERROR db odoo.x: ".to_vec();
    log.extend(std::iter::repeat_n(b'x', 200_000));
    log.extend_from_slice(b"\nTraceback (most recent call last):\n");
    let whole = analyze(&log, &options());
    assert_eq!(whole.lines, 2);
    assert!(
        whole.findings[0].text.len() <= 9 * 1024,
        "kept text is capped"
    );
    for cut in [1, 100, 65_535, 65_536, 65_537, 150_000, 200_043, 200_044] {
        assert_eq!(chunked(&log, &[cut], &options()), whole, "cut at {cut}");
    }
}

/// The same on the public sample logs of the reference corpus (never copied here): an extra
/// suite that scripts/test runs when `../shared/reference` exists.
mod reference_corpus {
    use super::{chunked, options};
    use crate::common::{reference_sample, reference_sample_names};
    use oebb_analyze::{analyze, analyze_reader};

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn every_sample_split_at_every_byte_gives_the_same_report() {
        for name in reference_sample_names() {
            let log = reference_sample(&name);
            let whole = analyze(&log, &options());
            for cut in 0..=log.len() {
                assert_eq!(
                    chunked(&log, &[cut], &options()),
                    whole,
                    "{name} cut at {cut}"
                );
            }
        }
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn every_sample_fed_byte_by_byte_gives_the_same_report() {
        for name in reference_sample_names() {
            let log = reference_sample(&name);
            let cuts: Vec<usize> = (0..log.len()).collect();
            assert_eq!(
                chunked(&log, &cuts, &options()),
                analyze(&log, &options()),
                "{name}"
            );
        }
    }

    #[test]
    #[ignore = "reference corpus: scripts/test runs it with --ignored when ../shared/reference exists"]
    fn reader_gives_the_same_report_as_memory() {
        let log = reference_sample(
            "lepistone+odoo-testing-on-steroids__steroids_slides.md__L159-220_odoo8_test_failure.log",
        );
        let from_reader = analyze_reader(&log[..], &options()).unwrap();
        assert_eq!(from_reader, analyze(&log, &options()));
        assert_eq!(from_reader.bytes, log.len() as u64);
    }
}
