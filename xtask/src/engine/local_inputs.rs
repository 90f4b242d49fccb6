//! What the gates read that git's history cannot show, and its state at the last `verify` that
//! passed for every package.
//!
//! Why: `--changed-since REV` (pre-push, `ci plan`) selects the packages whose files changed
//! since REV, and leaves out the rest as REV's verdicts. Some inputs of every job have no history
//! to compare with REV: the repository's `info/exclude`, the file `core.excludesFile` names,
//! `.ignore` files above the repository, ruff's user configuration, and whatever outside the
//! repository a configuration, an option or a symlink under `python/` leads to
//! ([`Inputs::local`]); and the tools' own environment variables ([`TOOL_VARIABLES`]:
//! `PYTEST_ADDOPTS`, `COVERAGE_RCFILE`, `PYTHONPATH`...). An edit to one of them can move the
//! verdict of a package that no changed file selects (a line gone from `info/exclude` makes ruff
//! check a file again). The other variables the keys count (PATH, anything a test may read) are
//! not compared: a push from another terminal would select every package.
//!
//! The rule: a `verify` that passes records their state, per path, when it covered every package
//! (or when its record was missing or the same: nothing it left out could have moved); a
//! selection made from a change selects every package when their state now differs from the
//! record, naming the first path that does. With no record (a fresh clone, a CI runner, after
//! the git folder's file is removed) there is nothing to compare with, and nothing is added:
//! as before.
//!
//! Where: `xtask-local-inputs` in the git folder of the work tree that holds the root (each
//! worktree has its own, the pre-push hook's kept checkout too): never in `python/`, never
//! tracked, gone with the clone. Its first line is the root it was made for: another root of
//! the same work tree has no record.

use std::fs;
use std::path::{Path, PathBuf};

use crate::engine::inputs::{Inputs, is_volatile};

/// The record's name in the work tree's git folder.
const FILE: &str = "xtask-local-inputs";

/// The prefixes of the variables the tools read as their own configuration: pytest's, coverage's,
/// mypy's (`MYPYPATH` too), ruff's and Python's.
const TOOL_VARIABLES: &[&str] = &["PYTEST_", "COVERAGE_", "MYPY", "RUFF_", "PYTHON"];

/// The tools' variables set now, each as `$NAME` with the digest of its value (those the xtask
/// removes or sets for every job left out).
fn tool_variables() -> Vec<(PathBuf, String)> {
    std::env::vars_os()
        .map(|(k, v)| (k.to_string_lossy().into_owned(), v))
        .filter(|(k, _)| TOOL_VARIABLES.iter().any(|p| k.starts_with(p)) && !is_volatile(k))
        .map(|(k, v)| {
            let digest = crate::digest::hash(v.to_string_lossy().as_bytes());
            (PathBuf::from(format!("${k}")), digest)
        })
        .collect()
}

/// What is compared: [`Inputs::local`] and [`tool_variables`].
fn now(root: &Path, inputs: &Inputs<'_>) -> Record {
    let mut entries = inputs.local();
    entries.extend(tool_variables());
    Record::of(root, &entries)
}

/// What the record says: the root, then each path with the digest of what was read there.
#[derive(Debug, PartialEq, Eq)]
struct Record {
    root: String,
    entries: Vec<(String, String)>,
}

impl Record {
    fn of(root: &Path, now: &[(PathBuf, String)]) -> Record {
        let mut entries: Vec<(String, String)> = now
            .iter()
            .map(|(path, digest)| (path.to_string_lossy().into_owned(), digest.clone()))
            .collect();
        entries.sort();
        entries.dedup();
        Record {
            root: root.to_string_lossy().into_owned(),
            entries,
        }
    }

    fn text(&self) -> String {
        let mut text = format!("root\t{}\n", self.root);
        for (path, digest) in &self.entries {
            text.push_str(&format!("{digest}\t{path}\n"));
        }
        text
    }

    /// None when the text is not a record (then it is not one of this root's).
    fn parse(text: &str) -> Option<Record> {
        let mut lines = text.lines();
        let root = lines.next()?.strip_prefix("root\t")?.to_owned();
        let entries = lines
            .map(|line| {
                let (digest, path) = line.split_once('\t')?;
                Some((path.to_owned(), digest.to_owned()))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Record { root, entries })
    }

    /// The first path whose state differs between the two (present in one only, or read
    /// differently), in path order.
    fn first_difference(&self, other: &Record) -> Option<String> {
        let mut paths: Vec<&String> = self.entries.iter().map(|(p, _)| p).collect();
        paths.extend(other.entries.iter().map(|(p, _)| p));
        paths.sort();
        paths.dedup();
        let find = |r: &Record, path: &String| {
            r.entries
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, d)| d.clone())
        };
        paths
            .into_iter()
            .find(|path| find(self, path) != find(other, path))
            .cloned()
    }
}

/// Where the record of `root` lives: the git folder of the work tree that holds it (`.git`, or
/// where a worktree's `.git` file leads).
fn record_path(root: &Path) -> Option<PathBuf> {
    let top = root.ancestors().find(|d| d.join(".git").exists())?;
    let dot_git = top.join(".git");
    if dot_git.is_dir() {
        return Some(dot_git.join(FILE));
    }
    let text = fs::read_to_string(&dot_git).ok()?;
    Some(top.join(text.strip_prefix("gitdir:")?.trim()).join(FILE))
}

/// What the record of `root` holds: None when there is none; Err when a file is there that is
/// not one (it then counts as differing).
fn recorded(root: &Path) -> Result<Option<Record>, ()> {
    let Some(path) = record_path(root) else {
        return Ok(None);
    };
    match fs::read_to_string(&path) {
        Ok(text) => Record::parse(&text)
            .filter(|r| r.root == root.to_string_lossy())
            .map(Some)
            .ok_or(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(_) => Err(()),
    }
}

/// Why a selection from a change must take every package: the first path of these inputs whose
/// state differs from the record of the last `verify` of every package. None when they are the
/// same, or there is no record.
pub fn changed_since_verified(root: &Path, inputs: &Inputs<'_>) -> Option<String> {
    // Read first: with no record, nothing is read of the inputs (a CI runner's `ci plan`).
    match recorded(root) {
        Ok(None) => None,
        Ok(Some(record)) => record.first_difference(&now(root, inputs)),
        Err(()) => Some(format!(
            "{} (not a record the xtask can read)",
            record_path(root).map_or_else(String::new, |p| p.display().to_string())
        )),
    }
}

/// After a `verify` that passed: records the state of these inputs, when the run covered every
/// package (`whole`), or when the record was missing or the same (what the run left out was
/// verified under the same state). A record that cannot be written is no error: without it,
/// nothing is compared.
pub fn record_pass(root: &Path, inputs: &Inputs<'_>, whole: bool) {
    let now = now(root, inputs);
    let old = recorded(root);
    let write = match &old {
        Ok(Some(record)) => *record != now && whole,
        Ok(None) => true,
        Err(()) => whole,
    };
    if write && let Some(path) = record_path(root) {
        let _ = crate::fsutil::write_atomic(&path, now.text().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(entries: &[(&str, &str)]) -> Record {
        let now: Vec<(PathBuf, String)> = entries
            .iter()
            .map(|(p, d)| (PathBuf::from(p), (*d).to_owned()))
            .collect();
        Record::of(Path::new("/r o/ot"), &now)
    }

    #[test]
    fn a_record_reads_back_and_names_the_first_path_that_differs() {
        let old = record(&[
            ("/r o/ot/.git/info/exclude", "aa"),
            ("/home/u/.gitignore", "bb"),
        ]);
        assert_eq!(
            Record::parse(&old.text()),
            Some(record(&[
                ("/home/u/.gitignore", "bb"),
                ("/r o/ot/.git/info/exclude", "aa"),
            ]))
        );
        assert_eq!(old.first_difference(&old), None);
        let edited = record(&[
            ("/r o/ot/.git/info/exclude", "ab"),
            ("/home/u/.gitignore", "bb"),
        ]);
        assert_eq!(
            old.first_difference(&edited).as_deref(),
            Some("/r o/ot/.git/info/exclude")
        );
        // A path read now that was not then (another excludes file named), and the other way.
        let more = record(&[
            ("/r o/ot/.git/info/exclude", "aa"),
            ("/home/u/.gitignore", "bb"),
            ("/etc/ignore", "cc"),
        ]);
        assert_eq!(old.first_difference(&more).as_deref(), Some("/etc/ignore"));
        assert_eq!(more.first_difference(&old).as_deref(), Some("/etc/ignore"));
        assert_eq!(Record::parse("not a record\n"), None);
        assert_eq!(Record::parse("root\t/x\nno tab here\n"), None);
    }
}
