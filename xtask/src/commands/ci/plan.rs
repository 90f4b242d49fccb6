//! `cargo xtask ci plan`: the work of a CI run, from the graph. One entry per venv whose jobs a
//! change concerns (every venv without `--changed-since`): the venv, the selected packages it
//! checks, the command its runner runs (`cargo xtask verify --venv OWNER`, which a laptop runs
//! alike), the runner (`[tool.xtask.ci] runs-on`), and what its cache is keyed by. The checks of
//! the whole tree are not entries: the workflow runs them once, always (`verify --tree`).

use anyhow::Result;

use crate::engine::inputs::Inputs;
use crate::engine::select;
use crate::output::json_string;
use crate::workspace::{Package, Workspace};

/// Files outside `python/` whose change concerns every venv: the xtask itself (its crate, the
/// Cargo workspace, the alias) and the workflow that runs it. A change of them can change any
/// verdict, so everything is planned.
pub const TOOLING: &[&str] = &[
    "xtask/",
    "Cargo.toml",
    "Cargo.lock",
    ".cargo/",
    ".github/workflows/python.yml",
];

/// One runner's work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The venv's owner, by folder name: `media-service`.
    pub venv: String,
    /// The owner's folder relative to the root: its venv is `<path>/.venv`.
    pub path: String,
    /// The packages checked in the venv that the change concerns (all of its install set when
    /// everything is planned).
    pub packages: Vec<String>,
    pub command: String,
    pub runs_on: Vec<String>,
    /// The venv's lock files as a glob relative to the root: what its cache is keyed by
    /// (`hashFiles`).
    pub lock: String,
    /// Why it is planned: the first reason of its first package.
    pub why: String,
}

/// The entries for a change since `rev` (None: everything), in the workspace's order of owners.
pub fn plan(ws: &Workspace, rev: Option<&str>) -> Result<Vec<Entry>> {
    let changed = match rev {
        Some(rev) => Some(select::changed_files(&ws.root, rev)?),
        None => None,
    };
    let tooling_changed = changed.iter().flatten().find(|f| {
        TOOLING
            .iter()
            .any(|t| f.as_str() == *t || (t.ends_with('/') && f.starts_with(t)))
    });
    let changed = if tooling_changed.is_some() {
        None
    } else {
        changed.as_deref()
    };
    let mut selection = select::select_from(ws, &[], changed, None)?;
    if let (Some(rev), Some(_)) = (rev, changed) {
        selection.widen_for_change(ws, rev, &Inputs::new(ws))?;
    }
    let mut entries = Vec::new();
    for owner in ws.venv_owners() {
        let set = ws.closure(owner)?;
        let packages: Vec<&Package> = set
            .iter()
            .copied()
            .filter(|p| selection.packages.iter().any(|s| s.name == p.name))
            .collect();
        let Some(first) = packages.first() else {
            continue;
        };
        let why = match (&tooling_changed, selection.reasons.get(&first.name)) {
            (Some(file), _) => format!("{file} changed"),
            (None, Some(reason)) => format!("{}: {reason}", first.folder_name()),
            (None, None) => "everything is planned".to_owned(),
        };
        entries.push(entry(owner, &packages, why));
    }
    Ok(entries)
}

fn entry(owner: &Package, packages: &[&Package], why: String) -> Entry {
    Entry {
        venv: owner.folder_name().to_owned(),
        path: owner.rel.clone(),
        packages: packages
            .iter()
            .map(|p| p.folder_name().to_owned())
            .collect(),
        command: format!(
            "cargo xtask verify --venv {}",
            crate::project::quote(owner.folder_name())
        ),
        runs_on: owner.ci.runs_on(),
        lock: format!("{}/requirements*.txt", owner.rel),
        why,
    }
}

/// The matrix GitHub Actions takes: `{"include": [...]}`, one object per entry, on one line.
pub fn matrix_json(entries: &[Entry]) -> String {
    let list = |items: &[String]| {
        let quoted: Vec<String> = items.iter().map(|s| json_string(s)).collect();
        format!("[{}]", quoted.join(","))
    };
    let objects: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{{\"venv\":{},\"path\":{},\"packages\":{},\"command\":{},\"runs-on\":{},\"lock\":{},\"why\":{}}}",
                json_string(&e.venv),
                json_string(&e.path),
                list(&e.packages),
                json_string(&e.command),
                list(&e.runs_on),
                json_string(&e.lock),
                json_string(&e.why),
            )
        })
        .collect();
    format!("{{\"include\":[{}]}}", objects.join(","))
}

/// The lines for `$GITHUB_OUTPUT`: the matrix and whether it is empty.
pub fn github_output(entries: &[Entry]) -> String {
    format!(
        "matrix={}\nempty={}\n",
        matrix_json(entries),
        entries.is_empty()
    )
}
