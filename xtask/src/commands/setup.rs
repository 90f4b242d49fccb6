//! `cargo xtask setup`, `setup-stream`, `setup-sts`: brings the named venvs (or all) up to date.

use std::path::Path;

use anyhow::Result;

use crate::env::session::Session;
use crate::flags::EnvArgs;
use crate::workspace::{Package, Workspace};

/// `setup [SERVICE...]`, `setup-stream`, `setup-sts`.
pub fn run(root: &Path, services: &[String], args: &EnvArgs) -> Result<()> {
    let ws = Workspace::load(root)?;
    let ctx = Session::new(&ws, args)?;
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
