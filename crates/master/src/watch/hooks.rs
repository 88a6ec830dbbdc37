//! Push hooks of GitHub, GitLab and Gitea, pure: checking a request's authentication against
//! the shared secret (HMAC-SHA256 of the body, or GitLab's token, compared in constant time)
//! and reading the repository URLs of a push payload. A hook only ever makes the master poll
//! the repositories it names; the changes come from the VCS.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Which forge sent a hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forge {
    /// `X-Hub-Signature-256: sha256=HEX`, event in `X-GitHub-Event`.
    GitHub,
    /// `X-Gitlab-Token: SECRET`, event in `X-Gitlab-Event`.
    GitLab,
    /// `X-Gitea-Signature: HEX`, event in `X-Gitea-Event`.
    Gitea,
}

impl Forge {
    /// The header naming the event.
    pub fn event_header(self) -> &'static str {
        match self {
            Forge::GitHub => "x-github-event",
            Forge::GitLab => "x-gitlab-event",
            Forge::Gitea => "x-gitea-event",
        }
    }

    /// The header carrying the signature or token.
    pub fn auth_header(self) -> &'static str {
        match self {
            Forge::GitHub => "x-hub-signature-256",
            Forge::GitLab => "x-gitlab-token",
            Forge::Gitea => "x-gitea-signature",
        }
    }

    /// Whether `event` is a push.
    pub fn is_push(self, event: &str) -> bool {
        match self {
            Forge::GitHub | Forge::Gitea => event == "push",
            Forge::GitLab => event == "Push Hook",
        }
    }
}

/// Whether `auth` (the forge's header) authenticates `body` with `secret`.
pub fn authentic(forge: Forge, secret: &[u8], auth: &str, body: &[u8]) -> bool {
    match forge {
        Forge::GitLab => bool::from(auth.as_bytes().ct_eq(secret)),
        Forge::GitHub | Forge::Gitea => {
            let hex = match forge {
                Forge::GitHub => match auth.strip_prefix("sha256=") {
                    Some(h) => h,
                    None => return false,
                },
                _ => auth,
            };
            let Some(given) = from_hex(hex.trim()) else {
                return false;
            };
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
            mac.update(body);
            mac.verify_slice(&given).is_ok()
        }
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Most URLs read from one payload.
const MAX_URLS: usize = 8;

/// The repository URLs a push payload names (clone, SSH and web URLs), or why it is not one.
pub fn push_urls(forge: Forge, body: &[u8]) -> Result<Vec<String>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let (object, keys): (&str, &[&str]) = match forge {
        Forge::GitHub | Forge::Gitea => (
            "repository",
            &["clone_url", "ssh_url", "git_url", "html_url", "url"],
        ),
        Forge::GitLab => (
            "project",
            &[
                "git_http_url",
                "git_ssh_url",
                "web_url",
                "http_url",
                "ssh_url",
            ],
        ),
    };
    let repo = value
        .get(object)
        .and_then(|r| r.as_object())
        .ok_or_else(|| format!("the payload has no `{object}` object: is this a push event?"))?;
    let urls: Vec<String> = keys
        .iter()
        .filter_map(|k| repo.get(*k).and_then(|v| v.as_str()))
        .filter(|u| !u.is_empty() && u.len() <= 2048)
        .take(MAX_URLS)
        .map(String::from)
        .collect();
    if urls.is_empty() {
        return Err(format!("`{object}` names no repository URL"));
    }
    Ok(urls)
}

/// A URL reduced to what names a repository: host and path, lower case, without scheme,
/// user, port-less `scp` form, trailing `/` or `.git`. `git@github.com:o/r.git`,
/// `https://github.com/O/r` and `ssh://git@github.com/o/r/` all give `github.com/o/r`.
pub fn repository_key(url: &str) -> String {
    let url = url.trim();
    let rest = match url.split_once("://") {
        Some((_, rest)) => rest.to_string(),
        // scp-like `user@host:path`
        None => match url.split_once(':') {
            Some((host, path)) if !host.contains('/') => format!("{host}/{path}"),
            _ => url.to_string(),
        },
    };
    let rest = match rest.split_once('/') {
        Some((authority, path)) => {
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{host}/{path}")
        }
        None => rest,
    };
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix(".git").unwrap_or(rest);
    rest.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn signatures_and_tokens() {
        let body = br#"{"repository":{"clone_url":"https://x/o/r.git"}}"#;
        let good = sign(b"s3cret", body);
        assert!(authentic(
            Forge::GitHub,
            b"s3cret",
            &format!("sha256={good}"),
            body
        ));
        assert!(
            !authentic(Forge::GitHub, b"s3cret", &good, body),
            "prefix required"
        );
        assert!(authentic(Forge::Gitea, b"s3cret", &good, body));
        assert!(!authentic(Forge::Gitea, b"other", &good, body));
        assert!(!authentic(Forge::Gitea, b"s3cret", &good, b"{}"));
        assert!(!authentic(Forge::Gitea, b"s3cret", "zz", body));
        assert!(authentic(Forge::GitLab, b"s3cret", "s3cret", body));
        assert!(!authentic(Forge::GitLab, b"s3cret", "s3cre", body));
    }

    #[test]
    fn payload_urls() {
        let gh = br#"{"ref":"refs/heads/main","repository":{"clone_url":"https://github.com/o/r.git","ssh_url":"git@github.com:o/r.git","html_url":"https://github.com/o/r"}}"#;
        assert_eq!(push_urls(Forge::GitHub, gh).unwrap().len(), 3);
        let gl = br#"{"object_kind":"push","project":{"git_http_url":"http://gl/o/r.git"}}"#;
        assert_eq!(push_urls(Forge::GitLab, gl).unwrap(), ["http://gl/o/r.git"]);
        assert!(push_urls(Forge::GitLab, gh).is_err());
        assert!(push_urls(Forge::GitHub, b"not json").is_err());
        assert!(push_urls(Forge::GitHub, br#"{"repository":{}}"#).is_err());
    }

    #[test]
    fn repository_keys() {
        for u in [
            "git@github.com:o/r.git",
            "https://github.com/O/r",
            "ssh://git@github.com/o/r/",
            "https://user@github.com/o/r.git",
        ] {
            assert_eq!(repository_key(u), "github.com/o/r", "{u}");
        }
        assert_eq!(repository_key("/srv/repos/a.git"), "/srv/repos/a");
        assert_eq!(repository_key("file:///srv/repos/a"), "/srv/repos/a");
    }
}
