//! `cargo xtask fmt`: ruff's fixes and the formatter, over the selection.

use std::path::Path;

use anyhow::Result;

use crate::engine::gate::{self, Gate};
use crate::flags::GateArgs;
use crate::workspace::Workspace;

/// `cargo xtask fmt`: `ruff format` and `ruff check --fix`.
pub fn run(root: &Path, args: &GateArgs) -> Result<()> {
    let ws = Workspace::load(root)?;
    let gate = Gate::new(&ws, args)?;
    let (venvs, _locks) = gate.prepare()?;
    if let Some(paths) = gate::apply_fixes(&gate, venvs[0])? {
        anyhow::bail!(
            "ruff finds problems in {paths} that it cannot fix (listed above as remaining): fix \
             them by hand; {} checks again",
            crate::project::xtask_command(&ws.root, &["lint"])
        );
    }
    Ok(())
}
