//! One poll of one repository with the real client (git, hg, brz) into the master's mirror
//! of it, and the changes since the heads of the previous poll. The URL and the branches come
//! from the configuration; the output of the clients is the remote's, so every field read
//! from it is bounded here.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use oebb_config::buildout::Vcs;
use oebb_config::watching::Repository;

use super::client::{looks_like_option, run, ClientError};
use crate::store::NewChange;

/// Most changes recorded per branch and poll (the newest ones).
pub const MAX_CHANGES: usize = 100;
const MAX_COMMENTS: usize = 4096;
const MAX_AUTHOR: usize = 256;
const MAX_FILES: usize = 200;
const MAX_FILES_TEXT: usize = 16 * 1024;

/// What a poll found.
#[derive(Debug, Default)]
pub struct Polled {
    /// Branch → head revision (`""` → revno for bzr).
    pub heads: BTreeMap<String, String>,
    /// New changes, oldest first.
    pub changes: Vec<NewChange>,
}

/// The VCS's name in URLs, paths and the store.
pub fn vcs_name(vcs: Vcs) -> &'static str {
    match vcs {
        Vcs::Git => "git",
        Vcs::Hg => "hg",
        Vcs::Bzr => "bzr",
    }
}

/// Polls `repo` into `mirror`; `old` are the heads of its last good poll (empty: the first
/// poll, which records the heads and no change).
pub async fn poll(
    repo: &Repository,
    mirror: &Path,
    old: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<Polled, ClientError> {
    if looks_like_option(&repo.fetch_url) {
        return Err(format!(
            "refused URL {:?}: it could be taken for an option",
            repo.fetch_url
        ));
    }
    if let Some(parent) = mirror.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let mut polled = match repo.vcs {
        Vcs::Git => git(repo, mirror, old, timeout).await?,
        Vcs::Hg => hg(repo, mirror, old, timeout).await?,
        Vcs::Bzr => bzr(repo, mirror, old, timeout).await?,
    };
    for c in &mut polled.changes {
        c.repository = repo.url.clone();
        c.vcs = Some(vcs_name(repo.vcs).to_string());
    }
    Ok(polled)
}

/// A git or hg object id: 40 or 64 hex digits.
pub fn is_object_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `revision` has the shape of the revisions a build records (`got_revision`): an
/// object id for git and hg, a revno for bzr. What a worker sent reaches a client only then.
pub fn is_revision(vcs: Vcs, revision: &str) -> bool {
    match vcs {
        Vcs::Git | Vcs::Hg => is_object_id(revision),
        Vcs::Bzr => revision.len() <= 12 && revision.bytes().all(|b| b.is_ascii_digit()),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn bounded(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn files_text<'a>(files: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut out = String::new();
    for f in files.filter(|f| !f.is_empty()).take(MAX_FILES) {
        if out.len() + f.len() + 1 > MAX_FILES_TEXT {
            break;
        }
        out.push_str(f);
        out.push('\n');
    }
    (!out.is_empty()).then_some(out)
}

fn change(
    revision: &str,
    author: &str,
    when: Option<i64>,
    comments: &str,
    files: Option<String>,
) -> NewChange {
    NewChange {
        revision: bounded(revision, 100),
        author: Some(bounded(author.trim(), MAX_AUTHOR)),
        comments: Some(bounded(comments.trim_end(), MAX_COMMENTS)),
        changed_at: when,
        files,
        ..NewChange::default()
    }
}

async fn git(
    repo: &Repository,
    mirror: &Path,
    old: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<Polled, ClientError> {
    let m = mirror.to_string_lossy().into_owned();
    if !mirror.join("HEAD").exists() {
        run("git", &["init", "--bare", "-q", "--", &m], None, timeout).await?;
    }
    let url = repo.fetch_url.as_str();
    let listed = run(
        "git",
        &["ls-remote", "--heads", "--end-of-options", url],
        Some(mirror),
        timeout,
    )
    .await?;
    let mut heads = BTreeMap::new();
    for line in text(&listed).lines() {
        if let Some((sha, name)) = line.split_once('\t') {
            if let Some(branch) = name.strip_prefix("refs/heads/") {
                // The remote's answer: only an object id is ever passed on to `git log`.
                if repo.branches.contains(branch) && is_object_id(sha) {
                    heads.insert(branch.to_string(), sha.to_string());
                }
            }
        }
    }
    let moved: Vec<&String> = heads
        .iter()
        .filter(|(b, sha)| old.get(*b) != Some(sha))
        .map(|(b, _)| b)
        .collect();
    let mut polled = Polled::default();
    if moved.is_empty() {
        polled.heads = heads;
        return Ok(polled);
    }
    let specs: Vec<String> = moved
        .iter()
        .map(|b| format!("+refs/heads/{b}:refs/heads/{b}"))
        .collect();
    let mut args = vec![
        "fetch",
        "-q",
        "--force",
        "--no-tags",
        "--end-of-options",
        url,
    ];
    args.extend(specs.iter().map(String::as_str));
    run("git", &args, Some(mirror), timeout).await?;
    for branch in moved {
        let Some(before) = old.get(branch) else {
            continue; // a branch seen for the first time: its tip is recorded, not built
        };
        let after = &heads[branch];
        let range = format!("{before}..{after}");
        let format = "--format=%x1e%H%x1f%an <%ae>%x1f%at%x1f%B%x1f";
        let max = format!("--max-count={MAX_CHANGES}");
        let log = match run(
            "git",
            &["log", &max, format, "--name-only", &range, "--"],
            Some(mirror),
            timeout,
        )
        .await
        {
            Ok(out) => out,
            // The old head is gone (a forced push): the new tip alone.
            Err(_) => {
                run(
                    "git",
                    &["log", "-1", format, "--name-only", after, "--"],
                    Some(mirror),
                    timeout,
                )
                .await?
            }
        };
        let mut found = parse_git_log(&text(&log));
        found.reverse();
        for c in &mut found {
            c.branch = Some(branch.clone());
        }
        polled.changes.extend(found);
    }
    polled.heads = heads;
    Ok(polled)
}

/// `git log` output in the format of [`git`]: records separated by 0x1e, fields by 0x1f.
fn parse_git_log(out: &str) -> Vec<NewChange> {
    out.split('\x1e')
        .filter_map(|record| {
            let fields: Vec<&str> = record.splitn(5, '\x1f').collect();
            let [rev, author, when, body, files] = fields.as_slice() else {
                return None;
            };
            let when = when.trim().parse::<i64>().ok().map(|s| s * 1000);
            Some(change(
                rev.trim(),
                author,
                when,
                body,
                files_text(files.lines()),
            ))
        })
        .collect()
}

async fn hg(
    repo: &Repository,
    mirror: &Path,
    old: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<Polled, ClientError> {
    let m = mirror.to_string_lossy().into_owned();
    if !mirror.join(".hg").exists() {
        run("hg", &["init", "--", &m], None, timeout).await?;
    }
    let url = repo.fetch_url.as_str();
    run(
        "hg",
        &["-y", "-R", &m, "pull", "-q", "--", url],
        None,
        timeout,
    )
    .await?;
    let listed = run(
        "hg",
        &[
            "-y",
            "-R",
            &m,
            "heads",
            "--template",
            "{branch}\\x1f{rev}\\x1f{node}\\n",
        ],
        None,
        timeout,
    )
    .await
    .unwrap_or_default(); // an empty repository has no heads
    let mut best: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for line in text(&listed).lines() {
        let parts: Vec<&str> = line.split('\x1f').collect();
        if let [branch, rev, node] = parts.as_slice() {
            let rev = rev.parse::<i64>().unwrap_or(-1);
            if repo.branches.contains(*branch) && best.get(*branch).is_none_or(|(r, _)| rev > *r) {
                best.insert(branch.to_string(), (rev, node.to_string()));
            }
        }
    }
    let heads: BTreeMap<String, String> = best.into_iter().map(|(b, (_, n))| (b, n)).collect();
    let mut polled = Polled::default();
    for (branch, node) in &heads {
        let Some(before) = old.get(branch).filter(|b| *b != node) else {
            continue;
        };
        if !is_object_id(before) || !is_object_id(node) {
            continue;
        }
        let revset = format!("last(sort(only({node}, {before}), rev), {MAX_CHANGES})");
        let revset_alone = node.to_string();
        let template =
            "{node}\\x1f{author}\\x1f{date|hgdate}\\x1f{desc}\\x1f{join(files, '\\n')}\\x1e";
        let log = match run(
            "hg",
            &["-y", "-R", &m, "log", "-r", &revset, "--template", template],
            None,
            timeout,
        )
        .await
        {
            Ok(out) => out,
            Err(_) => {
                run(
                    "hg",
                    &[
                        "-y",
                        "-R",
                        &m,
                        "log",
                        "-r",
                        &revset_alone,
                        "--template",
                        template,
                    ],
                    None,
                    timeout,
                )
                .await?
            }
        };
        for record in text(&log).split('\x1e') {
            let f: Vec<&str> = record.splitn(5, '\x1f').collect();
            if let [rev, author, date, desc, files] = f.as_slice() {
                let when = date
                    .split_whitespace()
                    .next()
                    .and_then(|s| s.parse::<f64>().ok())
                    .map(|s| (s * 1000.0) as i64);
                let mut c = change(rev, author, when, desc, files_text(files.lines()));
                c.branch = Some(branch.clone());
                polled.changes.push(c);
            }
        }
    }
    polled.heads = heads;
    Ok(polled)
}

async fn bzr(
    repo: &Repository,
    mirror: &Path,
    old: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<Polled, ClientError> {
    let m = mirror.to_string_lossy().into_owned();
    let url = repo.fetch_url.as_str();
    if !mirror.join(".bzr").exists() {
        run(
            "brz",
            &["branch", "--no-tree", "-q", "--", url, &m],
            None,
            timeout,
        )
        .await?;
    } else {
        run(
            "brz",
            &["pull", "-q", "--overwrite", "-d", &m, "--", url],
            None,
            timeout,
        )
        .await?;
    }
    let revno = text(&run("brz", &["revno", "--", &m], None, timeout).await?)
        .trim()
        .to_string();
    let new: u64 = revno
        .parse()
        .map_err(|_| format!("brz revno printed {revno:?}, not a number"))?;
    let mut polled = Polled::default();
    if let Some(before) = old.get("").and_then(|o| o.parse::<u64>().ok()) {
        if new > before {
            let from = (before + 1).max(new.saturating_sub(MAX_CHANGES as u64 - 1));
            let range = format!("revno:{from}..revno:{new}");
            let log = run(
                "brz",
                &["log", "-v", "--forward", "-r", &range, "--", &m],
                None,
                timeout,
            )
            .await?;
            polled.changes = parse_bzr_log(&text(&log));
        }
    }
    polled.heads.insert(String::new(), revno);
    Ok(polled)
}

/// `brz log -v` output: records after a line of dashes, `key: value` headers, an indented
/// message, then indented files under `added:`, `modified:`, `removed:`, `renamed:`.
fn parse_bzr_log(out: &str) -> Vec<NewChange> {
    let mut changes = Vec::new();
    for record in out.split("------------------------------------------------------------\n") {
        let (mut revno, mut committer, mut author, mut when) = ("", "", "", None);
        let mut message = String::new();
        let mut files = Vec::new();
        let mut section = "";
        for line in record.lines() {
            if let Some(rest) = line.strip_prefix("  ") {
                match section {
                    "message" => {
                        message.push_str(rest);
                        message.push('\n');
                    }
                    "" => {}
                    _ => files.push(rest.trim()),
                }
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key {
                "revno" => revno = value.split_whitespace().next().unwrap_or(""),
                "committer" => committer = value,
                "author" => author = value,
                "timestamp" => when = bzr_timestamp(value),
                "message" | "added" | "modified" | "removed" | "renamed" | "kind changed" => {
                    section = key
                }
                _ => {}
            }
        }
        if revno.is_empty() {
            continue;
        }
        let who = if author.is_empty() { committer } else { author };
        changes.push(change(
            revno,
            who,
            when,
            &message,
            files_text(files.into_iter()),
        ));
    }
    changes
}

/// `Wed 2026-12-02 06:00:32 +0000` → ms since the epoch.
fn bzr_timestamp(value: &str) -> Option<i64> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, date, time, zone] = parts.as_slice() else {
        return None;
    };
    let d: Vec<i64> = date.split('-').filter_map(|p| p.parse().ok()).collect();
    let t: Vec<i64> = time.split(':').filter_map(|p| p.parse().ok()).collect();
    let ([y, mo, da], [h, mi, s]) = (d.as_slice(), t.as_slice()) else {
        return None;
    };
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let z: i64 = zone.get(1..)?.parse().ok()?;
    let offset = sign * ((z / 100) * 3600 + (z % 100) * 60);
    Some((days_from_civil(*y, *mo, *da) * 86400 + h * 3600 + mi * 60 + s - offset) * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The text of `path` at `revision` in a mirror, at most 16 MiB (what the configuration
/// reader allows); None when it cannot be read.
pub async fn read_file(
    vcs: Vcs,
    mirror: &Path,
    revision: &str,
    path: &str,
    timeout: Duration,
) -> Option<String> {
    if looks_like_option(revision) || looks_like_option(path) {
        return None;
    }
    let m = mirror.to_string_lossy().into_owned();
    let out = match vcs {
        Vcs::Git => {
            let object = format!("{revision}:{path}");
            run("git", &["cat-file", "blob", &object], Some(mirror), timeout).await
        }
        Vcs::Hg => {
            run(
                "hg",
                &["-y", "-R", &m, "cat", "-r", revision, "--", path],
                None,
                timeout,
            )
            .await
        }
        Vcs::Bzr => {
            let rev = format!("revno:{revision}");
            run(
                "brz",
                &["cat", "-d", &m, "-r", &rev, "--", path],
                None,
                timeout,
            )
            .await
        }
    }
    .ok()?;
    (out.len() < super::client::MAX_OUTPUT).then(|| text(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_log_records() {
        let out = "\x1eabc\x1fA <a@x>\x1f1700000000\x1ftitle\n\nbody\n\x1f\n\nf1\nd/f2\n\x1edef\x1fB <b@x>\x1f1700000001\x1fsecond\n\x1f\n";
        let c = parse_git_log(out);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].revision, "abc");
        assert_eq!(c[0].author.as_deref(), Some("A <a@x>"));
        assert_eq!(c[0].changed_at, Some(1_700_000_000_000));
        assert_eq!(c[0].comments.as_deref(), Some("title\n\nbody"));
        assert_eq!(c[0].files.as_deref(), Some("f1\nd/f2\n"));
        assert_eq!(c[1].files, None);
    }

    #[test]
    fn bzr_log_records() {
        let out = "------------------------------------------------------------\nrevno: 2\ncommitter: T <t@x>\nbranch nick: a\ntimestamp: Wed 2026-12-02 06:00:32 +0100\nmessage:\n  two\n  lines\nmodified:\n  f\nadded:\n  g/\n";
        let c = parse_bzr_log(out);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].revision, "2");
        assert_eq!(c[0].comments.as_deref(), Some("two\nlines"));
        assert_eq!(c[0].files.as_deref(), Some("f\ng/\n"));
        // 2026-12-02T05:00:32Z
        assert_eq!(c[0].changed_at, Some(1_796_187_632_000));
    }

    #[test]
    fn only_revisions_of_the_right_shape_reach_a_client() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert!(is_revision(Vcs::Git, sha) && is_revision(Vcs::Hg, sha));
        assert!(!is_revision(Vcs::Git, "--output=/tmp/x"));
        assert!(!is_revision(Vcs::Git, "HEAD:../x"));
        assert!(is_revision(Vcs::Bzr, "42") && !is_revision(Vcs::Bzr, "-1"));
    }

    #[test]
    fn bounds_cut_at_characters() {
        assert_eq!(bounded("ééé", 3), "é");
        let many = (0..1000).map(|i| format!("file-{i}")).collect::<Vec<_>>();
        let t = files_text(many.iter().map(String::as_str)).unwrap();
        assert_eq!(t.lines().count(), MAX_FILES);
    }
}
