#!/usr/bin/env bash
# Benchmark of `cargo xtask setup` and `verify` on a grown monorepo: 6 services and 24 libraries
# (30 packages; every service uses 8 libraries, some shared, some libraries use another), made by
# xtask/bench/grown_tree.py from the seed tree in a scratch folder, against the seed-sized tree
# (4 packages) and against `verify --no-cache`, all in one hyperfine run, with the ratios. Then
# checks that after an edit of one library, verify reruns exactly the jobs that edit concerns.
# Needs hyperfine (`apt-get install hyperfine`, `brew install hyperfine`), git and python3.
#
#   bash xtask/bench/grown.sh            # RUNS=10 by default; WARMUP=1
#
# The first run may download the pinned developer tools from PyPI. On 2 cores with a warm uv
# cache: the 8 venvs are set up once (30-90 s), a first verify of the grown tree runs its 184
# jobs, byte-compiles the venvs and fills the mypy caches (30-60 s); then each of the RUNS +
# WARMUP runs of `verify --no-cache` takes about 15 s: some 5 minutes in all with RUNS=10.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-1}
started=$SECONDS
. xtask/bench/scratch.sh # $xtask (built), $work (removed on exit), $root (the seed tree)
command -v git >/dev/null || { echo "needs git" >&2; exit 1; }

# A word for hyperfine's command lines, which it splits like a POSIX shell (with -N too).
q() {
  local s=${1//\'/\'\\\'\'}
  printf "'%s'" "$s"
}

# Runs a command, its output in $work/NAME.log; when it fails, shows the output's last lines.
must() { # NAME CMD...
  local log="$work/$1.log"
  shift
  if ! "$@" >"$log" 2>&1; then
    echo "FAILED: $*" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
}

# The tree must be a git repository: verify checks what .gitignore ignores.
git_init() { # ROOT
  cp .gitignore "$1/"
  git -C "$1" init -q
  git -C "$1" add -A
  git -C "$1" -c user.name=bench -c user.email=bench@example.invalid -c commit.gpgsign=false \
    commit -q -m "benchmark tree"
}

# The trees: $root grown to 30 packages, $seed as scaffolded (4 packages).
manifest="$work/manifest.json"
python3 xtask/bench/grown_tree.py "$root" --manifest "$manifest"
seed="$work/seed"
mkdir -p "$seed"
"$xtask" --root "$seed" scaffold >/dev/null
git_init "$root"
git_init "$seed"
edit_of() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["edit"][sys.argv[2]])' "$manifest" "$1"; }
edit_pkg=$(edit_of package)
edit_module=$(edit_of module) # relative to the root
module="$root/$edit_module"
# The edit hyperfine prepares before each run: one comment line appended to a library module.
cat >"$work/edit.sh" <<SH
printf '# edited\n' >> $(q "$module")
SH

# Set up and verify each tree once (must pass): venvs, byte-code, mypy caches and memos warm.
t=$SECONDS
must setup-grown "$xtask" --root "$root" setup
must setup-seed "$xtask" --root "$seed" setup
echo "set up 8 venvs (grown tree: 6, seed tree: 2) in $((SECONDS - t)) s"
t=$SECONDS
must verify-grown "$xtask" --root "$root" verify
echo "grown tree, first verify: $(grep -E '^[0-9]+ jobs' "$work/verify-grown.log")"
must verify-seed "$xtask" --root "$seed" verify
echo "first verify of both trees: $((SECONDS - t)) s"

x=$(q "$xtask")
r=$(q "$root")
s=$(q "$seed")
edit="bash $(q "$work/edit.sh")"
echo "hyperfine: $RUNS runs (+$WARMUP warm-up) of each; edited library: $edit_pkg ($edit_module)"
# One run, both sides of every comparison; each --prepare goes with the command in its place.
hyperfine --style basic -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$work/bench.json" \
  --prepare true --prepare true --prepare true --prepare true --prepare "$edit" --prepare "$edit" \
  -n "setup-seed" "$x --root $s setup" \
  -n "setup-grown" "$x --root $r setup" \
  -n "verify-seed" "$x --root $s verify" \
  -n "verify-grown" "$x --root $r verify" \
  -n "verify-edit" "$x --root $r verify" \
  -n "verify-no-cache" "$x --root $r verify --no-cache"

# Which jobs an edit reruns. First a verify to remember the passes again (--no-cache remembers
# none, and the last runs saw edits), then a no-op for the counts, then one edit.
must verify-again "$xtask" --root "$root" verify
must noop-seed "$xtask" --root "$seed" verify --message-format json
must noop-grown "$xtask" --root "$root" verify --message-format json
bash "$work/edit.sh"
must edit-grown "$xtask" --root "$root" verify --message-format json

set +e
python3 - "$work" "$manifest" <<'PY'
import json
import pathlib
import sys

work, manifest = pathlib.Path(sys.argv[1]), json.loads(pathlib.Path(sys.argv[2]).read_text())


def jobs(name):
    """The job-finished objects and the summary of a --message-format json log."""
    lines = [json.loads(x) for x in (work / f"{name}.log").read_text().splitlines() if x.startswith("{")]
    done = [x for x in lines if x.get("reason") == "job-finished"]
    summary = next(x for x in lines if x.get("reason") == "summary")
    return done, summary


# What the edit should rerun, from the graph the generator wrote.
pk = manifest["packages"]
edited = manifest["edit"]["package"]


def closure(f):
    out = {f}
    for d in pk[f]["deps"]:
        out |= closure(d)
    return out


services = [f for f, p in pk.items() if p["kind"] == "service"]
installed_by = {f: [s for s in services if f in closure(s)] for f in pk}
affected = sorted((f for f in pk if edited in closure(f)), key=list(pk).index)
# ruff reads only the package's own files: it reruns for the edited library alone. mypy and
# pytest read the package and every local package it needs: they rerun for the library and
# every dependent, mypy in every venv that installs the package.
expected = {("ruff check", edited, None), ("ruff format", edited, None)}
for f in affected:
    expected |= {("mypy", f, v) for v in installed_by[f]}
    expected.add(("pytest", f, None))
# Each venv's post-check imports its install set from source: it reruns in every venv that
# installs the library.
expected |= {("environment (SC-001..3, SC-008)", s, None) for s in installed_by[edited]}
ALWAYS = ("tree", "seed tree", "gitignore", "readme", "imports")

done, summary = jobs("edit-grown")
ran = [x for x in done if not x["cached"]]
checks = [x for x in ran if x["tool"].startswith(ALWAYS)]
tools = [x for x in ran if not x["tool"].startswith(ALWAYS)]


def key(x):
    return x["tool"], x["package"], x["venv"] if x["tool"] == "mypy" else None


got = {key(x) for x in tools}
print(f"\nverify --message-format json after one edit of {edited}: {summary['jobs']} jobs, "
      f"{len(ran)} not cached: {len(checks)} always-run checks (tree, gitignore, imports, "
      f"readme) and {len(tools)} tool jobs:")
for x in tools:
    print(f"  {x['job']}")
unexpected = sorted(x["job"] for x in tools if key(x) not in expected)
missing = sorted(" ".join(str(p) for p in k if p) for k in expected - got)
ok = not unexpected and not missing and summary["result"] == "ok"
if ok:
    users = ", ".join(installed_by[edited])
    print(f"OK: exactly the jobs of {edited} (mypy in the venvs of {users}) and of its "
          f"dependents {', '.join(f for f in affected if f != edited)}")
else:
    for job in unexpected:
        print(f"UNEXPECTED (not cached, yet not concerned by the edit): {job}")
    for job in missing:
        print(f"MISSING (cached, yet concerned by the edit): {job}")

# The table, from hyperfine's JSON.
mean = {x["command"]: x["mean"] for x in json.loads((work / "bench.json").read_text())["results"]}
noop = {t: jobs(f"noop-{t}") for t in ("seed", "grown")}
n_pk = {"seed": 4, "grown": len(pk)}
n_venv = {"seed": 2, "grown": len(services)}


def ms(x):
    return f"{x * 1000:.1f} ms" if x < 0.1 else f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def goal(x, limit):
    return f"<= {limit * 1000:.0f} ms ({'met' if x <= limit else 'missed'})"


def tree(t):
    return f"{n_pk[t]} packages, {n_venv[t]} venvs, {noop[t][1]['jobs']} jobs"


def remembered(t):
    return f"{noop[t][1]['cached']} remembered, {noop[t][1]['jobs'] - noop[t][1]['cached']} checks run"


rows = [
    (f"`setup`, nothing changed: seed tree ({n_pk['seed']} packages, 2 venvs)", "setup-seed", "", "1"),
    (f"`setup`, nothing changed: grown tree ({n_pk['grown']} packages, {n_venv['grown']} venvs)",
     "setup-grown", goal(mean["setup-grown"], 0.020), f"{mean['setup-grown'] / mean['setup-seed']:.2f} (to the seed tree)"),
    (f"`verify`, nothing changed: seed tree ({tree('seed')}: {remembered('seed')})", "verify-seed", "", "1"),
    (f"`verify`, nothing changed: grown tree ({tree('grown')}: {remembered('grown')})",
     "verify-grown", goal(mean["verify-grown"], 0.150), f"{mean['verify-grown'] / mean['verify-seed']:.2f} (to the seed tree)"),
    (f"`verify --no-cache`: grown tree, one library edited (all {summary['jobs']} jobs run)", "verify-no-cache", "", "1"),
    (f"`verify`: grown tree, one library edited ({edited}: {len(tools)} tool jobs run, {len(checks)} checks)",
     "verify-edit", "", f"{mean['verify-edit'] / mean['verify-no-cache']:.3f} (to --no-cache)"),
]
print("\n| what | mean | goal | ratio |\n|---|---|---|---|")
for what, cmd, g, ratio in rows:
    print(f"| {what} | {ms(mean[cmd])} | {g} | {ratio} |")
print(f"\nno-op from {n_pk['seed']} to {n_pk['grown']} packages ({n_pk['grown'] / n_pk['seed']:.1f}x): "
      f"setup {mean['setup-grown'] / mean['setup-seed']:.1f}x, verify {mean['verify-grown'] / mean['verify-seed']:.1f}x")
sys.exit(0 if ok else 1)
PY
status=$?
set -e
echo "runs: $RUNS (+$WARMUP warm-up) each; whole benchmark: $((SECONDS - started)) s"
exit "$status"
