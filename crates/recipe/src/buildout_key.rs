//! Skipping the buildout run when nothing it reads changed (issue 16). Three worker steps
//! around `buildout`, shell scripts a stock buildbot-worker runs:
//! - `buildout_key`: writes what the run reads to `<builder>/.oebb-buildout-inputs` — the
//!   buildout's files (a standalone file and its `extends`, or the checkout's `*.cfg` and
//!   `setup.py` files its VCS tracks), the command line oebb runs (the overrides, with the
//!   worker's paths and database), the Python and zc.buildout of `bin/buildout`, and the
//!   revisions the live sources' branches point to now (`git ls-remote`, `hg identify`,
//!   `brz revno`; a pinned source is in the files as written) — and prints the sha256 of that
//!   and of the state the last run left (`.installed.cfg`, the `bin/` scripts, and whether each
//!   git checkout buildout made is at its branch's head): the property `buildout_key`.
//! - `buildout_unchanged`: prints the build whose successful run left the stamp
//!   `<builder>/.oebb-buildout-stamp` when its key is this one (the property
//!   `buildout_unchanged_since`); otherwise prints nothing and removes the stamp, so a run
//!   that then fails never leaves one behind. `buildout-rerun=true` forces the run.
//! - `buildout_stamp`, after a successful run: the key of the inputs read before it and of the
//!   state it left, with the build's number.
//!
//! A source that cannot be resolved (network down) gets a line no other key has, so the run
//! happens. `buildout.skip-unchanged = false` leaves these steps out: buildout always runs.

use crate::buildout_run::buildout_argv;
use crate::context::Context;
use crate::shell::{line, quote, BUILDDIR};
use crate::step::{Step, StepCommand};
use oebb_config::buildout::Vcs;
use oebb_config::BuildoutSource;
use std::time::Duration;

/// The property holding the build whose run the buildout step's skip reuses.
pub const UNCHANGED_SINCE: &str = "buildout_unchanged_since";
/// The property saying whether the buildout run was skipped.
pub const SKIPPED: &str = "buildout_skipped";
/// Resolving the live sources' branches over the network may hang; the key is not worth more.
const KEY_TIMEOUT: Duration = Duration::from_secs(600);

/// Whether the buildout run may be skipped (`buildout.skip-unchanged`, default true).
pub fn enabled(cx: &Context) -> bool {
    cx.option("buildout.skip-unchanged")
        .is_none_or(|v| !v.eq_ignore_ascii_case("false"))
}

/// `buildout_key` and `buildout_unchanged`, before the run.
pub fn before(cx: &Context, overrides: &[String]) -> Vec<Step> {
    if !enabled(cx) {
        return Vec::new();
    }
    let StepCommand::Argv(argv) = buildout_argv(cx, overrides) else {
        unreachable!("buildout_argv is a command line")
    };
    let script = format!(
        "set -e\n{COMMON}rm -f \"$INPUTS\"\n{{\n{}{}{}}} > \"$INPUTS.new\"\n\
         mv -f \"$INPUTS.new\" \"$INPUTS\"\n{SHOW_AND_PRINT}",
        files(cx),
        INTERPRETER,
        live(cx)
    );
    let key = Step::script("buildout_key", &script)
        .env("BUILDER_DIR", BUILDDIR)
        .env("BUILDOUT_ARGS", &line(&argv))
        .property_from_stdout("buildout_key")
        .flunk_on_failure(false)
        .warn_on_failure(true)
        .timeout(KEY_TIMEOUT)
        .description("the key of everything the buildout run reads");
    let unchanged = Step::script("buildout_unchanged", UNCHANGED)
        .env("BUILDER_DIR", BUILDDIR)
        .env("BUILDOUT_KEY", "%(prop:buildout_key)s")
        .env("BUILDOUT_RERUN", "%(prop:buildout-rerun)s")
        .property_from_stdout(UNCHANGED_SINCE)
        .flunk_on_failure(false)
        .warn_on_failure(true)
        .description("the build whose buildout run had this key");
    vec![key, unchanged]
}

/// Why the run is skipped, for its log.
pub fn skip_reason() -> String {
    format!(
        "skipped: nothing buildout reads changed since the successful run of build \
         %(prop:{UNCHANGED_SINCE})s (key %(prop:buildout_key)s); set the property \
         buildout-rerun=true to run it"
    )
}

/// `buildout_stamp`, after a successful run.
pub fn after(cx: &Context) -> Vec<Step> {
    if !enabled(cx) {
        return Vec::new();
    }
    let script = format!(
        "set -e\n{COMMON}[ -f \"$INPUTS\" ] || {{ echo 'no inputs of the key: no stamp' >&2; exit 1; }}\n\
         key=$({{ cat \"$INPUTS\"; state; }} | sha256sum | cut -d ' ' -f 1)\n\
         echo \"$key $BUILD\" > \"$STAMP.new\"\nmv -f \"$STAMP.new\" \"$STAMP\"\n\
         echo \"stamp: key $key of build $BUILD\"\n"
    );
    vec![Step::script("buildout_stamp", &script)
        .env("BUILDER_DIR", BUILDDIR)
        .env("BUILD", "%(prop:buildnumber)s")
        .flunk_on_failure(false)
        .warn_on_failure(true)
        .skip_if(UNCHANGED_SINCE, "skipped: the stamp stays", None)
        .description("the key of this successful buildout run, for the next build")]
}

/// File names and the `state` function shared by the key and the stamp.
const COMMON: &str = "INPUTS=\"$BUILDER_DIR/.oebb-buildout-inputs\"\nSTAMP=\"$BUILDER_DIR/.oebb-buildout-stamp\"\n\
state() {\n\
\x20 echo '# what the last run left'\n\
\x20 if [ -f .installed.cfg ]; then sha256sum .installed.cfg; else echo 'no .installed.cfg'; fi\n\
\x20 echo \"bin: $(ls -A bin 2>/dev/null | tr '\\n' ' ')\"\n\
\x20 if [ -f bin/buildout ]; then sha256sum bin/buildout; fi\n\
\x20 find . -mindepth 2 -maxdepth 4 -name .git -prune -print 2>/dev/null | sort | while read -r meta; do\n\
\x20   dir=${meta%/.git}\n\
\x20   head=$(git -C \"$dir\" rev-parse HEAD 2>/dev/null) || head=none\n\
\x20   branch=$(git -C \"$dir\" symbolic-ref -q --short HEAD 2>/dev/null) || branch=\n\
\x20   if [ -z \"$branch\" ]; then echo \"$dir git $head (detached)\"; continue; fi\n\
\x20   url=$(git -C \"$dir\" config \"branch.$branch.remote\" 2>/dev/null) || url=origin\n\
\x20   tip=$(git -C \"$dir\" ls-remote \"$url\" \"refs/heads/$branch\" 2>/dev/null | cut -f 1)\n\
\x20   if [ -n \"$tip\" ] && [ \"$tip\" = \"$head\" ]; then echo \"$dir git $head at the head of $branch\";\n\
\x20   else echo \"$dir git $head, $branch of $url at ${tip:-?}: not at its head ($(date +%s.%N))\"; fi\n\
\x20 done\n\
}\n";

/// The part of the inputs naming the Python and zc.buildout of `bin/buildout`.
const INTERPRETER: &str = "echo '# bin/buildout'\n\
if [ -f bin/buildout ]; then\n\
\x20 py=$(head -n 1 bin/buildout | sed 's/^#! *//; s/ .*//')\n\
\x20 if [ -x \"$py\" ]; then echo \"$py: $(\"$py\" -V 2>&1)\"; else echo \"no interpreter $py\"; fi\n\
\x20 grep -o 'zc\\.buildout-[0-9][^/\"'\"'\"']*' bin/buildout | sort -u || true\n\
else echo 'no bin/buildout'; fi\n\
echo '# command line'\nprintf '%s\\n' \"$BUILDOUT_ARGS\"\n";

/// Shows the inputs and the state in the step's log, prints the key.
const SHOW_AND_PRINT: &str = "{ cat \"$INPUTS\"; state; } > \"$INPUTS.keyed\"\n\
sed 's/^/  /' \"$INPUTS.keyed\" >&2\n\
sha256sum < \"$INPUTS.keyed\" | cut -d ' ' -f 1\nrm -f \"$INPUTS.keyed\"\n";

const UNCHANGED: &str = "STAMP=\"$BUILDER_DIR/.oebb-buildout-stamp\"\n\
key=; build=\n\
if [ -f \"$STAMP\" ]; then read -r key build < \"$STAMP\" || true; fi\n\
if [ \"$BUILDOUT_RERUN\" = true ]; then\n\
\x20 echo 'buildout-rerun=true: buildout runs' >&2\n\
elif [ -n \"$BUILDOUT_KEY\" ] && [ \"$key\" = \"$BUILDOUT_KEY\" ]; then\n\
\x20 echo \"key $key: unchanged since build $build\" >&2\n\
\x20 echo \"$build\"\n\
\x20 exit 0\n\
else\n\
\x20 echo \"key ${BUILDOUT_KEY:-unknown}; the last successful run's: ${key:-none}: buildout runs\" >&2\n\
fi\n\
rm -f \"$STAMP\"\n";

/// The part of the inputs listing the buildout's files with their sha256.
fn files(cx: &Context) -> String {
    let head = "echo '# the buildout files'\n";
    let body = match cx.source {
        BuildoutSource::Standalone { .. } => {
            let mut names = vec![quote(&cx.config)];
            names.extend(cx.extends.iter().map(|e| quote(e)));
            format!("sha256sum {}\n", names.join(" "))
        }
        BuildoutSource::Git { subdir, .. } => git_files(subdir.as_deref()),
        BuildoutSource::GitTag { .. } => git_files(None),
        BuildoutSource::Hg { .. } | BuildoutSource::HgTag { .. } => {
            "hg files -0 -I 'glob:**.cfg' -I 'glob:**/setup.py' -I 'glob:setup.py' | xargs -0 -r sha256sum\n"
                .to_string()
        }
        BuildoutSource::Bzr { subdir, .. } => {
            let root = checkout_root(subdir.as_deref(), "bzr_buildout_branch");
            format!(
                "(cd {root} && $(command -v brz || command -v bzr) ls -R --versioned --kind=file | \
                 grep -E '(\\.cfg|(^|/)setup\\.py)$' | while read -r f; do sha256sum \"$f\"; done)\n"
            )
        }
        BuildoutSource::Archive { .. } => {
            "find . -maxdepth 1 -name '*.cfg' ! -name .installed.cfg ! -name .mr.developer.cfg \
             -print | sort | xargs -r sha256sum\n"
                .to_string()
        }
    };
    format!("{head}{body}")
}

/// The `*.cfg` and `setup.py` files of a git checkout with their sha256.
fn git_files(subdir: Option<&str>) -> String {
    let root = checkout_root(subdir, "git_buildout_repo");
    format!(
        "(cd {root} && git ls-files -z -- '*.cfg' 'setup.py' '*/setup.py' | xargs -0 -r sha256sum)\n"
    )
}

/// The checkout's root as seen from `build`: itself, or the repository holding `subdir`.
fn checkout_root(subdir: Option<&str>, repo: &str) -> String {
    match subdir {
        Some(_) => format!("\"$BUILDER_DIR/{repo}\""),
        None => ".".to_string(),
    }
}

/// The part of the inputs with the live sources' current revisions.
fn live(cx: &Context) -> String {
    let mut out = String::from(
        "echo '# the live sources'\n\
         resolved() { if out=$(\"$@\" 2>/dev/null) && [ -n \"$out\" ]; then echo \"$*: $out\";\n\
         \x20 else echo \"$*: unresolved ($(date +%s.%N))\"; fi; }\n",
    );
    for watch in cx.live_sources {
        let url = quote(&watch.url);
        let branch = quote(watch.branch.as_deref().unwrap_or("default"));
        out.push_str(&match watch.vcs {
            Vcs::Git => format!("resolved git ls-remote {url} {branch}\n"),
            Vcs::Hg => format!("resolved hg identify --id -r {branch} {url}\n"),
            Vcs::Bzr => format!("resolved \"$(command -v brz || command -v bzr)\" revno {url}\n"),
        });
    }
    out
}

#[cfg(test)]
mod tests;
