#!/usr/bin/env bash
# Web pages benchmark: a release `oebb master` holding 100,000 finished builds (100 buildouts x
# 5 PostgreSQL versions = 500 builders), measured from other processes:
#  - p95 latency of the grid, a builder page and a build page with ApacheBench (`ab`);
#  - resident memory growth of the master while 200 live-log streams (SSE) follow a running
#    step (bench/web/streams.py).
# Usage: bench/web/run.sh   (environment: BUILDS, REQUESTS, CONCURRENCY, STREAMS, OEBB_BIN, KEEP,
#   POSTGRESQL=postgresql://user@host:port/any: the state in a fresh database `oebb_webbench` of
#   that server, e.g. POSTGRESQL=$(scripts/install-postgresql), instead of SQLite)
# Prints a Markdown summary; the master directory is removed at the end (KEEP=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=bench/web
BUILDS=${BUILDS:-100000}
REQUESTS=${REQUESTS:-2000}
CONCURRENCY=${CONCURRENCY:-4}
STREAMS=${STREAMS:-200}

if ! command -v ab >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apache2-utils
  else
    echo "run.sh: needs ab; install it with: sudo apt-get install apache2-utils" >&2
    exit 1
  fi
fi

# OEBB_BIN=path runs another build of oebb (a quick try of this script on a debug build).
if [ -n "${OEBB_BIN:-}" ]; then
  oebb=$OEBB_BIN
else
  cargo build --release -q -p oebb
  oebb="${CARGO_TARGET_DIR:-target}/release/oebb"
fi
work=$(mktemp -d /tmp/oebb-web-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
web_port=$(port)
worker_port=$(port)
web="http://127.0.0.1:$web_port"

# The master directory: 100 buildouts on PostgreSQL 12 to 16, one more whose step prints a
# line every 0.2 s for as long as the benchmark runs (the live log the streams follow).
cat >"$work/oebb.cfg" <<EOF
[master]
worker-address = 127.0.0.1:$worker_port
web-address = 127.0.0.1:$web_port
EOF
seed_to=()
store=SQLite
if [ -n "${POSTGRESQL:-}" ]; then
  database="${POSTGRESQL%/*}/oebb_webbench"
  psql -q -v ON_ERROR_STOP=1 "$POSTGRESQL" -c 'DROP DATABASE IF EXISTS oebb_webbench' \
    -c 'CREATE DATABASE oebb_webbench'
  echo "database = $database" >>"$work/oebb.cfg"
  seed_to=(--postgresql "$database")
  store=PostgreSQL
fi
cat >"$work/slaves.cfg" <<EOF
[w1]
password = pw1
capability = postgresql 16
    postgresql 15
    postgresql 14
    postgresql 13
    postgresql 12
EOF
mkdir -p "$work/buildouts" "$work/steps"
printf '[buildout]\nparts =\n' >"$work/buildouts/x.cfg"
{
  for i in $(seq -w 0 99); do
    printf '[customer-%s]\nbuildout = standalone x.cfg\nbuild-for = postgresql >= 12\nbuild-category = team-%s\n\n' \
      "$i" "$((10#$i % 10))"
  done
  printf '[live]\nbuildout = standalone x.cfg\n'
} >"$work/buildouts/MANIFEST.cfg"
cat >"$work/steps/live.sh" <<'EOF'
i=0
while [ $i -lt 3000 ]; do
  echo "2026-11-25 10:00:00,000 4242 INFO oebb-live odoo.modules.loading: live line $i"
  i=$((i + 1))
  sleep 0.2
done
EOF

wait_web() {
  for _ in $(seq 600); do
    curl -fsS -o /dev/null "$web/$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "run.sh: the master did not answer on $web/$1; its log:" >&2
  cat "$work/master.log" >&2
  exit 1
}

# 1. The master creates its schema, then stops; 2. the builds are stored.
"$oebb" master "$work" 2>"$work/master.log" &
first=$!
wait_web ""
kill -TERM "$first"
wait "$first" || true
python3 "$here/seed.py" "$work" --builds "$BUILDS" --oebb "$oebb" "${seed_to[@]}"

# 3. The master on the seeded state, with a worker in its own process.
RUST_LOG=warn "$oebb" master "$work" 2>>"$work/master.log" &
master=$!
pids+=("$master")
echo pw1 >"$work/worker-password"
"$oebb" worker --master "127.0.0.1:$worker_port" --name w1 --password-file "$work/worker-password" \
  --basedir "$work/worker" 2>"$work/worker.log" &
pids+=($!)
wait_web ""

curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $(cat "$work/.oebb-api-token")" \
  -H 'Content-Type: application/json' -d '{"reason": "live log for the benchmark"}' \
  "$web/api/builders/live/force"
live_build=""
for _ in $(seq 600); do
  live_build=$(curl -fsS "$web/api/builds?builder=live" |
    python3 -c 'import json,sys; b=json.load(sys.stdin); print(b[0]["id"] if b and b[0].get("finished_at") is None else "")')
  [ -n "$live_build" ] && break
  sleep 0.1
done
[ -n "$live_build" ] || { echo "run.sh: the live build did not start" >&2; exit 1; }

middle=$((BUILDS / 2))
builder=$(curl -fsS "$web/api/builds/$middle" | python3 -c 'import json,sys; print(json.load(sys.stdin)["build"]["builder"])')
# The three pages of the target, then two more for information.
pages=("/" "/builders/$builder" "/builds/$middle" "/waterfall" "/api/builds/$middle")

echo "## oebb web pages: $BUILDS builds in $store, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), oebb $(git rev-parse --short HEAD)"
echo
echo "| page | bytes | mean ms | p50 ms | p95 ms | p99 ms | requests/s |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for page in "${pages[@]}"; do
  code=$(curl -s -o "$work/page.html" -w '%{http_code}' "$web$page")
  [ "$code" = 200 ] || { echo "run.sh: GET $page answered $code" >&2; exit 1; }
  ab -q -n 20 -c 1 "$web$page" >/dev/null # warm-up
  ab -q -n "$REQUESTS" -c "$CONCURRENCY" "$web$page" >"$work/ab.txt"
  failed=$(awk '/^Failed requests:/ {print $3}' "$work/ab.txt")
  [ "$failed" = 0 ] || { echo "run.sh: $failed failed requests on $page" >&2; cat "$work/ab.txt" >&2; exit 1; }
  awk -v page="$page" -v bytes="$(wc -c <"$work/page.html")" '
    /^Time per request:.*\(mean\)$/ {mean = $4}
    /^Requests per second:/ {rps = $4}
    /^  50%/ {p50 = $2} /^  95%/ {p95 = $2} /^  99%/ {p99 = $2}
    END {printf "| `%s` | %d | %s | %s | %s | %s | %s |\n", page, bytes, mean, p50, p95, p99, rps}' "$work/ab.txt"
done
echo
echo "($REQUESTS requests per page, $CONCURRENCY at a time, ApacheBench from a second process.)"
echo

stream="$web/builds/$live_build/steps/0/stream"
python3 "$here/streams.py" --url "$stream" --pid "$master" --streams "$STREAMS" --hold 10
