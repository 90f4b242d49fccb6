//! `cargo xtask verify`: the whole gate, the seed's success criteria SC-001..SC-008 as jobs.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use crate::cmd::Cmd;
use crate::flags::GateArgs;
use crate::gates::Gate;
use crate::jobs::Job;
use crate::project::{self, PYTHON_DIR};
use crate::scaffold::{self, Step};
use crate::setup;
use crate::templates;
use crate::venv::Venv;
use crate::workspace::{Package, Workspace};

/// SC-006: every file of the seed tree is there.
fn seed_tree_job(ws: &Workspace) -> Job {
    let root = ws.root.clone();
    let owners: Vec<(String, String)> = ws
        .packages
        .iter()
        .map(|p| (format!("{}/", p.rel), p.folder_name().to_owned()))
        .collect();
    let rerun = project::xtask_command(&root, &["scaffold", "--check"]);
    Job::check("seed tree (SC-006)", None, rerun, move || {
        let steps = scaffold::plan(&root).map_err(|e| format!("{e:#}"))?;
        let missing: Vec<String> = steps
            .iter()
            .filter_map(|s| match s {
                Step::CreateFile(path, _) => Some(crate::fsutil::display_rel(&root, path)),
                _ => None,
            })
            .map(|rel| {
                match owners
                    .iter()
                    .find(|(prefix, _)| rel.starts_with(prefix.as_str()))
                {
                    Some((_, package)) => format!("missing {rel} (package {package})"),
                    None => format!("missing {rel}"),
                }
            })
            .collect();
        if missing.is_empty() {
            Ok(format!(
                "all {} files of the seed tree are there",
                templates::all().len()
            ))
        } else {
            Err(format!(
                "{}\nfix: {}",
                missing.join("\n"),
                project::xtask_command(&root, &["scaffold"])
            ))
        }
    })
}

/// SC-007: git ignores the venvs, caches and build leftovers, and no source file.
fn gitignore_job(ws: &Workspace) -> Job {
    let root = ws.root.clone();
    let mut must_ignore: Vec<String> = vec![format!("{PYTHON_DIR}/.ruff_cache/x")];
    // Source files no pattern may hide: the seed tree's, and a subpackage named like a build
    // leftover (only a package's own build/ and dist/ are leftovers).
    let mut sources: Vec<String> = templates::all()
        .into_iter()
        .map(|t| format!("{PYTHON_DIR}/{}", t.path))
        .collect();
    for package in &ws.packages {
        let rel = &package.rel;
        if package.kind == crate::model::Kind::Service {
            must_ignore.push(format!("{rel}/{}/pyvenv.cfg", Venv::DIR));
            must_ignore.push(format!("{rel}/{}", Venv::LOCK));
        }
        for leftover in [
            ".mypy_cache/x",
            ".pytest_cache/x",
            ".coverage",
            "build/x",
            "dist/x",
            "src/x.egg-info/PKG-INFO",
        ] {
            must_ignore.push(format!("{rel}/{leftover}"));
        }
        for import in package.import_names() {
            must_ignore.push(format!("{rel}/src/{import}/__pycache__/x.cpython-310.pyc"));
            sources.push(format!("{rel}/src/{import}/build/x.py"));
            sources.push(format!("{rel}/src/{import}/dist/x.py"));
        }
    }
    let rerun = format!(
        "git -C {} check-ignore --no-index -v <path>",
        project::quote(&root.to_string_lossy())
    );
    Job::check("gitignore (SC-007)", None, rerun, move || {
        let ignored = |paths: &[String]| -> Result<Vec<String>, String> {
            let out = Cmd::new("git")
                .arg("-C")
                .arg(&root)
                .args(["check-ignore", "--no-index", "--"])
                .args(paths)
                .output()
                .map_err(|e| format!("{e:#}"))?;
            match out.code {
                Some(0 | 1) => Ok(out.output.lines().map(str::to_owned).collect()),
                _ => Err(format!(
                    "git check-ignore failed (is {} a git repository?): {}",
                    root.display(),
                    out.output.trim()
                )),
            }
        };
        let hit = ignored(&must_ignore)?;
        let not_ignored: Vec<&String> = must_ignore.iter().filter(|p| !hit.contains(p)).collect();
        let wrongly = ignored(&sources)?;
        let mut problems: Vec<String> = not_ignored
            .iter()
            .map(|p| format!("not ignored: {p}"))
            .collect();
        problems.extend(
            wrongly
                .iter()
                .map(|p| format!("a source file is ignored: {p}")),
        );
        if problems.is_empty() {
            Ok(format!(
                "{} leftovers ignored, {} source files not ignored",
                must_ignore.len(),
                sources.len()
            ))
        } else {
            Err(format!(
                "{}\nfix: the patterns in {}",
                problems.join("\n"),
                root.join(".gitignore").display()
            ))
        }
    })
}

/// SC-005: the package README names the commands that set it up and test it.
fn readme_job(ws: &Workspace, package: &Package) -> Job {
    let readme = package.dir.join("README.md");
    let rel = format!("{}/README.md", package.rel);
    let name = package.folder_name().to_owned();
    let rerun = project::xtask_command(&ws.root, &["verify", "--package", &name]);
    Job::check(
        "readme (SC-005)",
        Some(package.folder_name()),
        rerun,
        move || {
            let text = std::fs::read_to_string(&readme)
                .map_err(|e| format!("{name}: cannot read {rel}: {e}"))?;
            let mut missing = Vec::new();
            if !text.contains("cargo xtask setup") {
                missing.push("the setup command (`cargo xtask setup...`)");
            }
            if !text.contains("cargo xtask test") {
                missing.push("the test command (`cargo xtask test`)");
            }
            if missing.is_empty() {
                Ok(format!("{rel} names the setup and test commands"))
            } else {
                Err(format!(
                    "{name}: {rel} does not name {}",
                    missing.join(" nor ")
                ))
            }
        },
    )
}

pub fn run(root: &Path, args: &GateArgs) -> Result<()> {
    let started = Instant::now();
    let ws = Workspace::load(root)?;
    let gate = Gate::new(&ws, args)?;
    // SC-001: both environments up to date (or, with --no-setup, an error when one is not).
    let (venvs, _locks) = gate.prepare()?;
    let mut jobs = vec![seed_tree_job(&ws), gitignore_job(&ws)];
    // SC-002, SC-003, SC-008: editable from source, both libraries importable, isolation.
    for service in &venvs {
        let cmd = setup::post_check_cmd(&ws, service, &Venv::of(service))?;
        jobs.push(Job::command(
            "environment (SC-001..3, SC-008)",
            Some(service.folder_name()),
            Some(service.folder_name()),
            cmd,
        ));
    }
    for package in &gate.selection.packages {
        jobs.push(readme_job(&ws, package));
    }
    // SC-004: lint and test.
    jobs.extend(gate.ruff_jobs(venvs[0]));
    jobs.extend(gate.mypy_jobs());
    jobs.extend(gate.pytest_jobs(&[]));
    gate.run("verify", jobs, started)
}
