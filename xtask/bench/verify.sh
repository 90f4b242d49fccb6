#!/usr/bin/env bash
# Benchmark of `cargo xtask verify` against the Makefile's way (its commands one after another:
# ruff check, ruff format --check, mypy once per package, pytest once per service), both in one
# run on the same scratch tree with venvs and caches warm, with the ratio. Needs hyperfine.
#
#   bash xtask/bench/verify.sh           # RUNS=10 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-10}
. xtask/bench/scratch.sh
cp .gitignore "$root/"
git -C "$root" init -q
"$xtask" --root "$root" setup >/dev/null
# One verify first: it byte-compiles the venvs once, which both sides then share.
"$xtask" --root "$root" verify >/dev/null
py="$root/python"
media="$py/apps/media-service/.venv/bin/python"
sts="$py/apps/sts-service/.venv/bin/python"
cfg="$py/pyproject.toml"

cat > "$work/make-way.sh" <<SH
set -e
cd "$py" && "$media" -m ruff check . -q && "$media" -m ruff format --check . -q
cd "$py/apps/media-service" && "$media" -m mypy --config-file "$cfg" src tests
cd "$py/apps/sts-service" && "$sts" -m mypy --config-file "$cfg" src tests
cd "$py/libs/common" && "$media" -m mypy --config-file "$cfg" src tests
cd "$py/libs/contracts" && "$media" -m mypy --config-file "$cfg" src tests
cd "$py/apps/media-service" && "$media" -m pytest -q -c "$cfg" --cov=media_service tests
cd "$py/apps/sts-service" && "$sts" -m pytest -q -c "$cfg" --cov=sts_service tests
SH

hyperfine --style basic --warmup 2 --runs "$RUNS" --export-json "$work/verify.json" \
  -n "Makefile way (serial)" "bash $work/make-way.sh" \
  -n "cargo xtask verify --no-cache" "cargo xtask --root $root verify --no-cache" \
  -n "cargo xtask verify" "cargo xtask --root $root verify" >/dev/null
# A person's edit: one line in a media-service module before each run.
hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$work/edit.json" \
  --prepare "echo '# edited' >> $py/apps/media-service/src/media_service/pipelines/__init__.py" \
  -n "cargo xtask verify (one service file changed)" "cargo xtask --root $root verify" >/dev/null

python3 - "$work/verify.json" "$work/edit.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for f in sys.argv[1:] for x in json.load(open(f))["results"]}
edit = r["cargo xtask verify (one service file changed)"]
make, full, xt = r["Makefile way (serial)"], r["cargo xtask verify --no-cache"], r["cargo xtask verify"]
def s(x): return f"{x*1000:.0f} ms" if x < 1 else f"{x:.2f} s"
print("| what | mean | ratio to the Makefile's way |\n|---|---|---|")
print(f"| the Makefile's way (ruff x2, mypy x4, pytest x2, serial) | {s(make)} | 1 |")
print(f"| cargo xtask verify --no-cache (every job run, 2 at a time) | {s(full)} | {full / make:.2f} |")
print(f"| cargo xtask verify (one media-service file changed: its jobs run) | {s(edit)} | {edit / make:.2f} |")
print(f"| cargo xtask verify (nothing changed: remembered passes) | {s(xt)} | {xt / make:.3f} |")
print("\ntarget: verify <= 0.6 x the Makefile's way")
PY
