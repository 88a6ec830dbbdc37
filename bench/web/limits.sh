#!/usr/bin/env bash
# Bounded reads benchmark: a release `oebb master` whose state holds QUEUED (100,000) queued
# build requests, ON_ONE (10,000) of them on one builder, as a master without the queue limit
# could hold, and BUILDS finished builds. No worker connects, so they stay queued. Measured from
# other processes with ApacheBench:
#  - size and latency (p50, p95) of the builder page, the builder's JSON, /api/buildrequests
#    and /metrics;
#  - the master's memory (RssAnon, and VmHWM: its peak resident size) after CONCURRENCY
#    anonymous clients read /api/buildrequests REQUESTS times.
# Usage: bench/web/limits.sh   (environment: QUEUED, ON_ONE, BUILDS, REQUESTS, CONCURRENCY,
#   OEBB_BIN=path to measure another build, e.g. one of an older commit, KEEP=1 keeps the
#   master directory)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=bench/web
QUEUED=${QUEUED:-100000}
ON_ONE=${ON_ONE:-10000}
BUILDS=${BUILDS:-1000}
REQUESTS=${REQUESTS:-200}
CONCURRENCY=${CONCURRENCY:-10}

command -v ab >/dev/null || {
  echo "limits.sh: needs ab; install it with: sudo apt-get install apache2-utils" >&2
  exit 1
}
if [ -n "${OEBB_BIN:-}" ]; then
  oebb=$OEBB_BIN
else
  cargo build --release -q -p oebb
  oebb="${CARGO_TARGET_DIR:-target}/release/oebb"
fi
work=$(mktemp -d /tmp/oebb-limits-bench.XXXXXX)
master=""
cleanup() {
  [ -n "$master" ] && kill "$master" 2>/dev/null && wait "$master" 2>/dev/null
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
web_port=$(port)
web="http://127.0.0.1:$web_port"
cat >"$work/oebb.cfg" <<EOF
[master]
worker-address = 127.0.0.1:$(port)
web-address = 127.0.0.1:$web_port
EOF
printf '[w1]\npassword = pw1\ncapability = postgresql 16\n    postgresql 15\n' >"$work/slaves.cfg"
mkdir -p "$work/buildouts"
printf '[buildout]\nparts =\n' >"$work/buildouts/x.cfg"
for i in $(seq -w 0 99); do
  printf '[customer-%s]\nbuildout = standalone x.cfg\nbuild-for = postgresql >= 15\n\n' "$i"
done >"$work/buildouts/MANIFEST.cfg"

wait_web() {
  for _ in $(seq 600); do
    curl -fsS -o /dev/null "$web/" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "limits.sh: the master did not answer on $web; its log:" >&2
  cat "$work/master.log" >&2
  exit 1
}

"$oebb" master "$work" 2>"$work/master.log" &
master=$!
wait_web
kill -TERM "$master"
wait "$master" || true
master=""
builder=$("$oebb" check --json "$work" | python3 -c 'import json,sys; print(json.load(sys.stdin)["builders"][0]["name"])')
python3 "$here/seed.py" "$work" --builds "$BUILDS" --oebb "$oebb" \
  --queued "$QUEUED" --queued-on "$builder=$ON_ONE"

RUST_LOG=warn "$oebb" master "$work" 2>>"$work/master.log" &
master=$!
wait_web

memory() { awk '/^VmHWM:/ {hwm = $2} /^RssAnon:/ {anon = $2}
  END {printf "RssAnon %d MiB, VmHWM %d MiB", anon / 1024, hwm / 1024}' "/proc/$master/status"; }

echo "## oebb bounded reads: $QUEUED queued requests ($ON_ONE on $builder), $BUILDS builds, SQLite, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), $("$oebb" --version 2>/dev/null || echo "$oebb")"
echo
echo "After start: $(memory)"
echo
echo "| page | bytes | p50 ms | p95 ms | requests/s | failed | memory after |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for page in "/builders/$builder" "/api/builders/$builder" "/api/buildrequests" \
  "/api/buildrequests?limit=1000" /metrics; do
  code=$(curl -s -o "$work/page" -w '%{http_code}' "$web$page")
  [ "$code" = 200 ] || { echo "limits.sh: GET $page answered $code" >&2; exit 1; }
  ab -q -s 600 -n 5 -c 1 "$web$page" >/dev/null # warm-up
  ab -q -s 600 -n "$REQUESTS" -c "$CONCURRENCY" "$web$page" >"$work/ab.txt"
  # Failed requests (the old master's store timed out under 38 MB answers) are counted.
  awk -v page="$page" -v bytes="$(wc -c <"$work/page")" -v mem="$(memory)" '
    /^Requests per second:/ {rps = $4}
    /^Failed requests:/ {failed = $3}
    /^  50%/ {p50 = $2} /^  95%/ {p95 = $2}
    END {printf "| `%s` | %d | %s | %s | %s | %s | %s |\n", page, bytes, p50, p95, rps, failed, mem}' "$work/ab.txt"
done
echo
echo "($REQUESTS requests per page, $CONCURRENCY at a time, ApacheBench; VmHWM is the master's peak resident size.)"
