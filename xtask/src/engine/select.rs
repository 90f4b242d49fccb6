//! Which packages a gate works on: all, the named ones (`--package`), or the ones changed since a
//! git revision (`--changed-since`) plus every package that depends on one of them.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use crate::cmd::git_paths_at_once;
use crate::engine::inputs::{Inputs, Tool};
use crate::engine::outside;
use crate::project::PYTHON_DIR;
use crate::workspace::{Package, Workspace};

/// The selected packages, each with why, in workspace order.
pub struct Selection<'a> {
    pub packages: Vec<&'a Package>,
    pub reasons: BTreeMap<String, String>,
    pub all: bool,
}

impl<'a> Selection<'a> {
    /// Adds, to a selection made from changed files, every package whose jobs can load a selected
    /// one without depending on it: by a string naming its import name, as a pytest plugin
    /// installed in the same venv, as a mypy plugin ([`Inputs::readers`]). Their keys cover the
    /// selected packages, so a gate would run them again: a narrower selection would leave out a
    /// verdict the change can move (pre-push, `ci plan`).
    pub fn add_readers(&mut self, ws: &'a Workspace, inputs: &Inputs<'a>) {
        if self.all {
            return;
        }
        let mut added = Vec::new();
        for package in &ws.packages {
            if self.reasons.contains_key(&package.name) {
                continue;
            }
            let loaded = ws.venvs_of(package).into_iter().find_map(|venv| {
                [Tool::Pytest, Tool::Mypy].into_iter().find_map(|tool| {
                    inputs
                        .readers(package, venv, tool)
                        .into_iter()
                        .find(|r| r.name != package.name && self.reasons.contains_key(&r.name))
                })
            });
            if let Some(loaded) = loaded {
                let why = format!(
                    "loads {} (a plugin, or its name in a string)",
                    loaded.folder_name()
                );
                added.push((package, why));
            }
        }
        for (package, why) in added {
            self.reasons.insert(package.name.clone(), why);
        }
        self.packages = ws
            .packages
            .iter()
            .filter(|p| self.reasons.contains_key(&p.name))
            .collect();
    }

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

/// What the gates read outside `python/` ([`outside::paths_read`]) that lies under the root,
/// relative to it with `/`.
fn read_outside(root: &Path) -> Vec<String> {
    let canonical = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    outside::paths_read(root)
        .iter()
        .filter_map(|p| {
            p.strip_prefix(root)
                .or_else(|_| p.strip_prefix(&canonical))
                .ok()
                .map(|rel| rel.to_string_lossy().replace('\\', "/"))
        })
        .filter(|rel| !rel.is_empty())
        .collect()
}

/// Files changed since `rev` (committed, staged, unstaged and untracked; added, deleted, and both
/// sides of a rename), relative to the root with `/`, wherever in its repository the root is.
pub fn changed_files(root: &Path, rev: &str) -> Result<Vec<String>> {
    let fix = format!(
        "is `{rev}` a revision of the git repository of {}?",
        root.display()
    );
    // `--relative`: paths relative to the root (git prints them relative to the top otherwise),
    // and only changes under it. `--no-renames`: a move is a deletion and an addition, so both
    // packages count. `-z`: names as they are, not quoted. The untracked files' names are
    // relative to the working folder (the root) already.
    let diff: &[&str] = &[
        "diff",
        "--name-only",
        "-z",
        "--relative",
        "--no-renames",
        rev,
        "--",
    ];
    let untracked: &[&str] = &["ls-files", "-z", "--others", "--exclude-standard"];
    let in_repo = format!("is {} in a git repository?", root.display());
    let mut files: Vec<String> = git_paths_at_once(root, &[(diff, &fix), (untracked, &in_repo)])?
        .into_iter()
        .flatten()
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// `here`: the package the current folder is in; with no other selection, it alone is selected.
pub fn select<'a>(
    ws: &'a Workspace,
    names: &[String],
    changed_since: Option<&str>,
    here: Option<&'a Package>,
) -> Result<Selection<'a>> {
    let changed = match changed_since {
        Some(rev) => Some(changed_files(&ws.root, rev).context("--changed-since")?),
        None => None,
    };
    select_from(ws, names, changed.as_deref(), here)
}

/// [`select`], with the files changed since the revision already read (`ci plan` reads them
/// once for its own rules too).
pub fn select_from<'a>(
    ws: &'a Workspace,
    names: &[String],
    changed: Option<&[String]>,
    here: Option<&'a Package>,
) -> Result<Selection<'a>> {
    let mut reasons: BTreeMap<String, String> = BTreeMap::new();
    let mut all = names.is_empty() && changed.is_none();
    if all && let Some(package) = here {
        all = false;
        reasons.insert(
            package.name.clone(),
            "the current folder is in it; run from the root for all".into(),
        );
    }
    for name in names {
        let package = ws.package(name).context("--package")?;
        reasons.insert(package.name.clone(), "named".into());
    }
    if let Some(files) = changed {
        let prefixes: Vec<String> = ws.packages.iter().map(|p| format!("{}/", p.rel)).collect();
        // A file under python/ in no package (pyproject.toml, .python-version, conftest.py,
        // ruff.toml, tests/e2e/...) may be read by any tool job: every package is concerned.
        // So may the installer's configuration at the root: it changes every venv.
        // And so may what the gates read outside python/: an extended ruff configuration, an
        // ignore file, a symlink's target.
        let outside = read_outside(&ws.root);
        let shared = files.iter().find(|f| {
            (f.starts_with(&format!("{PYTHON_DIR}/"))
                && !prefixes.iter().any(|p| f.starts_with(p.as_str())))
                || crate::env::installer::CONFIG_FILES.contains(&f.as_str())
                || outside
                    .iter()
                    .any(|o| *f == o || f.starts_with(&format!("{o}/")))
        });
        if let Some(shared) = shared {
            all = true;
            for p in &ws.packages {
                reasons
                    .entry(p.name.clone())
                    .or_insert_with(|| format!("{shared} changed"));
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
        // A changed install input (a pyproject.toml, a requirement file) changes every venv that
        // installs the package: every package checked in those venvs is concerned.
        for package in &ws.packages {
            let input = files.iter().find(|f| {
                f.strip_prefix(&format!("{}/", package.rel))
                    .is_some_and(|name| {
                        name == "pyproject.toml"
                            || (name.starts_with("requirements") && name.ends_with(".txt"))
                    })
            });
            let Some(input) = input else { continue };
            for owner in ws.venvs_of(package) {
                for installed in ws.closure(owner).unwrap_or_default() {
                    reasons.entry(installed.name.clone()).or_insert_with(|| {
                        format!(
                            "the venv of {} changes ({input} changed)",
                            owner.folder_name()
                        )
                    });
                }
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
