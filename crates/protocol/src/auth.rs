//! HTTP Basic authentication (RFC 7617): of a worker's WebSocket upgrade (worker-protocol.md
//! §1.4), and of the master's JSON API, which reads its `Authorization` header with the same
//! parser.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use subtle::ConstantTimeEq;

/// A worker's name and password from its `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The worker name.
    pub name: String,
    /// The password, compared as plain text like the stock master does.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug output ends up in logs; the password must not.
        f.debug_struct("Credentials")
            .field("name", &self.name)
            .field("password", &"***")
            .finish()
    }
}

impl Credentials {
    /// The `Authorization` header value a worker sends.
    pub fn to_header_value(&self) -> String {
        let token = STANDARD.encode(format!("{}:{}", self.name, self.password));
        format!("Basic {token}")
    }

    /// Whether the password given is `expected`, compared in constant time, so the time of a
    /// refusal does not tell how much of a guess was right.
    pub fn password_is(&self, expected: &str) -> bool {
        self.password.as_bytes().ct_eq(expected.as_bytes()).into()
    }
}

/// Why a worker's upgrade is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header: 401.
    #[error("no Authorization header")]
    Missing,
    /// An `Authorization` header that is not valid Basic credentials: 400.
    #[error("malformed Authorization header: {0}")]
    Malformed(&'static str),
    /// Unknown worker or wrong password: 401.
    #[error("unknown worker or wrong password for worker {name:?}")]
    Refused {
        /// The name the worker gave.
        name: String,
    },
}

impl AuthError {
    /// The HTTP status of the refusal, as the stock master answers.
    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::Missing | AuthError::Refused { .. } => 401,
            AuthError::Malformed(_) => 400,
        }
    }
}

/// Reads Basic credentials from the raw `Authorization` header value, if any.
pub fn parse_basic_authorization(header: Option<&[u8]>) -> Result<Credentials, AuthError> {
    let header = header.ok_or(AuthError::Missing)?;
    let header = std::str::from_utf8(header).map_err(|_| AuthError::Malformed("not UTF-8"))?;
    let (scheme, token) = header
        .trim()
        .split_once(' ')
        .ok_or(AuthError::Malformed("expected \"Basic <base64>\""))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthError::Malformed("scheme is not Basic"));
    }
    let decoded = STANDARD
        .decode(token.trim())
        .map_err(|_| AuthError::Malformed("credentials are not base64"))?;
    let decoded = String::from_utf8(decoded)
        .map_err(|_| AuthError::Malformed("credentials are not UTF-8"))?;
    // The name cannot hold ':' (RFC 7617); the password can.
    let (name, password) = decoded.split_once(':').ok_or(AuthError::Malformed(
        "credentials have no ':' between name and password",
    ))?;
    Ok(Credentials {
        name: name.to_string(),
        password: password.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(raw: &str) -> Result<Credentials, AuthError> {
        parse_basic_authorization(Some(raw.as_bytes()))
    }

    #[test]
    fn reads_what_the_stock_worker_sends() {
        let sent = Credentials {
            name: "w1".into(),
            password: "se:cret".into(),
        };
        assert_eq!(header(&sent.to_header_value()), Ok(sent.clone()));
        assert_eq!(header("basic dzE6c2U6Y3JldA=="), Ok(sent));
    }

    #[test]
    fn a_password_is_the_same_bytes_only() {
        let given = Credentials {
            name: "w1".into(),
            password: "se:cret".into(),
        };
        assert!(given.password_is("se:cret"));
        for other in ["se:creT", "se:cre", "se:crett", ""] {
            assert!(!given.password_is(other), "{other}");
        }
    }

    #[test]
    fn missing_header_is_401() {
        let err = parse_basic_authorization(None).unwrap_err();
        assert_eq!(err, AuthError::Missing);
        assert_eq!(err.http_status(), 401);
    }

    #[test]
    fn malformed_headers_are_400() {
        for raw in [
            "Basic",
            "Bearer abc",
            "Basic !!!",
            "Basic dzE=",
            "Basic /w==",
        ] {
            let err = header(raw).unwrap_err();
            assert!(matches!(err, AuthError::Malformed(_)), "{raw}: {err:?}");
            assert_eq!(err.http_status(), 400, "{raw}");
        }
        assert_eq!(
            parse_basic_authorization(Some(b"Basic \xff"))
                .unwrap_err()
                .http_status(),
            400
        );
    }

    #[test]
    fn refusal_is_401_and_debug_hides_the_password() {
        assert_eq!(AuthError::Refused { name: "w".into() }.http_status(), 401);
        let shown = format!(
            "{:?}",
            Credentials {
                name: "w".into(),
                password: "hunter2".into()
            }
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
