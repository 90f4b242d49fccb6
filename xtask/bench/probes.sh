#!/usr/bin/env bash
# Benchmark of the interpreters' remembered probe answers (xtask/src/env/probes.rs): `doctor`,
# which looks for every interpreter, and a real lock of one service (from no lock: it chooses the
# venv's interpreter), each with the answers remembered and with the table removed before every
# run, in one hyperfine run each, with the ratios. Needs hyperfine; works on a scratch tree.
#
#   bash xtask/bench/probes.sh           # RUNS=15 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-15}
. xtask/bench/scratch.sh
tools=${XTASK_TOOLS_DIR:-$PWD/target/xtask-tools}
table="$tools/interpreter-probes.txt"
"$xtask" --root "$root" setup >/dev/null
svc="$root/python/apps/media-service"
unlock="rm -f '$svc/requirements.txt' '$svc/requirements-dev.txt'"
forget="rm -f '$table'"

echo "1/2 doctor"
hyperfine --style basic -N --warmup 3 --runs "$RUNS" --export-json "$work/doctor.json" \
  --prepare "$forget" -n "doctor, probing every interpreter" "$xtask --root $root doctor" \
  --prepare "true" -n "doctor, answers remembered" "$xtask --root $root doctor" >/dev/null
echo "2/2 lock media-service, from no lock"
hyperfine --style basic --warmup 2 --runs "$RUNS" --export-json "$work/lock.json" \
  --prepare "$unlock; $forget" -n "lock, probing every interpreter" "$xtask --root $root lock media-service" \
  --prepare "$unlock" -n "lock, answers remembered" "$xtask --root $root lock media-service" >/dev/null

python3 - "$work" <<'PY'
import json, pathlib, sys
w = pathlib.Path(sys.argv[1])
print("| what | probing every interpreter | answers remembered | ratio |\n|---|---|---|---|")
for name, label in (("doctor", "`doctor`"), ("lock", "`lock media-service`, from no lock")):
    fresh, kept = json.loads((w / f"{name}.json").read_text())["results"]
    print(f"| {label} | {fresh['mean']*1000:.1f} ms | {kept['mean']*1000:.1f} ms | {kept['mean']/fresh['mean']:.2f} |")
PY
