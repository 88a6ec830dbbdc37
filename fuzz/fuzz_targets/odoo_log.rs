//! An Odoo server log from a build (whatever the buildout's code printed) through the
//! streaming analyzer. Oracle (differential): the log analysed in one piece, fed to
//! `Analyzer::feed` in pieces cut at arbitrary places, and read by `analyze_reader` from a
//! reader that returns arbitrary short reads must give the same report; no panic.
//!
//! Input: 4 control bytes, then the log.
//! - byte 0: tests expectation (bits 0-1), warnings_fail (2), require_shutdown (3-4),
//!   exit status given (5), an ignore list (6);
//! - byte 1: the version given (0: detect) and the exit status;
//! - byte 2: seed of the cut positions;
//! - byte 3: largest piece (bits 0-2); when bits 3-4 are both set, the log is repeated up to
//!   just over 64 KiB, so that lines longer than the analyzer's 64 KiB cap come from short
//!   inputs. Pieces are at least 1/2048 of the log, so one input costs at most a few thousand
//!   calls.

#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use oebb_analyze::{
    analyze, analyze_reader, Analyzer, IgnoreList, Options, TestsExpectation, Version,
};

/// Just over the analyzer's line cap (`MAX_LINE`, 64 KiB).
const LONG_LOG: usize = (64 << 10) + 4096;
const MAX_PIECES: usize = 2048;
const PIECES: [usize; 8] = [1, 2, 7, 64, 1000, 4096, 65536, 300_000];
const VERSIONS: [(u16, u16); 16] = [
    (6, 0),
    (6, 1),
    (7, 0),
    (8, 0),
    (9, 0),
    (10, 0),
    (11, 0),
    (12, 0),
    (13, 0),
    (14, 0),
    (15, 0),
    (16, 0),
    (17, 0),
    (17, 2),
    (18, 0),
    (19, 0),
];

/// xorshift: cut positions that depend on the input only.
struct Cuts {
    state: u32,
    smallest: usize,
    largest: usize,
}

impl Cuts {
    fn new(seed: u8, largest: usize, log: usize) -> Cuts {
        let smallest = log / MAX_PIECES;
        Cuts {
            state: 0x9e37_79b9 ^ u32::from(seed).wrapping_mul(0x85eb_ca6b) | 1,
            smallest,
            largest: largest.max(smallest + 1),
        }
    }

    fn next(&mut self) -> usize {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        (1 + self.state as usize % self.largest).max(self.smallest)
    }
}

/// A reader that returns short reads of arbitrary sizes.
struct Trickle<'a> {
    rest: &'a [u8],
    cuts: Cuts,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.cuts.next().min(buf.len()).min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

fn options(flags: u8, given: u8) -> Options {
    let ignore = if flags & 0x40 != 0 {
        IgnoreList::from_patterns(
            ["WARNING .* 0 failed", "^ *File \"/a", "no access rules"],
            "fuzz",
        )
        .expect("valid patterns")
    } else {
        IgnoreList::default()
    };
    Options {
        version: match given % 17 {
            0 => None,
            i => {
                let (major, minor) = VERSIONS[usize::from(i - 1)];
                Some(Version::new(major, minor))
            }
        },
        exit_status: (flags & 0x20 != 0).then_some(i32::from(given as i8) / 17),
        tests: match flags & 3 {
            0 | 3 => TestsExpectation::Auto,
            1 => TestsExpectation::Requested,
            _ => TestsExpectation::NotExpected,
        },
        warnings_fail: flags & 4 != 0,
        require_shutdown: match (flags >> 3) & 3 {
            0 | 3 => None,
            1 => Some(false),
            _ => Some(true),
        },
        ignore,
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, given, seed, shape, body @ ..] = data else {
        return;
    };
    let options = options(*flags, *given);
    let largest = PIECES[usize::from(shape & 7)];
    let log: Vec<u8> = if shape & 0x18 == 0x18 && !body.is_empty() {
        body.repeat(LONG_LOG.div_ceil(body.len()))
    } else {
        body.to_vec()
    };

    let whole = analyze(&log, &options);
    assert_eq!(whole.bytes, log.len() as u64);

    let mut fed = Analyzer::new(options.clone());
    let mut cuts = Cuts::new(*seed, largest, log.len());
    let mut rest = &log[..];
    while !rest.is_empty() {
        let n = cuts.next().min(rest.len());
        fed.feed(&rest[..n]);
        rest = &rest[n..];
    }
    assert_eq!(fed.finish(), whole, "fed in pieces up to {largest} bytes");

    let reader = Trickle {
        rest: &log,
        cuts: Cuts::new(seed.wrapping_add(1), largest, log.len()),
    };
    let read = analyze_reader(reader, &options).expect("an in-memory reader does not fail");
    assert_eq!(read, whole, "read in pieces up to {largest} bytes");
});
