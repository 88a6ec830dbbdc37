//! The `buildout` option: where a buildout comes from (seed-system §1.2).

use crate::error::ErrorKind;

/// Where a buildout comes from (`buildout = TYPE TOKENS…`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildoutSource {
    /// `standalone PATH`: a file next to the manifest, sent by the master.
    Standalone {
        /// Path relative to the manifest's directory.
        path: String,
    },
    /// `hg URL BRANCH CONFPATH`.
    Hg {
        /// Repository URL.
        url: String,
        /// Branch to update to.
        branch: String,
        /// Buildout config, relative to the clone.
        config: String,
    },
    /// `git URL BRANCH CONFPATH [subdir=DIR]`.
    Git {
        /// Repository URL.
        url: String,
        /// Branch to check out.
        branch: String,
        /// Buildout config, relative to the clone (or to `subdir`).
        config: String,
        /// Sub-directory of the clone that holds the buildout.
        subdir: Option<String>,
    },
    /// `bzr URL CONFPATH [subdir=DIR]`.
    Bzr {
        /// Branch URL.
        url: String,
        /// Buildout config, relative to the branch (or to `subdir`).
        config: String,
        /// Sub-directory of the branch that holds the buildout.
        subdir: Option<String>,
    },
    /// `hgtag URL CONFPATH`: the tag comes from the `buildout-tag` build property.
    HgTag {
        /// Repository URL.
        url: String,
        /// Buildout config, relative to the clone.
        config: String,
    },
    /// `gittag URL CONFPATH`: the tag comes from the `buildout-tag` build property.
    GitTag {
        /// Repository URL.
        url: String,
        /// Buildout config, relative to the clone.
        config: String,
    },
    /// `archive SUBDIR_PROP ARCHIVE_PROP CONFNAME`: a release tarball from the master.
    Archive {
        /// Build property naming the sub-directory of `packaging.root-dir`.
        subdir_property: String,
        /// Build property naming the archive (without `.tar.bz2`).
        archive_property: String,
        /// Buildout config inside the archive.
        config: String,
    },
}

const TYPES: &str = "standalone, hg, git, bzr, hgtag, gittag, archive";

/// Parses the value of `buildout`.
pub fn parse_source(text: &str) -> Result<BuildoutSource, ErrorKind> {
    let toks: Vec<&str> = text.split_whitespace().collect();
    let Some((&kind, args)) = toks.split_first() else {
        return Err(ErrorKind::EmptyValue {
            option: "buildout".into(),
            hint: format!("write `buildout = TYPE …` with TYPE one of {TYPES}, or remove it for a watch-only section"),
        });
    };
    let bad = |syntax: &str| ErrorKind::BadBuildoutSpec {
        text: text.into(),
        syntax: syntax.into(),
    };
    let s = |i: usize| args[i].to_string();
    // `subdir=DIR` is the only `key=value` token; the rest are positional.
    let (positional, subdir) = {
        let mut pos = Vec::new();
        let mut subdir = None;
        for a in args {
            match a.split_once('=') {
                Some(("subdir", d)) if !d.is_empty() && matches!(kind, "git" | "bzr") => {
                    subdir = Some(d.to_string())
                }
                _ => pos.push(*a),
            }
        }
        (pos, subdir)
    };
    match kind {
        "standalone" if args.len() == 1 => Ok(BuildoutSource::Standalone { path: s(0) }),
        "standalone" => Err(bad("standalone PATH")),
        "hg" if args.len() == 3 => Ok(BuildoutSource::Hg {
            url: s(0),
            branch: s(1),
            config: s(2),
        }),
        "hg" => Err(bad("hg URL BRANCH CONFPATH")),
        "git" if positional.len() == 3 && positional.iter().all(|p| !p.contains('=')) => {
            Ok(BuildoutSource::Git {
                url: positional[0].into(),
                branch: positional[1].into(),
                config: positional[2].into(),
                subdir,
            })
        }
        "git" => Err(bad("git URL BRANCH CONFPATH [subdir=DIR]")),
        "bzr" if positional.len() == 2 && positional.iter().all(|p| !p.contains('=')) => {
            Ok(BuildoutSource::Bzr {
                url: positional[0].into(),
                config: positional[1].into(),
                subdir,
            })
        }
        "bzr" => Err(bad("bzr URL CONFPATH [subdir=DIR]")),
        "hgtag" if args.len() == 2 => Ok(BuildoutSource::HgTag {
            url: s(0),
            config: s(1),
        }),
        "hgtag" => Err(bad("hgtag URL CONFPATH")),
        "gittag" if args.len() == 2 => Ok(BuildoutSource::GitTag {
            url: s(0),
            config: s(1),
        }),
        "gittag" => Err(bad("gittag URL CONFPATH")),
        "archive" if args.len() == 3 => Ok(BuildoutSource::Archive {
            subdir_property: s(0),
            archive_property: s(1),
            config: s(2),
        }),
        "archive" => Err(bad("archive SUBDIR_PROPERTY ARCHIVE_PROPERTY CONFNAME")),
        other => Err(ErrorKind::UnknownBuildoutType {
            kind: other.into(),
            valid: TYPES.into(),
        }),
    }
}
