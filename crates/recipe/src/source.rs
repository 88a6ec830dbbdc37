//! Getting the buildout onto the worker (seed-system §1.2): a standalone file sent by the
//! master, a VCS checkout, or a release archive. A checkout that exists is updated so that no
//! local change is left behind: tracked files reverted, untracked files removed, except the
//! state buildout keeps between builds (`bin`, `parts`, …), which keeps builds incremental.

use crate::context::{Context, RecipeError};
use crate::shell::quote;
use crate::step::{Step, StepCommand};
use oebb_config::BuildoutSource;
use std::path::{Path, PathBuf};

/// The revision the checkout got, as the build property `got_revision` (Buildbot's name),
/// from the VCS itself: a git or hg node, a bzr revno. Nothing for standalone files and
/// archives; a failure only warns.
pub fn got_revision(cx: &Context) -> Option<Step> {
    let script = match cx.source {
        BuildoutSource::Git {
            subdir: Some(_), ..
        } => "git -C git_buildout_repo rev-parse HEAD",
        BuildoutSource::Git { .. } | BuildoutSource::GitTag { .. } => "git -C build rev-parse HEAD",
        BuildoutSource::Hg { .. } | BuildoutSource::HgTag { .. } => {
            "hg -R build log -r . --template '{node}'"
        }
        BuildoutSource::Bzr { subdir, .. } => {
            if subdir.is_some() {
                "$(command -v brz || command -v bzr) revno bzr_buildout_branch"
            } else {
                "$(command -v brz || command -v bzr) revno build"
            }
        }
        _ => return None,
    };
    Some(
        Step::script("got_revision", script)
            .workdir(".")
            .property_from_stdout("got_revision")
            .flunk_on_failure(false)
            .warn_on_failure(true)
            .description("the revision checked out"),
    )
}

/// The revisions of the VCS checkouts buildout made under the buildout (the Odoo part's
/// `version`, `addons` and `merges` sources, at most 4 levels down), as the build property
/// `got_revisions`: one `DIR VCS REVISION` line each. A failure only warns.
pub fn got_revisions() -> Step {
    Step::script("got_revisions", GOT_REVISIONS)
        .workdir("build")
        .property_from_stdout("got_revisions")
        .flunk_on_failure(false)
        .warn_on_failure(true)
        .description("the revisions of the sources buildout checked out")
}

const GOT_REVISIONS: &str = "find . -mindepth 2 -maxdepth 4 \\( -name .git -o -name .hg -o -name .bzr \\) -prune -print 2>/dev/null | sort | while read -r meta; do\n\
  dir=${meta%/*}; dir=${dir#./}\n\
  case \"$meta\" in\n\
    */.git) rev=$(git -C \"$dir\" rev-parse HEAD 2>/dev/null) && echo \"$dir git $rev\";;\n\
    */.hg) rev=$(hg -R \"$dir\" log -r . --template '{node}' 2>/dev/null) && echo \"$dir hg $rev\";;\n\
    */.bzr) rev=$($(command -v brz || command -v bzr) revno \"$dir\" 2>/dev/null) && echo \"$dir bzr $rev\";;\n\
  esac\n\
done\n";

/// What buildout keeps between runs in its directory; a checkout update leaves it in place.
pub const BUILDOUT_STATE: &[&str] = &[
    "bin",
    "parts",
    "develop-eggs",
    "eggs",
    ".installed.cfg",
    ".mr.developer.cfg",
];

/// The steps that put the buildout in `build`.
pub fn steps(cx: &Context) -> Result<Vec<Step>, RecipeError> {
    let step = |script: String| {
        Step::script("checkout", &script)
            .workdir(".")
            .halt_on_failure(true)
    };
    Ok(match cx.source {
        BuildoutSource::Standalone { path } => standalone(cx, path)?,
        BuildoutSource::Git {
            url,
            branch,
            subdir,
            ..
        } => vec![step(git(cx, url, Some(branch), subdir.as_deref()))
            .description(&format!("git {url} {branch}"))],
        BuildoutSource::GitTag { url, .. } => {
            vec![step(git(cx, url, None, None))
                .env("BUILDOUT_TAG", "%(prop:buildout-tag)s")
                .description(&format!("git {url} at tag %(prop:buildout-tag)s"))]
        }
        BuildoutSource::Hg { url, branch, .. } => {
            vec![step(hg(url, Some(branch))).description(&format!("hg {url} {branch}"))]
        }
        BuildoutSource::HgTag { url, .. } => vec![step(hg(url, None))
            .env("BUILDOUT_TAG", "%(prop:buildout-tag)s")
            .description(&format!("hg {url} at tag %(prop:buildout-tag)s"))],
        BuildoutSource::Bzr { url, subdir, .. } => {
            vec![step(bzr(url, subdir.as_deref())).description(&format!("bzr {url}"))]
        }
        BuildoutSource::Archive {
            subdir_property,
            archive_property,
            ..
        } => archive(cx, subdir_property, archive_property)?,
    })
}

/// The file, and the files it extends, from the manifest's directory into `build`.
fn standalone(cx: &Context, path: &str) -> Result<Vec<Step>, RecipeError> {
    let Some(file) = crate::for_config::standalone_file(cx.buildout) else {
        return Err(cx.bad(
            "buildout",
            &format!("standalone {path}"),
            "a file relative to the manifest's directory that stays in it",
        ));
    };
    let dir = file.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    let mut steps = vec![Step::new(
        "download",
        StepCommand::Download {
            source: file,
            dest: cx.config.clone(),
            mode: None,
        },
    )
    .halt_on_failure(true)];
    for extended in cx.extends {
        steps.push(
            Step::new(
                &format!("download {extended}"),
                StepCommand::Download {
                    source: dir.join(extended),
                    dest: extended.clone(),
                    mode: None,
                },
            )
            .halt_on_failure(true),
        );
    }
    Ok(steps)
}

/// `git clean` excludes keeping buildout's state in the buildout directory `prefix`.
fn git_keep(prefix: &str) -> String {
    BUILDOUT_STATE
        .iter()
        .map(|p| format!(" -e /{prefix}{p}"))
        .collect()
}

/// Replaces `build` by a symlink to `target` (a real `build` directory is removed first); runs
/// in the builder directory.
fn link_build(target: &str) -> String {
    format!(
        "if [ -d build ] && [ ! -L build ]; then rm -rf build; fi\nln -sfn {} build\n",
        quote(target)
    )
}

/// A git checkout of `branch`, or of the tag in `$BUILDOUT_TAG` when `branch` is None.
fn git(cx: &Context, url: &str, branch: Option<&str>, subdir: Option<&str>) -> String {
    let repo = if subdir.is_some() {
        "git_buildout_repo"
    } else {
        "build"
    };
    let depth = if cx.buildout.git_shallow {
        " --depth 1"
    } else {
        ""
    };
    let mut s = format!(
        "set -e\nif [ ! -d {repo}/.git ]; then rm -rf {repo}; git init -q {repo}; fi\ncd {repo}\n"
    );
    match branch {
        Some(b) => s.push_str(&format!(
            "git fetch -q --force{depth} {} {}\ngit checkout -q -f -B {} FETCH_HEAD\n",
            quote(url),
            quote(b),
            quote(b)
        )),
        None => s.push_str(&format!(
            "{}git fetch -q --force{depth} {} \"refs/tags/$BUILDOUT_TAG:refs/tags/$BUILDOUT_TAG\"\n\
             git checkout -q -f --detach \"refs/tags/$BUILDOUT_TAG\"\n",
            NEED_TAG,
            quote(url)
        )),
    }
    let prefix = subdir.map_or_else(String::new, |d| format!("{}/", d.trim_matches('/')));
    s.push_str(&format!("git clean -q -ffdx{}\n", git_keep(&prefix)));
    if let Some(d) = subdir {
        s.push_str("cd ..\n");
        s.push_str(&link_build(&format!(
            "git_buildout_repo/{}",
            d.trim_matches('/')
        )));
    }
    s
}

/// Refuses a tag build forced without the `buildout-tag` property.
const NEED_TAG: &str = "if [ -z \"$BUILDOUT_TAG\" ]; then echo 'set the build property \
                        buildout-tag to the tag to build' >&2; exit 2; fi\n";

/// An hg checkout of `branch`, or of the tag in `$BUILDOUT_TAG` (checked to be a real tag, not
/// `tip`) when `branch` is None.
fn hg(url: &str, branch: Option<&str>) -> String {
    let mut s = String::from("set -e\n");
    if branch.is_none() {
        s.push_str(NEED_TAG);
    }
    s.push_str("if [ ! -d build/.hg ]; then rm -rf build; hg init build; fi\ncd build\n");
    match branch {
        Some(b) => s.push_str(&format!(
            "hg pull -q -b {} {}\nhg update -q -C {}\n",
            quote(b),
            quote(url),
            quote(b)
        )),
        None => s.push_str(&format!(
            "hg pull -q {}\n\
             tags=$(hg log -r \"$BUILDOUT_TAG\" --template '{{tags}}')\n\
             case \" $tags \" in *\" $BUILDOUT_TAG \"*) ;; *) echo \"$BUILDOUT_TAG is not a tag\" >&2; exit 2;; esac\n\
             if [ \"$BUILDOUT_TAG\" = tip ]; then echo 'tip is not a release tag' >&2; exit 2; fi\n\
             hg update -q -C \"$BUILDOUT_TAG\"\n",
            quote(url)
        )),
    }
    let keep: String = BUILDOUT_STATE
        .iter()
        .map(|p| format!(" -X path:{p}"))
        .collect();
    s.push_str(&format!(
        "hg purge --config extensions.purge= --all{keep}\n"
    ));
    s
}

/// A Breezy (`brz`) or Bazaar (`bzr`) branch; `clean-tree` removes unknown files, so
/// buildout's state survives updates only when the branch ignores it (`.bzrignore`).
fn bzr(url: &str, subdir: Option<&str>) -> String {
    let target = if subdir.is_some() {
        "bzr_buildout_branch"
    } else {
        "build"
    };
    let mut s = format!(
        "set -e\nBZR=$(command -v brz || command -v bzr) || {{ echo 'neither brz (Breezy) nor bzr is on PATH; install Breezy' >&2; exit 2; }}\n\
         if [ ! -d {target}/.bzr ]; then\n  rm -rf {target}\n  \"$BZR\" branch -q {} {target}\nelse\n  cd {target}\n  \"$BZR\" revert -q --no-backup\n  \"$BZR\" pull -q --overwrite {}\n  \"$BZR\" clean-tree -q --force --unknown --detritus\n  cd ..\nfi\n",
        quote(url),
        quote(url)
    );
    if let Some(d) = subdir {
        s.push_str(&link_build(&format!(
            "bzr_buildout_branch/{}",
            d.trim_matches('/')
        )));
    }
    s
}

/// A release archive from `<packaging.root-dir>/<subdir>/<archive>.tar.bz2`, checked against
/// its `.md5`, unpacked as `build`.
fn archive(cx: &Context, subdir_prop: &str, archive_prop: &str) -> Result<Vec<Step>, RecipeError> {
    let root = crate::post_buildout::packaging::root_dir(cx)?;
    // The properties are names: the master refuses a value that is not one file name, so the
    // archive is always `<root>/<one directory>/<one file>`.
    let name = format!("%(prop:{archive_prop})s");
    let master = root.join(format!("%(prop:{subdir_prop})s"));
    let download = |step: &str, ext: &str| {
        Step::new(
            step,
            StepCommand::Download {
                source: master.join(format!("{name}{ext}")),
                dest: format!("{name}{ext}"),
                mode: None,
            },
        )
        .workdir(".")
        .halt_on_failure(true)
    };
    let script = |step: &str, text: &str| {
        Step::script(step, text)
            .workdir(".")
            .env("ARCHIVE", &name)
            .halt_on_failure(true)
    };
    Ok(vec![
        script(
            "clean_arch",
            "find . -maxdepth 1 -name '*.tar.bz2*' -delete",
        ),
        download("download_archive", ".tar.bz2"),
        download("download_md5", ".tar.bz2.md5"),
        script("checksum", "md5sum -c \"$ARCHIVE.tar.bz2.md5\""),
        script("untar", "tar xjf \"$ARCHIVE.tar.bz2\""),
        script("install_release", "rm -rf build && mv \"$ARCHIVE\" build"),
    ])
}

#[cfg(test)]
mod tests;
