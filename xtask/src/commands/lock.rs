//! `cargo xtask lock [PACKAGE...] [--upgrade | --upgrade-package NAME...] [--check]`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::env::lock::{self, Locked, Status, Upgrade};
use crate::env::session::Session;
use crate::flags::LockArgs;
use crate::output::{duration, say};
use crate::workspace::{Package, Workspace};

pub fn run(root: &Path, args: &LockArgs) -> Result<()> {
    let ws = Workspace::load(root)?;
    let owners: Vec<&Package> = if args.owners.is_empty() {
        ws.venv_owners().collect()
    } else {
        args.owners
            .iter()
            .map(|name| ws.owner(name))
            .collect::<Result<_>>()?
    };
    let upgrade = if args.upgrade {
        Upgrade::All
    } else if !args.upgrade_package.is_empty() {
        Upgrade::Packages(args.upgrade_package.clone())
    } else {
        Upgrade::None
    };
    if args.check {
        return check(&ws, &owners);
    }
    // Only a lock that needs resolving needs the resolver, and so an interpreter to install it.
    let mut todo = Vec::new();
    for owner in &owners {
        if upgrade == Upgrade::None && lock::status(&ws, owner)? == Status::Fresh {
            say(format!("{}: up to date", owner.folder_name()));
        } else {
            todo.push(*owner);
        }
    }
    if !todo.is_empty() {
        let session = Session::new(&ws, &args.env)?;
        for owner in todo {
            let started = Instant::now();
            let before = lock::pinned(owner);
            let what = match lock::lock(&ws, owner, &|| session.resolver(owner), &upgrade)? {
                Locked::UpToDate => "up to date".to_owned(),
                Locked::Written { changed: false, .. } => {
                    format!("locked, no pin changed ({})", duration(started))
                }
                Locked::Written { .. } => {
                    let moved = lock::changes(&before, &lock::pinned(owner));
                    match (before.is_empty(), moved.is_empty()) {
                        (false, false) => {
                            format!("locked ({}): {}", duration(started), moved.join(", "))
                        }
                        _ => format!("locked ({})", duration(started)),
                    }
                }
            };
            say(format!("{}: {what}", owner.folder_name()));
        }
    }
    let table = conflicts(&ws);
    if !table.is_empty() {
        say(table);
    }
    Ok(())
}

/// `lock --check`: offline, no resolver; an error naming each stale lock and its fix.
fn check(ws: &Workspace, owners: &[&Package]) -> Result<()> {
    let mut problems = Vec::new();
    for owner in owners {
        let status = lock::status(ws, owner)?;
        if status != Status::Fresh {
            problems.push(lock::stale_message(ws, owner, &status));
        }
    }
    if problems.is_empty() {
        say(format!("lock: {} lock(s) up to date", owners.len()));
        return Ok(());
    }
    bail!("{}", problems.join("\n"))
}

/// The third-party packages whose pinned versions differ between venvs: each shared library
/// must work with all of them.
pub fn conflicts(ws: &Workspace) -> String {
    let owners: Vec<&Package> = ws.venv_owners().collect();
    let mut versions: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for owner in &owners {
        for (name, version, _) in lock::pinned(owner) {
            let entry = versions
                .entry(name)
                .or_default()
                .entry(owner.folder_name().to_owned())
                .or_default();
            if !entry.contains(&version) {
                entry.push(version);
            }
        }
    }
    let rows: Vec<(String, Vec<String>)> = versions
        .into_iter()
        .filter(|(_, by_owner)| {
            by_owner.len() > 1
                && by_owner
                    .values()
                    .any(|v| v != by_owner.values().next().unwrap())
        })
        .map(|(name, by_owner)| {
            let cells = owners
                .iter()
                .map(|o| {
                    by_owner
                        .get(o.folder_name())
                        .map_or_else(|| "-".to_owned(), |v| v.join(" | "))
                })
                .collect();
            (name, cells)
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut header = vec!["package".to_owned()];
    header.extend(owners.iter().map(|o| o.folder_name().to_owned()));
    let mut table = vec![header];
    for (name, cells) in rows {
        let mut row = vec![name];
        row.extend(cells);
        table.push(row);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|i| table.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::from(
        "versions that differ between venvs (each shared library must work with all of them):\n",
    );
    for row in table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out += &format!("  {}\n", cells.join("  ").trim_end());
    }
    out.trim_end().to_owned()
}
