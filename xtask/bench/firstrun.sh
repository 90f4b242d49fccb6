#!/usr/bin/env bash
# Benchmark of a first `verify` of a new tree (its venvs set up, no job has run: no remembered
# pass, no tool cache), as on a fresh clone or a new worktree: this xtask with the tools folder's
# seeds (another tree ran before on this machine), this xtask without them (the first tree on the
# machine: jobs seed from a sibling in their venv only), and an earlier xtask (BASE, by default
# the commit before seeding: every job's caches start empty), each on a scratch tree of its own,
# in one hyperfine run, with the ratios. A tools folder of the benchmark's own. Needs hyperfine
# and git.
#
#   bash xtask/bench/firstrun.sh         # RUNS=5, BASE=4457c6f by default
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
BASE=${BASE:-4457c6f}
. xtask/bench/scratch.sh # $xtask (built), $work (removed on exit), $root (the seed tree)
export XTASK_TOOLS_DIR="$work/tools"
base_src="$work/base-src"
mkdir -p "$base_src"
git archive "$BASE" | tar -x -C "$base_src"
CARGO_TARGET_DIR="$work/base-target" cargo build --quiet --package xtask --manifest-path "$base_src/Cargo.toml"
old="$work/base-target/debug/xtask"
for name in seeded unseeded old; do
  cp -a "$root" "$work/$name"
  cp .gitignore "$work/$name/"
  git -C "$work/$name" init -q
  git -C "$work/$name" add -A
  git -C "$work/$name" -c user.name=bench -c user.email=bench@example.invalid commit -q -m tree
done
"$xtask" --root "$work/seeded" setup >/dev/null
"$xtask" --root "$work/unseeded" setup >/dev/null
"$old" --root "$work/old" setup >/dev/null
# One verify makes the seeds.
"$xtask" --root "$work/seeded" verify >/dev/null

q() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
# Forgets what the jobs ran: remembered passes and the jobs' caches (the venvs stay).
forget() { # TREE [SEEDS]
  local cmd="rm -rf $(q "$1")/python/apps/*/.venv/xtask-cache $(q "$1")/python/apps/*/.venv/xtask-results"
  [ -n "${2:-}" ] && cmd="$cmd $(q "$XTASK_TOOLS_DIR/job-caches")"
  echo "bash -c $(q "$cmd")"
}
hyperfine --runs "$RUNS" --export-json "$work/firstrun.json" \
  --prepare "$(forget "$work/old")" -n "old" "$(q "$old") --root $(q "$work/old") verify" \
  --prepare "$(forget "$work/unseeded" seeds)" -n "unseeded" "$(q "$xtask") --root $(q "$work/unseeded") verify" \
  --prepare "$(forget "$work/seeded")" -n "seeded" "$(q "$xtask") --root $(q "$work/seeded") verify"
python3 - "$work/firstrun.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
old = r["old"]
cpu = lambda x: x["user"] + x["system"]
for name in ("old", "unseeded", "seeded"):
    x = r[name]
    print(f"{name:9} {x['mean']:.2f} s ({cpu(x):.1f} s of CPU): ratio {x['mean'] / old['mean']:.2f}, "
          f"CPU {cpu(x) / cpu(old):.2f}")
PY
