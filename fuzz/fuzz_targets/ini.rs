//! An INI file (slaves.cfg, MANIFEST.cfg, oebb.cfg, a buildout) as the config crate reads it:
//! `Ini::parse_bytes`, then every section resolved with `[DEFAULT]` and `%(name)s`
//! interpolation. Oracle: no panic, bounded time and memory, errors that can be shown.
//!
//! Inputs are capped at 4 KiB: the known blow-ups (nested `%(x)s`, see FINDINGS.md) need far
//! less, and one slow input must not stall the run.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use oebb_config::ini::Ini;

const MAX_INPUT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    let (ini, errors) = Ini::parse_bytes(Path::new("fuzz.cfg"), data);
    for error in &errors {
        let _ = error.to_string();
    }
    let _ = Ini::resolve(&ini, &[]);
    for section in &ini.sections {
        assert!(ini.section(&section.name).is_some());
        let (resolved, errors) = ini.resolve(&[section]);
        for error in &errors {
            let _ = error.to_string();
        }
        for opt in &resolved.options {
            let _ = opt.lines().count();
        }
    }
});
