//! A whole master configuration from memory, through the same steps as `oebb_config::load`
//! (which reads files): oebb.cfg, the workers file and a manifest, each `Ini::parse_bytes`,
//! then `parse_master_settings`, `parse_workers`, `parse_manifest` (inherit chains,
//! interpolation, steps, sources) and `build_matrix`. The input is the three files separated
//! by NUL bytes: `WORKERS \0 MANIFEST \0 OEBB_CFG`. Oracle: no panic, bounded time.
//!
//! Capped at 4 KiB like the `ini` target (see FINDINGS.md for the known blow-ups).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use oebb_config::buildout::parse_manifest;
use oebb_config::ini::Ini;
use oebb_config::master_settings::parse_master_settings;
use oebb_config::matrix::build_matrix;
use oebb_config::worker::parse_workers;

const MAX_INPUT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    let mut files = data.splitn(3, |&b| b == 0);
    let workers_text = files.next().unwrap_or_default();
    let manifest_text = files.next().unwrap_or_default();
    let settings_text = files.next().unwrap_or_default();

    let (settings_ini, mut errors) = Ini::parse_bytes(Path::new("oebb.cfg"), settings_text);
    let (_settings, errs) = parse_master_settings(&settings_ini);
    errors.extend(errs);

    let (workers_ini, errs) = Ini::parse_bytes(Path::new("slaves.cfg"), workers_text);
    errors.extend(errs);
    let (workers, errs) = parse_workers(&workers_ini);
    errors.extend(errs);

    let (manifest_ini, errs) = Ini::parse_bytes(Path::new("MANIFEST.cfg"), manifest_text);
    errors.extend(errs);
    let (buildouts, errs, warnings) = parse_manifest(&manifest_ini);
    errors.extend(errs);

    let (matrix, errs) = build_matrix(&buildouts, &workers);
    errors.extend(errs);
    for error in &errors {
        let _ = error.to_string();
    }
    for warning in warnings.iter().chain(&matrix.warnings) {
        let _ = warning.to_string();
    }
    for builder in &matrix.builders {
        assert!(matrix.builder(builder.name.as_str()).is_some());
    }
});
