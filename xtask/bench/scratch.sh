# Sourced by the benchmarks: checks for hyperfine, builds the xtask, and scaffolds a scratch copy
# of the tree in a temporary folder removed on exit. Sets $xtask, $work and $root.
command -v hyperfine >/dev/null || { echo "needs hyperfine: apt-get install hyperfine" >&2; exit 1; }
cargo build --quiet --package xtask
xtask=$PWD/target/debug/xtask
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/tree"
mkdir -p "$root"
"$xtask" --root "$root" scaffold >/dev/null

# Builds the xtask of an earlier commit ($1) from its sources in $work; sets $old to its binary.
build_base() {
  local src="$work/base-src"
  mkdir -p "$src"
  git archive "$1" | tar -x -C "$src"
  CARGO_TARGET_DIR="$work/base-target" cargo build --quiet --package xtask --manifest-path "$src/Cargo.toml"
  old="$work/base-target/debug/xtask"
}
