#!/usr/bin/env bash
# Writes a master directory whose one builder builds the stand-in Odoo of the tests
# (crates/master/tests/fixtures/fake_odoo, installed by a real zc.buildout from PyPI) against
# the throwaway PostgreSQL cluster of scripts/install-postgresql, on the worker `local` that
# `oebb master DIR --local-worker` runs. A whole build on this machine, without Odoo:
#
#   bench/build/stand-in-master.sh /tmp/standin [MODULE]   # MODULE: passing (default),
#       failing_test, install_error, import_error, bad_exit, sleep_<seconds>
#   oebb master /tmp/standin --local-worker &
#   oebb force /tmp/standin standin-pg15 --wait
#
# Prints the builder's name. Needs python3 with venv, and PyPI reachable for the first build.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 DIR [MODULE]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$1"
dir=$(cd "$1" && pwd)
module=${2:-passing}

# The tests' cluster when they give it, else the one scripts/install-postgresql starts.
url=${OEBB_TEST_PG_URL:-$("$root/scripts/install-postgresql")}
rest=${url#*://}; user=${rest%%@*}; rest=${rest#*@}; address=${rest%%/*}
host=${address%%:*}; port=${address##*:}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -p "$dir/buildouts" "$dir/fake_odoo"
cat > "$dir/oebb.cfg" <<CFG
[master]
worker-address = 127.0.0.1:$(free_port)
web-address = 127.0.0.1:$(free_port)
CFG
cat > "$dir/slaves.cfg" <<CFG
[local]
password = stand-in
capability = postgresql 15 port=$port host=$host user=$user
CFG
fixture="$root/crates/master/tests/fixtures/fake_odoo"
cp "$fixture/setup.py" "$fixture/fake_odoo.py" "$dir/fake_odoo/"
sed "s|@FAKE_ODOO@|$dir/fake_odoo|" "$fixture/buildout.cfg" > "$dir/buildouts/buildout.cfg"
cat > "$dir/buildouts/MANIFEST.cfg" <<CFG
[standin]
buildout = standalone buildout.cfg
build-for = postgresql == 15
openerp-addons = $module
odoo.version = 16.0
CFG
echo standin-pg15
