//! `cargo xtask doctor`: what setup would use and the state of every venv, changing nothing.

use std::fs;
use std::path::Path;

use anyhow::{Result, bail};

use crate::flags::EnvArgs;
use crate::installer::Installer;
use crate::project;
use crate::setup::{Session, State};
use crate::venv::Venv;
use crate::workspace::Workspace;

/// How a venv's editable installs are wired: static paths in `.pth` files, which every tool
/// follows, or setuptools' import hooks, which mypy and pyright cannot follow.
#[derive(Debug, PartialEq, Eq)]
pub enum Editables {
    None,
    StaticPaths,
    ImportHooks(Vec<String>),
}

pub fn editables(venv: &Venv) -> Editables {
    let mut any = false;
    let mut hooks = Vec::new();
    for site in venv.site_packages() {
        let Ok(entries) = fs::read_dir(&site) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with("__editable__") && name.ends_with(".pth")) {
                continue;
            }
            any = true;
            let text = fs::read_to_string(entry.path()).unwrap_or_default();
            if text.lines().any(|l| l.trim_start().starts_with("import ")) {
                hooks.push(name);
            }
        }
    }
    match (any, hooks.is_empty()) {
        (false, _) => Editables::None,
        (true, true) => Editables::StaticPaths,
        (true, false) => Editables::ImportHooks(hooks),
    }
}

pub fn run(root: &Path, args: &EnvArgs) -> Result<()> {
    let ws = Workspace::load(root)?;
    let ctx = Session::new(&ws, args)?;
    let mut broken = Vec::new();

    println!("interpreters:");
    let discovery = ctx.discovery();
    for found in &discovery.found {
        println!("  found     {found}");
    }
    for rejected in &discovery.rejected {
        println!("  rejected  {}: {}", rejected.path.display(), rejected.why);
    }

    let first_service = ws.services().next();
    let base = first_service
        .and_then(|s| ctx.would_choose(s).ok())
        .map(|(i, _)| i);
    match Installer::find(args.installer, base.as_ref(), &project::tools_dir()) {
        Ok((installer, how)) => println!("installer: {} ({how})", installer.label()),
        Err(e) => println!("installer: none yet ({e:#})"),
    }
    println!(
        "venvs carry no pip of their own: install into one with `uv pip install --python <venv>/bin/python ...`"
    );

    for service in ws.services() {
        let name = service.folder_name();
        let venv = Venv::of(service);
        let state = ctx.state(service)?;
        let line = match &state {
            State::Missing => format!(
                "missing: create it with {}",
                project::xtask_command(root, &["setup", name])
            ),
            State::Fresh => "fresh".to_owned(),
            State::Stale(why) => format!(
                "stale ({why}): update it with {}",
                project::xtask_command(root, &["setup", name])
            ),
            State::Broken(why) => {
                broken.push(name.to_owned());
                format!(
                    "broken ({why}): rebuild it with {}",
                    project::xtask_command(root, &["setup", name, "--force"])
                )
            }
        };
        println!("{name}: venv {}: {line}", venv.dir.display());
        match ctx.would_choose(service) {
            Ok((python, why)) => println!("  interpreter: {python}: {why}"),
            Err(e) => {
                broken.push(format!("{name} (no interpreter)"));
                println!("  interpreter: none fits: {e:#}");
            }
        }
        if matches!(state, State::Fresh | State::Stale(_)) {
            match editables(&venv) {
                Editables::None => println!("  editable installs: none found"),
                Editables::StaticPaths => {
                    println!("  editable installs: static .pth paths (mypy and IDEs follow them)")
                }
                Editables::ImportHooks(files) => println!(
                    "  editable installs: import hooks in {} (mypy cannot follow them; keep the src layout so setuptools writes static paths)",
                    files.join(", ")
                ),
            }
        }
    }
    if !broken.is_empty() {
        bail!("broken: {}", broken.join(", "));
    }
    Ok(())
}
