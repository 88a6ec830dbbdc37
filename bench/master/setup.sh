#!/usr/bin/env bash
# Installs the comparison side of bench/master: Buildbot 4.3.0 (master) and buildbot-worker 4.3.0
# (with buildbot-www, which its REST API needs) from PyPI into their own virtualenv. Never a dependency of oebb itself. Idempotent: does nothing
# when the pinned versions are already there.
# Prefix: $OEBB_BENCH_VENV (default /opt/oebb-bench/venv).
set -euo pipefail

BUILDBOT_VERSION=4.3.0
# twisted/autobahn/msgpack pinned like scripts/install-buildbot-worker (the versions the protocol
# reference was checked with); sqlalchemy and the rest come as buildbot's own dependencies.
PINS=("buildbot==${BUILDBOT_VERSION}" "buildbot-worker==${BUILDBOT_VERSION}" "buildbot-www==${BUILDBOT_VERSION}"
      "twisted==26.10.0" "autobahn==26.10.2" "msgpack==1.2.4")

venv="${OEBB_BENCH_VENV:-/opt/oebb-bench/venv}"

if ! command -v python3 >/dev/null; then
  echo "setup.sh: python3 is missing; install it (apt-get install python3 python3-venv)" >&2
  exit 1
fi

if [ -x "$venv/bin/buildbot" ] && [ -x "$venv/bin/buildbot-worker" ] \
  && "$venv/bin/python" -m pip freeze 2>/dev/null | grep -qix "buildbot==${BUILDBOT_VERSION}" \
  && "$venv/bin/python" -m pip freeze 2>/dev/null | grep -qix "buildbot-worker==${BUILDBOT_VERSION}" \
  && "$venv/bin/python" -m pip freeze 2>/dev/null | grep -qix "buildbot-www==${BUILDBOT_VERSION}"; then
  exit 0
fi

mkdir -p "$(dirname "$venv")"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" || {
    echo "setup.sh: 'python3 -m venv' failed; install python3-venv" >&2
    exit 1
  }
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
"$venv/bin/buildbot" --version
"$venv/bin/buildbot-worker" --version
