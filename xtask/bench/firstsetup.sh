#!/usr/bin/env bash
# Benchmark of a first `setup` of a new seed tree (two venvs, four editable setuptools builds)
# with PYTHONDONTWRITEBYTECODE=1 set, as CI machines set it: this xtask against an earlier one
# (BASE, by default ef08a07, before the build backends' bytecode was kept; see
# xtask/src/env/build_bytecode.rs), in one hyperfine run, each run on a newly scaffolded tree,
# both with the same tools folder and uv's warm cache. Prints wall and CPU (user + system) with
# their ratios: the test suite, which sets up some sixty trees on two cores, is bound by CPU.
#
#   bash xtask/bench/firstsetup.sh          # RUNS=5, BASE=ef08a07 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
BASE=${BASE:-ef08a07}
. xtask/bench/scratch.sh # $xtask (built), $work (removed on exit), $root, build_base
build_base "$BASE"       # $old
export XTASK_TOOLS_DIR="$PWD/target/xtask-tools" PYTHONDONTWRITEBYTECODE=1
# One setup each first: the pinned uv, the packages in uv's cache, the interpreters found.
"$old" --root "$root" setup >/dev/null
"$xtask" --root "$root" setup --force >/dev/null

q() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
tree="$work/first"
fresh="rm -rf $(q "$tree") && mkdir $(q "$tree") && $(q "$xtask") --root $(q "$tree") scaffold"
hyperfine --runs "$RUNS" --prepare "$fresh" --export-json "$work/first.json" \
  -n old "$(q "$old") --root $(q "$tree") setup" \
  -n new "$(q "$xtask") --root $(q "$tree") setup"
python3 - "$work/first.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
cpu = {k: v["user"] + v["system"] for k, v in r.items()}
print(f"first setup, seed tree: old {r['old']['mean']:.2f} s ({cpu['old']:.2f} s CPU), "
      f"new {r['new']['mean']:.2f} s ({cpu['new']:.2f} s CPU): ratio "
      f"{r['new']['mean'] / r['old']['mean']:.2f} (CPU {cpu['new'] / cpu['old']:.2f})")
PY
