//! Editing a package's `pyproject.toml` as a person would: toml_edit keeps every comment, the
//! order and the formatting; a new requirement goes at the end of its list, laid out like the
//! entries already there.

use anyhow::{Context, Result, bail};
use toml_edit::{Array, DocumentMut, Item, Table, Value};

use crate::workspace::{normalize, requirement_name};

/// Which list a requirement goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `[project] dependencies`.
    Runtime,
    /// The dev tools: `[dependency-groups] dev` if it exists, else the `dev` extra if it exists,
    /// else a new `[dependency-groups] dev`.
    Dev,
}

fn requirement_key(value: &Value) -> Option<String> {
    value.as_str().map(|s| normalize(requirement_name(s)))
}

/// Appends `text`, laid out like the array's entries (one a line, or inline), or replaces the
/// entry for the same distribution in place.
fn put(array: &mut Array, text: &str) {
    let key = normalize(requirement_name(text));
    let existing = array
        .iter()
        .position(|v| requirement_key(v).as_deref() == Some(key.as_str()));
    if let Some(i) = existing {
        let decor = array.get(i).map(|v| v.decor().clone());
        let mut value = Value::from(text);
        if let Some(decor) = decor {
            *value.decor_mut() = decor;
        }
        array.replace_formatted(i, value);
        return;
    }
    let multiline = array.iter().any(|v| {
        v.decor()
            .prefix()
            .and_then(|p| p.as_str())
            .is_some_and(|p| p.contains('\n'))
    }) || array.trailing().as_str().is_some_and(|t| t.contains('\n'));
    // The new entry starts where the list's tail was (a comment after the last comma stays
    // with the entry it follows), indented like the last entry.
    let indent = array
        .iter()
        .last()
        .and_then(|v| v.decor().prefix().and_then(|p| p.as_str()))
        .map(|p| p.rsplit('\n').next().unwrap_or("").to_owned())
        .unwrap_or_else(|| "    ".to_owned());
    let mut value = Value::from(text);
    if multiline {
        let tail = array.trailing().as_str().unwrap_or("").to_owned();
        let tail = if tail.contains('\n') {
            tail
        } else {
            format!("{tail}\n")
        };
        let tail = tail.trim_end_matches([' ', '\t']).to_owned();
        value.decor_mut().set_prefix(format!("{tail}{indent}"));
        value.decor_mut().set_suffix("");
        array.push_formatted(value);
        array.set_trailing_comma(true);
        array.set_trailing("\n");
    } else {
        array.push(text);
    }
}

/// The array at `table.key`, created (as a multi-line list) when missing.
fn array_at<'t>(table: &'t mut Table, key: &str, what: &str) -> Result<&'t mut Array> {
    if !table.contains_key(key) {
        let mut array = Array::new();
        array.set_trailing("\n");
        table.insert(key, Item::Value(Value::Array(array)));
    }
    table
        .get_mut(key)
        .and_then(Item::as_array_mut)
        .with_context(|| format!("{what} is not a list of requirements"))
}

fn table_at<'d>(doc: &'d mut DocumentMut, path: &[&str]) -> Result<&'d mut Table> {
    let mut table = doc.as_table_mut();
    for key in path {
        if !table.contains_key(key) {
            let mut new = Table::new();
            new.set_implicit(path.len() > 1 && *key == path[0]);
            table.insert(key, Item::Table(new));
        }
        table = table
            .get_mut(key)
            .and_then(Item::as_table_mut)
            .with_context(|| format!("[{}] is not a table", path.join(".")))?;
    }
    Ok(table)
}

/// Adds (or replaces, by distribution name) each requirement in the target list.
pub fn add(text: &str, requirements: &[String], target: Target) -> Result<String> {
    let mut doc: DocumentMut = text.parse().context("not valid TOML")?;
    let has_group = doc
        .get("dependency-groups")
        .and_then(|g| g.get("dev"))
        .is_some();
    let has_extra = doc
        .get("project")
        .and_then(|p| p.get("optional-dependencies"))
        .and_then(|o| o.get("dev"))
        .is_some();
    let array = match (target, has_group, has_extra) {
        (Target::Runtime, _, _) => array_at(
            table_at(&mut doc, &["project"])?,
            "dependencies",
            "[project] dependencies",
        )?,
        (Target::Dev, false, true) => array_at(
            table_at(&mut doc, &["project", "optional-dependencies"])?,
            "dev",
            "[project.optional-dependencies] dev",
        )?,
        (Target::Dev, _, _) => array_at(
            table_at(&mut doc, &["dependency-groups"])?,
            "dev",
            "[dependency-groups] dev",
        )?,
    };
    for requirement in requirements {
        put(array, requirement);
    }
    Ok(doc.to_string())
}

/// Removes every requirement naming one of `names` from the runtime dependencies and the dev
/// tools; an error names those found nowhere.
pub fn remove(text: &str, names: &[String]) -> Result<String> {
    let mut doc: DocumentMut = text.parse().context("not valid TOML")?;
    let wanted: Vec<String> = names.iter().map(|n| normalize(n)).collect();
    let mut found: Vec<String> = Vec::new();
    let mut strip = |array: &mut Array| {
        // Backwards, so indices stay valid; a removed entry hands the comment that stood before
        // its line (after the previous comma) to what follows it.
        for i in (0..array.len()).rev() {
            let Some(key) = array.get(i).and_then(requirement_key) else {
                continue;
            };
            if !wanted.contains(&key) {
                continue;
            }
            let prefix = array
                .get(i)
                .and_then(|v| {
                    v.decor()
                        .prefix()
                        .and_then(|p| p.as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            let carried = prefix
                .rsplit_once('\n')
                .map_or("", |(before, _)| before)
                .to_owned();
            array.remove(i);
            if i < array.len() {
                if let Some(next) = array.get_mut(i) {
                    let next_prefix = next
                        .decor()
                        .prefix()
                        .and_then(|p| p.as_str())
                        .unwrap_or("")
                        .to_owned();
                    next.decor_mut()
                        .set_prefix(format!("{carried}{next_prefix}"));
                }
            } else {
                let trailing = array.trailing().as_str().unwrap_or("").to_owned();
                array.set_trailing(format!("{carried}{trailing}"));
            }
            if !found.contains(&key) {
                found.push(key);
            }
        }
    };
    let paths: [&[&str]; 3] = [
        &["project", "dependencies"],
        &["project", "optional-dependencies", "dev"],
        &["dependency-groups", "dev"],
    ];
    for path in paths {
        // Looked up with `get` first: `get_mut` would create what is missing.
        let exists = path
            .iter()
            .try_fold(doc.as_item(), |item, key| item.get(key))
            .is_some_and(Item::is_array);
        if !exists {
            continue;
        }
        let array = path
            .iter()
            .try_fold(doc.as_item_mut(), |item, key| item.get_mut(key))
            .and_then(Item::as_array_mut);
        if let Some(array) = array {
            strip(array);
        }
    }
    let missing: Vec<&String> = wanted.iter().filter(|w| !found.contains(w)).collect();
    if !missing.is_empty() {
        bail!(
            "no requirement names {} in [project] dependencies or the dev tools",
            missing
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYPROJECT: &str = "[project]\nname = \"x\"\n# what it needs at run time\ndependencies = [\n    \"dubbing-common\",  # shared\n]\n\n[project.optional-dependencies]\ndev = [\"pytest>=7\"]\n";

    #[test]
    fn add_keeps_comments_and_layout_and_remove_undoes_it() {
        let added = add(PYPROJECT, &["numpy<2".into()], Target::Runtime).unwrap();
        assert_eq!(
            added,
            "[project]\nname = \"x\"\n# what it needs at run time\ndependencies = [\n    \"dubbing-common\",  # shared\n    \"numpy<2\",\n]\n\n[project.optional-dependencies]\ndev = [\"pytest>=7\"]\n"
        );
        let replaced = add(&added, &["NumPy>=1.26,<2".into()], Target::Runtime).unwrap();
        assert!(
            replaced.contains("    \"NumPy>=1.26,<2\",\n]") && !replaced.contains("numpy<2"),
            "{replaced}"
        );
        let dev = add(PYPROJECT, &["ruff".into()], Target::Dev).unwrap();
        assert!(dev.contains("dev = [\"pytest>=7\", \"ruff\"]"), "{dev}");
        assert_eq!(remove(&added, &["numpy".into()]).unwrap(), PYPROJECT);
        let err = remove(PYPROJECT, &["nope".into()]).unwrap_err().to_string();
        assert!(err.contains("no requirement names nope"), "{err}");
        let grouped = add("[project]\nname = \"y\"\n", &["mypy".into()], Target::Dev).unwrap();
        assert!(
            grouped.contains("[dependency-groups]\ndev = [\n    \"mypy\",\n]"),
            "{grouped}"
        );
    }
}
