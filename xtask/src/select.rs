//! Which packages a gate works on: all, the named ones (`--package`), or the ones changed since a
//! git revision (`--changed-since`) plus every package that depends on one of them.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;
use crate::interpreter::VERSION_FILE;
use crate::project::PYTHON_DIR;
use crate::workspace::{Package, Workspace};

/// Files whose change concerns every package: the shared tooling configuration and the Python
/// version.
fn shared_config() -> [String; 2] {
    [
        format!("{PYTHON_DIR}/pyproject.toml"),
        format!("{PYTHON_DIR}/{VERSION_FILE}"),
    ]
}

/// The selected packages, each with why, in workspace order.
pub struct Selection<'a> {
    pub packages: Vec<&'a Package>,
    pub reasons: BTreeMap<String, String>,
    pub all: bool,
}

impl<'a> Selection<'a> {
    pub fn describe(&self) -> String {
        if self.all && self.reasons.is_empty() {
            return format!("selected: all {} packages", self.packages.len());
        }
        if self.packages.is_empty() {
            return "selected: no package (nothing under python/apps or python/libs changed)"
                .to_owned();
        }
        let parts: Vec<String> = self
            .packages
            .iter()
            .map(|p| match self.reasons.get(&p.name) {
                Some(why) => format!("{} ({why})", p.folder_name()),
                None => p.folder_name().to_owned(),
            })
            .collect();
        format!("selected: {}", parts.join(", "))
    }
}

/// Files changed since `rev` (committed, staged, unstaged and untracked), relative to the root.
fn changed_files(root: &Path, rev: &str) -> Result<Vec<String>> {
    let diff = Cmd::new("git")
        .arg("-C")
        .arg(root)
        .args(["diff", "--name-only", rev, "--"])
        .output()?;
    if !diff.success() {
        bail!(
            "`git diff {rev}` failed: {}; is `{rev}` a revision of {}?",
            diff.output.trim(),
            root.display()
        );
    }
    let untracked = Cmd::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "--others", "--exclude-standard"])
        .output()?;
    let mut files: Vec<String> = diff
        .output
        .lines()
        .chain(untracked.output.lines())
        .map(str::to_owned)
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

pub fn select<'a>(
    ws: &'a Workspace,
    names: &[String],
    changed_since: Option<&str>,
) -> Result<Selection<'a>> {
    let mut reasons: BTreeMap<String, String> = BTreeMap::new();
    let mut all = names.is_empty() && changed_since.is_none();
    for name in names {
        let package = ws
            .packages
            .iter()
            .find(|p| p.folder_name() == name || p.name == crate::workspace::normalize(name))
            .with_context(|| {
                let known: Vec<&str> = ws.packages.iter().map(Package::folder_name).collect();
                format!(
                    "--package {name}: no such package; the packages are: {}",
                    known.join(", ")
                )
            })?;
        reasons.insert(package.name.clone(), "named".into());
    }
    if let Some(rev) = changed_since {
        let files = changed_files(&ws.root, rev).context("--changed-since")?;
        if let Some(config) = files.iter().find(|f| shared_config().contains(f)) {
            all = true;
            for p in &ws.packages {
                reasons
                    .entry(p.name.clone())
                    .or_insert_with(|| format!("{config} changed"));
            }
        }
        for package in &ws.packages {
            let prefix = format!("{}/", package.rel);
            if let Some(file) = files.iter().find(|f| f.starts_with(&prefix)) {
                reasons
                    .entry(package.name.clone())
                    .or_insert_with(|| format!("{file} changed"));
            }
        }
        let changed: Vec<&Package> = ws
            .packages
            .iter()
            .filter(|p| reasons.contains_key(&p.name))
            .collect();
        for package in changed {
            for dependent in ws.dependents(package) {
                reasons
                    .entry(dependent.name.clone())
                    .or_insert_with(|| format!("depends on {}", package.folder_name()));
            }
        }
    }
    let packages = ws
        .packages
        .iter()
        .filter(|p| all || reasons.contains_key(&p.name))
        .collect();
    Ok(Selection {
        packages,
        reasons,
        all,
    })
}
