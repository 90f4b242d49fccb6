//! `cargo xtask add PACKAGE REQUIREMENT... [--dev]` and `cargo xtask remove PACKAGE NAME...`:
//! edit the package's `pyproject.toml` (keeping its comments and layout), then lock and set up
//! every venv whose install set holds the package. When the edit cannot be locked, the
//! `pyproject.toml` is put back as it was, and so are the locks.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::env::lock::{self, Upgrade};
use crate::env::session::Session;
use crate::flags::{AddArgs, EnvArgs, RemoveArgs};
use crate::fsutil;
use crate::output::say;
use crate::workspace::blueprint::Kind;
use crate::workspace::edit::{self, Target};
use crate::workspace::{Package, Workspace, normalize, pep508, requirement_name};

pub fn add(root: &Path, args: &AddArgs) -> Result<()> {
    let ws = Workspace::load(root)?;
    let package = ws.package(&args.package)?;
    let pyproject = package.pyproject();
    let rel = fsutil::display_rel(root, &pyproject);
    for requirement in &args.requirements {
        if let Err(invalid) = pep508::check(requirement) {
            bail!(
                "`{requirement}` is not a PEP 508 requirement; {rel} is unchanged:\n{}",
                invalid.show(requirement)
            );
        }
        let name = normalize(requirement_name(requirement));
        if name == package.name {
            bail!(
                "{} cannot depend on itself; {rel} is unchanged",
                package.dist
            );
        }
        if let Some(target) = ws.get(&name)
            && target.kind == Kind::Service
        {
            bail!(
                "`{requirement}` names the service {}: a service is never a dependency (each has its own venv); \
                 move the code both need into a library under python/libs/; {rel} is unchanged",
                target.dist
            );
        }
    }
    let target = if args.dev {
        Target::Dev
    } else {
        Target::Runtime
    };
    apply(root, package, &args.env, |text| {
        edit::add(text, &args.requirements, target)
    })?;
    crate::commands::ide::refresh(root, "add");
    Ok(())
}

pub fn remove(root: &Path, args: &RemoveArgs) -> Result<()> {
    let ws = Workspace::load(root)?;
    let package = ws.package(&args.package)?;
    apply(root, package, &args.env, |text| {
        edit::remove(text, &args.names)
    })?;
    crate::commands::ide::refresh(root, "remove");
    Ok(())
}

/// Writes the edit, then locks and sets up every venv that installs the package; puts the
/// pyproject and the locks back when that fails.
fn apply(
    root: &Path,
    package: &Package,
    env: &EnvArgs,
    edit: impl FnOnce(&str) -> Result<String>,
) -> Result<()> {
    let pyproject = package.pyproject();
    let rel = fsutil::display_rel(root, &pyproject);
    let before = fs::read_to_string(&pyproject).with_context(|| format!("cannot read {rel}"))?;
    let after = edit(&before).with_context(|| format!("{rel} is unchanged"))?;
    fsutil::write_atomic(&pyproject, after.as_bytes())?;
    say(format!("edited {rel}"));
    let name = package.name.clone();
    let result = relock(root, &name, env);
    if let Err(error) = result {
        // Put back only the edit this command made: a change saved meanwhile stays.
        if fs::read_to_string(&pyproject).is_ok_and(|now| now == after) {
            fsutil::write_atomic(&pyproject, before.as_bytes())?;
            return Err(error.context(format!("{rel} is put back as it was")));
        }
        return Err(error.context(format!(
            "{rel} changed while the venvs were being locked: it is left as it is now"
        )));
    }
    Ok(())
}

/// Locks and sets up every venv whose install set holds the package `name`; the locks are put
/// back when one cannot be made.
pub fn relock(root: &Path, name: &str, env: &EnvArgs) -> Result<()> {
    let ws = Workspace::load(root)?;
    let package = ws.get(name).context("the edited package is still there")?;
    let owners: Vec<&Package> = ws
        .venv_owners()
        .filter(|o| {
            ws.closure(o)
                .is_ok_and(|c| c.iter().any(|p| p.name == package.name))
        })
        .collect();
    let saved: Vec<(std::path::PathBuf, Option<Vec<u8>>)> = owners
        .iter()
        .flat_map(|o| lock::files(o))
        .map(|path| {
            let content = fs::read(&path).ok();
            (path, content)
        })
        .collect();
    // A lock edited by hand is a person's: this command does not write over it.
    for owner in &owners {
        if let status @ lock::Status::Edited(_) = lock::status(&ws, owner)? {
            bail!("{}", lock::stale_message(&ws, owner, &status));
        }
    }
    let session = Session::new(&ws, env)?;
    let outcome = (|| -> Result<()> {
        for owner in &owners {
            let uv = session.pinned_uv(owner)?;
            lock::lock(&ws, owner, &uv, &Upgrade::None)?;
            say(format!("{}: locked", owner.folder_name()));
        }
        for owner in &owners {
            session.setup(owner)?;
        }
        Ok(())
    })();
    if outcome.is_err() {
        for (path, content) in saved {
            match content {
                Some(bytes) => fsutil::write_atomic(&path, &bytes)?,
                None => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
    }
    outcome
}
