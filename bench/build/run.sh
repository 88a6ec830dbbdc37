#!/usr/bin/env bash
# Build overhead: the wall time oebb adds around the commands of one Odoo build.
#
# The stand-in Odoo's builder (bench/build/stand-in-master.sh; its test module sleeps SLEEP
# seconds so a build takes about 60 s) is built by `oebb master DIR --local-worker` through
# the whole recipe: 12 steps (caches, buildout file download, properties, bootstrap, buildout,
# dropdb, createdb, test, analyze, final dropdb) on the test PostgreSQL cluster. After one
# warm-up build (virtualenv, eggs), RUNS builds are timed, alternating with RUNS runs of the
# same commands by a plain shell script in the same builder directory.
#
# Two figures:
# - overhead = build time (store: started → finished) − the sum of its commands' own times
#   (the worker's `elapsedTime` of every shell command, from spawn to exit). Everything else
#   counts as overhead: dispatch, transfers, properties, the master-side analysis, log storage.
# - build time − direct shell run time: the same, plus the run-to-run noise of buildout and
#   PostgreSQL on a shared machine (seconds), so only indicative.
# Target: overhead < 1 % of a 60 s build.
#
#   bench/build/run.sh            # RUNS=3 SLEEP=50
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
runs=${RUNS:-3}
sleep_s=${SLEEP:-50}
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
cargo build --release --locked -p oebb >&2
oebb="$target/release/oebb"

dir="$root/bench/out/build"
rm -rf "$dir"
builder=$(bench/build/stand-in-master.sh "$dir" "sleep_$sleep_s")
db=oebb-$builder
url=$(scripts/install-postgresql 2>/dev/null)
rest=${url#*://}; user=${rest%%@*}; rest=${rest#*@}; address=${rest%%/*}
host=${address%%:*}; port=${address##*:}

"$oebb" master "$dir" --local-worker > "$dir/master.log" 2>&1 &
master=$!
trap 'kill $master 2>/dev/null || true' EXIT
force() {
  local i
  for i in $(seq 50); do
    # Fails while the master is starting; a failed build also fails: say so at the end.
    if "$oebb" force "$dir" "$builder" --wait --timeout 900 >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "the build of $builder failed; see $dir/master.log and: $oebb builds $dir" >&2
  exit 1
}

# "BUILD WALL_MS STEPS ELAPSED_MS" of the latest build, from the store and its step logs.
measure() {
  local build wall steps n elapsed
  read -r build wall steps < <(python3 - "$dir/state.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
b, start, end = db.execute(
    "SELECT id, started_at, finished_at FROM builds ORDER BY id DESC LIMIT 1").fetchone()
n = db.execute("SELECT count(*) FROM steps WHERE build_id = ?", (b,)).fetchone()[0]
print(b, end - start, n)
PY
)
  elapsed=0
  for n in $(seq 0 $((steps - 1))); do
    e=$("$oebb" log "$dir" "$build" "$n" | sed -n 's/^elapsedTime=//p' | tail -1)
    elapsed=$(python3 -c "print($elapsed + ${e:-0})")
  done
  echo "$build $wall $steps $(python3 -c "print(round($elapsed * 1000, 1))")"
}

# The same commands as the recipe's steps (`oebb check DIR --steps BUILDER` prints them).
bdir="$dir/workers/local/$builder"
cat > "$dir/direct.sh" <<SH
set -e
cd "$bdir"
mkdir -p ../caches/eggs ../caches/downloads ../caches/odoo-downloads ../caches/ports && pwd -P >/dev/null
rm -f build/test.log
cp "$dir/buildouts/buildout.cfg" build/buildout.cfg
cd build
export PGPORT=$port PGHOST=$host PGUSER=$user
want="python3 zc.buildout"
BUILDOUT_VENV="$bdir/../caches/buildout-venvs/\$(printf '%s' "\$want" | cksum | cut -d ' ' -f 1)"
[ "\$(cat "\$BUILDOUT_VENV/.oebb-bootstrap")" = "\$want" ]
"\$BUILDOUT_VENV/bin/buildout" -c buildout.cfg "buildout:eggs-directory=\$BUILDOUT_VENV/bootstrap-eggs" bootstrap
c="$bdir/../caches"
bin/buildout -c buildout.cfg buildout:eggs-directory=\$c/eggs buildout:download-cache=\$c/downloads \\
  buildout:openerp-downloads-directory=\$c/odoo-downloads buildout:odoo-downloads-directory=\$c/odoo-downloads \\
  openerp:vcs-clear-locks=true openerp:vcs-clear-retry=true openerp:clean=true openerp:vcs-revert=on-merge \\
  openerp:options.db_port=$port openerp:options.db_host=$host openerp:options.db_user=$user \\
  openerp:options.db_password=False openerp:options.db_name=$db openerp:with_devtools=true buildout:unzip=true
dropdb --if-exists $db
createdb -T template1 $db
bin/test_openerp -d $db -i sleep_$sleep_s --test-enable --stop-after-init --logfile="$bdir/build/test.log"
"$oebb" analyze-log test.log --exit-status 0 --odoo-version 16.0 --tests-requested >/dev/null
dropdb --if-exists $db
SH

echo "warm-up build (virtualenv, eggs)..." >&2
force
results=()
for r in $(seq "$runs"); do
  force
  read -r build wall steps elapsed < <(measure)
  start=$(date +%s%N)
  sh "$dir/direct.sh" > "$dir/direct.log" 2>&1 || { echo "the direct run failed: $dir/direct.log" >&2; exit 1; }
  direct=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "run $r: oebb build $build ($steps steps) $wall ms, its commands $elapsed ms; direct shell $direct ms" >&2
  results+=("$wall,$elapsed,$direct")
done

python3 - "${results[@]}" <<'PY'
import sys, statistics as st
rows = [tuple(float(x) for x in r.split(",")) for r in sys.argv[1:]]
over = [w - e for w, e, _ in rows]
pct = [100 * (w - e) / w for w, e, _ in rows]
vs_sh = [w - d for w, _, d in rows]
print(f"runs: {len(rows)}; build (ms): {[int(w) for w, _, _ in rows]}; commands' own time (ms): {[e for _, e, _ in rows]}; direct shell (ms): {[int(d) for _, _, d in rows]}")
print(f"overhead = build - its commands: median {st.median(over):.0f} ms = {st.median(pct):.3f} % of the build (min {min(over):.0f} ms, max {max(over):.0f} ms)")
print(f"build - direct shell run: median {st.median(vs_sh):.0f} ms (min {min(vs_sh):.0f}, max {max(vs_sh):.0f}): includes buildout's run-to-run noise")
PY
