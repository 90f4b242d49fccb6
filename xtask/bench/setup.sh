#!/usr/bin/env bash
# Benchmark of `cargo xtask setup-stream` against the ways it replaces, both sides in one run on
# the same machine, with ratios. Needs hyperfine (`apt-get install hyperfine`, `brew install
# hyperfine`) and python3 for the arithmetic. Works on a scratch copy of the tree (made by
# `cargo xtask scaffold`), so the repository's own venvs are left alone.
#
#   bash xtask/bench/setup.sh            # RUNS=5 by default; RUNS=10 for steadier numbers
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
SLOW_RUNS=${SLOW_RUNS:-3} # the Makefile's way takes tens of seconds a run
. xtask/bench/scratch.sh
svc="$root/python/apps/media-service"
libs="$root/python/libs"

# One real setup first: installs the pinned uv if needed and warms the package caches.
"$xtask" --root "$root" setup-stream >/dev/null
py=$(sed -n 's/^"python.path" = "\(.*\)"$/\1/p' "$svc/.venv/xtask-stamp.toml")
uv=$(command -v uv || ls "$PWD"/target/xtask-tools/uv-*/bin/uv | head -n 1)
echo "python: $py; uv: $uv; runs: $RUNS (the Makefile's way: $SLOW_RUNS)"

venv="$work/bare-venv"
# The locks carry hashes, which pip refuses beside editables: the other sides install the same
# pins without them.
pins="$work/pins.txt"
cat "$svc/requirements.txt" "$svc/requirements-dev.txt" | sed -E '/^ *(#|--hash|$)/d; s/ \\$//' > "$pins"
# The Makefile's way, written out as its plain commands.
make_way="$py -m venv $venv && $venv/bin/pip install -q -U pip && $venv/bin/pip install -q -r $pins -e $libs/common -e $libs/contracts -e $svc[dev]"
# Bare uv, as fast as a person typing it can be.
uv_way="$uv venv -q --python $py $venv && $uv pip install -q --python $venv/bin/python -r $pins -e $libs/common -e $libs/contracts -e $svc[dev]"

json="$work/json"
mkdir -p "$json"
bench() { # name runs prepare cmd...
  local name=$1 runs=$2 prepare=$3
  shift 3
  hyperfine --style basic --runs "$runs" --prepare "$prepare" --export-json "$json/$name.json" "$@" >/dev/null
}

echo "1/4 a re-run with nothing changed"
bench rerun "$RUNS" true -N --warmup 3 \
  -n "cargo xtask setup-stream (fresh)" "cargo xtask --root $root setup-stream" \
  -n "xtask binary setup-stream (fresh)" "$xtask --root $root setup-stream"
bench rerun-make "$SLOW_RUNS" "rm -rf $venv" -n "Makefile setup-stream (re-run)" "$make_way"

echo "2/4 cold setup with uv and a warm cache"
bench cold-uv "$RUNS" "rm -rf $venv $svc/.venv" \
  -n "bare uv venv + uv pip install" "$uv_way" \
  -n "xtask setup-stream (uv)" "$xtask --root $root setup-stream --installer uv"

echo "3/4 cold setup with pip"
bench cold-pip "$SLOW_RUNS" "rm -rf $venv $svc/.venv" \
  -n "Makefile setup-stream (cold)" "$make_way" \
  -n "xtask setup-stream --installer pip" "$xtask --root $root setup-stream --installer pip"

echo "4/4 results"
python3 - "$json" <<'PY'
import json, sys, pathlib
d = pathlib.Path(sys.argv[1])
means = {}
for f in sorted(d.glob("*.json")):
    for r in json.loads(f.read_text())["results"]:
        means[r["command"]] = r["mean"]
def s(x): return f"{x*1000:.0f} ms" if x < 1 else f"{x:.2f} s"
print("| what | mean |")
print("|---|---|")
for name, mean in means.items():
    print(f"| {name} | {s(mean)} |")
m = means
print()
print("| comparison | ratio | target |")
print("|---|---|---|")
rows = [
    ("re-run: cargo xtask / Makefile", m["cargo xtask setup-stream (fresh)"] / m["Makefile setup-stream (re-run)"], "<= 1/100"),
    ("cold, uv: xtask / bare uv", m["xtask setup-stream (uv)"] / m["bare uv venv + uv pip install"], "<= 1.2"),
    ("cold, pip: xtask / Makefile", m["xtask setup-stream --installer pip"] / m["Makefile setup-stream (cold)"], "<= 0.6"),
]
for name, ratio, target in rows:
    print(f"| {name} | {ratio:.3f} | {target} |")
print()
print(f"re-run through cargo xtask: {s(m['cargo xtask setup-stream (fresh)'])} (target <= 150 ms); the binary alone: {s(m['xtask binary setup-stream (fresh)'])}")
PY
