//! The files besides `pyproject.toml` that a package's build reads, so that its editable install
//! is rebuilt when one changes (a venv's stamp counts them: see `env::session`).
//!
//! Why: uv reuses an editable's build while `pyproject.toml`, `setup.py` and `setup.cfg` keep
//! their times, and the stamp counted `pyproject.toml` alone. A `setup.py` that no longer builds,
//! a C extension's source, or the README that becomes the package's description left a venv
//! "up to date" that a fresh one contradicts.
//!
//! Which: `setup.py`, `setup.cfg` and `MANIFEST.in` (counted present or missing: one that comes
//! is a change), the file `[project] readme` names, the file `[project] license` names, and the
//! files `[project] license-files` matches (the backends' default patterns when it is not set:
//! `LICEN[CS]E*`, `COP[YI]ING*`, `NOTICE*`, `AUTHORS*`). With a `setup.py`, the
//! sources of compiled extensions too ([`EXTENSION_SOURCES`], anywhere in the package folder):
//! Python files are not among them, since an editable install serves them from the tree.

use std::path::{Path, PathBuf};

use toml_edit::{Item, Table};

/// The suffixes of the files a `setup.py` can compile into an extension module.
pub const EXTENSION_SOURCES: &[&str] = &[
    ".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".hxx", ".pyx", ".pxd", ".pxi", ".f", ".f90",
    ".cu", ".rs",
];

/// The `license-files` patterns backends use when a package sets none: setuptools'
/// (`LICEN[CS]E*`, `COPYING*`, `NOTICE*`, `AUTHORS*`) and hatchling's (`COPYING` spelled
/// `COPYING*` too); flit and pdm take fewer. Counted for every backend: a file counted that a
/// backend does not read costs a rebuild when it changes, never a stale venv.
const DEFAULT_LICENSE_FILES: &[&str] = &["LICEN[CS]E*", "COP[YI]ING*", "NOTICE*", "AUTHORS*"];

/// The build files of the package in `dir` whose pyproject is `doc` (see the module's comment),
/// sorted.
pub fn of(doc: &Table, dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["setup.py", "setup.cfg", "MANIFEST.in"]
        .iter()
        .map(|name| dir.join(name))
        .collect();
    let project = doc.get("project");
    let file_of = |key: &str| -> Option<String> {
        let item = project?.get(key)?;
        match item {
            Item::Value(v) if key == "readme" => v.as_str().map(str::to_owned).or_else(|| {
                v.as_inline_table()
                    .and_then(|t| t.get("file"))
                    .and_then(|f| f.as_str())
                    .map(str::to_owned)
            }),
            Item::Value(v) => v
                .as_inline_table()
                .and_then(|t| t.get("file"))
                .and_then(|f| f.as_str())
                .map(str::to_owned),
            Item::Table(t) => t.get("file").and_then(Item::as_str).map(str::to_owned),
            _ => None,
        }
    };
    files.extend(file_of("readme").map(|f| dir.join(f)));
    files.extend(file_of("license").map(|f| dir.join(f)));
    let declared: Option<Vec<String>> = project
        .and_then(|p| p.get("license-files"))
        .and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        });
    let patterns: Vec<String> = declared.unwrap_or_else(|| {
        DEFAULT_LICENSE_FILES
            .iter()
            .map(|p| (*p).to_owned())
            .collect()
    });
    // The default patterns, and most declared ones, name files at the package's top: one listing
    // of it serves them all (the glob crate walks and stats every folder from `/` down for each
    // pattern of an absolute path: a tenth of a no-op setup).
    let mut top: Option<Vec<std::ffi::OsString>> = None;
    for pattern in patterns {
        if pattern.contains(['/', '\\']) {
            files.extend(matches(dir, &pattern));
        } else {
            let names = top.get_or_insert_with(|| names_in(dir));
            files.extend(matches_at_top(dir, names, &pattern));
        }
    }
    files.sort();
    files.dedup();
    files
}

/// Glob's options, as Python's `glob` (which the backends use) matches: a leading dot is matched
/// only by a dot, so a `**/LICENSE*` never reaches into `.venv`, whose files an install changes.
fn options() -> glob::MatchOptions {
    glob::MatchOptions {
        require_literal_leading_dot: true,
        ..glob::MatchOptions::new()
    }
}

/// The names of the entries of `dir`, or none when it cannot be read.
fn names_in(dir: &Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

/// The files among `names` (the entries of `dir`) that `pattern`, a name without a folder,
/// matches.
fn matches_at_top(dir: &Path, names: &[std::ffi::OsString], pattern: &str) -> Vec<PathBuf> {
    let Ok(pattern) = glob::Pattern::new(pattern) else {
        return Vec::new();
    };
    names
        .iter()
        .filter(|name| {
            name.to_str()
                .is_some_and(|name| pattern.matches_with(name, options()))
        })
        .map(|name| dir.join(name))
        .filter(|path| path.is_file())
        .collect()
}

/// The files `pattern` (relative to `dir`, glob syntax, with folders) matches; none when it is
/// not a pattern.
fn matches(dir: &Path, pattern: &str) -> Vec<PathBuf> {
    glob::glob_with(&escaped_join(dir, pattern), options())
        .map(|found| found.flatten().filter(|p| p.is_file()).collect())
        .unwrap_or_default()
}

/// `dir` (its glob characters escaped) joined with `pattern`.
fn escaped_join(dir: &Path, pattern: &str) -> String {
    let base = glob::Pattern::escape(&dir.to_string_lossy());
    format!("{}/{pattern}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_license_and_setuptools_defaults_are_build_files() {
        let dir =
            std::env::temp_dir().join(format!("xtask-build-files-{} [é]", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["README.md", "LICENSE", "NOTICE.txt", "COPYRIGHT", "docs.md"] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        // A venv's files (an install changes them) are never matched, even by `**`.
        std::fs::create_dir_all(dir.join(".venv/lib")).unwrap();
        std::fs::write(dir.join(".venv/lib/LICENSE"), "").unwrap();
        let doc: toml_edit::DocumentMut = "[project]\nname = \"x\"\nreadme = \"README.md\"\n"
            .parse()
            .unwrap();
        let names = |files: Vec<PathBuf>| -> Vec<String> {
            files
                .iter()
                .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            names(of(doc.as_table(), &dir)),
            [
                "LICENSE",
                "MANIFEST.in",
                "NOTICE.txt",
                "README.md",
                "setup.cfg",
                "setup.py"
            ]
        );
        // A declared list and a license file instead of the defaults.
        let doc: toml_edit::DocumentMut = "[project]\nname = \"x\"\nreadme = {file = \"docs.md\", content-type = \"text/markdown\"}\nlicense = {file = \"COPYRIGHT\"}\nlicense-files = [\"NOTICE*\", \"**/LICENSE\"]\n"
            .parse()
            .unwrap();
        assert_eq!(
            names(of(doc.as_table(), &dir)),
            [
                "COPYRIGHT",
                "LICENSE",
                "MANIFEST.in",
                "NOTICE.txt",
                "docs.md",
                "setup.cfg",
                "setup.py"
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
