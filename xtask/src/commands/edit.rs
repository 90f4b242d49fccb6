//! `cargo xtask add PACKAGE REQUIREMENT... [--dev]` and `cargo xtask remove PACKAGE NAME...`:
//! edit the package's `pyproject.toml` (keeping its comments and layout), then lock and set up
//! every venv whose install set holds the package. What is added is resolved against the index
//! (the newest version that fits, as `uv add` does; the other pins stay), and each venv's line
//! names what moved in its lock. When the edit cannot be locked, the `pyproject.toml` is put back
//! as it was, and so are the locks: the error leads with the resolver's explanation.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::env::lock::{self, Locked, Upgrade};
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
    let groups =
        edit::combine(&args.requirements).with_context(|| format!("{rel} is unchanged"))?;
    let added: Vec<String> = groups
        .iter()
        .map(|g| normalize(requirement_name(&g[0])))
        .collect();
    apply(root, package, &args.env, &Upgrade::Added(added), |text| {
        let (after, replaced) = edit::add(text, &groups, target)?;
        let notes = replaced
            .iter()
            .map(|r| format!("{} replaces {}", quoted(&r.new), quoted(&r.old)))
            .collect();
        Ok((after, notes))
    })?;
    crate::commands::ide::refresh(root, "add");
    Ok(())
}

/// `numpy<2`, `numpy>=1`: requirements as a person typed them.
fn quoted(requirements: &[String]) -> String {
    requirements
        .iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(" and ")
}

pub fn remove(root: &Path, args: &RemoveArgs) -> Result<()> {
    let ws = Workspace::load(root)?;
    let package = ws.package(&args.package)?;
    apply(root, package, &args.env, &Upgrade::None, |text| {
        Ok((edit::remove(text, &args.names)?, Vec::new()))
    })?;
    crate::commands::ide::refresh(root, "remove");
    Ok(())
}

/// Writes the edit (saying what it replaced), then locks and sets up every venv that installs
/// the package; puts the pyproject and the locks back when that fails, and says so after the
/// cause.
fn apply(
    root: &Path,
    package: &Package,
    env: &EnvArgs,
    upgrade: &Upgrade,
    edit: impl FnOnce(&str) -> Result<(String, Vec<String>)>,
) -> Result<()> {
    let pyproject = package.pyproject();
    let rel = fsutil::display_rel(root, &pyproject);
    let before = fs::read_to_string(&pyproject).with_context(|| format!("cannot read {rel}"))?;
    let (after, notes) = edit(&before).with_context(|| format!("{rel} is unchanged"))?;
    fsutil::write_atomic(&pyproject, after.as_bytes())?;
    if notes.is_empty() {
        say(format!("edited {rel}"));
    } else {
        say(format!("edited {rel}: {}", notes.join("; ")));
    }
    let name = package.name.clone();
    let Err(error) = relock_with(root, &name, env, upgrade) else {
        return Ok(());
    };
    // Put back only the edit this command made: a change saved meanwhile stays.
    let cause = cause_first(&error);
    if fs::read_to_string(&pyproject).is_ok_and(|now| now == after) {
        fsutil::write_atomic(&pyproject, before.as_bytes())?;
        bail!("{cause}\n{rel} is put back as it was, and so are the locks");
    }
    bail!("{cause}\n{rel} changed while the venvs were being locked: it is left as it is now")
}

/// An error's messages, the deepest cause first, one a line.
fn cause_first(error: &anyhow::Error) -> String {
    let mut causes: Vec<String> = error.chain().map(|c| c.to_string()).collect();
    causes.reverse();
    causes.join("\n")
}

/// Locks and sets up every venv whose install set holds the package `name`, keeping every pin;
/// the locks are put back when one cannot be made.
pub fn relock(root: &Path, name: &str, env: &EnvArgs) -> Result<()> {
    relock_with(root, name, env, &Upgrade::None)
}

/// [`relock`], with the pins `upgrade` moves; says what moved in each lock.
fn relock_with(root: &Path, name: &str, env: &EnvArgs, upgrade: &Upgrade) -> Result<()> {
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
            let before = lock::pinned(owner);
            let locked = lock::lock(&ws, owner, &|| session.resolver(owner), upgrade)?;
            say(locked_line(owner, &before, upgrade, &locked));
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

/// `media-service: added six 1.17.0`, `media-service: locked, no pin changed`, and where uv's
/// cache answered instead of the index, why. A first lock names only what was added (every pin
/// is new).
fn locked_line(
    owner: &Package,
    before: &[(String, String, String)],
    upgrade: &Upgrade,
    locked: &Locked,
) -> String {
    let name = owner.folder_name();
    let Locked::Written { from_cache, .. } = locked else {
        return format!("{name}: lock up to date (none of its inputs changed)");
    };
    let mut after = lock::pinned(owner);
    let first = before.is_empty();
    if first {
        let added = match upgrade {
            Upgrade::Added(names) => names.as_slice(),
            _ => &[],
        };
        after.retain(|(pinned, _, _)| added.contains(pinned));
    }
    let moved = lock::changes(before, &after);
    let mut what = match (moved.is_empty(), first) {
        (false, _) => moved.join(", "),
        (true, true) => "locked".to_owned(),
        (true, false) => "locked, no pin changed".to_owned(),
    };
    if first {
        what += &format!(
            " (no lock before: {} and {} made)",
            lock::RUNTIME,
            lock::DEV
        );
    }
    match from_cache {
        Some(why) => format!(
            "{name}: {what} (from uv's cache, which may not hold the newest versions: {why})"
        ),
        None => format!("{name}: {what}"),
    }
}
