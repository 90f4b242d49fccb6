//! What the gates read outside `python/` and its history, and its state at the last `verify`
//! that passed for every package.
//!
//! Why: `--changed-since REV` (pre-push, `ci plan`) selects the packages whose files changed
//! since REV, and leaves out the rest as REV's verdicts. Some inputs of every job are not files
//! under `python/` that git compares with REV: the repository's `info/exclude`, the files
//! `core.excludesFile` names, `.ignore` files above the repository, ruff's user configuration,
//! whatever a configuration, an option or a symlink under `python/` leads to (an untracked or
//! ignored file in the repository too), and the tools' own variables ([`COMPARED_VARIABLES`]:
//! `PYTEST_ADDOPTS`, `COVERAGE_RCFILE`, `PYTHONWARNINGS`, `XTASK_PYTHON`...). An edit to one of
//! them can move the verdict of a package that no changed file selects (a line gone from
//! `info/exclude` makes ruff check a file again). The other variables the keys count (PATH,
//! anything a test may read) are not compared: a push from another terminal would select every
//! package.
//!
//! The rule: a `verify` that passes records their state (as it was when the run started), per
//! path, when it covered every package, or when there was no record or it was the same (then
//! nothing the run left out was verified under another state). A selection made from a change
//! selects every package when their state now differs from the record, naming the first path
//! that does. With no record (a fresh clone, a CI runner) there is nothing to compare, and
//! nothing is added.
//!
//! Where: `xtask-local-inputs` in the repository's common git folder, shared by its worktrees
//! (the pre-push hook's kept checkout compares with the work tree's last verify), one for each
//! root's place in the work tree. Paths in the work tree are recorded from its top, the others
//! as they really are (symlinks resolved); a file that is missing is left out (its coming
//! still differs).

use std::fs;
use std::path::{Path, PathBuf};

use crate::engine::inputs::{Inputs, is_volatile};
use crate::engine::outside;

/// The record's name in the repository's git folder.
const FILE: &str = "xtask-local-inputs";

/// The variables the tools read as their own configuration: pytest's, coverage's, mypy's
/// (`MYPYPATH` too), ruff's and Python's, by prefix, and the xtask's choice of interpreter.
const COMPARED_VARIABLES: &[&str] = &["PYTEST_", "COVERAGE_", "MYPY", "RUFF_", "PYTHON"];

/// Variables of those prefixes that the xtask sets for every job itself: the caller's value is
/// never seen.
const SET_FOR_JOBS: &[&str] = &["COVERAGE_FILE", "PYTHONPYCACHEPREFIX"];

/// The compared variables set now, each as `$NAME` with the digest of its value.
fn compared_variables() -> Vec<(String, String)> {
    std::env::vars_os()
        .map(|(k, v)| (k.to_string_lossy().into_owned(), v))
        .filter(|(k, _)| {
            (COMPARED_VARIABLES.iter().any(|p| k.starts_with(p)) || k == "XTASK_PYTHON")
                && !is_volatile(k)
                && !SET_FOR_JOBS.contains(&k.as_str())
        })
        .map(|(k, v)| {
            let digest = crate::digest::hash(v.as_encoded_bytes());
            (format!("${k}"), digest)
        })
        .collect()
}

/// The state compared and recorded: each path or variable with its digest, sorted.
#[derive(Debug, PartialEq, Eq)]
pub struct State {
    entries: Vec<(String, String)>,
}

impl State {
    /// The state now: [`Inputs::read_outside`] and [`compared_variables`].
    pub fn now(root: &Path, inputs: &Inputs<'_>) -> State {
        let top = outside::repository(root).map(|(top, _)| canonical(&top));
        let mut entries: Vec<(String, String)> = inputs
            .read_outside()
            .into_iter()
            .filter(|(_, digest)| !outside::is_missing(digest))
            .map(|(path, digest)| (recorded_path(&path, top.as_deref()), digest))
            .collect();
        entries.extend(compared_variables());
        entries.sort();
        entries.dedup();
        State { entries }
    }

    fn text(&self) -> Vec<u8> {
        let mut text = Vec::new();
        for (path, digest) in &self.entries {
            text.extend_from_slice(digest.as_bytes());
            text.push(0);
            text.extend_from_slice(path.as_bytes());
            text.push(0);
        }
        text
    }

    /// None when the bytes are not a record.
    fn parse(bytes: &[u8]) -> Option<State> {
        let text = std::str::from_utf8(bytes).ok()?;
        let fields: Vec<&str> = text
            .strip_suffix('\0')
            .unwrap_or(text)
            .split('\0')
            .collect();
        if text.is_empty() {
            return Some(State { entries: vec![] });
        }
        if !fields.len().is_multiple_of(2) {
            return None;
        }
        let entries = fields
            .chunks(2)
            .map(|pair| (pair[1].to_owned(), pair[0].to_owned()))
            .collect();
        Some(State { entries })
    }

    /// The first path whose state differs between the two (present in one only, or read
    /// differently), in path order.
    fn first_difference(&self, other: &State) -> Option<String> {
        let mut paths: Vec<&String> = self.entries.iter().map(|(p, _)| p).collect();
        paths.extend(other.entries.iter().map(|(p, _)| p));
        paths.sort();
        paths.dedup();
        let find = |s: &State, path: &String| {
            s.entries
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

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A path as the record holds it: from the work tree's top when in it (the same in every
/// worktree), else as it really is.
fn recorded_path(path: &Path, top: Option<&Path>) -> String {
    let real = canonical(path);
    match top.and_then(|top| real.strip_prefix(top).ok()) {
        Some(rel) => format!("./{}", rel.to_string_lossy()),
        None => real.to_string_lossy().into_owned(),
    }
}

/// Where the record of `root` lives: in the repository's common git folder, named for the
/// root's place in its work tree.
fn record_path(root: &Path) -> Option<PathBuf> {
    let (top, common) = outside::repository(root)?;
    let rel = canonical(root)
        .strip_prefix(canonical(&top))
        .map(|r| r.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = if rel.is_empty() {
        FILE.to_owned()
    } else {
        format!("{FILE}-{}", &crate::digest::hash(rel.as_bytes())[..16])
    };
    Some(common.join(name))
}

/// What the record of `root` holds: None when there is none; Err when a file is there that is
/// not one (it then counts as differing).
fn recorded(root: &Path) -> Result<Option<State>, ()> {
    let Some(path) = record_path(root) else {
        return Ok(None);
    };
    match fs::read(&path) {
        Ok(bytes) => State::parse(&bytes).map(Some).ok_or(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(_) => Err(()),
    }
}

/// Why a selection from a change must take every package: the first path of these inputs whose
/// state (`now`) differs from the record of the last `verify` of every package. None when they
/// are the same, or there is no record.
pub fn changed_since_verified(root: &Path, now: impl FnOnce() -> State) -> Option<String> {
    // Read first: with no record, nothing is read of the inputs (a CI runner's `ci plan`).
    match recorded(root) {
        Ok(None) => None,
        Ok(Some(record)) => record.first_difference(&now()),
        Err(()) => Some(format!(
            "the record {} (unreadable)",
            record_path(root).map_or_else(String::new, |p| p.display().to_string())
        )),
    }
}

/// After a `verify` that passed: records `state` (as the run started), when the run covered
/// every package (`whole`), or when the record was missing or the same (what the run left out
/// was verified under the same state). A record that cannot be written is no error: without
/// it, nothing is compared.
pub fn record_pass(root: &Path, state: &State, whole: bool) {
    let write = match recorded(root) {
        Ok(Some(record)) => record != *state && whole,
        Ok(None) => true,
        Err(()) => whole,
    };
    if write && let Some(path) = record_path(root) {
        let _ = crate::fsutil::write_atomic(&path, &state.text());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(entries: &[(&str, &str)]) -> State {
        let mut entries: Vec<(String, String)> = entries
            .iter()
            .map(|(p, d)| ((*p).to_owned(), (*d).to_owned()))
            .collect();
        entries.sort();
        State { entries }
    }

    #[test]
    fn a_record_reads_back_and_names_the_first_path_that_differs() {
        let old = state(&[
            ("/r o/ot/.git/info/exclude", "aa"),
            ("/home/u/.gitignore", "bb"),
        ]);
        assert_eq!(
            State::parse(&old.text()),
            Some(state(&[
                ("/home/u/.gitignore", "bb"),
                ("/r o/ot/.git/info/exclude", "aa"),
            ]))
        );
        let odd = state(&[("/a\nnew line/\tx", "aa"), ("$PYTEST_ADDOPTS", "cc")]);
        assert_eq!(State::parse(&odd.text()), Some(odd));
        assert_eq!(old.first_difference(&old), None);
        let edited = state(&[
            ("/r o/ot/.git/info/exclude", "ab"),
            ("/home/u/.gitignore", "bb"),
        ]);
        assert_eq!(
            old.first_difference(&edited).as_deref(),
            Some("/r o/ot/.git/info/exclude")
        );
        // A path read now that was not then (another excludes file named), and the other way.
        let more = state(&[
            ("/r o/ot/.git/info/exclude", "aa"),
            ("/home/u/.gitignore", "bb"),
            ("/etc/ignore", "cc"),
        ]);
        assert_eq!(old.first_difference(&more).as_deref(), Some("/etc/ignore"));
        assert_eq!(more.first_difference(&old).as_deref(), Some("/etc/ignore"));
        assert_eq!(State::parse(b"odd\0"), None);
        assert_eq!(State::parse(b"\xff\0x\0"), None);
    }

    /// Every worktree of a repository reads the same record (the pre-push hook's kept checkout
    /// compares with the work tree's last verify), with paths in it from its own top; another
    /// root in the same work tree has a record of its own.
    #[test]
    fn worktrees_share_the_record_and_another_root_has_its_own() {
        let base = std::env::temp_dir().join(format!("xtask-li-{} é", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let main = base.join("main");
        fs::create_dir_all(main.join("sub")).unwrap();
        fs::write(main.join("sub/f"), "").unwrap();
        let git = |dir: &Path, args: &[&str]| {
            let ok = std::process::Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(["-c", "user.email=a@b", "-c", "user.name=a"])
                .args(args)
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&main, &["init", "-q"]);
        git(&main, &["add", "."]);
        git(&main, &["commit", "-q", "-m", "x"]);
        let kept = base.join("kept tree");
        git(
            &main,
            &["worktree", "add", "-q", "--detach", kept.to_str().unwrap()],
        );
        let record = canonical(&main.join(".git")).join(FILE);
        assert_eq!(
            record_path(&main).map(|p| canonical(p.parent().unwrap()).join(FILE)),
            Some(record.clone())
        );
        assert_eq!(
            record_path(&kept).map(|p| canonical(p.parent().unwrap()).join(FILE)),
            Some(record)
        );
        assert_ne!(record_path(&main.join("sub")), record_path(&main));
        let (main_top, kept_top) = (canonical(&main), canonical(&kept));
        assert_eq!(
            recorded_path(&main.join("sub/f"), Some(&main_top)),
            "./sub/f"
        );
        assert_eq!(
            recorded_path(&kept.join("sub/f"), Some(&kept_top)),
            "./sub/f"
        );
        let _ = fs::remove_dir_all(&base);
    }
}
