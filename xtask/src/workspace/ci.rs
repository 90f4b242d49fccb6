//! Where a venv's CI job runs: `[tool.xtask.ci] runs-on` of the venv's owner (a service, or a
//! library with a venv of its own), as GitHub Actions' `runs-on` takes it: a label, or a list of
//! labels a runner must all have.
//!
//! ```toml
//! [tool.xtask.ci]
//! runs-on = ["self-hosted", "gpu"]   # default: ubuntu-latest
//! ```

use anyhow::Result;
use toml_edit::Table;

/// The runner when the owner names none.
pub const DEFAULT_RUNNER: &str = "ubuntu-latest";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ci {
    /// The labels, as written; empty: [`DEFAULT_RUNNER`].
    pub runs_on: Vec<String>,
}

impl Ci {
    pub fn runs_on(&self) -> Vec<String> {
        if self.runs_on.is_empty() {
            vec![DEFAULT_RUNNER.to_owned()]
        } else {
            self.runs_on.clone()
        }
    }
}

/// Reads `[tool.xtask.ci]`; `err(span, message)` makes the error for a malformed item.
pub fn read(
    doc: &Table,
    err: &dyn Fn(Option<std::ops::Range<usize>>, String) -> anyhow::Error,
) -> Result<Ci> {
    let Some(table) = doc
        .get("tool")
        .and_then(|t| t.get("xtask"))
        .and_then(|t| t.get("ci"))
    else {
        return Ok(Ci::default());
    };
    let table = table
        .as_table_like()
        .ok_or_else(|| err(table.span(), "`tool.xtask.ci` must be a table".into()))?;
    if let Some((key, item)) = table.iter().find(|(k, _)| *k != "runs-on") {
        return Err(err(
            item.span(),
            format!("`tool.xtask.ci` has no key `{key}` (it knows runs-on)"),
        ));
    }
    let Some(item) = table.get("runs-on") else {
        return Ok(Ci::default());
    };
    let labels: Option<Vec<String>> = match item.as_str() {
        Some(one) => Some(vec![one.to_owned()]),
        None => item.as_array().and_then(|a| {
            a.iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        }),
    };
    match labels {
        Some(labels) if !labels.is_empty() && labels.iter().all(|l| !l.trim().is_empty()) => {
            Ok(Ci { runs_on: labels })
        }
        _ => Err(err(
            item.span(),
            "`tool.xtask.ci.runs-on` must be a runner label or a list of them, e.g. \"ubuntu-latest\" or [\"self-hosted\", \"gpu\"]".into(),
        )),
    }
}
