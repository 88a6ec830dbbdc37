//! The master's secrets, kept in its directory with mode 0600: the key that signs session
//! cookies (made once, so sessions survive a restart) and the API token `oebb force` uses on
//! the master's machine.

use std::io::Write;
use std::path::Path;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The session key's file in the master directory.
pub const SESSION_KEY_FILE: &str = ".oebb-session-key";
/// The API token's file in the master directory.
pub const API_TOKEN_FILE: &str = ".oebb-api-token";

/// `n` random bytes from the operating system.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A random token, URL-safe base64 of 32 bytes.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(32))
}

/// The secret kept in `dir/name`, written there (mode 0600) with a new random token when the
/// file is missing or empty.
pub fn load_or_create(dir: &Path, name: &str) -> std::io::Result<String> {
    let path = dir.join(name);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let text = text.trim();
        if text.len() >= 32 {
            return Ok(text.to_string());
        }
    }
    let token = random_token();
    write_private(&path, &format!("{token}\n"))?;
    Ok(token)
}

/// Writes a file only its owner may read.
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        // An existing file keeps its mode on open: set it.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        (&file).write_all(text.as_bytes())
    }
    #[cfg(not(unix))]
    {
        options.open(path)?.write_all(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path(), API_TOKEN_FILE).unwrap();
        let again = load_or_create(dir.path(), API_TOKEN_FILE).unwrap();
        assert_eq!(first, again);
        assert!(first.len() >= 40);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(API_TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
