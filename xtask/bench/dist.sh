#!/usr/bin/env bash
# Benchmark of `cargo xtask dist media-service` against bare uv doing the same work, both in one
# hyperfine run on a scratch copy of the tree (media-service needing six, so the lock has a pin):
#   - cold: dist (its state and context removed first) against `uv build --wheel` of the three
#     packages plus `uv venv` and `uv pip install` of the context into a fresh venv;
#   - nothing changed: dist a second time (goal: under 50 ms);
# then the size of the installed deployable against the service's dev venv (the whole install set
# with the dev tools). Needs hyperfine.
#
#   bash xtask/bench/dist.sh            # RUNS=5 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
. xtask/bench/scratch.sh # $xtask (built), $work (removed on exit), $root (the seed tree)
py="$root/python"
sed -i 's/^dependencies = \[$/dependencies = [\n    "six",/' "$py/apps/media-service/pyproject.toml"
"$xtask" --root "$root" setup media-service >/dev/null
"$xtask" --root "$root" dist media-service >/dev/null
uv=$(find "${XTASK_TOOLS_DIR:-$PWD/target/xtask-tools}" -path '*/bin/uv' -type f | head -1)
ctx="$root/target/dist/media-service"
version="$py/apps/media-service/.venv/bin/python" # the dev venv's Python (its base), as dist's check uses
cp "$ctx/requirements.txt" "$work/lock.txt" # the prepare step of the cold dist removes $ctx

cat >"$work/bare.sh" <<SH
set -e
rm -rf "$work/bare"
for p in libs/common libs/contracts apps/media-service; do
  "$uv" build --quiet --no-config --wheel --out-dir "$work/bare/wheels" "$py/\$p"
done
"$uv" venv --quiet --no-config --python "$version" "$work/bare/venv"
"$uv" pip install --quiet --no-config --python "$work/bare/venv/bin/python" --no-deps --require-hashes -r "$work/lock.txt"
"$uv" pip install --quiet --no-config --python "$work/bare/venv/bin/python" --no-deps --no-index "$work/bare/wheels/"*.whl
SH

bash "$work/bare.sh" # once, so that a failure shows its output
hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$work/dist.json" \
  -n "bare uv build x3 + uv venv + uv pip install" "bash $work/bare.sh" \
  -n "cargo xtask dist media-service, cold" \
  --prepare "rm -rf $root/target/dist" "$xtask --root $root dist media-service" >/dev/null
hyperfine --style basic --warmup 2 --runs $((RUNS * 4)) -N --export-json "$work/noop.json" \
  -n "cargo xtask dist media-service, nothing changed" "$xtask --root $root dist media-service" >/dev/null

python3 - "$work/dist.json" "$work/noop.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"] + json.load(open(sys.argv[2]))["results"]
base = rows[0]["mean"]
print(f"| what | mean | ratio to bare uv |\n|---|---|---|")
for r in rows:
    print(f"| {r['command']} | {r['mean'] * 1000:.0f} ms (min {r['min'] * 1000:.0f}) | {r['mean'] / base:.2f} |")
PY

# Size: the deployable installed as install.py does, against the service's dev venv.
"$uv" venv --quiet --no-config --python "$version" "$work/deployed"
UV="$uv" "$work/deployed/bin/python" -I "$ctx/install.py" >/dev/null 2>&1
deployed=$(du -sk "$work/deployed" | cut -f1)
dev=$(du -sk "$py/apps/media-service/.venv" | cut -f1)
python3 -c "import sys; d, v = map(int, sys.argv[1:]); print(f'size: deployable {d / 1024:.1f} MiB, dev venv {v / 1024:.1f} MiB: ratio {d / v:.3f}')" "$deployed" "$dev"
