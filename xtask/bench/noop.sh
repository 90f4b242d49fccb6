#!/usr/bin/env bash
# Benchmark of a no-op `setup` of the seed tree (4 packages, 2 venvs): this xtask against an
# earlier one (BASE, by default the commit before a venv's RECORD and module digests were
# remembered by file identity and site-packages found by listing), each binary as `cargo xtask`
# builds it (the dev profile), each on a set-up scratch tree of its own, in one hyperfine run,
# with the ratio. Twice: back to back, and with a command run between runs (`--prepare true`:
# the caches a person's shell leaves cold between two commands). Needs hyperfine and git.
#
#   bash xtask/bench/noop.sh             # RUNS=200, BASE=67f4573 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-200}
BASE=${BASE:-67f4573}
. xtask/bench/scratch.sh # $xtask (built), $work (removed on exit), $root (the seed tree), build_base
build_base "$BASE" # $old
old_root="$work/old-tree"
mkdir -p "$old_root"
"$old" --root "$old_root" scaffold >/dev/null
"$xtask" --root "$root" setup >/dev/null
"$old" --root "$old_root" setup >/dev/null
# A digest is remembered only for a file changed at least 3 s before it is read: the first
# no-op after that learns them, as a person's first command after a setup does.
sleep 4
"$xtask" --root "$root" setup >/dev/null
"$old" --root "$old_root" setup >/dev/null

q() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
old_cmd="$(q "$old") --root $(q "$old_root") setup"
new_cmd="$(q "$xtask") --root $(q "$root") setup"
# `--version` (the binary's start, nothing read) gauges the machine's pace in the same run: this
# machine's timings drift by a third within an hour, and a figure means little without it.
hyperfine -N --runs "$RUNS" --warmup 10 --export-json "$work/plain.json" \
  -n "old" "$old_cmd" -n "new" "$new_cmd" -n "start" "$(q "$xtask") --version"
hyperfine -N --runs "$RUNS" --warmup 10 --export-json "$work/prepared.json" \
  --prepare true --prepare true -n "old" "$old_cmd" -n "new" "$new_cmd"
python3 - "$work/plain.json" "$work/prepared.json" <<'PY'
import json, statistics, sys
for label, path in zip(["back to back", "a command between runs"], sys.argv[1:]):
    r = {x["command"]: x for x in json.load(open(path))["results"]}
    old, new = r["old"], r["new"]
    median = statistics.median(new["times"])
    print(f"no-op setup, seed tree, {label}: old {old['mean'] * 1e3:.1f} ms (min "
          f"{old['min'] * 1e3:.1f}), new {new['mean'] * 1e3:.1f} ms (min {new['min'] * 1e3:.1f}, "
          f"median {median * 1e3:.1f}): ratio {new['mean'] / old['mean']:.2f}")
    if "start" in r:
        start = r["start"]["mean"]
        print(f"  the machine's pace: `xtask --version` {start * 1e3:.2f} ms; the new no-op is "
              f"{new['mean'] / start:.1f} times that")
PY
