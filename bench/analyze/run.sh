#!/usr/bin/env bash
# Benchmark of `oebb analyze-log`: throughput (one core) and peak memory on a ~1 GB log built
# from the project's fixture logs, compared in the same run with checklog-odoo from PyPI.
#
#   bench/analyze/run.sh                 # 1 GiB log; checklog-odoo on the same file
#   SIZE_MB=2048 CHECKLOG_MB=100 bench/analyze/run.sh   # checklog-odoo on a 100 MiB log, extrapolated
#
# Outputs go to bench/out/analyze/ (git-ignored). Needs cargo, python3 (venv) and GNU time
# (`apt-get install -y time`).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out/analyze}
# SAMPLES=../shared/reference/odoo-logs measures on the reference corpus instead.
SAMPLES=${SAMPLES:-$ROOT/fixtures/odoo-logs}
SIZE_MB=${SIZE_MB:-1024}
SMALL_MB=${SMALL_MB:-100}
CHECKLOG_MB=${CHECKLOG_MB:-$SIZE_MB}
RUNS=${RUNS:-5}
# A second, realistic case: a passing Odoo 14 run (mostly INFO records), repeated.
PASS_SAMPLE=${PASS_SAMPLE:-odoo-14.0-pass}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$OUT/target}
mkdir -p "$OUT"

if [ ! -x /usr/bin/time ]; then
    echo "GNU time is missing: apt-get install -y time" >&2
    exit 1
fi
if [ ! -d "$SAMPLES" ]; then
    echo "sample logs not found in $SAMPLES (set SAMPLES=…)" >&2
    exit 1
fi

echo "== building the logs"
python3 "$ROOT/bench/analyze/make_log.py" "$SAMPLES" "$OUT/big.log" "$SIZE_MB"
python3 "$ROOT/bench/analyze/make_log.py" "$SAMPLES" "$OUT/small.log" "$SMALL_MB"
python3 "$ROOT/bench/analyze/make_log.py" "$SAMPLES" "$OUT/pass.log" "$SIZE_MB" "$PASS_SAMPLE"
if [ "$CHECKLOG_MB" = "$SIZE_MB" ]; then
    ln -sf big.log "$OUT/checklog.log"
else
    python3 "$ROOT/bench/analyze/make_log.py" "$SAMPLES" "$OUT/checklog.log" "$CHECKLOG_MB"
fi

echo "== building oebb (release)"
cargo build --quiet --release -p oebb --manifest-path "$ROOT/Cargo.toml"
OEBB=$CARGO_TARGET_DIR/release/oebb

echo "== installing checklog-odoo from PyPI"
if [ ! -x "$OUT/venv/bin/checklog-odoo" ]; then
    python3 -m venv "$OUT/venv"
    "$OUT/venv/bin/pip" install --quiet checklog-odoo
fi
CHECKLOG_VERSION=$("$OUT/venv/bin/pip" show checklog-odoo | sed -n 's/^Version: //p')

# measure LABEL CMD… : runs CMD under GNU time, prints "elapsed user sys maxrss_kb exit".
measure() {
    local stats="$OUT/time.txt"
    local status=0
    /usr/bin/time -o "$stats" -f "%e %U %S %M" "$@" >/dev/null 2>"$OUT/stderr.txt" || status=$?
    # Exit 1/2 are verdicts (the samples contain failures), not errors.
    if [ "$status" -gt 2 ]; then
        echo "command failed ($status): $*" >&2
        cat "$OUT/stderr.txt" >&2
        exit 1
    fi
    echo "$(tail -n 1 "$stats") $status"
}

bytes() { stat -L -c %s "$1"; }

# best_of FILE CMD… : best elapsed of $RUNS runs; prints "elapsed user sys maxrss_kb exit".
best_of() {
    local best="" line
    for _ in $(seq "$RUNS"); do
        line=$(measure "$@")
        if [ -z "$best" ] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then
            best=$line
        fi
    done
    echo "$best"
}

cat "$OUT/big.log" >/dev/null   # warm the page cache: measure the analyser, not the disk

echo "== oebb analyze-log on $(bytes "$OUT/big.log") bytes (best of $RUNS)"
read -r O_E O_U O_S O_RSS O_X < <(best_of "$OEBB" analyze-log --excerpt "$OUT/big.log")
read -r S_E S_U S_S S_RSS S_X < <(best_of "$OEBB" analyze-log --excerpt "$OUT/small.log")

echo "== checklog-odoo $CHECKLOG_VERSION on $(bytes "$OUT/checklog.log") bytes (one run)"
read -r C_E C_U C_S C_RSS C_X < <(measure "$OUT/venv/bin/checklog-odoo" --no-echo "$OUT/checklog.log")
read -r OC_E _ _ _ _ < <(best_of "$OEBB" analyze-log --excerpt "$OUT/checklog.log")

echo "== both on the passing log ($(bytes "$OUT/pass.log") bytes)"
cat "$OUT/pass.log" >/dev/null
read -r P_E P_U P_S P_RSS P_X < <(best_of "$OEBB" analyze-log --excerpt "$OUT/pass.log")
read -r PC_E PC_U PC_S PC_RSS PC_X < <(measure "$OUT/venv/bin/checklog-odoo" --no-echo "$OUT/pass.log")

python3 - "$OUT/result.txt" <<PY
import sys
big, small, ck = $(bytes "$OUT/big.log"), $(bytes "$OUT/small.log"), $(bytes "$OUT/checklog.log")
o_e, o_u, o_s, o_rss = $O_E, $O_U, $O_S, $O_RSS
s_e, s_rss = $S_E, $S_RSS
c_e, c_u, c_s, c_rss = $C_E, $C_U, $C_S, $C_RSS
oc_e = $OC_E
gb = 1e9
o_rate = big / o_e / gb
c_rate = ck / c_e / gb
lines = [
    f"oebb analyze-log  : {big} bytes in {o_e:.2f} s wall ({o_u:.2f} s user, {o_s:.2f} s sys) = {o_rate:.2f} GB/s, peak RSS {o_rss/1024:.1f} MiB (exit {$O_X})",
    f"  same, {small} bytes: {s_e:.2f} s, peak RSS {s_rss/1024:.1f} MiB  -> memory flat: {'yes' if abs(o_rss - s_rss) < 4096 else 'NO'}",
    f"  same, {ck} bytes (checklog's input): {oc_e:.2f} s = {ck / oc_e / gb:.2f} GB/s",
    f"checklog-odoo $CHECKLOG_VERSION: {ck} bytes in {c_e:.2f} s wall ({c_u:.2f} s user, {c_s:.2f} s sys) = {c_rate*1000:.2f} MB/s, peak RSS {c_rss/1024:.1f} MiB (exit {$C_X})",
]
if ck != big:
    lines.append(f"  checklog-odoo on {big} bytes, extrapolated linearly: {big / (ck / c_e):.1f} s")
lines.append(f"ratio (throughput oebb / checklog-odoo, same file, wall): {(ck / oc_e) / (ck / c_e):.0f}x; on the 1 GB figure: {o_rate / c_rate:.0f}x")
if ck == big:
    lines.append(f"ratio of CPU time (user+sys; fairer on a busy machine): {(c_u + c_s) / (o_u + o_s):.0f}x")
pb = $(bytes "$OUT/pass.log")
p_e, p_u, p_s, p_rss = $P_E, $P_U, $P_S, $P_RSS
pc_e, pc_u, pc_s, pc_rss = $PC_E, $PC_U, $PC_S, $PC_RSS
lines.append(f"passing Odoo 14 log, {pb} bytes: oebb {p_e:.2f} s = {pb / p_e / gb:.2f} GB/s, RSS {p_rss/1024:.1f} MiB (exit {$P_X}); checklog-odoo {pc_e:.2f} s = {pb / pc_e / 1e6:.1f} MB/s, RSS {pc_rss/1024:.1f} MiB (exit {$PC_X})")
lines.append(f"  ratio wall {pc_e / p_e:.0f}x, CPU {(pc_u + pc_s) / (p_u + p_s):.0f}x")
lines.append(f"(oebb: best of $RUNS runs; checklog-odoo: one run)")
report = "\n".join(lines)
print(report)
open(sys.argv[1], "w").write(report + "\n")
PY
