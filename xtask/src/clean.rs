//! `cargo xtask clean`: removes what the tools made (venvs, the tools folder, caches and build
//! leftovers under `python/`), never a file that git tracks, never through a symlink.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;
use crate::flags::Mode;
use crate::fsutil;
use crate::leftovers::is_leftover;
use crate::project::{self, PYTHON_DIR};
use crate::venv::Venv;
use crate::workspace::Workspace;

/// The files git tracks under `python/`, relative to the root with `/`. Outside a git checkout,
/// none; inside one where git cannot answer, an error (removing blind could delete tracked work).
fn tracked(root: &Path) -> Result<HashSet<String>> {
    let out = Cmd::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z", "--", PYTHON_DIR])
        .output();
    match out {
        Ok(out) if out.success() => Ok(out
            .output
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()),
        _ if !root.join(".git").exists() => Ok(HashSet::new()),
        Ok(out) => bail!(
            "cannot list the files git tracks under {}: {}",
            root.display(),
            out.output.trim()
        ),
        Err(e) => Err(e).context("git is needed to know which files it tracks; install git"),
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for (path, name, meta) in fsutil::entries(dir) {
        if meta.file_type().is_symlink() {
            continue; // never followed, never removed
        }
        if is_leftover(&name, meta.is_dir()) {
            out.push(path);
        } else if meta.is_dir() && name != Venv::DIR && name != ".git" {
            walk(&path, out);
        }
    }
}

pub fn run(root: &Path, mode: Mode) -> Result<()> {
    let tracked = tracked(root)?;
    let mut targets = Vec::new();
    if let Ok(ws) = Workspace::load(root) {
        for service in ws.services() {
            let venv = Venv::of(service);
            if venv.is_venv() {
                targets.push(venv.dir.clone());
            } else if venv.dir.exists() {
                println!(
                    "kept {}: not a virtualenv (no pyvenv.cfg)",
                    fsutil::display_rel(root, &venv.dir)
                );
            }
            if venv.lock_file().is_file() {
                targets.push(venv.lock_file());
            }
        }
    }
    walk(&root.join(PYTHON_DIR), &mut targets);
    let tools = project::tools_dir();
    let mut removed = 0;
    for target in targets.iter().chain(tools.exists().then_some(&tools)) {
        let rel = fsutil::display_rel(root, target);
        let prefix = format!("{rel}/");
        if tracked.contains(&rel) || tracked.iter().any(|t| t.starts_with(&prefix)) {
            println!("kept {rel}: git tracks it");
            continue;
        }
        if mode == Mode::DryRun {
            println!("would remove {rel}");
        } else {
            let result = if target.is_dir() {
                fs::remove_dir_all(target)
            } else {
                fs::remove_file(target)
            };
            result.with_context(|| format!("cannot remove {}", target.display()))?;
            println!("removed {rel}");
        }
        removed += 1;
    }
    let verb = if mode == Mode::DryRun {
        "would remove"
    } else {
        "removed"
    };
    println!("clean: {verb} {removed} path(s)");
    Ok(())
}
