//! A buildout configuration as zc.buildout resolves it, as far as the sources of an Odoo part
//! need: the `[buildout] extends` chain (local files, relative to the file naming them),
//! `+=` / `-=` against the extended value, and `${section:option}` substitution. Pure: the
//! caller gives a function reading a file (bounded by the caller), and every step here is
//! bounded too (files, substitution depth, value size), so a hostile buildout repository
//! cannot make the master loop or grow without limit.

use std::collections::BTreeMap;

/// Most files one configuration may pull in through `extends`.
pub const MAX_FILES: usize = 64;
/// Deepest `${…}` nesting followed.
const MAX_DEPTH: usize = 10;
/// Largest value a substitution may produce.
const MAX_VALUE: usize = 64 * 1024;

/// Sections → options → values, after `extends`, `+=` and `-=`, before substitution.
pub type Sections = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Set,
    Add,
    Remove,
}

type Raw = Vec<(String, Vec<(String, Op, String)>)>;

/// Parses one file: sections with their options in order, continuation lines joined with
/// newlines, comment lines (`#`, `;`) dropped.
fn parse(text: &str) -> Raw {
    let mut out: Raw = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            if let Some(end) = line.find(']') {
                out.push((line[1..end].trim().to_string(), Vec::new()));
            }
            continue;
        }
        let Some((_, options)) = out.last_mut() else {
            continue;
        };
        if line.starts_with([' ', '\t']) {
            if let Some((_, _, value)) = options.last_mut() {
                if !trimmed.is_empty() {
                    value.push('\n');
                    value.push_str(trimmed);
                }
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim_end();
        let (key, op) = if let Some(k) = key.strip_suffix('+') {
            (k.trim_end(), Op::Add)
        } else if let Some(k) = key.strip_suffix('-') {
            (k.trim_end(), Op::Remove)
        } else {
            (key, Op::Set)
        };
        options.push((key.to_string(), op, value.trim().to_string()));
    }
    out
}

fn lines(value: &str) -> impl Iterator<Item = &str> {
    value.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// Applies one file's options over what it extends.
fn apply(base: &mut Sections, raw: Raw) {
    for (section, options) in raw {
        let target = base.entry(section).or_default();
        for (key, op, value) in options {
            match op {
                Op::Set => {
                    target.insert(key, value);
                }
                Op::Add => {
                    let old = target.get(&key).cloned().unwrap_or_default();
                    let joined = lines(&old).chain(lines(&value)).collect::<Vec<_>>();
                    target.insert(key, joined.join("\n"));
                }
                Op::Remove => {
                    let gone: Vec<&str> = lines(&value).collect();
                    let old = target.get(&key).cloned().unwrap_or_default();
                    let kept: Vec<&str> = lines(&old).filter(|l| !gone.contains(l)).collect();
                    target.insert(key, kept.join("\n"));
                }
            }
        }
    }
}

/// `dir` joined with a relative `name`, with `.` and `..` resolved; None when it is a URL,
/// absolute, or leaves the configuration's root.
fn join(dir: &str, name: &str) -> Option<String> {
    if name.contains("://") || name.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// The resolution of `file` and what it extends; `read(path)` gives a file's text, paths being
/// relative to the configuration's root. Files past [`MAX_FILES`], unreadable ones and remote
/// ones are left out (and listed in the second result, for the log).
pub fn resolve(
    file: &str,
    mut read: impl FnMut(&str) -> Option<String>,
) -> (Sections, Vec<String>) {
    let mut skipped = Vec::new();
    let mut budget = MAX_FILES;
    let mut stack = Vec::new();
    let sections = resolve_file(file, &mut read, &mut budget, &mut stack, &mut skipped);
    (sections, skipped)
}

fn resolve_file(
    file: &str,
    read: &mut impl FnMut(&str) -> Option<String>,
    budget: &mut usize,
    stack: &mut Vec<String>,
    skipped: &mut Vec<String>,
) -> Sections {
    let mut out = Sections::new();
    if *budget == 0 || stack.iter().any(|f| f == file) {
        skipped.push(file.to_string());
        return out;
    }
    *budget -= 1;
    let Some(text) = read(file) else {
        skipped.push(file.to_string());
        return out;
    };
    let raw = parse(&text);
    let dir = file.rfind('/').map_or("", |i| &file[..i]);
    let extends: Vec<String> = raw
        .iter()
        .filter(|(s, _)| s == "buildout")
        .flat_map(|(_, o)| o.iter())
        .filter(|(k, op, _)| k == "extends" && *op == Op::Set)
        .flat_map(|(_, _, v)| v.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect();
    stack.push(file.to_string());
    for name in extends {
        match join(dir, &name) {
            Some(path) => {
                let base = resolve_file(&path, read, budget, stack, skipped);
                for (section, options) in base {
                    out.entry(section).or_default().extend(options);
                }
            }
            None => skipped.push(name),
        }
    }
    stack.pop();
    apply(&mut out, raw);
    out
}

/// The value of `section:option` with every `${section:option}` (and `${:option}`, the same
/// section) substituted; None when the option is not set. An unknown reference is left as
/// written; past the depth or size bound the rest is left unsubstituted.
pub fn get(sections: &Sections, section: &str, option: &str) -> Option<String> {
    let value = sections.get(section)?.get(option)?;
    Some(substitute(sections, section, value, 0))
}

fn substitute(sections: &Sections, section: &str, value: &str, depth: usize) -> String {
    if depth >= MAX_DEPTH || !value.contains("${") {
        return value.to_string();
    }
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let reference = &rest[start + 2..start + end];
        let whole = &rest[start..=start + end];
        let found = reference.split_once(':').and_then(|(s, o)| {
            let s = if s.is_empty() { section } else { s };
            sections
                .get(s)
                .and_then(|opts| opts.get(o))
                .map(|v| substitute(sections, s, v, depth + 1))
        });
        out.push_str(found.as_deref().unwrap_or(whole));
        rest = &rest[start + end + 1..];
        if out.len() > MAX_VALUE {
            out.truncate(MAX_VALUE);
            return out;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &'static [(&'static str, &'static str)]) -> impl FnMut(&str) -> Option<String> {
        move |p| {
            list.iter()
                .find(|(n, _)| *n == p)
                .map(|(_, t)| t.to_string())
        }
    }

    #[test]
    fn extends_add_remove_and_substitution() {
        let (s, skipped) = resolve(
            "deploy/buildout.cfg",
            files(&[
                (
                    "deploy/buildout.cfg",
                    "[buildout]\nextends = ../base.cfg http://x/y.cfg\n[odoo]\naddons +=\n   git ${urls:oca}/web web ${:series}\naddons -= local custom\n",
                ),
                (
                    "base.cfg",
                    "[buildout]\nparts = odoo\n[urls]\noca = https://github.com/OCA\n[odoo]\nseries = 16.0\n# a comment\naddons = local custom\n  git https://x/a a main\n",
                ),
            ]),
        );
        assert_eq!(skipped, ["http://x/y.cfg"]);
        assert_eq!(
            get(&s, "odoo", "addons").unwrap(),
            "git https://x/a a main\ngit https://github.com/OCA/web web 16.0"
        );
    }

    #[test]
    fn loops_and_deep_references_end() {
        let (s, skipped) = resolve(
            "a.cfg",
            files(&[
                (
                    "a.cfg",
                    "[buildout]\nextends = b.cfg\n[x]\nv = ${x:v}${x:v}\n",
                ),
                ("b.cfg", "[buildout]\nextends = a.cfg\n"),
            ]),
        );
        assert_eq!(skipped, ["a.cfg"]);
        assert!(get(&s, "x", "v").unwrap().len() <= MAX_VALUE);
        assert_eq!(join("a", "../../x"), None);
    }

    #[test]
    fn at_most_max_files_are_read() {
        let mut reads = 0;
        resolve("f.cfg", |_| {
            reads += 1;
            Some("[buildout]\nextends = f1.cfg f2.cfg\n".to_string())
        });
        // Each name is read again under a new path only until the budget runs out.
        assert!(reads <= MAX_FILES, "{reads}");
    }
}
