//! The options of a buildout that become paths on the master: checked here, at their line, so
//! that neither a typo nor a hostile manifest makes a step read, write or delete outside the
//! place the option is meant for (DESIGN.md decision 6, [`crate::paths`]).

use super::BuildoutSource;
use crate::error::ErrorKind;
use crate::ini::Resolved;
use crate::paths::{Component, Expected, PathError, Problem, RelativePath, Subject};

/// How an option's value is a path.
#[derive(Clone, Copy)]
enum Kind {
    /// One file or directory name (`packaging.prefix`, `doc.version`).
    Name,
    /// A relative path that stays in the directory it is relative to.
    Relative,
    /// An absolute directory (the administrator's), or a relative one as above.
    AbsoluteOrRelative,
    /// A directory an upload replaces: relative, inside a directory of its own.
    UploadDir,
}

/// Options that are master paths, what each must be, and what it is relative to.
const OPTIONS: &[(&str, Kind)] = &[
    // Relative to the master directory; the directories under it are replaced by uploads.
    ("doc.upload-root", Kind::Relative),
    ("doc.upload-dir", Kind::Relative),
    ("doc.version", Kind::Name),
    ("nose.upload-path", Kind::UploadDir),
    // anybox used /var/www/livraison: an absolute root is the administrator's choice.
    ("packaging.root-dir", Kind::AbsoluteOrRelative),
    ("packaging.upload-dir", Kind::Relative),
    ("packaging.prefix", Kind::Name),
];

/// Reports every path option of the section that cannot be used, and a `buildout` source whose
/// file would not be where it must.
pub(super) fn check(
    section: &str,
    source: Option<&BuildoutSource>,
    opts: &Resolved,
    line_of: &dyn Fn(&str) -> u32,
    err: &mut dyn FnMut(u32, ErrorKind),
) {
    let mut found = Vec::new();
    options(opts, line_of, &mut |line, kind| found.push((line, kind)));
    source_file(section, source, opts, line_of, &mut |line, kind| {
        found.push((line, kind))
    });
    // In the order of the file, as the user reads it.
    found.sort_by_key(|(line, _)| *line);
    for (line, kind) in found {
        err(line, kind);
    }
}

/// The path options of [`OPTIONS`].
fn options(opts: &Resolved, line_of: &dyn Fn(&str) -> u32, err: &mut dyn FnMut(u32, ErrorKind)) {
    for &(option, kind) in OPTIONS {
        let Some(value) = opts.value(option).map(str::trim).filter(|v| !v.is_empty()) else {
            continue;
        };
        if let Err(e) = check_value(option, value, kind) {
            let kind = ErrorKind::BadSetting {
                option: option.into(),
                value: value.into(),
                reason: e.reason(),
            };
            err(line_of(option), kind);
        }
    }
}

/// A standalone file outside the manifest's directory; an archive source whose tokens are no
/// property names, or without a root.
fn source_file(
    section: &str,
    source: Option<&BuildoutSource>,
    opts: &Resolved,
    line_of: &dyn Fn(&str) -> u32,
    err: &mut dyn FnMut(u32, ErrorKind),
) {
    match source {
        Some(BuildoutSource::Standalone { path }) => {
            if let Err(e) = RelativePath::new(Subject::Option("buildout".into()), path) {
                let kind = ErrorKind::BadSetting {
                    option: "buildout".into(),
                    value: format!("standalone {path}"),
                    reason: format!(
                        "the file is relative to the manifest's directory and must stay in it: \
                         {}",
                        e.reason()
                    ),
                };
                err(line_of("buildout"), kind);
            }
        }
        Some(BuildoutSource::Archive {
            subdir_property,
            archive_property,
            config,
        }) => {
            let names = [subdir_property, archive_property];
            if names.iter().any(|n| !property_name(n)) {
                let kind = ErrorKind::BadBuildoutSpec {
                    text: format!("archive {subdir_property} {archive_property} {config}"),
                    syntax: "archive SUBDIR_PROPERTY ARCHIVE_PROPERTY CONFNAME`, the first two \
                             being names of build properties (letters, digits, `-`, `_`, `.`) \
                             whose values name the archive under `packaging.root-dir"
                        .into(),
                };
                err(line_of("buildout"), kind);
            }
            let root = opts.value("packaging.root-dir").map(str::trim);
            if root.is_none_or(str::is_empty) {
                let kind = ErrorKind::MissingStepOption {
                    step: "archive".into(),
                    needed: "packaging.root-dir".into(),
                    section: section.into(),
                };
                err(line_of("buildout"), kind);
            }
        }
        _ => {}
    }
}

/// `value` of `option` checked as a path of `kind`; `$(name)s` placeholders (build properties,
/// checked when the build runs) count as one plain name.
fn check_value(option: &str, value: &str, kind: Kind) -> Result<(), PathError> {
    let text = without_placeholders(value);
    let subject = || Subject::Option(option.into());
    let relative = |text: &str| RelativePath::new(subject(), text).map(drop);
    let result = match kind {
        Kind::Name => Component::new(subject(), &text).map(drop),
        Kind::Relative => relative(&text),
        Kind::AbsoluteOrRelative if text.starts_with('/') => {
            // Still no NUL, no over-long parts: checked as relative to `/`.
            relative(text.trim_start_matches('/')).or_else(|e| match text.trim_matches('/') {
                "" => Ok(()),
                _ => Err(e),
            })
        }
        Kind::AbsoluteOrRelative => relative(&text),
        Kind::UploadDir => relative(&text).and_then(|()| {
            // The directory before the first property: what the upload stays inside.
            let literal = value.find("$(").map_or(value, |at| &value[..at]);
            let dir = literal.rfind('/').map_or("", |at| &literal[..at]);
            match RelativePath::new(subject(), dir) {
                Ok(_) => Ok(()),
                Err(_) => Err(PathError {
                    subject: subject(),
                    value: value.into(),
                    problem: Problem::NoUploadDir,
                    expected: Expected::UploadDir,
                }),
            }
        }),
    };
    // The message shows the value as written.
    result.map_err(|mut e| {
        e.value = value.to_string();
        e
    })
}

/// `$(name)s` replaced by a plain name.
fn without_placeholders(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("$(") {
        let Some(end) = rest[start..].find(")s") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push('p');
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// Build property names: letters, digits, `-`, `_`, `.`.
fn property_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use crate::testutil::manifest_errors;

    fn errors(options: &str) -> Vec<String> {
        manifest_errors(&format!("[b]\nbuildout = standalone b.cfg\n{options}"))
    }

    #[test]
    fn master_path_options_are_checked_at_their_line() {
        for good in [
            "doc.upload-root = public_html/doc\ndoc.upload-dir = proj/\n",
            "doc.upload-dir = a/b\ndoc.version = v-$(buildout-tag)s\n",
            "nose.upload-path = public_html/nose/$(buildername)s\n",
            "packaging.root-dir = /var/www/livraison\npackaging.upload-dir = proj\n",
            "packaging.root-dir = releases\npackaging.prefix = proj\n",
            "packaging.root-dir = /\n",
        ] {
            assert_eq!(errors(good), Vec::<String>::new(), "{good}");
        }
        let bad = [
            ("doc.upload-root = /", "`doc.upload-root` = `/` is invalid: it is an absolute path"),
            ("doc.upload-root = ../..", "`doc.upload-root` = `../..` is invalid: it leads out of its directory"),
            ("doc.upload-root = .", "`doc.upload-root` = `.` is invalid: it is the directory itself"),
            ("doc.upload-dir = ../proj", "`doc.upload-dir` = `../proj` is invalid: it leads out"),
            ("doc.version = ../$(buildout-tag)s", "`doc.version` = `../$(buildout-tag)s` is invalid: it contains `/`"),
            ("nose.upload-path = /var/www/$(buildout-tag)s", "`nose.upload-path` = `/var/www/$(buildout-tag)s` is invalid: it is an absolute path"),
            ("nose.upload-path = $(buildout-tag)s", "`nose.upload-path` = `$(buildout-tag)s` is invalid: it does not start with a directory of its own"),
            ("nose.upload-path = cov", "`nose.upload-path` = `cov` is invalid: it does not start"),
            ("packaging.root-dir = ../../x", "`packaging.root-dir` = `../../x` is invalid: it leads out"),
            ("packaging.upload-dir = /x", "`packaging.upload-dir` = `/x` is invalid: it is an absolute path"),
            ("packaging.prefix = a/b", "`packaging.prefix` = `a/b` is invalid: it contains `/`"),
            ("packaging.prefix = ..", "`packaging.prefix` = `..` is invalid: it is `..`"),
        ];
        for (option, start) in bad {
            let errors = errors(&format!("{option}\n"));
            assert_eq!(errors.len(), 1, "{option}: {errors:?}");
            assert!(
                errors[0].starts_with(&format!("t.cfg:3: {start}")),
                "{errors:?}"
            );
        }
    }

    #[test]
    fn standalone_files_stay_in_the_manifest_directory() {
        assert!(manifest_errors("[b]\nbuildout = standalone sub/../b.cfg\n").is_empty());
        for path in ["../../../etc/passwd", "/etc/passwd", "a/../../b.cfg", "."] {
            let errors = manifest_errors(&format!("[b]\n\nbuildout = standalone {path}\n"));
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(
                errors[0].starts_with(&format!(
                    "t.cfg:3: `buildout` = `standalone {path}` is invalid: the file is relative \
                     to the manifest's directory and must stay in it: it "
                )),
                "{errors:?}"
            );
        }
    }

    #[test]
    fn archive_sources_name_properties_and_need_a_root() {
        let root = "packaging.root-dir = /srv/rel\n";
        let ok = format!("[b]\nbuildout = archive subdir arch buildout.cfg\n{root}");
        assert_eq!(manifest_errors(&ok), Vec::<String>::new());
        let bad = format!("[b]\nbuildout = archive ../.. arch buildout.cfg\n{root}");
        let errors = manifest_errors(&bad);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]
                .starts_with("t.cfg:2: `buildout = archive ../.. arch buildout.cfg` is malformed"),
            "{errors:?}"
        );
        let errors = manifest_errors("[b]\nbuildout = archive subdir arch buildout.cfg\n");
        assert_eq!(
            errors,
            ["t.cfg:2: step `archive` needs option `packaging.root-dir`; add it to section [b]"]
        );
    }
}
