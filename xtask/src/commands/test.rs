//! `cargo xtask test`: pytest for the selected packages, in every venv that installs each.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use crate::engine::gate::Gate;
use crate::flags::GateArgs;
use crate::workspace::Workspace;

/// `cargo xtask test [-- PYTEST_ARGS]`.
pub fn run(root: &Path, args: &GateArgs, extra: &[String]) -> Result<()> {
    let started = Instant::now();
    let ws = Workspace::load(root)?;
    let gate = Gate::new(&ws, args)?;
    let _locks = gate.prepare()?;
    let mut jobs = gate.imports_jobs();
    jobs.extend(gate.pytest_jobs(extra));
    gate.run("test", jobs, started)
}
