#!/usr/bin/env bash
# Benchmark of `cargo xtask lock` and of a setup after a lock change, against bare uv doing the
# same work, both sides in one hyperfine run each, with the ratios. Needs hyperfine. Works on a
# scratch copy of the tree whose media-service needs numpy<2 and six (uv's cache warm).
#
#   bash xtask/bench/lock.sh             # RUNS=10 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-10}
. xtask/bench/scratch.sh
svc="$root/python/apps/media-service"
pyproject="$svc/pyproject.toml"
sed -i 's/^dependencies = \[$/dependencies = [\n    "numpy<2",\n    "six==1.16.0",/' "$pyproject"
"$xtask" --root "$root" setup-stream >/dev/null
uv=$(command -v uv || ls "$PWD"/target/xtask-tools/uv-*/bin/uv | head -n 1)
py="$svc/.venv/bin/python"

# The same inputs as the xtask's lock of media-service: its third-party requirements, then its
# dev tools with the runtime pins as constraints. From uv's cache, as the xtask's lock resolves
# when it can.
in="$work/in"
mkdir -p "$in"
printf 'numpy<2\nsix==1.16.0\n' >"$in/runtime.in"
printf 'mypy>=1.0\npytest-cov>=4.0\npytest>=7.0\nruff>=0.1.0\n' >"$in/dev.in"
compile="$uv pip compile --no-config --quiet --universal --generate-hashes --no-header --python-version 3.10 --offline"
cat >"$work/bare-lock.sh" <<SH
set -e
$compile "$in/runtime.in" -o "$in/runtime.txt"
sed -E '/^ *(#|--hash|\$)/d; s/ \\\\\$//' "$in/runtime.txt" >"$in/pins.txt"
$compile "$in/dev.in" -c "$in/pins.txt" --no-emit-package numpy --no-emit-package six -o "$in/dev.txt"
SH
# A real lock: no earlier pins to keep (both sides start from nothing).
unlock="rm -f $svc/requirements.txt $svc/requirements-dev.txt $in/runtime.txt $in/dev.txt"

echo "1/3 lock with nothing changed"
hyperfine --style basic -N --warmup 3 --runs "$RUNS" --export-json "$work/noop.json" \
  -n "xtask lock (nothing changed)" "$xtask --root $root lock media-service" >/dev/null
echo "2/3 a real lock of one service"
hyperfine --style basic --warmup 1 --runs "$RUNS" --prepare "$unlock" --export-json "$work/lock.json" \
  -n "bare uv pip compile (runtime, then dev)" "bash $work/bare-lock.sh" \
  -n "xtask lock media-service" "$xtask --root $root lock media-service" >/dev/null
"$xtask" --root "$root" lock media-service >/dev/null

echo "3/3 a setup after a lock change (six 1.16.0 <-> 1.17.0)"
toggle="$work/toggle.sh"
cat >"$toggle" <<SH
set -e
if grep -q 'six==1.16.0' "$pyproject"; then sed -i 's/six==1.16.0/six==1.17.0/' "$pyproject"
else sed -i 's/six==1.17.0/six==1.16.0/' "$pyproject"; fi
"$xtask" --root "$root" lock media-service >/dev/null
SH
bare_sync="$uv pip sync --no-config --quiet --python $py $svc/requirements.txt $svc/requirements-dev.txt $svc/.venv/xtask-editables.txt"
hyperfine --style basic --warmup 2 --runs "$RUNS" --prepare "bash $toggle" --export-json "$work/sync.json" \
  -n "bare uv pip sync of the lock" "$bare_sync" \
  -n "xtask setup-stream after the lock changed" "$xtask --root $root setup-stream" >/dev/null

python3 - "$work" <<'PY'
import json, pathlib, sys
w = pathlib.Path(sys.argv[1])
m = {r["command"]: r["mean"] for f in ("noop", "lock", "sync") for r in json.loads((w / f"{f}.json").read_text())["results"]}
def s(x): return f"{x*1000:.1f} ms" if x < 1 else f"{x:.2f} s"
noop = m["xtask lock (nothing changed)"]
lock, bare = m["xtask lock media-service"], m["bare uv pip compile (runtime, then dev)"]
setup, sync = m["xtask setup-stream after the lock changed"], m["bare uv pip sync of the lock"]
print("| what | mean | ratio | goal |\n|---|---|---|---|")
print(f"| `lock`, nothing changed | {s(noop)} | | <= 50 ms |")
print(f"| bare `uv pip compile` (runtime, then dev), from the cache | {s(bare)} | 1 | |")
print(f"| `lock media-service`, from nothing | {s(lock)} | {lock/bare:.2f} | <= 1.2 |")
print(f"| bare `uv pip sync` of the changed lock | {s(sync)} | 1 | |")
print(f"| `setup-stream` after the lock changed | {s(setup)} | {setup/sync:.2f} | <= 1.2 |")
PY
