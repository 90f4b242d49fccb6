#!/usr/bin/env bash
# Benchmark of `cargo xtask ci plan` and of the CI the plan makes, on the grown monorepo of
# xtask/bench/grown_tree.py (6 services, 24 libraries): the plan, with everything and after a
# one-library edit (goal: under 100 ms), in one hyperfine run; then the critical path of the
# planned CI (each entry's command, `verify --venv OWNER --no-cache`, run alone: the longest is
# what the CI waits for, each runner doing its own) against `verify --no-cache` of the whole tree
# on this machine, with the ratio. Needs hyperfine, git and python3.
#
#   bash xtask/bench/ci.sh            # RUNS=10 by default (the plan); the venvs run once each
#   PLAN_ONLY=1 bash xtask/bench/ci.sh   # the plan alone: no venv is set up
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-10}
. xtask/bench/scratch.sh # $xtask (built), $work (removed on exit), $root (the seed tree)
python3 xtask/bench/grown_tree.py "$root" --manifest "$work/manifest.json" >/dev/null
cp .gitignore "$root/"
git -C "$root" init -q
git -C "$root" add -A
git -C "$root" -c user.name=bench -c user.email=bench@example.invalid -c commit.gpgsign=false \
  commit -q -m "benchmark tree"
module=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["edit"]["module"])' "$work/manifest.json")

if [ -z "${PLAN_ONLY:-}" ]; then
  "$xtask" --root "$root" setup >"$work/setup.log" 2>&1 || { tail -30 "$work/setup.log"; exit 1; }
fi
printf '# edited\n' >>"$root/$module"
hyperfine --style basic -N --warmup 2 --runs "$RUNS" --export-json "$work/plan.json" \
  -n "ci plan (everything)" "$xtask --root $root ci plan" \
  -n "ci plan --changed-since HEAD (one library edited)" "$xtask --root $root ci plan --changed-since HEAD" >/dev/null
if [ -n "${PLAN_ONLY:-}" ]; then
  python3 - "$work/plan.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"| {r['command']} | {r['mean'] * 1000:.1f} ms (min {r['min'] * 1000:.1f}) | < 100 ms |")
PY
  exit 0
fi
entries=$("$xtask" --root "$root" ci plan 2>/dev/null | python3 -c 'import json, sys; print(" ".join(e["venv"] for e in json.load(sys.stdin)["include"]))')

# Each entry alone, then the whole tree, all without remembered passes.
: >"$work/entries.txt"
for venv in $entries; do
  start=$(date +%s%N)
  "$xtask" --root "$root" verify --venv "$venv" --no-cache >"$work/venv-$venv.log" 2>&1 || true
  echo "$venv $(( ($(date +%s%N) - start) / 1000000 ))" >>"$work/entries.txt"
done
start=$(date +%s%N)
"$xtask" --root "$root" verify --no-cache >"$work/whole.log" 2>&1 || true
whole=$(( ($(date +%s%N) - start) / 1000000 ))

python3 - "$work/plan.json" "$work/entries.txt" "$whole" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
print("| what | mean | goal |\n|---|---|---|")
for r in rows:
    print(f"| {r['command']} | {r['mean'] * 1000:.1f} ms (min {r['min'] * 1000:.1f}) | < 100 ms |")
entries = [line.split() for line in open(sys.argv[2]) if line.strip()]
longest = max(entries, key=lambda e: int(e[1]))
whole = int(sys.argv[3]) / 1000
print("\nentries (verify --venv OWNER --no-cache, each alone): " + ", ".join(f"{v} {int(t) / 1000:.1f} s" for v, t in entries))
print(f"critical path (the longest entry, {longest[0]}): {int(longest[1]) / 1000:.1f} s; "
      f"verify --no-cache of the whole tree: {whole:.1f} s; ratio {int(longest[1]) / 1000 / whole:.2f}")
PY
