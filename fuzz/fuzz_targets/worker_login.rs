//! A worker's login: the raw `Authorization` header of its WebSocket upgrade, read by
//! `parse_basic_authorization` as `accept_worker` does before any password is checked.
//! Oracle: no panic; accepted credentials whose name has no ':' survive the header a worker
//! would send for them.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oebb_protocol::{parse_basic_authorization, AuthError};

fuzz_target!(|data: &[u8]| {
    match parse_basic_authorization(Some(data)) {
        Ok(credentials) => {
            let _ = format!("{credentials:?}");
            if !credentials.name.contains(':') {
                let header = credentials.to_header_value();
                assert_eq!(
                    parse_basic_authorization(Some(header.as_bytes())).as_ref(),
                    Ok(&credentials)
                );
            }
        }
        Err(error) => {
            let status = error.http_status();
            assert!(status == 400 || status == 401, "{error}: {status}");
            assert!(!matches!(
                error,
                AuthError::Missing | AuthError::Refused { .. }
            ));
        }
    }
});
