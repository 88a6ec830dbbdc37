//! The live sources of a buildout's Odoo part (odoo-ci.md §4, seed-system §6.5): the VCS
//! repositories of its `version`, `addons` and `merges` lines whose revision follows a branch,
//! so a commit there changes what the buildout builds. A pinned revision (a git SHA, an hg
//! hash or number, a bzr revno, tag or revid, or a `revisions` line) is not live.

use crate::buildout_cfg::{self, Sections};
use oebb_config::buildout::{Vcs, Watch};

/// The live sources of `part` in the configuration `file` (relative to the configuration's
/// root), read with `read`; also the files that could not be read (for the log).
pub fn live_sources(
    file: &str,
    part: &str,
    read: impl FnMut(&str) -> Option<String>,
) -> (Vec<Watch>, Vec<String>) {
    let (sections, skipped) = buildout_cfg::resolve(file, read);
    (of_part(&sections, part), skipped)
}

/// One VCS source line: `TYPE URL DIR REV [opt=val …]`.
struct Source {
    vcs: Option<Vcs>,
    url: String,
    dir: String,
    rev: String,
}

/// The recipe's `option_splitlines`: stripped lines, empty ones dropped, inline comments cut
/// at whitespace + `;` or a leading `;`.
fn split_lines(value: &str) -> Vec<String> {
    value
        .lines()
        .map(|l| {
            let cut = l
                .match_indices(';')
                .find(|(i, _)| *i == 0 || l[..*i].ends_with(char::is_whitespace))
                .map_or(l, |(i, _)| &l[..i]);
            cut.trim().to_string()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

fn source(line: &str) -> Option<Source> {
    let toks: Vec<&str> = line.split_whitespace().collect();
    if toks.len() < 4 || toks[1..4].iter().any(|t| t.contains('=')) {
        return None;
    }
    let vcs = match toks[0] {
        "git" => Some(Vcs::Git),
        "hg" => Some(Vcs::Hg),
        "bzr" => Some(Vcs::Bzr),
        "svn" => None,
        _ => return None,
    };
    Some(Source {
        vcs,
        url: toks[1].to_string(),
        dir: toks[2].trim_end_matches('/').to_string(),
        rev: toks[3].to_string(),
    })
}

fn is_hex(text: &str, min: usize) -> bool {
    text.len() >= min && text.len() <= 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `rev` follows a branch: git: not a SHA; hg: not a hash or revision number; bzr:
/// `last:N` only.
fn is_live(vcs: Vcs, rev: &str) -> bool {
    match vcs {
        Vcs::Git => !is_hex(rev, 7),
        Vcs::Hg => !is_hex(rev, 12) && !rev.bytes().all(|b| b.is_ascii_digit()),
        Vcs::Bzr => rev.starts_with("last:"),
    }
}

fn of_part(sections: &Sections, part: &str) -> Vec<Watch> {
    let get = |option| buildout_cfg::get(sections, part, option).unwrap_or_default();
    let mut main_pinned = false;
    let mut pinned_dirs = Vec::new();
    for line in split_lines(&get("revisions")) {
        match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            [_rev] => main_pinned = true,
            [dir, _rev, ..] => pinned_dirs.push(dir.trim_end_matches('/').to_string()),
            [] => {}
        }
    }
    let mut sources: Vec<(Source, bool)> = Vec::new();
    if let Some(main) = source(get("version").trim()) {
        sources.push((main, main_pinned));
    }
    // The recipe keys addons by directory: a later line for the same one wins.
    for line in split_lines(&get("addons")) {
        if let Some(s) = source(&line) {
            sources.retain(|(o, _)| o.dir != s.dir);
            let pinned = pinned_dirs.contains(&s.dir);
            sources.push((s, pinned));
        }
    }
    for line in split_lines(&get("merges")) {
        if let Some(s) = source(&line) {
            sources.push((s, false));
        }
    }
    let mut out: Vec<Watch> = Vec::new();
    for (s, pinned) in sources {
        let Some(vcs) = s.vcs else { continue };
        if pinned || !is_live(vcs, &s.rev) {
            continue;
        }
        let branch = (vcs != Vcs::Bzr).then(|| s.rev.clone());
        let watch = Watch {
            vcs,
            url: s.url,
            branch,
        };
        if !out.contains(&watch) {
            out.push(watch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(text: &'static str) -> Vec<String> {
        let (watches, _) = live_sources("b.cfg", "odoo", |p| (p == "b.cfg").then(|| text.into()));
        watches
            .iter()
            .map(|w| {
                format!(
                    "{:?} {} {}",
                    w.vcs,
                    w.url,
                    w.branch.as_deref().unwrap_or("-")
                )
            })
            .collect()
    }

    #[test]
    fn branches_are_live_pins_are_not() {
        let text = "[odoo]\nrecipe = anybox.recipe.odoo:server\n\
            version = git https://github.com/odoo/odoo.git odoo 16.0 depth=1\n\
            addons = git https://x/live live-dir main ; a comment\n\
            \x20 git https://x/sha sha 0123456789abcdef0123456789abcdef01234567\n\
            \x20 hg https://x/hg hg default\n  hg https://x/hgpin hgpin 1234\n\
            \x20 bzr lp:bzrlive bzrlive last:1\n  bzr lp:bzrpin bzrpin 42\n\
            \x20 svn https://x/svn svn head\n  local custom\n\
            \x20 git https://x/pinned pinned main\n\
            merges = git https://x/merge live-dir feature\n\
            revisions = pinned 0123abc\n";
        assert_eq!(
            live(text),
            [
                "Git https://github.com/odoo/odoo.git 16.0",
                "Git https://x/live main",
                "Hg https://x/hg default",
                "Bzr lp:bzrlive -",
                "Git https://x/merge feature",
            ]
        );
    }

    #[test]
    fn a_pinned_main_software_and_a_later_line_for_a_dir() {
        let text = "[odoo]\nversion = git https://x/odoo odoo 16.0\n\
            addons = git https://x/a a main\n  git https://x/b a main\n\
            revisions = abcdef1\n";
        assert_eq!(live(text), ["Git https://x/b main"]);
        assert!(live("[odoo]\nversion = 16.0\n").is_empty());
        assert!(live("[other]\naddons = git https://x/a a main\n").is_empty());
    }
}
