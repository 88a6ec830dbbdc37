//! Log records: the header grammar of each version and the signals a message carries.

pub mod grammar;
pub mod signals;

/// True when `line` (a raw line, or a message after its `` ` `` prefix) opens a Python
/// traceback. `_Traceback_` (a retry-lowered record's copy) does not count.
pub fn is_traceback_start(line: &[u8]) -> bool {
    const TB: &[u8] = b"Traceback (most recent call last):";
    let line = grammar::trim_end(line);
    // Cheap rejection first: this runs on every INFO message and every raw line.
    if line.last() != Some(&b':') || !line.ends_with(TB) {
        return false;
    }
    let before = &line[..line.len() - TB.len()];
    before.iter().all(|c| matches!(c, b' ' | b'\t' | b'`'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceback_start_only_on_its_own_line() {
        assert!(is_traceback_start(b"Traceback (most recent call last):"));
        assert!(is_traceback_start(
            b"  Traceback (most recent call last):  "
        ));
        assert!(is_traceback_start(b"` Traceback (most recent call last):"));
        assert!(!is_traceback_start(b"_Traceback_ (most recent call last):"));
        assert!(!is_traceback_start(
            b"{'debug': 'Traceback (most recent call last):\\n  File'}"
        ));
        assert!(!is_traceback_start(b"x Traceback (most recent call last):"));
    }
}
