//! Line grammars: recognises the header line that starts a log record, for every version.
//!
//! Byte-level on purpose: this runs on every line of multi-gigabyte logs, so it checks the
//! fixed-layout timestamp first and never allocates or decodes text.

use crate::level::Level;

/// Which header layout a record used; a hint for version detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grammar {
    /// OpenERP 6.0: `[ts][db] LEVEL:logger:message`.
    OpenErp60,
    /// OpenERP 6.1 to Odoo 19: `ts pid LEVEL db logger: message` (14+ with a trailing space).
    Standard,
    /// A timestamped line without pid, db or logger, such as the recipe's upgrade script
    /// (`ts LEVEL  message`) or runbot's `ts pid LEVEL text`.
    Bare,
}

/// The parsed header line of a record; slices borrow the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Layout of the line.
    pub grammar: Grammar,
    /// Level, with ANSI colour codes removed.
    pub level: Level,
    /// Database name (`?` outside a database thread), empty when the layout has none.
    pub db: &'a [u8],
    /// Logger name, empty when the layout has none.
    pub logger: &'a [u8],
    /// Message text, trailing whitespace removed.
    pub message: &'a [u8],
    /// Whether the line ended with whitespace (Odoo 14+ appends `%(perf_info)s`).
    pub trailing_space: bool,
}

const ESC: u8 = 0x1b;

/// Parses `line` (without its end-of-line bytes) as a record header, if it is one.
pub fn parse_header(line: &[u8]) -> Option<Header<'_>> {
    let line = skip_leading_escapes(line);
    match line.first()? {
        b'0'..=b'9' => parse_standard(line),
        b'[' => parse_openerp60(line),
        _ => None,
    }
}

/// True when `b` starts with `YYYY-MM-DD HH:MM:SS,mmm`.
pub fn is_timestamp(b: &[u8]) -> bool {
    let Some(ts) = b.get(..24) else {
        return b.len() == 23 && is_timestamp_slow(b);
    };
    // Three 8-byte words checked at once (SWAR): digits where digits go, separators elsewhere.
    // The 24th byte is not part of the timestamp: its masks are zero.
    const PATTERN: &[u8; 24] = b"dddd-dd-dd dd:dd:dd,ddd?";
    const fn masks(word: usize) -> (u64, u64, u64) {
        let (mut digits, mut lits, mut vals) = (0u64, 0u64, 0u64);
        let mut i = 0;
        while i < 8 {
            let c = PATTERN[word * 8 + i];
            if c == b'd' {
                digits |= 0xff << (8 * i);
            } else if c != b'?' {
                lits |= 0xff << (8 * i);
                vals |= (c as u64) << (8 * i);
            }
            i += 1;
        }
        (digits, lits, vals)
    }
    const M: [(u64, u64, u64); 3] = [masks(0), masks(1), masks(2)];
    const HIGH: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const THREES: u64 = 0x3030_3030_3030_3030;
    const SIXES: u64 = 0x0606_0606_0606_0606;
    M.iter().enumerate().all(|(w, &(digits, lits, vals))| {
        let v = u64::from_le_bytes(ts[w * 8..w * 8 + 8].try_into().expect("8 bytes"));
        let d = v & digits;
        // A digit is 0x30..=0x39: high nibble 3, and adding 6 keeps it 3 (no carry: the
        // first test bounds every digit byte to 0x30..=0x3f).
        (v & lits) == vals
            && (d & HIGH) == (THREES & digits)
            && ((d + (SIXES & digits)) & HIGH) == (THREES & digits)
    })
}

fn is_timestamp_slow(b: &[u8]) -> bool {
    b.len() >= 23
        && b.iter().zip(b"dddd-dd-dd dd:dd:dd,ddd").all(|(&c, &p)| {
            if p == b'd' {
                c.is_ascii_digit()
            } else {
                c == p
            }
        })
}

fn parse_standard(line: &[u8]) -> Option<Header<'_>> {
    if !is_timestamp(line) || line.get(23) != Some(&b' ') {
        return None;
    }
    let mut i = 24;
    let pid_start = i;
    while i < line.len() && line[i].is_ascii_digit() {
        i += 1;
    }
    if i == pid_start {
        // No pid: the upgrade script's `ts LEVEL  message`.
        let (level, end) = read_level(line, pid_start, b' ')?;
        let message = trim_start(&line[end..]);
        return Some(bare(level, message, line));
    }
    if line.get(i) != Some(&b' ') {
        return None;
    }
    // Most records are INFO: skip the general level reader for them.
    let (level, end) = if line[i + 1..].starts_with(b"INFO ") {
        (Level::Info, i + 5)
    } else {
        read_level(line, i + 1, b' ')?
    };
    let rest = &line[end + 1..];
    Some(match split_db_logger(rest) {
        Some((db, logger, message)) => Header {
            grammar: Grammar::Standard,
            level,
            db,
            logger,
            message: trim_end(message),
            trailing_space: ends_with_space(line),
        },
        None => bare(level, rest, line),
    })
}

fn bare<'a>(level: Level, message: &'a [u8], line: &'a [u8]) -> Header<'a> {
    Header {
        grammar: Grammar::Bare,
        level,
        db: b"",
        logger: b"",
        message: trim_end(message),
        trailing_space: ends_with_space(line),
    }
}

/// Splits `db logger: message`; `None` when the rest does not have that shape.
fn split_db_logger(rest: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let sp = find_space(rest)?;
    let (db, after) = (&rest[..sp], &rest[sp + 1..]);
    if db.is_empty() {
        return None;
    }
    // The logger is one word ending with ':' followed by a space or the end of line.
    let end = find_space(after).unwrap_or(after.len());
    if end < 2 || after[end - 1] != b':' {
        return None;
    }
    let message = if end < after.len() {
        &after[end + 1..]
    } else {
        b""
    };
    Some((db, &after[..end - 1], message))
}

/// Index of the first space, for the short db and logger words: 16 bytes per step (SSE2 on
/// x86_64), then 8 (SWAR), then one; cheaper than a `memchr` call at these lengths.
fn find_space(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const SPACES: u64 = 0x2020_2020_2020_2020;
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    while i + 16 <= b.len() {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of the x86_64 baseline; the unaligned load reads b[i..i + 16].
        let mask = unsafe {
            let v = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8)))
        };
        if mask != 0 {
            return Some(i + mask.trailing_zeros() as usize);
        }
        i += 16;
    }
    while i + 8 <= b.len() {
        let x = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes")) ^ SPACES;
        // The lowest byte that was a space becomes the lowest set high bit (exact for the
        // lowest one, which is all we read).
        let zero = x.wrapping_sub(ONES) & !x & HIGHS;
        if zero != 0 {
            return Some(i + (zero.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..].iter().position(|&c| c == b' ').map(|p| i + p)
}

fn parse_openerp60(line: &[u8]) -> Option<Header<'_>> {
    let ts = &line[1..];
    if !is_timestamp(ts) || ts.get(23) != Some(&b']') || ts.get(24) != Some(&b'[') {
        return None;
    }
    let db_start = 1 + 25;
    let db_len = memchr::memchr(b']', &line[db_start..])?;
    let db = &line[db_start..db_start + db_len];
    let mut i = db_start + db_len + 1;
    if line.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    let (level, end) = read_level(line, i, b':')?;
    let after = &line[end + 1..];
    let colon = memchr::memchr(b':', after)?;
    Some(Header {
        grammar: Grammar::OpenErp60,
        level,
        db,
        logger: &after[..colon],
        message: trim_end(&after[colon + 1..]),
        trailing_space: ends_with_space(line),
    })
}

/// Reads a level word starting at `i`, skipping ANSI colour codes, up to the `stop` byte.
/// Returns the level and the index of `stop`.
fn read_level(b: &[u8], i: usize, stop: u8) -> Option<(Level, usize)> {
    // Fast path, no colour codes: the word is a slice of the line.
    let mut j = i;
    while j < b.len() && j - i <= 20 {
        let c = b[j];
        if c == stop && j > i {
            return Some((Level::parse(&b[i..j]), j));
        }
        if !(c.is_ascii_alphanumeric() || c == b'_') {
            break;
        }
        j += 1;
    }
    match b.get(j) {
        Some(&ESC) | Some(&0x01) | Some(&0x02) => read_coloured_level(b, i, stop),
        _ => None,
    }
}

fn read_coloured_level(b: &[u8], mut i: usize, stop: u8) -> Option<(Level, usize)> {
    let mut token = [0u8; 20];
    let mut n = 0;
    loop {
        let c = *b.get(i)?;
        if c == stop && n > 0 {
            return Some((Level::parse(&token[..n]), i));
        }
        if c == ESC || c == 0x01 || c == 0x02 {
            i = skip_escape(b, i);
            continue;
        }
        if !(c.is_ascii_alphanumeric() || c == b'_') || n == token.len() {
            return None;
        }
        token[n] = c;
        n += 1;
        i += 1;
    }
}

/// Skips one ANSI CSI sequence (`ESC [ params letter`) or a readline `\x01`/`\x02` marker.
fn skip_escape(b: &[u8], i: usize) -> usize {
    if b[i] != ESC {
        return i + 1;
    }
    let mut j = i + 1;
    if b.get(j) != Some(&b'[') {
        return j;
    }
    j += 1;
    while j < b.len() && (b[j].is_ascii_digit() || b[j] == b';') {
        j += 1;
    }
    if j < b.len() && b[j].is_ascii_alphabetic() {
        j += 1;
    }
    j
}

fn skip_leading_escapes(mut line: &[u8]) -> &[u8] {
    while matches!(line.first(), Some(&ESC) | Some(&0x01) | Some(&0x02)) {
        line = &line[skip_escape(line, 0)..];
    }
    line
}

/// Removes ANSI CSI sequences from `text`, appending the result to `out`.
pub fn strip_ansi_into(text: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(off) = memchr::memchr3(ESC, 0x01, 0x02, &text[i..]) {
        out.extend_from_slice(&text[i..i + off]);
        i = skip_escape(text, i + off);
    }
    out.extend_from_slice(&text[i..]);
}

fn ends_with_space(line: &[u8]) -> bool {
    matches!(line.last(), Some(b' ') | Some(b'\t'))
}

/// Removes trailing spaces and tabs.
pub fn trim_end(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

fn trim_start(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(line: &str) -> Header<'_> {
        parse_header(line.as_bytes()).expect("a header")
    }

    #[test]
    fn standard_line_of_odoo_8() {
        let r = h("2015-03-19 13:25:00,000 23693 ERROR openerp_test openerp.modules.module: Module x: 1 failures, 0 errors");
        assert_eq!(r.grammar, Grammar::Standard);
        assert_eq!(r.level, Level::Error);
        assert_eq!(r.db, b"openerp_test");
        assert_eq!(r.logger, b"openerp.modules.module");
        assert_eq!(r.message, b"Module x: 1 failures, 0 errors");
        assert!(!r.trailing_space);
    }

    #[test]
    fn odoo_14_trailing_space_is_trimmed_and_noted() {
        let r = h("2024-06-13 21:31:39,868 35 INFO odoo14 odoo.modules.loading: Modules loaded. ");
        assert_eq!(r.message, b"Modules loaded.");
        assert!(r.trailing_space);
    }

    #[test]
    fn openerp_60_line() {
        let r = h(
            "[2011-05-05 10:00:00,123][mydb] WARNING:tests.sale:AssertionError in Python code x: y",
        );
        assert_eq!(r.grammar, Grammar::OpenErp60);
        assert_eq!(r.level, Level::Warning);
        assert_eq!(r.db, b"mydb");
        assert_eq!(r.logger, b"tests.sale");
        assert_eq!(r.message, b"AssertionError in Python code x: y");
    }

    #[test]
    fn coloured_level_is_read_through_ansi_codes() {
        let r = h("2024-01-01 10:00:00,000 7 \x1b[1;31m\x1b[1;49mERROR\x1b[0m db odoo.x: boom");
        assert_eq!(r.level, Level::Error);
        assert_eq!(r.logger, b"odoo.x");
        assert_eq!(r.message, b"boom");
    }

    #[test]
    fn retried_and_test_levels() {
        assert_eq!(
            h("2025-05-04 08:40:00,000 42 _ERROR db odoo.t: FAIL: x").level,
            Level::Retried
        );
        assert_eq!(
            h("2013-01-01 10:00:00,000 42 TEST db openerp.modules.module: FAIL: x").level,
            Level::Test
        );
    }

    #[test]
    fn runbot_short_line_is_a_bare_record() {
        let r = h("2025-05-04 08:39:00,000 42 INFO other info");
        assert_eq!(r.grammar, Grammar::Bare);
        assert_eq!(r.level, Level::Info);
        assert_eq!(r.message, b"other info");
    }

    #[test]
    fn upgrade_script_line_without_pid() {
        let r = h("2020-01-01 10:00:00,000 ERROR  Please check logs at /x");
        assert_eq!(r.level, Level::Error);
        assert_eq!(r.message, b"Please check logs at /x");
    }

    #[test]
    fn timestamp_check_accepts_digits_only_where_they_belong() {
        assert!(is_timestamp(b"2024-06-13 21:31:36,749 35"));
        assert!(is_timestamp(b"2024-06-13 21:31:36,749"));
        assert!(is_timestamp(b"0000-00-00 00:00:00,000x"));
        assert!(!is_timestamp(b"2024-06-13 21:31:36,74"));
        let good = *b"2024-06-13 21:31:36,749 ";
        for i in 0..23 {
            for bad in [
                b'/',
                b':',
                b'a',
                b' ',
                0x7f,
                0xff,
                b'0' + 10,
                b'0' - 1,
                b'5',
                b'-',
            ] {
                let mut line = good;
                line[i] = bad;
                let expected = is_timestamp_slow(&line[..23]);
                assert_eq!(is_timestamp(&line), expected, "byte {i} = {bad:#x}");
                assert_eq!(is_timestamp(&line[..23]), expected, "byte {i} = {bad:#x}");
            }
        }
    }

    #[test]
    fn find_space_agrees_with_a_plain_search() {
        let words: [&[u8]; 7] = [
            b"",
            b" ",
            b"abcdefgh ",
            b"abcdefghijklmnop",
            b"a\xa0 b",
            b"\x21\x1f\xff \x20",
            b"0123456 89",
        ];
        for w in words {
            assert_eq!(find_space(w), w.iter().position(|&c| c == b' '), "{w:?}");
        }
        for len in 0..70 {
            for at in 0..len {
                let mut w = vec![b'x'; len];
                w[at] = b' ';
                assert_eq!(find_space(&w), Some(at));
            }
        }
    }

    #[test]
    fn non_headers_are_rejected() {
        for line in [
            "Traceback (most recent call last):",
            "  File \"x.py\", line 3",
            "2015-03-19 13:25:00 no millis",
            "2015-03-19 13:25:00,000",
            "[2011-05-05 10:00:00,123] missing db",
            "",
        ] {
            assert!(parse_header(line.as_bytes()).is_none(), "{line:?}");
        }
    }

    #[test]
    fn strip_ansi_removes_csi_sequences() {
        let mut out = Vec::new();
        strip_ansi_into(b"a \x1b[1;31mERROR\x1b[0m b", &mut out);
        assert_eq!(out, b"a ERROR b");
    }
}
