#!/usr/bin/env bash
# Benchmark of a first `setup` of a tree (its locks there, no venv, uv's cache warm but no build
# of its editables: a fresh clone or a new worktree), this xtask against an earlier one (BASE, by
# default the commit before build backends could write their bytecode), each on a scratch tree of
# its own, in one hyperfine run, with the ratios. Run with the caller's environment: on a machine
# that sets PYTHONDONTWRITEBYTECODE (this one does), BASE compiled setuptools anew in every hook
# of every editable's build. Needs hyperfine and git.
#
#   bash xtask/bench/firstsetup.sh       # RUNS=5, BASE=4bddbc0 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
BASE=${BASE:-4bddbc0}
. xtask/bench/scratch.sh # $xtask (built), $work (removed on exit), $root (the seed tree)
export XTASK_TOOLS_DIR="$work/tools"
base_src="$work/base-src"
mkdir -p "$base_src"
git archive "$BASE" | tar -x -C "$base_src"
CARGO_TARGET_DIR="$work/base-target" cargo build --quiet --package xtask --manifest-path "$base_src/Cargo.toml"
old="$work/base-target/debug/xtask"
# The locks, and the pinned uv in the tools folder: what a fresh clone's first setup finds.
"$xtask" --root "$root" setup >/dev/null
for name in new old; do
  cp -a "$root" "$work/$name"
done

q() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
# No venv, and no build of the editables that uv could reuse: uv keys an editable's build by its
# pyproject's time.
fresh() { # TREE
  local t
  t=$(q "$1")
  echo "bash -c $(q "rm -rf $t/python/apps/*/.venv && touch $t/python/apps/*/pyproject.toml $t/python/libs/*/pyproject.toml")"
}
hyperfine --runs "$RUNS" --export-json "$work/firstsetup.json" \
  --prepare "$(fresh "$work/old")" -n "old" "$(q "$old") --root $(q "$work/old") setup" \
  --prepare "$(fresh "$work/new")" -n "new" "$(q "$xtask") --root $(q "$work/new") setup"
python3 - "$work/firstsetup.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
old = r["old"]
cpu = lambda x: x["user"] + x["system"]
for name in ("old", "new"):
    x = r[name]
    print(f"{name:4} {x['mean']:.2f} s ({cpu(x):.1f} s of CPU): ratio {x['mean'] / old['mean']:.2f}, "
          f"CPU {cpu(x) / cpu(old):.2f}")
PY
