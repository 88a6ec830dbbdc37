#!/usr/bin/env bash
# Benchmark of `oebb check` on 500 buildouts x 50 workers with 5 PostgreSQL versions each
# (2500 builders, each with the environment of 50 workers). Target: under 100 ms.
#   bench/check/run.sh            # table output (the default of `oebb check`)
#   bench/check/run.sh --json     # JSON output
# Uses hyperfine when installed (apt-get install -y hyperfine), else a loop of 20 runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked -p oebb >&2
bin="$target/release/oebb"
dir=bench/out/check
rm -rf "$dir"
python3 bench/check/generate.py "$dir" 500 50
"$bin" check "$dir" "$@" >/dev/null   # fails the script if the files do not load
echo "$("$bin" check "$dir" | tail -1)" >&2
if command -v hyperfine >/dev/null; then
    hyperfine --warmup 3 --runs 30 -N "$bin check $dir $*"
else
    runs=20 total=0 best=
    for _ in $(seq $runs); do
        start=$(date +%s%N)
        "$bin" check "$dir" "$@" >/dev/null
        ms=$(( ($(date +%s%N) - start) / 1000000 ))
        total=$((total + ms))
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    done
    echo "oebb check $*: mean $((total / runs)) ms, best $best ms over $runs runs"
fi
