//! The files a standalone buildout `extends` that sit beside it: the master sends them with
//! it (anybox sent the file alone, so a relative `extends` broke). Pure: the caller passes a
//! function that reads a file.

use oebb_config::paths::{RelativePath, Subject};
use std::collections::BTreeSet;

/// The local files named by `[buildout] extends` in a buildout config's text, normalised:
/// URLs, absolute paths and paths leaving the directory (`..`, as [`oebb_config::paths`]
/// decides) are left out, since they are not beside the file.
pub fn local_extends(config_text: &str) -> Vec<String> {
    let mut in_buildout = false;
    let mut value: Option<String> = None;
    for raw in config_text.lines() {
        let line = raw.trim_end();
        if line.starts_with('[') {
            in_buildout = line.trim() == "[buildout]";
            if value.is_some() {
                break;
            }
            continue;
        }
        let continuation = raw.starts_with([' ', '\t']);
        if let (Some(v), true) = (value.as_mut(), continuation) {
            v.push(' ');
            v.push_str(line.trim());
            continue;
        }
        if value.is_some() {
            break;
        }
        if !in_buildout || line.trim_start().starts_with(['#', ';']) {
            continue;
        }
        if let Some((key, v)) = line.split_once('=') {
            let key = key
                .trim()
                .trim_end_matches('+')
                .trim_end_matches('-')
                .trim();
            if key == "extends" {
                value = Some(v.trim().to_string());
            }
        }
    }
    value
        .unwrap_or_default()
        .split_whitespace()
        .filter(|p| !p.contains("://"))
        .filter_map(|p| RelativePath::new(Subject::Option("extends".into()), p).ok())
        .map(|p| p.as_path().to_string_lossy().into_owned())
        .collect()
}

/// Every local file `config` extends, recursively, relative to `config`'s directory, in the
/// order found; `read(path)` gives a file's text (None when it cannot be read: it is still
/// listed, so the download step reports it).
pub fn standalone_files(config: &str, mut read: impl FnMut(&str) -> Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::from([config.to_string()]);
    let mut todo = vec![config.to_string()];
    while let Some(file) = todo.pop() {
        let Some(text) = read(&file) else { continue };
        let dir = match file.rfind('/') {
            Some(i) => &file[..=i],
            None => "",
        };
        for name in local_extends(&text) {
            let path = format!("{dir}{name}");
            if seen.insert(path.clone()) {
                out.push(path.clone());
                todo.push(path);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extends_lists_local_files_only() {
        let text = "[buildout]\nparts = odoo\nextends = base.cfg\n   http://x/y.cfg\n  ../up.cfg /abs.cfg ./sub/v.cfg\n[odoo]\nextends = not-me.cfg\n";
        assert_eq!(local_extends(text), ["base.cfg", "sub/v.cfg"]);
        let text = "[buildout]\nextends = a/../b.cfg a/../../c.cfg nul\0.cfg\n";
        assert_eq!(local_extends(text), ["b.cfg"]);
    }

    #[test]
    fn extends_outside_the_buildout_section_is_ignored() {
        assert!(local_extends("[odoo]\nextends = a.cfg\n").is_empty());
        assert!(local_extends("[buildout]\n# extends = a.cfg\n").is_empty());
    }

    #[test]
    fn standalone_files_follow_nested_extends_once() {
        let files = |p: &str| match p {
            "main.cfg" => Some("[buildout]\nextends = common/base.cfg\n".to_string()),
            "common/base.cfg" => Some("[buildout]\nextends = versions.cfg ../main.cfg\n".into()),
            "common/versions.cfg" => Some("[buildout]\nextends = base.cfg\n".into()),
            _ => None,
        };
        assert_eq!(
            standalone_files("main.cfg", files),
            ["common/base.cfg", "common/versions.cfg"]
        );
    }

    #[test]
    fn an_unreadable_file_is_still_listed() {
        let files = |p: &str| (p == "a.cfg").then(|| "[buildout]\nextends = gone.cfg\n".into());
        assert_eq!(standalone_files("a.cfg", files), ["gone.cfg"]);
    }
}
