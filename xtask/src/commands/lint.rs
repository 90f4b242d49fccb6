//! `cargo xtask lint`: ruff and mypy, and the imports check, for the selected packages.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use crate::engine::gate::{self, Gate};
use crate::flags::GateArgs;
use crate::workspace::Workspace;

/// `cargo xtask lint [--fix]`.
pub fn run(root: &Path, args: &GateArgs, fix: bool) -> Result<()> {
    let started = Instant::now();
    let ws = Workspace::load(root)?;
    if fix {
        let gate = Gate::new(&ws, args)?;
        let (venvs, _locks) = gate.prepare()?;
        gate::apply_fixes(&gate, venvs[0])?;
    }
    // After the fixes, a gate of its own: its inputs (every job's key) are read from the files
    // as the fixes left them, never from those before. What ruff cannot fix, its jobs report.
    // The venvs are as the first gate left them: `--force` rebuilds them once.
    let mut args = args.clone();
    if fix {
        args.env.force = false;
    }
    let gate = Gate::new(&ws, &args)?;
    let (_, _locks) = gate.prepare()?;
    let mut jobs = Vec::new();
    jobs.extend(gate.ruff_jobs());
    jobs.extend(gate.imports_jobs());
    jobs.extend(gate.mypy_jobs());
    gate.run("lint", jobs, started)
}
