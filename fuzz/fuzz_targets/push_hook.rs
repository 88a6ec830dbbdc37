//! A push hook's body and authentication header, as `POST /hooks/{github,gitlab,gitea}` reads
//! them: the signature check (HMAC-SHA256 or token), the payload's repository URLs and the
//! key each URL is matched by. The first byte picks the forge, the next up to 80 bytes (to a
//! newline) are the header, the rest is the body. Oracle: no panic, bounded output (at most 8
//! URLs of at most 2 KiB each).
//!
//! Capped at 128 KiB: the web's body limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oebb_master::watch::hooks::{authentic, push_urls, repository_key, Forge};

const MAX_INPUT: usize = 128 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT || data.is_empty() {
        return;
    }
    let forge = match data[0] % 3 {
        0 => Forge::GitHub,
        1 => Forge::GitLab,
        _ => Forge::Gitea,
    };
    let rest = &data[1..];
    let split = rest.iter().take(80).position(|b| *b == b'\n').unwrap_or(0);
    let (header, body) = rest.split_at(split);
    let header = String::from_utf8_lossy(header);
    let _ = authentic(forge, b"secret", &header, body);
    if let Ok(urls) = push_urls(forge, body) {
        assert!(!urls.is_empty() && urls.len() <= 8);
        for url in urls {
            assert!(url.len() <= 2048);
            let _ = repository_key(&url);
        }
    }
});
