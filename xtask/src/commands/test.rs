//! `cargo xtask test [PATH|NODE...] [-- PYTEST_ARGS]`: pytest for the selected packages, in every
//! venv that installs each; paths and node ids narrow it to those tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::engine::gate::{Focus, Gate};
use crate::flags::TestArgs;
use crate::fsutil;
use crate::output::say;
use crate::workspace::{Package, Workspace};

/// Where `target` (a path or `path::node`, from the current folder or the root) is: the package
/// that owns it, and the target relative to that package's folder.
fn locate<'w>(ws: &'w Workspace, target: &str) -> Result<(&'w Package, String)> {
    let (path, node) = match target.split_once("::") {
        Some((path, node)) => (path, Some(node)),
        None => (target, None),
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| ws.root.clone());
    let found: Option<PathBuf> = [cwd.join(path), ws.root.join(path)]
        .into_iter()
        .find(|p| p.exists())
        .and_then(|p| p.canonicalize().ok());
    let Some(found) = found else {
        bail!(
            "{target}: no such file or folder, from the current folder ({}) or the root ({})",
            cwd.display(),
            ws.root.display()
        );
    };
    let package = ws
        .packages
        .iter()
        .filter(|p| found.starts_with(&p.dir))
        .max_by_key(|p| p.dir.as_os_str().len())
        .with_context(|| {
            let e2e = e2e_command(ws)
                .filter(|_| found.starts_with(e2e_dir(ws)))
                .map(|cmd| format!("; end-to-end tests run by hand, in a service's venv: {cmd}"))
                .unwrap_or_default();
            format!(
                "{target} is in no package: tests are run by the package that owns them (python/apps/*/, python/libs/*/){e2e}"
            )
        })?;
    let mut rel = fsutil::display_rel(&package.dir, &found);
    if rel.is_empty() {
        rel = ".".into();
    }
    if let Some(node) = node {
        rel = format!("{rel}::{node}");
    }
    Ok((package, rel))
}

/// Says [`e2e_note`], if any.
pub fn say_e2e(ws: &Workspace) {
    if let Some(note) = e2e_note(ws) {
        say(note);
    }
}

/// `python/tests/e2e`: end-to-end tests across services.
fn e2e_dir(ws: &Workspace) -> PathBuf {
    ws.root
        .join(crate::project::PYTHON_DIR)
        .join(crate::workspace::blueprint::E2E_TESTS_DIR)
}

/// The command that runs the end-to-end tests by hand, in the first service's venv.
fn e2e_command(ws: &Workspace) -> Option<String> {
    let service = ws.services().next()?;
    let dir = e2e_dir(ws).to_string_lossy().into_owned();
    let args = [
        "run",
        service.folder_name(),
        "--",
        "python",
        "-m",
        "pytest",
        &dir,
    ];
    Some(crate::project::xtask_command(&ws.root, &args))
}

/// A line saying that the end-to-end tests (`test_*.py` under `python/tests/e2e`) are run by no
/// gate, and how to run them: the plan runs them by hand before a release, since they span
/// services, whose venvs are apart. None when there is none.
pub fn e2e_note(ws: &Workspace) -> Option<String> {
    let found = fsutil::files_below(&e2e_dir(ws))
        .iter()
        .filter_map(|rel| rel.file_name()?.to_str())
        .filter(|name| name.starts_with("test_") && name.ends_with(".py"))
        .count();
    (found > 0).then(|| {
        format!(
            "note: {found} end-to-end test file(s) under python/{}, which no gate runs (by hand, before a release): {}",
            crate::workspace::blueprint::E2E_TESTS_DIR,
            e2e_command(ws).unwrap_or_default()
        )
    })
}

pub fn run(root: &Path, args: &TestArgs) -> Result<()> {
    let started = Instant::now();
    let ws = Workspace::load(root)?;
    let mut focus = Focus {
        targets: BTreeMap::new(),
        pytest_args: args.pytest_args.clone(),
    };
    let mut gate_args = args.gate.clone();
    gate_args.pytest_args = args.pytest_args.clone();
    for target in &args.targets {
        let (package, rel) = locate(&ws, target)?;
        focus
            .targets
            .entry(package.name.clone())
            .or_default()
            .push(rel);
        if !gate_args.packages.contains(&package.name) {
            gate_args.packages.push(package.name.clone());
        }
    }
    let gate = Gate::new(&ws, &gate_args)?;
    if focus.focused() {
        say(format!(
            "focused run: the coverage floor ({}%) applies to whole runs only",
            crate::engine::gate::COVERAGE_FLOOR
        ));
    }
    let _locks = gate.prepare()?;
    if gate.selection.all && !focus.focused() {
        say_e2e(&ws);
    }
    let mut jobs = gate.imports_jobs();
    jobs.extend(gate.pytest_jobs(&focus));
    gate.run("test", jobs, started)
}
