//! How a service is deployed: its `[tool.xtask.dist]` table and its `[project.scripts]`, read
//! with the rest of its `pyproject.toml`. `dist` builds the deployable from this; `verify` checks
//! the service's Dockerfile against it.
//!
//! ```toml
//! [tool.xtask.dist]
//! base-image = "nvidia/cuda:12.4.1-runtime-ubuntu22.04"  # default: python:<.python-version>-slim
//! platform = "linux/amd64"                               # default: the builder's
//! command = ["sts-service", "--serve"]                   # default: the one [project.scripts]
//! smoke = ["sts-service", "--version"]                   # run by dist's check; default: none
//! ```

use anyhow::Result;
use toml_edit::{Item, Table};

/// What a service's pyproject says about its deployable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deploy {
    /// `base-image`: the image both stages of the Dockerfile start from.
    pub base_image: Option<String>,
    /// `platform`: the image's target platform (`linux/amd64`), for `docker build --platform`.
    pub platform: Option<String>,
    /// `command`: what the image runs.
    pub command: Vec<String>,
    /// `smoke`: a command that must exit 0 in the installed deployable.
    pub smoke: Vec<String>,
    /// The console scripts the package declares (`[project.scripts]` names).
    pub scripts: Vec<String>,
    /// `path:line` of the `[tool.xtask.dist]` table, else of the `pyproject.toml`.
    pub at: String,
}

impl Deploy {
    /// What the image runs: `command`, else the package's only console script.
    pub fn entry_command(&self) -> Option<Vec<String>> {
        if !self.command.is_empty() {
            return Some(self.command.clone());
        }
        match self.scripts.as_slice() {
            [only] => Some(vec![only.clone()]),
            _ => None,
        }
    }
}

/// The keys `[tool.xtask.dist]` may hold: another is a typo, and an error.
const KEYS: &[&str] = &["base-image", "platform", "command", "smoke"];

/// Reads `[tool.xtask.dist]` and `[project.scripts]`. `at(span)` names a place in the file, and
/// `err(span, message)` makes the error for a malformed item.
pub fn read(
    doc: &Table,
    project: &Table,
    at: &dyn Fn(Option<std::ops::Range<usize>>) -> String,
    err: &dyn Fn(Option<std::ops::Range<usize>>, String) -> anyhow::Error,
) -> Result<Deploy> {
    let scripts = match project.get("scripts") {
        None => Vec::new(),
        Some(item) => item
            .as_table_like()
            .ok_or_else(|| err(item.span(), "`project.scripts` must be a table".into()))?
            .iter()
            .map(|(name, _)| name.to_owned())
            .collect(),
    };
    let table = doc
        .get("tool")
        .and_then(|t| t.get("xtask"))
        .and_then(|t| t.get("dist"));
    let Some(table) = table else {
        return Ok(Deploy {
            scripts,
            at: at(None),
            ..Deploy::default()
        });
    };
    let table = table
        .as_table_like()
        .ok_or_else(|| err(table.span(), "`tool.xtask.dist` must be a table".into()))?;
    if let Some((key, item)) = table.iter().find(|(k, _)| !KEYS.contains(k)) {
        return Err(err(
            item.span(),
            format!(
                "`tool.xtask.dist` has no key `{key}` (it knows {})",
                KEYS.join(", ")
            ),
        ));
    }
    let string = |key: &str| -> Result<Option<String>> {
        table.get(key).map_or(Ok(None), |item| {
            item.as_str()
                .filter(|s| !s.trim().is_empty())
                .map(|s| Some(s.to_owned()))
                .ok_or_else(|| {
                    err(
                        item.span(),
                        format!("`tool.xtask.dist.{key}` must be a non-empty string"),
                    )
                })
        })
    };
    let argv = |key: &str| -> Result<Vec<String>> {
        table.get(key).map_or(Ok(Vec::new()), |item| {
            argv_of(item).ok_or_else(|| {
                err(
                    item.span(),
                    format!(
                        "`tool.xtask.dist.{key}` must be a command as a non-empty list of strings, e.g. [\"my-service\", \"--version\"]"
                    ),
                )
            })
        })
    };
    Ok(Deploy {
        base_image: string("base-image")?,
        platform: string("platform")?,
        command: argv("command")?,
        smoke: argv("smoke")?,
        scripts,
        at: at(table_span(doc)),
    })
}

fn argv_of(item: &Item) -> Option<Vec<String>> {
    let array = item.as_array()?;
    let argv: Option<Vec<String>> = array
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect();
    argv.filter(|a| a.first().is_some_and(|first| !first.trim().is_empty()))
}

fn table_span(doc: &Table) -> Option<std::ops::Range<usize>> {
    doc.get("tool")?.get("xtask")?.get("dist")?.span()
}

/// Where a service's Dockerfile lives: `python/deploy/<service folder>/Dockerfile`. The team's
/// file once written (dist writes it the first time, from its template).
pub fn dockerfile(root: &std::path::Path, service_folder: &str) -> std::path::PathBuf {
    root.join(crate::project::PYTHON_DIR)
        .join("deploy")
        .join(service_folder)
        .join("Dockerfile")
}

/// The build context `dist` writes for a service (`target/dist/<service>/`), entry by entry: what
/// a Dockerfile may `COPY` from it.
pub mod context {
    /// The service's Dockerfile, copied from `python/deploy/<service>/`.
    pub const DOCKERFILE: &str = "Dockerfile";
    /// The service's runtime lock, copied as is: third-party pins with hashes (and the index URLs
    /// the service's lock names).
    pub const LOCK: &str = "requirements.txt";
    /// The install steps, in one place: the Dockerfile runs it, and so does dist's check.
    pub const INSTALL: &str = "install.py";
    /// The non-editable wheels of the service and of every local package it installs.
    pub const WHEELS: &str = "wheels";
    /// Every other file's SHA-256, the service, the commit and the lock's digest.
    pub const MANIFEST: &str = "manifest.json";
    /// Every entry, in the order the manifest lists them.
    pub const ENTRIES: &[&str] = &[DOCKERFILE, INSTALL, LOCK, WHEELS, MANIFEST];
}
