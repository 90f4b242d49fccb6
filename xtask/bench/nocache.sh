#!/usr/bin/env bash
# Benchmark of what sound tool caches cost: `verify --no-cache` of this xtask (no memo, and no
# tool cache answers for the tree: mypy's entries of the tree's modules and their bytecode
# forgotten before each job, ruff without its cache) against the same command of an earlier
# xtask (BASE, by default the commit before the caches were made sound: memo off, tool caches
# trusted), each on a scratch tree of its own with warm venvs, in one hyperfine run, with the
# ratio. Then a normal `verify` after an edit that keeps size and time (the caches forget the
# tree's entries) against one after an ordinary edit. Needs hyperfine and git.
#
#   bash xtask/bench/nocache.sh          # RUNS=5, BASE=5b71489 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-5}
BASE=${BASE:-5b71489}
. xtask/bench/scratch.sh # $xtask (built), $work (removed on exit), $root (the seed tree), build_base
build_base "$BASE" # $old
old_root="$work/old-tree"
cp -a "$root" "$old_root"
for r in "$root" "$old_root"; do
  cp .gitignore "$r/"
  git -C "$r" init -q
done
limits="$root/python/libs/common/src/dubbing_common/__init__.py"
printf '# run 000000\n' >> "$limits"
"$xtask" --root "$root" verify >/dev/null
"$old" --root "$old_root" lock >/dev/null
"$old" --root "$old_root" verify >/dev/null

q() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }
# Each run edits the file anew (a counter of fixed width in a comment, so no memo can answer):
# keeping its size and time, or as an editor does (a new time).
cat > "$work/edit.py" <<'PY'
import os, re, sys
path, keep_time = sys.argv[1], sys.argv[2] == "keep-time"
st = os.stat(path)
text = open(path).read()
n = int(re.search(r"# run (\d+)", text).group(1)) + 1
open(path, "w").write(re.sub(r"# run \d+", f"# run {n:06d}", text))
if keep_time:
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
PY
hyperfine --runs "$RUNS" --warmup 1 --export-json "$work/nocache.json" \
  -n "old verify --no-cache" "$(q "$old") --root $(q "$old_root") verify --no-cache" \
  -n "new verify --no-cache" "$(q "$xtask") --root $(q "$root") verify --no-cache" \
  -n "new verify, an edit keeping size and time" \
  "python3 $(q "$work/edit.py") $(q "$limits") keep-time && $(q "$xtask") --root $(q "$root") verify" \
  -n "new verify, an ordinary edit" "python3 $(q "$work/edit.py") $(q "$limits") new-time && $(q "$xtask") --root $(q "$root") verify"
python3 - "$work/nocache.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
old, new = r["old verify --no-cache"], r["new verify --no-cache"]
same, plain = r["new verify, an edit keeping size and time"], r["new verify, an ordinary edit"]
print(f"verify --no-cache: old {old:.2f} s, new {new:.2f} s, ratio {new / old:.2f}")
print(f"verify after an edit keeping size and time {same:.2f} s vs an ordinary edit {plain:.2f} s: ratio {same / plain:.2f}")
PY
