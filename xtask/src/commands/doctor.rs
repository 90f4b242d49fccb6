//! `cargo xtask doctor`: what setup would use and the state of every venv, changing nothing.

use std::fs;
use std::path::Path;

use anyhow::{Result, bail};

use crate::cmd::Cmd;
use crate::env::installer::Installer;
use crate::env::lock;
use crate::env::session::{Session, State};
use crate::env::venv::Venv;
use crate::flags::{EnvArgs, InstallerChoice};
use crate::fsutil;
use crate::project;
use crate::workspace::{Package, Workspace};

/// How one editable install is wired, as its `.pth` file says: static paths, which every tool
/// follows, or an import hook (setuptools' finder for a flat layout, hatchling's and pdm's
/// `editables` mode), which mypy and pyright cannot follow.
#[derive(Debug, PartialEq, Eq)]
pub enum Editable {
    StaticPaths(String),
    ImportHook(String),
}

/// The editable installs of a venv: every distribution whose `direct_url.json` says
/// `"editable": true` (PEP 610, whatever the backend: setuptools, hatchling, pdm, flit), with the
/// `.pth` files its RECORD lists.
pub fn editables(venv: &Venv) -> Vec<Editable> {
    let mut out = Vec::new();
    for site in venv.site_packages() {
        for (path, name, _) in crate::fsutil::entries(&site) {
            let Some(dist) = name.strip_suffix(".dist-info") else {
                continue;
            };
            let direct = fs::read_to_string(path.join("direct_url.json")).unwrap_or_default();
            let compact: String = direct.split_whitespace().collect();
            if !compact.contains("\"editable\":true") {
                continue;
            }
            let record = fs::read_to_string(path.join("RECORD")).unwrap_or_default();
            let mut hook = false;
            for line in record.lines() {
                let file = line.split(',').next().unwrap_or("");
                if file.ends_with(".pth") && !file.contains('/') {
                    let text = fs::read_to_string(site.join(file)).unwrap_or_default();
                    hook |= text.lines().any(|l| l.trim_start().starts_with("import "));
                }
            }
            out.push(if hook {
                Editable::ImportHook(dist.to_owned())
            } else {
                Editable::StaticPaths(dist.to_owned())
            });
        }
    }
    out
}

/// What a sync to the lock would change in the venv, as uv's dry run says it: `+ six==1.17.0`
/// (missing), `- six==1.17.0` (not in the lock). Empty when uv cannot say.
fn differs_from_lock(uv: &Path, root: &Path, venv: &Venv, owner: &Package) -> Vec<String> {
    let editables = venv.dir.join("xtask-editables.txt");
    if !editables.is_file() {
        return Vec::new();
    }
    let mut cmd = Cmd::new(uv)
        .args([
            "pip",
            "sync",
            "--dry-run",
            "--offline",
            "--no-config",
            "--python",
        ])
        .arg(venv.python())
        .cwd(root);
    for file in lock::files(owner).into_iter().filter(|f| f.is_file()) {
        cmd = cmd.arg(file);
    }
    let Ok(out) = cmd.arg(&editables).output() else {
        return Vec::new();
    };
    out.output
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            if let Some(name) = l.strip_prefix("- ") {
                Some(format!("{name} is not in the lock"))
            } else {
                l.strip_prefix("+ ")
                    .filter(|n| !n.contains("file://"))
                    .map(|n| format!("{n} is missing"))
            }
        })
        .collect()
}

/// A library that a service installs now, with the venv and the lock it had of its own before:
/// nothing uses them any more; `clean` removes them.
fn report_former_owners(ws: &Workspace) {
    for former in lock::former_owners(ws) {
        let mut paths: Vec<String> = former
            .venv
            .iter()
            .map(|v| format!("{}/", fsutil::display_rel(&ws.root, v)))
            .collect();
        paths.extend(
            former
                .locks
                .iter()
                .map(|(path, _)| fsutil::display_rel(&ws.root, path)),
        );
        let services: Vec<&str> = former.services.iter().map(|s| s.folder_name()).collect();
        println!(
            "{}: left over from when it had a venv of its own (now {} installs it): {}; {} removes them (with every other venv and cache)",
            former.library.folder_name(),
            services.join(" and "),
            paths.join(", "),
            project::xtask_command(&ws.root, &["clean"])
        );
    }
}

/// `cargo xtask doctor`: the interpreters, the installer, each venv and its lock; fails when a
/// venv is broken or no interpreter fits a service.
pub fn run(root: &Path, args: &EnvArgs) -> Result<()> {
    let ws = Workspace::load(root)?;
    let ctx = Session::new(&ws, args)?;
    report_interpreters(&ws, &ctx);
    let uv = report_installer(root, &ws, &ctx, args);
    let mut broken = Vec::new();
    for service in ws.venv_owners() {
        broken.extend(report_venv(root, &ws, &ctx, service, uv.as_deref())?);
    }
    report_former_owners(&ws);
    let table = crate::commands::lock::conflicts(&ws);
    if !table.is_empty() {
        println!("{table}");
    }
    if !broken.is_empty() {
        bail!("broken: {}", broken.join(", "));
    }
    Ok(())
}

/// Every interpreter found, and the requires-python of the packages one does not satisfy.
fn report_interpreters(ws: &Workspace, ctx: &Session) {
    println!("interpreters:");
    let discovery = ctx.discovery();
    // Why an interpreter would not do: the requires-python it is below or above.
    let requirements: Vec<(String, crate::workspace::pep440::Specifiers)> = ws
        .packages
        .iter()
        .filter_map(|p| p.requires_python.clone().map(|s| (p.rel.clone(), s)))
        .collect();
    for found in &discovery.found {
        let mut unmet: Vec<String> = Vec::new();
        for (rel, spec) in requirements
            .iter()
            .filter(|(_, s)| !s.contains(&found.version))
        {
            let spec = spec.to_string();
            let others = requirements
                .iter()
                .filter(|(r, s)| r != rel && s.to_string() == spec && !s.contains(&found.version))
                .count();
            if unmet.iter().any(|u| u.starts_with(&format!("{spec} "))) {
                continue;
            }
            unmet.push(if others == 0 {
                format!("{spec} of {rel}")
            } else {
                format!("{spec} of {rel} and {others} more")
            });
        }
        if unmet.is_empty() {
            println!("  found     {found}");
        } else {
            println!(
                "  unfit     {found}: does not satisfy requires-python ({})",
                unmet.join("; ")
            );
        }
    }
    for rejected in &discovery.rejected {
        println!("  rejected  {}: {}", rejected.path.display(), rejected.why);
    }
}

/// The installer setup would use, and how to add a package; the uv found, if any.
fn report_installer(
    root: &Path,
    ws: &Workspace,
    ctx: &Session,
    args: &EnvArgs,
) -> Option<std::path::PathBuf> {
    let first_service = ws.services().next();
    let base = first_service
        .and_then(|s| ctx.would_choose(s).ok())
        .map(|(i, _)| i);
    let mut uv = None;
    let choice = first_service.map_or(args.installer.unwrap_or(InstallerChoice::Auto), |s| {
        ctx.installer_for(s)
    });
    match Installer::find(choice, base.as_ref(), &project::tools_dir()) {
        Ok((installer, how)) => {
            println!("installer: {} ({how})", installer.label());
            if let Installer::Uv { exe, .. } = &installer {
                uv = Some(exe.clone());
            }
        }
        Err(e) => println!("installer: none yet ({e:#})"),
    }
    // A hint that can be pasted as it is: the real uv, the real venv.
    if let (Some(uv), Some(first)) = (&uv, ws.venv_owners().next()) {
        println!(
            "venvs carry no pip of their own: add a dependency with {}; to try a package out: {} pip install --python {} NAME (the next setup removes it)",
            project::xtask_command(root, &["add", first.folder_name(), "NAME"]),
            project::quote(&uv.to_string_lossy()),
            project::quote(&Venv::of(first).python().to_string_lossy()),
        );
    } else {
        println!(
            "venvs carry no pip of their own: add a dependency with {}",
            project::xtask_command(root, &["add", "PACKAGE", "NAME"])
        );
    }
    uv
}

/// One venv: its state, its lock, what a sync would change, its interpreter and editables. The
/// names it adds to the broken list.
fn report_venv(
    root: &Path,
    ws: &Workspace,
    ctx: &Session,
    service: &Package,
    uv: Option<&Path>,
) -> Result<Vec<String>> {
    let name = service.folder_name();
    let venv = Venv::of(service);
    let mut broken = Vec::new();
    let state = ctx.state(service)?;
    let damage = matches!(state, State::Fresh | State::Stale(_))
        .then(|| describe_damage(&venv))
        .flatten();
    let line = match &damage {
        // Its stamp and listing are as setup left them: only --force reinstalls.
        Some(why) => format!(
            "broken ({why}): setup recreates it: {}",
            project::xtask_command(root, &["setup", "--force", name])
        ),
        None => state_line(root, &venv, name, &state),
    };
    if damage.is_some() || matches!(state, State::Broken(_)) {
        broken.push(name.to_owned());
    }
    println!("{name}: venv {}: {line}", venv.dir.display());
    match lock::status(ws, service)? {
        lock::Status::Fresh => println!("  lock: up to date"),
        status => println!("  lock: {}", lock::stale_message(ws, service, &status)),
    }
    if let (State::Fresh | State::Stale(_), Some(uv)) = (&state, uv) {
        let differences = differs_from_lock(uv, root, &venv, service);
        if !differences.is_empty() {
            println!(
                "  differs from its lock (setup makes it exact): {}",
                differences.join(", ")
            );
        }
    }
    match ctx.would_choose(service) {
        Ok((python, why)) => println!("  interpreter: {python}: {why}"),
        Err(e) => {
            broken.push(format!("{name} (no interpreter)"));
            println!("  interpreter: none fits: {e:#}");
        }
    }
    if matches!(state, State::Fresh | State::Stale(_)) {
        report_editables(&venv);
    }
    Ok(broken)
}

/// What a venv's state means and the command that deals with it.
fn state_line(root: &Path, venv: &Venv, name: &str, state: &State) -> String {
    let setup = project::xtask_command(root, &["setup", name]);
    match state {
        State::Missing => format!("missing: create it with {setup}"),
        State::Fresh => "fresh".to_owned(),
        State::Stale(why) => format!("stale ({why}): update it with {setup}"),
        // Setup recreates a venv it made; a folder that is no venv is not its to replace.
        State::Broken(why) if venv.is_venv() => {
            format!("broken ({why}): setup recreates it: {setup}")
        }
        State::Broken(why) => format!("broken ({why}): move it away, then run {setup}"),
    }
}

/// The distributions that lost files since their install, in a few words; none when whole.
fn describe_damage(venv: &Venv) -> Option<String> {
    let damaged = crate::env::record::damaged(venv);
    let first = damaged.first()?;
    let more = match (first.missing, damaged.len()) {
        (1, 1) => String::new(),
        (n, 1) => format!(" and {} more of its files", n - 1),
        (_, d) => format!(", and {} more distributions lost files", d - 1),
    };
    Some(format!(
        "{} lacks {}{more}, deleted since its install",
        first.dist, first.first
    ))
}

/// How the venv's editable installs are wired.
fn report_editables(venv: &Venv) {
    let found = editables(venv);
    let (paths, hooks): (Vec<&Editable>, Vec<&Editable>) = found
        .iter()
        .partition(|e| matches!(e, Editable::StaticPaths(_)));
    let names = |list: &[&Editable]| -> String {
        list.iter()
            .map(|e| match e {
                Editable::StaticPaths(d) | Editable::ImportHook(d) => d.as_str(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if found.is_empty() {
        println!("  editable installs: none found");
    }
    if !paths.is_empty() {
        println!(
            "  editable installs with static .pth paths (every tool follows them): {}",
            names(&paths)
        );
    }
    if !hooks.is_empty() {
        println!(
            "  editable installs through an import hook (IDEs cannot follow them; the gates give mypy their source folders): {}",
            names(&hooks)
        );
    }
}
