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
    for pattern in patterns {
        files.extend(matches(dir, &pattern));
    }
    files.sort();
    files.dedup();
    files
}

/// The files `pattern` (relative to `dir`, glob syntax) matches; none when it is not a pattern.
/// A leading dot is matched only by a dot, as Python's `glob` (which the backends use) does: a
/// `**/LICENSE*` never reaches into `.venv`, whose files an install changes.
fn matches(dir: &Path, pattern: &str) -> Vec<PathBuf> {
    let options = glob::MatchOptions {
        require_literal_leading_dot: true,
        ..glob::MatchOptions::new()
    };
    glob::glob_with(&escaped_join(dir, pattern), options)
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
