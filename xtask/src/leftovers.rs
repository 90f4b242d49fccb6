//! What tools leave in the tree, told by where they write it. Two kinds, because they are treated
//! differently: what tools write while they run (never an input of a job: outputs), and build
//! leftovers (an input of a job, since a tool can read them, but removable by `clean` when git
//! ignores them).
//!
//! Where tools write: Python puts bytecode in a `__pycache__` beside any module, so that name is
//! Python's anywhere. Every other tool writes in the folder it runs from: mypy, pytest, ruff and
//! coverage in their working folder, the xtask's venvs, venv locks and lock scratch at a
//! package's root. So those names are outputs only at a "tool root" (`python/` and each
//! package's folder): deeper down, a `coverage.xml` or a folder holding a `pyvenv.cfg` is a test
//! fixture, read like any other file. (The gates' own jobs write their caches inside the venv.)

use std::path::Path;

/// Folders tools write in their working folder: the tools' caches, coverage reports, and
/// `cargo xtask lock`'s scratch folder (left only by an interrupted lock).
const CACHE_DIRS: &[&str] = &[
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "htmlcov",
    ".xtask-lock",
];

/// Folders a build writes: setuptools' `build/` and `*.egg-info`, sdists and wheels in `dist/`.
const BUILD_DIRS: &[&str] = &["build", "dist"];

/// Where a name stands: in a folder where tools run and write (`python/`, a package's folder), or
/// below one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    ToolRoot,
    Below,
}

/// Bytecode: Python writes a `__pycache__` beside any module it imports.
pub fn is_bytecode(name: &str, is_dir: bool) -> bool {
    is_dir && name == "__pycache__"
}

/// Whether a `__pycache__` folder holds only what Python writes there: `*.pyc` files, and the
/// `*.pyc.<n>` of a write in progress. One that holds anything else (a module or a data file put
/// there, even one git tracks) is a person's: an input, and `clean` keeps it. A folder that
/// cannot be read counts as Python's.
pub fn holds_only_bytecode(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return true;
    };
    entries.flatten().all(|entry| {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        entry.file_type().is_ok_and(|t| t.is_file())
            && (name.ends_with(".pyc") || name.contains(".pyc."))
    })
}

/// A cache or report a tool writes in the folder it runs from (only meaningful at a tool root).
pub fn is_cache(name: &str, is_dir: bool) -> bool {
    if is_dir {
        CACHE_DIRS.contains(&name)
    } else {
        name == ".coverage" || name.starts_with(".coverage.") || name == "coverage.xml"
    }
}

/// What a tool wrote at `path` (named `name`), given where it stands: bytecode anywhere (a
/// `__pycache__` that holds only bytecode: [`holds_only_bytecode`]); caches,
/// venvs (a folder with a `pyvenv.cfg`), venv locks, what an interrupted removal of a venv left,
/// and `.git` at a tool root. Never an input.
pub fn is_tool_output(path: &Path, name: &str, is_dir: bool, place: Place) -> bool {
    if is_bytecode(name, is_dir) {
        return holds_only_bytecode(path);
    }
    place == Place::ToolRoot
        && (is_cache(name, is_dir)
            || name == ".git"
            || name == ".venv.lock"
            || (is_dir && is_removal_leftover(name))
            || (is_dir && path.join("pyvenv.cfg").is_file()))
}

/// What a folder being removed is renamed to, beside itself: `.venv.xtask-trash-<pid>-<n>`.
pub const REMOVAL_MARK: &str = ".xtask-trash-";

/// Whether `name` is a folder that a removal of a venv moved aside (`.venv.xtask-trash-<pid>-<n>`,
/// exactly: a folder of a person's named like one otherwise, `snapshots.xtask-trash-2024-05`, is
/// theirs): the xtask's own, never an input, deleted by the next setup, gate or clean.
pub fn is_removal_leftover(name: &str) -> bool {
    let number = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    name.strip_prefix(".venv")
        .and_then(|rest| rest.strip_prefix(REMOVAL_MARK))
        .and_then(|tail| tail.split_once('-'))
        .is_some_and(|(pid, n)| number(pid) && number(n))
}

/// What a build leaves: a folder named `build` or `dist`, or an `*.egg-info`.
pub fn is_build_leftover(name: &str, is_dir: bool) -> bool {
    is_dir && (BUILD_DIRS.contains(&name) || name.ends_with(".egg-info"))
}

/// Either kind at a tool root: what `clean` may remove there (where git ignores it).
pub fn is_leftover(name: &str, is_dir: bool) -> bool {
    is_bytecode(name, is_dir) || is_cache(name, is_dir) || is_build_leftover(name, is_dir)
}

/// Why a `build`, `dist` or `htmlcov` folder (`name`) is not all a tool's, if it is not: it holds
/// an entry that the tool writing such a folder does not write (a person's file).
/// setuptools' `build/` holds `lib*`, `bdist.*`, `temp.*` and `scripts-*`; a `dist/`, archives
/// (`.whl`, `.tar.gz`, `.zip`, `.egg`) and the `.gitignore` uv writes; coverage's `htmlcov/`, its
/// `status.json` beside pages, styles, scripts and images.
pub fn not_all_a_tools(dir: &Path, name: &str) -> Option<String> {
    let entries: Vec<(String, bool)> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| {
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            (e.file_name().to_string_lossy().into_owned(), is_dir)
        })
        .collect();
    let tools = |entry: &str, is_dir: bool| match name {
        "build" => {
            is_dir
                && (entry == "lib"
                    || ["lib.", "bdist.", "temp.", "scripts-"]
                        .iter()
                        .any(|p| entry.starts_with(p)))
        }
        "dist" => {
            !is_dir
                && (entry == ".gitignore"
                    || [".whl", ".tar.gz", ".zip", ".egg"]
                        .iter()
                        .any(|s| entry.ends_with(s)))
        }
        "htmlcov" => {
            !is_dir
                && (entry == ".gitignore"
                    || [".html", ".css", ".js", ".png", ".json"]
                        .iter()
                        .any(|s| entry.ends_with(s)))
        }
        _ => true,
    };
    if name == "htmlcov" && !entries.iter().any(|(e, _)| e == "status.json") {
        return Some("it has no status.json, so coverage did not write it".into());
    }
    entries
        .into_iter()
        .find(|(entry, is_dir)| !tools(entry, *is_dir))
        .map(|(entry, _)| format!("it holds {entry}, which no tool writes in a {name} folder"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caches_and_build_leftovers_are_told_apart() {
        assert!(is_bytecode("__pycache__", true) && is_cache(".coverage.host.1", false));
        assert!(!is_cache("build", true) && is_build_leftover("build", true));
        assert!(is_build_leftover("x.egg-info", true) && !is_build_leftover("build", false));
        assert!(!is_leftover("src", true) && !is_leftover("__pycache__", false));
    }

    #[test]
    fn caches_are_outputs_only_where_tools_write_them() {
        let here = Path::new("/nonexistent");
        assert!(is_tool_output(here, "coverage.xml", false, Place::ToolRoot));
        assert!(!is_tool_output(here, "coverage.xml", false, Place::Below));
        assert!(!is_tool_output(here, ".mypy_cache", true, Place::Below));
        assert!(is_tool_output(here, "__pycache__", true, Place::Below));
    }
}
