//! `watch` lines: the repositories whose changes trigger a buildout's builds.

use super::BuildoutSource;
use std::str::FromStr;

/// A version control system that can be polled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vcs {
    /// Bazaar / Breezy.
    Bzr,
    /// Mercurial.
    Hg,
    /// Git.
    Git,
}

/// One watched repository: `bzr URL`, `hg URL BRANCH` or `git URL BRANCH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watch {
    /// The version control system.
    pub vcs: Vcs,
    /// Repository URL, as written (URL rewriting happens in the master).
    pub url: String,
    /// Branch (hg and git); None for bzr, whose URL is the branch.
    pub branch: Option<String>,
}

impl FromStr for Watch {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let toks: Vec<&str> = text.split_whitespace().collect();
        let watch = |vcs, branch: Option<&str>| Watch {
            vcs,
            url: toks[1].into(),
            branch: branch.map(String::from),
        };
        match toks.as_slice() {
            ["bzr", _] => Ok(watch(Vcs::Bzr, None)),
            ["hg", _, b] => Ok(watch(Vcs::Hg, Some(b))),
            ["git", _, b] => Ok(watch(Vcs::Git, Some(b))),
            ["bzr", ..] => Err("write `bzr URL`".into()),
            ["hg", ..] => Err("write `hg URL BRANCH`".into()),
            ["git", ..] => Err("write `git URL BRANCH`".into()),
            [other, ..] => Err(format!(
                "VCS `{other}` is not supported; use bzr, hg or git"
            )),
            [] => Err("empty line".into()),
        }
    }
}

/// The repository a VCS buildout comes from, watched automatically (not tags or files).
pub(super) fn of_source(source: &BuildoutSource) -> Option<Watch> {
    match source {
        BuildoutSource::Hg { url, branch, .. } => Some(Watch {
            vcs: Vcs::Hg,
            url: url.clone(),
            branch: Some(branch.clone()),
        }),
        BuildoutSource::Git { url, branch, .. } => Some(Watch {
            vcs: Vcs::Git,
            url: url.clone(),
            branch: Some(branch.clone()),
        }),
        BuildoutSource::Bzr { url, .. } => Some(Watch {
            vcs: Vcs::Bzr,
            url: url.clone(),
            branch: None,
        }),
        _ => None,
    }
}
