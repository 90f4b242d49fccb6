//! The build context of a service's image, `<dist dir>/<service>/`: its Dockerfile, its runtime
//! lock, `install.py`, `wheels/` and `manifest.json` (see `workspace::deploy::context`), and what
//! goes into them: the Dockerfile written once from its template, the commit and the times.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::cmd::Cmd;
use crate::digest;
use crate::env::installer::UV_VERSION;
use crate::env::interpreter::VERSION_FILE;
use crate::env::lock::{self, Status};
use crate::fsutil;
use crate::output::json_string;
use crate::project::{self, PYTHON_DIR};
use crate::workspace::deploy::context;
use crate::workspace::{Package, Workspace, dockerfile};

use super::wheels::ZIP_EPOCH;

/// The install steps, the same in the image and in dist's check.
pub const INSTALL_PY: &str = include_str!("install.py");

/// Where contexts go: `$XTASK_DIST_DIR`, else `target/dist` under the root.
pub fn dist_dir(root: &Path) -> PathBuf {
    match std::env::var_os("XTASK_DIST_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => root.join("target").join("dist"),
    }
}

/// A git command started at the root; its output is read with [`git_output`]. Several run at
/// once: a run with nothing to build spends most of its time waiting for them.
fn git_started(root: &Path, args: &[&str]) -> Option<duct::Handle> {
    Cmd::new("git").args(args).cwd(root).start().ok()
}

/// The trimmed output of a started git command; none when it failed.
fn git_output(handle: Option<duct::Handle>) -> Option<String> {
    let out = handle?.into_output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// What git ignores under the root, relative to it (a folder ignored whole as one entry ending
/// in `/`): never part of a wheel, as a clone of the commit lacks it (a `*.local.json` holding a
/// secret). The whole root, not `python/` alone: a file reached through a symlinked folder is
/// judged where it really is. Started now, read with [`ignored_paths`].
pub fn ignored_started(root: &Path) -> Option<duct::Handle> {
    Cmd::new("git")
        .args(crate::cmd::LS_IGNORED)
        .cwd(root)
        .start()
        .ok()
}

/// The paths of [`ignored_started`]; none when git failed (not a repository: nothing is ignored).
pub fn ignored_paths(handle: Option<duct::Handle>) -> Vec<String> {
    let Some(out) = handle.and_then(|h| h.into_output().ok()) else {
        return Vec::new();
    };
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `SOURCE_DATE_EPOCH` for each package: the time of the last commit that touched its folder,
/// else of the last commit, else [`ZIP_EPOCH`].
pub fn epochs(root: &Path, packages: &[&Package]) -> Vec<u64> {
    let log = ["log", "-1", "--format=%ct"];
    let started: Vec<_> = packages
        .iter()
        .map(|p| git_started(root, &[&log[..], &["--", &p.rel]].concat()))
        .collect();
    let last = git_started(root, &log);
    let time = |handle| git_output(handle).and_then(|t| t.parse::<u64>().ok());
    let last = time(last).unwrap_or(ZIP_EPOCH);
    started
        .into_iter()
        .map(|handle| time(handle).unwrap_or(last))
        .collect()
}

/// The commit the context is built from, and whether `python/` is as committed there, with what
/// it reads elsewhere in the repository (a folder of package data that a symlink there leads to).
pub struct Provenance {
    pub commit: Option<String>,
    pub python_as_committed: bool,
}

impl Provenance {
    /// HEAD, and whether the work tree is it where a build reads.
    pub fn of(root: &Path) -> Provenance {
        let head = git_started(root, &["rev-parse", "--verify", "--quiet", "HEAD"]);
        let commit = git_output(head).filter(|c| !c.is_empty());
        // As pre-push tells it, not `git status` alone: an entry marked assume-unchanged, a
        // setting that makes git trust a file's size and time, line endings a checkout writes
        // otherwise, an ignored file where the build reads (the build takes them).
        let python_as_committed = commit.as_deref().is_some_and(|sha| {
            crate::commands::hooks::work_tree_differs(root, sha).is_ok_and(|w| w.is_none())
        });
        Provenance {
            commit,
            python_as_committed,
        }
    }
}

/// The lock of the service, which must be what its inputs make: a context is never built from a
/// stale lock.
pub fn fresh_lock(ws: &Workspace, service: &Package) -> Result<PathBuf> {
    let [runtime, _] = lock::files(service);
    match lock::status(ws, service)? {
        Status::Fresh => Ok(runtime),
        status => bail!(
            "{}; a deployable is built from the lock only, run {}",
            status.describe(&ws.root),
            project::xtask_command(&ws.root, &["lock", service.folder_name()])
        ),
    }
}

/// The Python version of the tree (`python/.python-version`): the image's Python.
pub fn python_version(root: &Path) -> Result<String> {
    let path = root.join(PYTHON_DIR).join(VERSION_FILE);
    let text = fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {}: the image's Python version is read from it; write one such as 3.10",
            path.display()
        )
    })?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .with_context(|| format!("{} names no Python version", path.display()))
}

/// The service's Dockerfile: written from the template when there is none (said so), never
/// touched when there is one.
pub fn ensure_dockerfile(ws: &Workspace, service: &Package) -> Result<(PathBuf, bool)> {
    let path = crate::workspace::deploy::dockerfile(&ws.root, service.folder_name());
    if fs::symlink_metadata(&path).is_ok() {
        return Ok((path, false));
    }
    let command = service.deploy.entry_command().with_context(|| {
        format!(
            "{}: no command for its image: declare one console script in [project.scripts], or \
             [tool.xtask.dist] command = [\"...\"], in {}",
            service.folder_name(),
            fsutil::display_rel(&ws.root, &service.pyproject())
        )
    })?;
    let text = dockerfile::template(service, &python_version(&ws.root)?, UV_VERSION, &command);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    fsutil::write_atomic(&path, text.as_bytes())?;
    Ok((path, true))
}

/// Writes `bytes` to `path` unless it holds them already (its time then stays). Whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    fsutil::write_atomic(path, bytes)?;
    Ok(true)
}

/// What a context's manifest says: every other file's SHA-256 by its path in the context.
pub struct Manifest<'a> {
    pub service: &'a Package,
    pub version: String,
    pub provenance: &'a Provenance,
    pub files: &'a BTreeMap<String, String>,
}

impl Manifest<'_> {
    /// The JSON text: keys in a fixed order, so the same inputs give the same bytes.
    pub fn render(&self) -> String {
        let files: Vec<String> = self
            .files
            .iter()
            .map(|(path, sha)| format!("    {}: {}", json_string(path), json_string(sha)))
            .collect();
        let commit = self
            .provenance
            .commit
            .as_deref()
            .map_or_else(|| "null".to_owned(), json_string);
        let lock = self.files.get(context::LOCK).map_or("", String::as_str);
        format!(
            "{{\n  \"service\": {},\n  \"version\": {},\n  \"commit\": {commit},\n  \
             \"python_tree_as_committed\": {},\n  \"lock_sha256\": {},\n  \"files\": {{\n{}\n  }}\n}}\n",
            json_string(self.service.folder_name()),
            json_string(&self.version),
            self.provenance.python_as_committed,
            json_string(lock),
            files.join(",\n"),
        )
    }
}

/// The SHA-256 of every file under `dir`, by its `/`-separated path there.
pub fn file_digests(dir: &Path) -> BTreeMap<String, String> {
    digest::tree_files(dir, &[])
        .into_iter()
        .map(|f| (f.rel, f.digest))
        .collect()
}
