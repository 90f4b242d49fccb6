//! `cargo xtask ci [--check]` writes the CI workflow (`workflow.rs`); `cargo xtask ci plan`
//! prints the work of a change (`plan.rs`).

pub mod plan;
pub mod workflow;

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::env::validators;
use crate::flags::{CiArgs, CiCommand, Mode, PlanFormat};
use crate::fsutil;
use crate::output::say;
use crate::project;
use crate::workspace::Workspace;

use workflow::Standing;

pub fn run(root: &Path, args: &CiArgs) -> Result<()> {
    if let Some(CiCommand::Plan(plan_args)) = &args.command {
        let ws = Workspace::load(root)?;
        let entries = plan::plan(&ws, plan_args.changed_since.as_deref())?;
        // The summary on stderr: stdout is what $GITHUB_OUTPUT or a script reads.
        eprintln!("{}", describe(&entries));
        match plan_args.format {
            PlanFormat::Json => println!("{}", plan::matrix_json(&entries)),
            PlanFormat::Github => print!("{}", plan::github_output(&entries)),
        }
        return Ok(());
    }
    let mode = if args.check { Mode::Check } else { Mode::Write };
    match mode {
        Mode::Check => {
            say(check(root)?);
            validate(root)
        }
        _ => write(root),
    }
}

/// actionlint and the workflow schema, on the workflow on disk (see `env::validators`).
fn validate(root: &Path) -> Result<()> {
    let ws = Workspace::load(root)?;
    let owner = ws
        .venv_owners()
        .next()
        .context("no package under python/: the validators are installed with its Python")?;
    let env = crate::flags::EnvArgs::default();
    let (python, _) = crate::env::session::Session::new(&ws, &env)?.would_choose(owner)?;
    let tools = project::tools_dir();
    for validator in [
        validators::actionlint(&python.path, &tools)?,
        validators::workflow_schema(&python.path, &tools)?,
    ] {
        say(validator.run(root, workflow::PATH)?);
    }
    Ok(())
}

fn describe(entries: &[plan::Entry]) -> String {
    if entries.is_empty() {
        return "plan: no venv (nothing under python/ that a venv checks changed)".to_owned();
    }
    let parts: Vec<String> = entries
        .iter()
        .map(|e| format!("{} on {} ({})", e.venv, e.runs_on.join("+"), e.why))
        .collect();
    format!("plan: {}", parts.join("; "))
}

fn write(root: &Path) -> Result<()> {
    let path = root.join(workflow::PATH);
    let text = fs::read_to_string(&path).ok();
    match text.as_deref().map(workflow::standing) {
        Some(Standing::Current) => say(format!("{}: up to date", workflow::PATH)),
        Some(Standing::Edited) => say(format!(
            "{}: kept: edited by hand since `cargo xtask ci` wrote it, so it is never overwritten; \
             {} shows the edit",
            workflow::PATH,
            project::xtask_command(root, &["ci", "--check"])
        )),
        Some(Standing::Own) => say(format!(
            "{}: the team's own (no `{}` line): left as it is",
            workflow::PATH,
            workflow::DIGEST_MARK.trim()
        )),
        None | Some(Standing::Outdated) => {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            fsutil::write_atomic(&path, workflow::render().as_bytes())?;
            say(format!(
                "{}: {}",
                workflow::PATH,
                if text.is_some() {
                    "rewritten"
                } else {
                    "written"
                }
            ));
        }
    }
    Ok(())
}

/// The verdict on the workflow on disk: Ok with a line to show, or an error that says the fix.
pub fn check(root: &Path) -> Result<String> {
    let path = root.join(workflow::PATH);
    let fix = project::xtask_command(root, &["ci"]);
    let Ok(text) = fs::read_to_string(&path) else {
        bail!("{} is missing; run {fix}", workflow::PATH);
    };
    match workflow::standing(&text) {
        Standing::Current => Ok(format!(
            "{} is what `cargo xtask ci` writes",
            workflow::PATH
        )),
        Standing::Own => Ok(format!(
            "{} is the team's own (no `{}` line): not checked",
            workflow::PATH,
            workflow::DIGEST_MARK.trim()
        )),
        Standing::Outdated => bail!(
            "{} was written by an older `cargo xtask ci`; run {fix}",
            workflow::PATH
        ),
        Standing::Edited => bail!(
            "{} was edited by hand since `cargo xtask ci` wrote it (it is never overwritten):\n{}\n\
             undo the edit (delete the file and run {fix}), or delete its `{}` line to make it \
             the team's own",
            workflow::PATH,
            workflow::difference(&text).join("\n"),
            workflow::DIGEST_MARK.trim()
        ),
    }
}
