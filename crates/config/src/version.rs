//! Capability versions (`9.2`, `9.2-devel`, `2.8.4`) with a total order.
//!
//! anybox left some pairs unordered (`8.4-special` vs `8.4`), so a filter could neither accept
//! nor reject them (seed-system §3.1, §10). Here every pair compares: numbers first (`9 < 9.0 <
//! 9.0.1`), then the suffix: pre-releases (`devel`, `dev`, `alpha…`, `beta…`, `rc…`) come
//! before the plain version, any other suffix (`special`, `patched`) after it, ties by text.

use serde::{Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A version: dot-separated numbers and an optional `-suffix`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    numbers: Vec<u32>,
    suffix: Option<String>,
}

/// Why a version did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Nothing to parse.
    #[error("the version is empty")]
    Empty,
    /// More than one `-`.
    #[error("more than one `-`; write NUMBERS or NUMBERS-SUFFIX, e.g. 9.2-devel")]
    TwoDashes,
    /// `9.2-`.
    #[error("empty suffix after `-`; write e.g. 9.2-devel, or drop the `-`")]
    EmptySuffix,
    /// A piece between dots that is not a number.
    #[error("`{0}` is not a number; versions are numbers separated by dots, with an optional -suffix (write 9.2-devel, not 9.2devel)")]
    NotANumber(String),
}

impl Version {
    /// The numeric components.
    pub fn numbers(&self) -> &[u32] {
        &self.numbers
    }

    /// The suffix after `-`, if any.
    pub fn suffix(&self) -> Option<&str> {
        self.suffix.as_deref()
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(VersionError::Empty);
        }
        let (nums, suffix) = match s.split_once('-') {
            None => (s, None),
            Some((_, suf)) if suf.contains('-') => return Err(VersionError::TwoDashes),
            Some((_, "")) => return Err(VersionError::EmptySuffix),
            Some((n, suf)) => {
                if suf.chars().any(char::is_whitespace) {
                    return Err(VersionError::NotANumber(s.to_string()));
                }
                (n, Some(suf.to_string()))
            }
        };
        let numbers = nums
            .split('.')
            .map(|piece| {
                if piece.is_empty() || !piece.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(VersionError::NotANumber(piece.to_string()));
                }
                piece
                    .parse::<u32>()
                    .map_err(|_| VersionError::NotANumber(piece.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Version { numbers, suffix })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.numbers.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{n}")?;
        }
        if let Some(s) = &self.suffix {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Rank of a suffix among versions with equal numbers: pre-releases < none < others.
fn suffix_rank(suffix: Option<&str>) -> u8 {
    let Some(s) = suffix else { return 4 };
    let s = s.to_ascii_lowercase();
    if s == "devel" || s == "dev" {
        0
    } else if s.starts_with("alpha") {
        1
    } else if s.starts_with("beta") {
        2
    } else if s.starts_with("rc") {
        3
    } else {
        5
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers
            .cmp(&other.numbers)
            .then_with(|| suffix_rank(self.suffix()).cmp(&suffix_rank(other.suffix())))
            .then_with(|| self.suffix.cmp(&other.suffix))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_back() {
        for s in ["9", "9.0", "9.2-devel", "2.8.4", "8.4-special", "0.12.5-1"] {
            assert_eq!(v(s).to_string(), s);
        }
        assert_eq!(v("9.2-devel").numbers(), &[9, 2]);
        assert_eq!(v("9.2-devel").suffix(), Some("devel"));
    }

    #[test]
    fn rejects_malformed_versions() {
        assert_eq!("".parse::<Version>(), Err(VersionError::Empty));
        assert_eq!("9.2-a-b".parse::<Version>(), Err(VersionError::TwoDashes));
        assert_eq!("9.2-".parse::<Version>(), Err(VersionError::EmptySuffix));
        assert_eq!(
            "9.2devel".parse::<Version>(),
            Err(VersionError::NotANumber("2devel".into()))
        );
        assert_eq!(
            "9..2".parse::<Version>(),
            Err(VersionError::NotANumber("".into()))
        );
        assert_eq!(
            "+9".parse::<Version>(),
            Err(VersionError::NotANumber("+9".into()))
        );
        assert_eq!(
            "99999999999".parse::<Version>(),
            Err(VersionError::NotANumber("99999999999".into()))
        );
    }

    #[test]
    fn seed_doctest_facts_hold() {
        assert!(v("9.1") > v("8.4"));
        assert!(v("9.2-devel") <= v("9.2"));
        assert!(v("9.2-devel") < v("9.2"));
        assert!(v("9.2-devel") >= v("9.2-devel"));
        assert!(v("9.1") < v("9.2-devel"));
        assert!(v("9.1-devel") < v("9.1"));
        assert!(v("9.3-devel") > v("9.2"));
        assert!(v("9.3-devel") < v("9.4"));
        assert!(v("9") < v("9.0"));
        assert!(v("9.0") < v("9.0.1"));
        assert_ne!(v("9"), v("9.0"));
    }

    #[test]
    fn pairs_anybox_left_unordered_are_ordered() {
        assert!(v("8.4") < v("8.4-special"));
        assert!(v("1-alpha") < v("1-beta"));
        assert!(v("1-beta") < v("1-rc1"));
        assert!(v("1-rc1") < v("1"));
        assert!(v("1-devel") < v("1-alpha"));
        assert!(v("8.4-patched") < v("8.4-special"));
    }

    proptest! {
        #[test]
        fn order_is_total_and_consistent_with_equality(
            a in "[0-9]{1,2}(\\.[0-9]{1,2}){0,2}(-(devel|alpha|beta2|rc1|special|x))?",
            b in "[0-9]{1,2}(\\.[0-9]{1,2}){0,2}(-(devel|alpha|beta2|rc1|special|x))?",
        ) {
            let (va, vb) = (v(&a), v(&b));
            prop_assert_eq!(va.cmp(&vb), vb.cmp(&va).reverse());
            prop_assert_eq!(va.cmp(&vb) == Ordering::Equal, va == vb);
            prop_assert_eq!(v(&va.to_string()), va);
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,20}") {
            let _ = s.parse::<Version>();
        }
    }
}
