//! Editing a package's `pyproject.toml` as a person would: toml_edit keeps every comment, the
//! order and the formatting; a new requirement goes at the end of its list, laid out like the
//! entries already there.

use anyhow::{Context, Result, bail};
use toml_edit::{Array, DocumentMut, Item, Table, Value};

use crate::workspace::{normalize, pep508, requirement_name};

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

/// An entry of a list that `add` replaced: what was listed for a name, and what is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    pub old: Vec<String>,
    pub new: Vec<String>,
}

/// Puts the entries of one name (`group`) in the list: in place of those listed for that name
/// (the first keeps its place and layout, the others go), else at the end.
fn put(array: &mut Array, group: &[String]) -> Option<Replaced> {
    let key = normalize(requirement_name(&group[0]));
    let existing: Vec<usize> = (0..array.len())
        .filter(|&i| array.get(i).and_then(requirement_key).as_deref() == Some(key.as_str()))
        .collect();
    let Some(&first) = existing.first() else {
        for text in group {
            append(array, text);
        }
        return None;
    };
    let old: Vec<String> = existing
        .iter()
        .filter_map(|&i| array.get(i).and_then(Value::as_str).map(str::to_owned))
        .collect();
    for &i in existing[1..].iter().rev() {
        array.remove(i);
    }
    let decor = array.get(first).map(|v| v.decor().clone());
    for (n, text) in group.iter().enumerate() {
        let mut value = Value::from(text.as_str());
        if let Some(decor) = &decor {
            *value.decor_mut() = decor.clone();
        }
        if n == 0 {
            array.replace_formatted(first, value);
        } else {
            array.insert_formatted(first + n, value);
        }
    }
    (old != group).then(|| Replaced {
        old,
        new: group.to_vec(),
    })
}

/// The requirements given, one group a name, in the order given. Several for one name are kept
/// together as PEP 508 allows: plain specifiers are joined into one requirement (`numpy<2` and
/// `numpy>=1` make `numpy<2,>=1`, their extras too); ones with markers stay entries of their
/// own (each for its environments). A direct reference (`name @ URL`) joins with nothing.
pub fn combine(requirements: &[String]) -> Result<Vec<Vec<String>>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    for requirement in requirements {
        let key = normalize(requirement_name(requirement));
        match groups
            .iter_mut()
            .find(|g| normalize(requirement_name(&g[0])) == key)
        {
            Some(group) => group.push(requirement.trim().to_owned()),
            None => groups.push(vec![requirement.trim().to_owned()]),
        }
    }
    groups.into_iter().map(|group| join(&group)).collect()
}

/// One name's requirements as the entries to write (see [`combine`]).
fn join(group: &[String]) -> Result<Vec<String>> {
    if group.len() == 1 {
        return Ok(group.to_vec());
    }
    let parsed: Vec<pep508::Requirement> = group
        .iter()
        .map(|r| pep508::parse(r).map_err(|e| anyhow::anyhow!("`{r}`:\n{}", e.show(r))))
        .collect::<Result<_>>()?;
    if let Some(direct) = parsed.iter().position(|r| r.url.is_some()) {
        bail!(
            "`{}` is a direct reference (a URL), which no other requirement on {} can join: \
             give only one of {}",
            group[direct],
            parsed[direct].name,
            group
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if parsed.iter().any(|r| r.marker.is_some()) {
        return Ok(group.to_vec());
    }
    let mut extras: Vec<String> = Vec::new();
    for extra in parsed.iter().flat_map(|r| &r.extras) {
        if !extras.contains(extra) {
            extras.push(extra.clone());
        }
    }
    let specifiers: Vec<String> = parsed
        .iter()
        .map(|r| r.specifier.replace([' ', '\t'], ""))
        .filter(|s| !s.is_empty())
        .collect();
    let extras = if extras.is_empty() {
        String::new()
    } else {
        format!("[{}]", extras.join(","))
    };
    Ok(vec![format!(
        "{}{extras}{}",
        parsed[0].name,
        specifiers.join(",")
    )])
}

/// Appends `text`, laid out like the array's entries (one a line, or inline).
fn append(array: &mut Array, text: &str) {
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

/// Adds each group of requirements ([`combine`]) to the target list, in place of what it lists
/// for the same name; says what it replaced.
pub fn add(text: &str, groups: &[Vec<String>], target: Target) -> Result<(String, Vec<Replaced>)> {
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
    let replaced = groups
        .iter()
        .filter_map(|group| put(array, group))
        .collect();
    Ok((doc.to_string(), replaced))
}

/// Removes every requirement naming one of `names` from the runtime dependencies and the dev
/// tools; an error names those found nowhere.
pub fn remove(text: &str, names: &[String]) -> Result<String> {
    let mut doc: DocumentMut = text.parse().context("not valid TOML")?;
    let wanted: Vec<String> = names.iter().map(|n| normalize(n)).collect();
    let mut found: Vec<String> = Vec::new();
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
            for key in strip(array, &wanted) {
                if !found.contains(&key) {
                    found.push(key);
                }
            }
        }
    }
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|w| !found.contains(w))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        bail!(
            "no requirement names {} in [project] dependencies or the dev tools",
            missing.join(", ")
        );
    }
    Ok(doc.to_string())
}

/// Removes the entries of `array` whose requirement names one of `wanted`; the names removed.
/// Backwards, so indices stay valid; a removed entry hands the comment that stood before its
/// line (after the previous comma) to what follows it.
fn strip(array: &mut Array, wanted: &[String]) -> Vec<String> {
    let mut removed = Vec::new();
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
        if let Some(next) = array.get_mut(i) {
            let next_prefix = next
                .decor()
                .prefix()
                .and_then(|p| p.as_str())
                .unwrap_or("")
                .to_owned();
            next.decor_mut()
                .set_prefix(format!("{carried}{next_prefix}"));
        } else {
            let trailing = array.trailing().as_str().unwrap_or("").to_owned();
            array.set_trailing(format!("{carried}{trailing}"));
        }
        removed.push(key);
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYPROJECT: &str = "[project]\nname = \"x\"\n# what it needs at run time\ndependencies = [\n    \"dubbing-common\",  # shared\n]\n\n[project.optional-dependencies]\ndev = [\"pytest>=7\"]\n";

    fn one(requirement: &str) -> Vec<Vec<String>> {
        vec![vec![requirement.to_owned()]]
    }

    #[test]
    fn add_keeps_comments_and_layout_and_remove_undoes_it() {
        let (added, replaced) = add(PYPROJECT, &one("numpy<2"), Target::Runtime).unwrap();
        assert_eq!(
            added,
            "[project]\nname = \"x\"\n# what it needs at run time\ndependencies = [\n    \"dubbing-common\",  # shared\n    \"numpy<2\",\n]\n\n[project.optional-dependencies]\ndev = [\"pytest>=7\"]\n"
        );
        assert!(replaced.is_empty());
        let (again, replaced) = add(&added, &one("NumPy>=1.26,<2"), Target::Runtime).unwrap();
        assert!(
            again.contains("    \"NumPy>=1.26,<2\",\n]") && !again.contains("numpy<2"),
            "{again}"
        );
        assert_eq!(
            replaced,
            [Replaced {
                old: vec!["numpy<2".into()],
                new: vec!["NumPy>=1.26,<2".into()]
            }]
        );
        let (same, replaced) = add(&added, &one("numpy<2"), Target::Runtime).unwrap();
        assert!(same == added && replaced.is_empty(), "{same}");
        let (dev, _) = add(PYPROJECT, &one("ruff"), Target::Dev).unwrap();
        assert!(dev.contains("dev = [\"pytest>=7\", \"ruff\"]"), "{dev}");
        assert_eq!(remove(&added, &["numpy".into()]).unwrap(), PYPROJECT);
        let err = remove(PYPROJECT, &["nope".into()]).unwrap_err().to_string();
        assert!(err.contains("no requirement names nope"), "{err}");
        let (grouped, _) = add("[project]\nname = \"y\"\n", &one("mypy"), Target::Dev).unwrap();
        assert!(
            grouped.contains("[dependency-groups]\ndev = [\n    \"mypy\",\n]"),
            "{grouped}"
        );
    }

    #[test]
    fn several_requirements_for_one_name_are_kept_together() {
        let given = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            combine(&given(&["numpy<2", "six", "NumPy >= 1", "numpy[x]"])).unwrap(),
            [vec!["numpy[x]<2,>=1".to_owned()], vec!["six".to_owned()]]
        );
        let marked = given(&[
            "numpy<2; python_version < '3.12'",
            "numpy>=2; python_version >= '3.12'",
        ]);
        assert_eq!(combine(&marked).unwrap(), std::slice::from_ref(&marked));
        let err = combine(&given(&["six @ https://x.invalid/six.whl", "six<2"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("direct reference"), "{err}");
        // Both entries of one name replace the one listed, in its place.
        let (two, replaced) =
            add(PYPROJECT, std::slice::from_ref(&marked), Target::Runtime).unwrap();
        let (one_again, _) = add(&two, &one("numpy"), Target::Runtime).unwrap();
        assert!(
            two.contains("python_version >= '3.12'\",\n]") && replaced.is_empty(),
            "{two}"
        );
        assert!(
            one_again.contains("    \"numpy\",\n]") && !one_again.contains("3.12"),
            "{one_again}"
        );
    }
}
