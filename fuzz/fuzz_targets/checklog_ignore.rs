//! The buildout's `analyze.ignore-file` (checklog-odoo format), read by
//! `IgnoreList::parse_config` on the master and by `oebb check`: an INI subset whose lines
//! are regular expressions compiled as given. Oracle: no panic, bounded time; a list that
//! compiles can be matched against records.
//!
//! Capped at 4 KiB: a checklog file is a handful of lines.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oebb_analyze::IgnoreList;

const MAX_INPUT: usize = 4096;

const RECORD: &str = "2024-01-01 10:00:00,000 7 WARNING db odoo.modules.loading: \
                      no access rules, consider adding one\n  File \"/a/b.py\", line 3";

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match IgnoreList::parse_config(text, "checklog-odoo.cfg") {
        Ok(list) => {
            let _ = list.matching(RECORD);
            let _ = list.matching(text);
            let _ = list.len();
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
