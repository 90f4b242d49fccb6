//! `cargo xtask run PACKAGE -- CMD ARGS...`: a command in a package's venv, set up first, with
//! the venv's scripts first on PATH and `VIRTUAL_ENV` set, as activating it would; the command's
//! exit code is the xtask's.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::env::session::Session;
use crate::env::venv::{LockMode, Venv};
use crate::flags::RunArgs;
use crate::workspace::Workspace;

pub fn run(root: &Path, args: &RunArgs) -> Result<i32> {
    let ws = Workspace::load(root)?;
    let package = ws.package(&args.package)?;
    // A library runs in the venv that tests it: the first service that installs it, or its own.
    let owner = ws.venvs_of(package)[0];
    let session = Session::new(&ws, &args.env)?;
    session.setup(owner)?;
    let venv = Venv::of(owner);
    // The venv is not rebuilt under the command.
    let _lock = venv.lock(LockMode::Shared, owner.folder_name())?;
    let bin = venv
        .python()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut path = vec![bin.clone()];
    if let Some(existing) = std::env::var_os("PATH") {
        path.extend(std::env::split_paths(&existing));
    }
    let path: OsString =
        std::env::join_paths(path).context("PATH cannot hold the venv's folder")?;
    let (program, rest) = args
        .command
        .split_first()
        .context("no command given after `--`")?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| root.to_path_buf());
    let resolved = which::which_in(program, Some(&path), &cwd).with_context(|| {
        format!(
            "`{program}` is not in the venv ({}) nor on PATH",
            bin.display()
        )
    })?;
    let status = Command::new(&resolved)
        .args(rest)
        .env("PATH", &path)
        .env("VIRTUAL_ENV", &venv.dir)
        .env_remove("PYTHONHOME")
        .status()
        .with_context(|| format!("cannot run {}", resolved.display()))?;
    Ok(status.code().unwrap_or(1))
}
