//! `cargo xtask setup`, `setup-stream`, `setup-sts`: brings the named venvs (or all) up to date.

use std::path::Path;

use anyhow::Result;

use crate::env::session::{Session, StaleLock};
use crate::flags::EnvArgs;
use crate::workspace::{Package, Workspace};

/// `setup [SERVICE...]`, `setup-stream`, `setup-sts`: a lock whose inputs changed (a pyproject
/// edited by hand) is made again and said so, as `uv sync` does; with `--locked` it is an error.
pub fn run(root: &Path, services: &[String], args: &EnvArgs, locked: bool) -> Result<()> {
    let ws = Workspace::load(root)?;
    let policy = if locked {
        StaleLock::Locked
    } else {
        StaleLock::Relock
    };
    let ctx = Session::new(&ws, args)?.on_stale_lock(policy);
    let chosen: Vec<&Package> = if services.is_empty() {
        ws.venv_owners().collect()
    } else {
        services
            .iter()
            .map(|s| ws.owner(s))
            .collect::<Result<_>>()?
    };
    for service in chosen {
        ctx.setup(service)?;
    }
    Ok(())
}
