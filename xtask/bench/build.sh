#!/usr/bin/env bash
# Benchmark of the first `cargo xtask` build on a fresh clone (crates already fetched): the whole
# xtask against its dependencies alone, both in one hyperfine run, each from an empty target
# folder of its own, with the ratio (goal: at most 1.5). Needs hyperfine.
#
#   bash xtask/bench/build.sh            # RUNS=3 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
command -v hyperfine >/dev/null || { echo "needs hyperfine: apt-get install hyperfine" >&2; exit 1; }
cargo fetch --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The xtask's own dependencies, as `cargo tree` names them (the direct ones: cargo builds what
# they need too).
deps=$(cargo tree --package xtask --edges normal --depth 1 --prefix none --format '{p}' |
  tail -n +2 | awk '{print "--package " $1 "@" substr($2, 2)}' | sort -u | tr '\n' ' ')
echo "dependencies: $deps"
hyperfine --runs "$RUNS" --export-json "$work/build.json" \
  --prepare "rm -rf '$work/deps' '$work/all'" \
  -n "dependencies alone" "CARGO_TARGET_DIR='$work/deps' cargo build --quiet $deps" \
  -n "the xtask (cargo xtask's first build)" "CARGO_TARGET_DIR='$work/all' cargo build --quiet --package xtask"
python3 - "$work/build.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
deps, full = r["dependencies alone"], r["the xtask (cargo xtask's first build)"]
print(f"dependencies alone: {deps:.1f} s, the xtask: {full:.1f} s, ratio {full / deps:.2f} (goal <= 1.5)")
PY
