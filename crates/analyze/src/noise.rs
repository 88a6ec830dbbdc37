//! Known environment noise: records that a correct buildout logs because of the machine it runs
//! on, not because of its code. They are ignored by default (the build page's analysis lists
//! them as ignored, with the reason), so a clean run of a correct buildout is green out of the
//! box; the MANIFEST option `analyze.known-noise = false` counts them again.

use crate::ignore::IgnoreList;

/// One kind of known noise: the pattern (searched like an ignore pattern) and why it is noise.
#[derive(Debug, Clone, Copy)]
pub struct Noise {
    /// Regular expression searched in the record's text.
    pub pattern: &'static str,
    /// Where it comes from and how to remove it from the machine instead.
    pub why: &'static str,
}

/// The list. Each entry comes from a real log of a correct buildout.
pub const KNOWN_NOISE: &[Noise] = &[Noise {
    pattern: r"Unable to get information for locale \S+\. Information from the default locale",
    why: "OpenERP 6.1–7.0 base's tests ask for the fr_FR locale (res_lang.py); a worker \
          without it logs this WARNING (generate the locale on the worker to silence it)",
}];

/// Origin named in the findings an entry ignores.
pub const ORIGIN: &str = "oebb's known environment noise";

/// The patterns of [`KNOWN_NOISE`], to add to a run's ignore list.
pub fn known_noise() -> IgnoreList {
    IgnoreList::from_patterns(KNOWN_NOISE.iter().map(|n| n.pattern), ORIGIN)
        .expect("the known-noise patterns are valid")
}

/// The entry whose pattern is `pattern`, when it is one of the list.
pub fn explain(pattern: &str) -> Option<&'static Noise> {
    KNOWN_NOISE.iter().find(|n| n.pattern == pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locale_warning_of_openerp_7_is_known_noise() {
        let line = "2026-12-02 06:40:01,123 4242 WARNING oebb-clean-pg15 \
                    openerp.addons.base.res.res_lang: Unable to get information for locale \
                    fr_FR. Information from the default locale (en_US) have been used.";
        let list = known_noise();
        let pattern = list.matching(line).expect("ignored");
        assert!(explain(pattern).unwrap().why.contains("fr_FR"));
        assert!(list
            .matching("WARNING db x: Unable to get information")
            .is_none());
    }
}
