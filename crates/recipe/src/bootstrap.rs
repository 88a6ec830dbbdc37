//! Bootstrapping buildout (DESIGN.md standard build, step 2), under the per-worker exclusive
//! `buildout` lock, with the Python of the worker's `python` capability (`bin=`, default
//! `python3`).
//!
//! Two ways, by zc.buildout series:
//! - zc.buildout 3 and later on Python 3: a plain `python -m venv` with zc.buildout installed
//!   by pip, then `buildout bootstrap`.
//! - zc.buildout 1–2, or Python 2.7: zc.buildout 2 restarts itself forever when the base
//!   interpreter carries a setuptools other than the one it wants, so the virtualenv has no
//!   setuptools at all (Python 2.7: made by `virtualenv<20.22`, the last series that still
//!   creates 2.7 environments, kept in `<basedir>/caches/virtualenv-tool`; Python 3: `venv`,
//!   then setuptools uninstalled). zc.buildout and a setuptools it accepts are installed into
//!   two directories of the virtualenv, put on `PYTHONPATH` only for the bootstrap.
//!
//! The virtualenv is shared by the builders of a worker that ask for the same Python and
//! versions: `<basedir>/caches/buildout-venvs/<checksum of them>` (made under the exclusive
//! lock, so never by two builds at once). A worker running many builders makes it once, not
//! once per builder. The bootstrap copies zc.buildout to its `bootstrap-eggs`, not the shared
//! egg cache, so builders bootstrapping different versions never share those copies. A
//! virtualenv without its stamp file (a failed install) is made again.
//! With `virtualenv = false`, the buildout's own `bootstrap.py` is run instead.
//!
//! A `python` capability with `venv=DIR` (anybox's: the buildout ran on `DIR/bin/python`, an
//! existing virtualenv, when `virtualenv = true`) is honoured the way anybox's bootstrapper
//! did: the buildout runs on `DIR/bin/python` as it is, with whatever the worker's admin
//! installed in it; oebb makes no virtualenv and installs nothing into it: zc.buildout (and for
//! zc.buildout 2 its setuptools) go to `<basedir>/caches/buildout-dists/<checksum>` by the
//! virtualenv's own pip and are on `PYTHONPATH` for the bootstrap only. With `virtualenv =
//! false` the buildout's `bootstrap.py` runs on `bin=`, as anybox did.

use crate::context::Context;
use crate::shell::{cache, quote};
use crate::step::{LockAccess, Step};
use crate::BUILDOUT_LOCK;
use std::time::Duration;

/// How long a bootstrap may take (it may download zc.buildout, setuptools, virtualenv).
pub const BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(3600);

/// The interpreter of the worker's `python` capability: its `bin=`, else `pythonX.Y` for its
/// version, else `python3`.
pub fn python_bin(cx: &Context) -> String {
    if let Some(bin) = cx
        .python
        .and_then(|c| c.options.get("bin"))
        .filter(|b| !b.is_empty())
    {
        return bin.clone();
    }
    match cx
        .python
        .and_then(|c| c.version.as_ref())
        .map(|v| v.numbers())
    {
        Some([major, minor, ..]) => format!("python{major}.{minor}"),
        Some([major]) => format!("python{major}"),
        _ => "python3".to_string(),
    }
}

/// The `venv=` of the worker's `python` capability, if any.
pub fn python_venv<'a>(cx: &Context<'a>) -> Option<&'a str> {
    cx.python
        .and_then(|c| c.options.get("venv"))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// Whether the build's Python is 2.x: from the capability version, else the interpreter name.
pub fn python2(cx: &Context) -> bool {
    match cx.python.and_then(|c| c.version.as_ref()) {
        Some(v) => v.numbers().first() == Some(&2),
        None => {
            let bin = python_bin(cx);
            let name = bin.rsplit('/').next().unwrap_or(&bin);
            name.starts_with("python2") || name == "python"
        }
    }
}

/// Major version of `bootstrap-version`, if given.
fn buildout_major(cx: &Context) -> Option<u32> {
    cx.buildout
        .bootstrap_version
        .as_deref()
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
}

/// The zc.buildout requirement: `zc.buildout==V`, or the latest for the Python.
fn zc_buildout(cx: &Context, py2: bool) -> String {
    match &cx.buildout.bootstrap_version {
        Some(v) => format!("zc.buildout=={v}"),
        None if py2 => "zc.buildout<3".to_string(),
        None => "zc.buildout".to_string(),
    }
}

/// A setuptools that zc.buildout 2 works with: `bootstrap-setuptools` when given, else the
/// last series for Python 2.7 (44), or on Python 3 the last that zc.buildout 2 accepts
/// (it refuses setuptools 52 and later).
fn setuptools(cx: &Context, py2: bool) -> String {
    match cx.option("bootstrap-setuptools") {
        Some(v) if v.starts_with(|c: char| c.is_ascii_digit()) => format!("setuptools=={v}"),
        Some(v) => v.to_string(),
        None if py2 => "setuptools<45".to_string(),
        None => "setuptools<52".to_string(),
    }
}

/// The `bootstrap` step.
pub fn steps(cx: &Context) -> Vec<Step> {
    let python = python_bin(cx);
    let py2 = python2(cx);
    let config = quote(&cx.config);
    let legacy = py2 || buildout_major(cx).is_some_and(|m| m <= 2);
    let venv = python_venv(cx).filter(|_| cx.buildout.virtualenv);
    let (script, description) = if venv.is_some() {
        (
            venv_script(&config),
            "zc.buildout on the python capability's virtualenv (venv=), left as it is",
        )
    } else if !cx.buildout.virtualenv {
        let version = cx
            .buildout
            .bootstrap_version
            .as_deref()
            .map_or_else(String::new, |v| format!(" --version={}", quote(v)));
        (
            format!("\"$PYTHON\" bootstrap.py -c {config}{version}\n"),
            "the buildout's bootstrap.py",
        )
    } else if legacy {
        (
            legacy_script(&config),
            "zc.buildout 2 in a virtualenv without setuptools",
        )
    } else {
        (modern_script(&config), "zc.buildout in a virtualenv")
    };
    let mut step = Step::script("bootstrap", &script)
        .envs(&cx.env)
        .env("PYTHON", &python)
        .env("BUILDOUT_VENVS", &cache("buildout-venvs"))
        .env("ZC_BUILDOUT", &zc_buildout(cx, py2))
        .lock(LockAccess::exclusive(BUILDOUT_LOCK))
        .halt_on_failure(true)
        .timeout(BOOTSTRAP_TIMEOUT)
        .description(description);
    if let Some(venv) = venv {
        step = step
            .env("PYTHON_VENV", venv)
            .env("BUILDOUT_DISTS", &cache("buildout-dists"));
        if legacy {
            step = step.env("SETUPTOOLS", &setuptools(cx, py2));
        }
    } else if cx.buildout.virtualenv && legacy {
        step = step
            .env("SETUPTOOLS", &setuptools(cx, py2))
            .env("VIRTUALENV_TOOL", &cache("virtualenv-tool"));
    }
    vec![step]
}

/// The shared virtualenv of the wanted Python and versions.
const VENV_OF_WANT: &str =
    "BUILDOUT_VENV=\"$BUILDOUT_VENVS/$(printf '%s' \"$want\" | cksum | cut -d ' ' -f 1)\"\n";

fn modern_script(config: &str) -> String {
    format!(
        "set -e\n\
         want=\"$PYTHON $ZC_BUILDOUT\"\n\
         {VENV_OF_WANT}\
         if [ \"$(cat \"$BUILDOUT_VENV/.oebb-bootstrap\" 2>/dev/null)\" != \"$want\" ]; then\n\
         \x20 rm -rf \"$BUILDOUT_VENV\"\n\
         \x20 \"$PYTHON\" -m venv \"$BUILDOUT_VENV\"\n\
         \x20 \"$BUILDOUT_VENV/bin/pip\" install -q \"$ZC_BUILDOUT\"\n\
         \x20 echo \"$want\" > \"$BUILDOUT_VENV/.oebb-bootstrap\"\n\
         fi\n\
         \"$BUILDOUT_VENV/bin/buildout\" -c {config} \"buildout:eggs-directory=$BUILDOUT_VENV/bootstrap-eggs\" bootstrap\n"
    )
}

fn legacy_script(config: &str) -> String {
    format!(
        "set -e\n\
         want=\"$PYTHON $ZC_BUILDOUT $SETUPTOOLS\"\n\
         {VENV_OF_WANT}\
         if [ \"$(cat \"$BUILDOUT_VENV/.oebb-bootstrap\" 2>/dev/null)\" != \"$want\" ]; then\n\
         \x20 rm -rf \"$BUILDOUT_VENV\"\n\
         \x20 if \"$PYTHON\" -c 'import sys; sys.exit(sys.version_info[0] != 2)'; then\n\
         \x20   if [ ! -x \"$VIRTUALENV_TOOL/bin/virtualenv\" ]; then\n\
         \x20     python3 -m venv \"$VIRTUALENV_TOOL\"\n\
         \x20     \"$VIRTUALENV_TOOL/bin/pip\" install -q 'virtualenv<20.22'\n\
         \x20   fi\n\
         \x20   \"$VIRTUALENV_TOOL/bin/virtualenv\" -q -p \"$PYTHON\" --no-setuptools --no-wheel \"$BUILDOUT_VENV\"\n\
         \x20 else\n\
         \x20   \"$PYTHON\" -m venv \"$BUILDOUT_VENV\"\n\
         \x20   \"$BUILDOUT_VENV/bin/pip\" uninstall -q -y setuptools || true\n\
         \x20 fi\n\
         \x20 \"$BUILDOUT_VENV/bin/pip\" install -q --target \"$BUILDOUT_VENV/dists/setuptools\" \"$SETUPTOOLS\"\n\
         \x20 \"$BUILDOUT_VENV/bin/pip\" install -q --no-deps --target \"$BUILDOUT_VENV/dists/zc.buildout\" \"$ZC_BUILDOUT\"\n\
         \x20 # pip leaves the zc namespace to a .pth file, which PYTHONPATH does not read\n\
         \x20 echo \"__import__('pkg_resources').declare_namespace(__name__)\" > \"$BUILDOUT_VENV/dists/zc.buildout/zc/__init__.py\"\n\
         \x20 echo \"$want\" > \"$BUILDOUT_VENV/.oebb-bootstrap\"\n\
         fi\n\
         PYTHONPATH=\"$BUILDOUT_VENV/dists/zc.buildout:$BUILDOUT_VENV/dists/setuptools\" \"$BUILDOUT_VENV/bin/python\" \
         -c 'import sys; from zc.buildout.buildout import main; main(sys.argv[1:])' \
         -c {config} \"buildout:eggs-directory=$BUILDOUT_VENV/bootstrap-eggs\" bootstrap\n"
    )
}

#[cfg(test)]
mod tests;

/// The bootstrap on an existing virtualenv: its own pip fetches zc.buildout (and, with
/// `SETUPTOOLS` set, that setuptools beside it; else zc.buildout's dependencies, at the
/// virtualenv's own pip and setuptools versions when a zc.buildout version is asked for) into a
/// shared directory, never into the
/// virtualenv; the bootstrap then runs on the virtualenv's interpreter with them on `PYTHONPATH`.
fn venv_script(config: &str) -> String {
    format!(
        "set -e\n\
         case \"$PYTHON_VENV\" in \"~/\"*) PYTHON_VENV=\"$HOME/${{PYTHON_VENV#\"~/\"}}\";; esac\n\
         VENV_PYTHON=\"$PYTHON_VENV/bin/python\"\n\
         if [ ! -x \"$VENV_PYTHON\" ]; then\n\
         \x20 echo \"venv=$PYTHON_VENV of the worker's python capability has no bin/python: make that virtualenv on the worker or fix the line in slaves.cfg\" >&2\n\
         \x20 exit 1\n\
         fi\n\
         want=\"$VENV_PYTHON $ZC_BUILDOUT ${{SETUPTOOLS:-}}\"\n\
         DISTS=\"$BUILDOUT_DISTS/$(printf '%s' \"$want\" | cksum | cut -d ' ' -f 1)\"\n\
         if [ \"$(cat \"$DISTS/.oebb-bootstrap\" 2>/dev/null)\" != \"$want\" ]; then\n\
         \x20 if ! \"$VENV_PYTHON\" -m pip --version >/dev/null 2>&1; then\n\
         \x20   echo \"the virtualenv $PYTHON_VENV has no pip, which fetches zc.buildout: install it there (python -m ensurepip)\" >&2\n\
         \x20   exit 1\n\
         \x20 fi\n\
         \x20 rm -rf \"$DISTS\"\n\
         \x20 if [ -n \"${{SETUPTOOLS:-}}\" ]; then\n\
         \x20   \"$VENV_PYTHON\" -m pip install -q --target \"$DISTS/setuptools\" \"$SETUPTOOLS\"\n\
         \x20   \"$VENV_PYTHON\" -m pip install -q --no-deps --target \"$DISTS/zc.buildout\" \"$ZC_BUILDOUT\"\n\
         \x20 else\n\
         \x20   # the newest setuptools and pip break an older zc.buildout asked for by version:\n\
         \x20   # keep the virtualenv's then (the latest zc.buildout wants the latest of them)\n\
         \x20   pins=\n\
         \x20   case \"$ZC_BUILDOUT\" in *==*)\n\
         \x20     pins=\"pip==$(\"$VENV_PYTHON\" -m pip --version | cut -d ' ' -f 2)\"\n\
         \x20     if v=$(\"$VENV_PYTHON\" -c 'import setuptools; print(setuptools.__version__)' 2>/dev/null); then pins=\"$pins setuptools==$v\"; fi\n\
         \x20   esac\n\
         \x20   \"$VENV_PYTHON\" -m pip install -q --target \"$DISTS/zc.buildout\" \"$ZC_BUILDOUT\" $pins\n\
         \x20 fi\n\
         \x20 # a zc.buildout of setuptools namespaces leaves zc to a -nspkg.pth file, which\n\
         \x20 # PYTHONPATH does not read (zc.buildout 5 and later are native namespaces)\n\
         \x20 if [ ! -f \"$DISTS/zc.buildout/zc/__init__.py\" ] && ls \"$DISTS/zc.buildout\"/*-nspkg.pth >/dev/null 2>&1; then\n\
         \x20   echo \"__import__('pkg_resources').declare_namespace(__name__)\" > \"$DISTS/zc.buildout/zc/__init__.py\"\n\
         \x20 fi\n\
         \x20 echo \"$want\" > \"$DISTS/.oebb-bootstrap\"\n\
         fi\n\
         PYTHONPATH=\"$DISTS/zc.buildout:$DISTS/setuptools\" \"$VENV_PYTHON\" \
         -c 'import sys; from zc.buildout.buildout import main; main(sys.argv[1:])' \
         -c {config} \"buildout:eggs-directory=$DISTS/bootstrap-eggs\" bootstrap\n"
    )
}
