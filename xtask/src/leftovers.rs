//! The names of what tools leave in the tree. Two kinds, because they are treated differently:
//! caches that tools write while they run (never an input of a job: they are outputs), and build
//! leftovers (an input of a job, since a tool can read them, but removable by `clean` when git
//! ignores them).

/// Folders tools write while they run: bytecode, the tools' caches, coverage reports.
const CACHE_DIRS: &[&str] = &[
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "htmlcov",
    // `cargo xtask lock`'s scratch folder, left only by an interrupted lock.
    ".xtask-lock",
];

/// Folders a build writes: setuptools' `build/` and `*.egg-info`, sdists and wheels in `dist/`.
const BUILD_DIRS: &[&str] = &["build", "dist"];

/// A cache a tool writes while it runs: never read as a source, so never an input.
pub fn is_cache(name: &str, is_dir: bool) -> bool {
    if is_dir {
        CACHE_DIRS.contains(&name)
    } else {
        name == ".coverage" || name.starts_with(".coverage.") || name == "coverage.xml"
    }
}

/// What a build leaves: a folder named `build` or `dist`, or an `*.egg-info`.
pub fn is_build_leftover(name: &str, is_dir: bool) -> bool {
    is_dir && (BUILD_DIRS.contains(&name) || name.ends_with(".egg-info"))
}

/// Either kind: what `clean` may remove (where git ignores it).
pub fn is_leftover(name: &str, is_dir: bool) -> bool {
    is_cache(name, is_dir) || is_build_leftover(name, is_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_and_build_leftovers_are_told_apart() {
        assert!(is_cache("__pycache__", true) && is_cache(".coverage.host.1", false));
        assert!(!is_cache("build", true) && is_build_leftover("build", true));
        assert!(is_build_leftover("x.egg-info", true) && !is_build_leftover("build", false));
        assert!(!is_leftover("src", true) && !is_leftover("__pycache__", false));
    }
}
