//! Fingerprints: the same error in two builds gets the same fingerprint, whatever its line
//! numbers, paths, ids, timestamps or database name.

/// FNV-1a, 64 bits: tiny, and stable across runs, platforms and Rust versions (unlike
/// `std`'s `DefaultHasher`).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Normalises a message: paths become `<path>`, numbers and hex ids `#`, the database name
/// `<db>`, runs of whitespace one space.
pub fn normalise(text: &str, db: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let text = if db.len() >= 3 && db != "?" {
        std::borrow::Cow::Owned(text.replace(db, "<db>"))
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        normalise_word(word, &mut out);
    }
    out
}

fn normalise_word(word: &str, out: &mut String) {
    // Keep surrounding punctuation (quotes, brackets) so that `'x'` and `x` stay distinct.
    let start = word.find(|c: char| !is_wrapper(c)).unwrap_or(word.len());
    let end = word
        .char_indices()
        .rev()
        .find(|&(_, c)| !is_wrapper(c))
        .map_or(start, |(i, c)| i + c.len_utf8());
    let core = &word[start..end.max(start)];
    out.push_str(&word[..start]);
    if core.contains('/') || core.contains('\\') {
        out.push_str("<path>");
    } else if is_hex_id(core) {
        out.push('#');
    } else {
        let mut in_number = false;
        for c in core.chars() {
            if c.is_ascii_digit() {
                if !in_number {
                    out.push('#');
                }
                in_number = true;
            } else {
                in_number = false;
                out.push(c);
            }
        }
    }
    out.push_str(&word[end.max(start)..]);
}

fn is_wrapper(c: char) -> bool {
    matches!(
        c,
        '\'' | '"' | '`' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | ',' | ';' | ':'
    )
}

/// `0x7f3a…`, or 8+ hex digits with at least one digit (commit shas, uuids' parts).
fn is_hex_id(s: &str) -> bool {
    let h = s.strip_prefix("0x").unwrap_or(s);
    let hexish = h.len() >= 8 && h.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    (s.starts_with("0x") && h.len() > 1 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        || (hexish && h.bytes().any(|b| b.is_ascii_digit()))
}

/// The fingerprint of a finding: rule, logger, normalised message and, when the record has
/// continuation lines, its normalised last line (usually the exception), hashed.
pub fn fingerprint(rule: &str, logger: &str, message: &str, last_line: &str, db: &str) -> String {
    let key = format!(
        "{rule}\n{}\n{}\n{}",
        normalise(logger, ""),
        normalise(message, db),
        normalise(last_line, db)
    );
    format!("{:016x}", fnv1a64(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn numbers_paths_ids_and_db_are_normalised() {
        assert_eq!(
            normalise("File \"/home/a/x.py\", line 32, in test_x", ""),
            "File \"<path>\", line #, in test_x"
        );
        assert_eq!(
            normalise("record 0x7f3a9c id 42 sha 1a2b3c4d5e6f", ""),
            "record # id # sha #"
        );
        assert_eq!(
            normalise("loading database 'odoo14'", "odoo14"),
            "loading database '<db>'"
        );
        assert_eq!(normalise("  a \t b  ", ""), "a b");
        assert_eq!(normalise("'…' «é»", ""), "'…' «é»");
    }

    #[test]
    fn same_error_different_numbers_same_fingerprint() {
        let a = fingerprint(
            "error-record",
            "odoo.x",
            "Failed on record 12 at /tmp/a",
            "ValueError: 3",
            "d1",
        );
        let b = fingerprint(
            "error-record",
            "odoo.x",
            "Failed on record 97 at /srv/b",
            "ValueError: 4",
            "d1",
        );
        let c = fingerprint(
            "error-record",
            "odoo.x",
            "Other failure on record 12",
            "ValueError: 3",
            "d1",
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 16);
    }
}
