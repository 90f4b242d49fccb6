//! Which local packages a package's code imports, read from its `.py` files: a package may import
//! only the local packages it declares (its dependencies, its dev tools). An import line counts,
//! and so does a string that is a local import name, whole, outside a comment:
//! `importlib.import_module("dubbing_contracts")` or `pytest.importorskip("dubbing_contracts")`
//! loads the package just the same (a word of prose in a docstring does not). An undeclared one
//! breaks in a venv that does not install it.
//!
//! The same scan of names ([`referenced_names`]) widens the keys of remembered passes: a job's key
//! covers every local package whose import name its package's files mention.

use std::fs;
use std::path::Path;

use crate::fsutil;
use crate::leftovers;
use crate::workspace::{Package, Workspace};

/// The module names a line of Python imports: `import a.b, c as d` and `from a.b import x`;
/// relative imports (`from . import x`) name no other package.
fn imported_modules(line: &str) -> Vec<&str> {
    let line = line.trim_start();
    if let Some(rest) = line.strip_prefix("from ") {
        let module = rest.split_whitespace().next().unwrap_or("");
        if module.starts_with('.') || !rest.contains(" import") {
            return Vec::new();
        }
        return vec![module];
    }
    if let Some(rest) = line.strip_prefix("import ") {
        let rest = rest.split('#').next().unwrap_or(rest);
        return rest
            .split(',')
            .filter_map(|part| part.split_whitespace().next())
            .filter(|m| !m.starts_with('(') && !m.is_empty())
            .collect();
    }
    Vec::new()
}

/// The dotted names in `text` (runs of identifier characters and dots) that `known` accepts,
/// whole or by a leading part: `dubbing_common.x.y` names `dubbing_common` when that is known.
/// One pass over the bytes, whatever the number of names.
pub fn referenced_names<'k>(text: &[u8], known: &dyn Fn(&str) -> Option<&'k str>) -> Vec<&'k str> {
    let mut found: Vec<&'k str> = Vec::new();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    let mut i = 0;
    while i < text.len() {
        if !is_word(text[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < text.len() && is_word(text[i]) {
            i += 1;
        }
        let Ok(token) = std::str::from_utf8(&text[start..i]) else {
            continue;
        };
        // Every leading part: `a`, `a.b`, `a.b.c` (a namespace portion is named by two).
        let token = token.trim_matches('.');
        let ends = token
            .match_indices('.')
            .map(|(at, _)| at)
            .chain([token.len()]);
        for end in ends {
            if let Some(name) = known(&token[..end])
                && !found.contains(&name)
            {
                found.push(name);
            }
        }
    }
    found
}

fn python_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for (path, name, meta) in fsutil::entries(dir) {
        if meta.is_dir() {
            if !leftovers::is_bytecode(&name, true)
                && name != "htmlcov"
                && !name.starts_with('.')
                && !path.join("pyvenv.cfg").is_file()
            {
                python_files(&path, out);
            }
        } else if name.ends_with(".py") && fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            // Only a regular file (or a link to one): a named pipe would block the read.
            out.push(path);
        }
    }
}

/// Every import in `package`'s files of a local package it does not declare, as
/// `path:line: imports X (package Y)`.
pub fn undeclared(ws: &Workspace, package: &Package) -> Vec<String> {
    let allowed: Vec<&str> = ws
        .closure(package)
        .unwrap_or_default()
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    let others: Vec<(&Package, Vec<String>)> = ws
        .packages
        .iter()
        .filter(|p| !allowed.contains(&p.name.as_str()))
        .map(|p| (p, p.import_names()))
        .collect();
    let mut files = Vec::new();
    python_files(&package.dir, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        let at = |i: usize| format!("{}:{}", fsutil::display_rel(&ws.root, &file), i + 1);
        for (i, line) in text.lines().enumerate() {
            let imported = imported_modules(line);
            for module in &imported {
                let owner = others.iter().find(|(_, names)| {
                    names
                        .iter()
                        .any(|n| module == n || module.starts_with(&format!("{n}.")))
                });
                if let Some((other, _)) = owner {
                    found.push(format!(
                        "{}: imports {module}, of {} ({}), which {} does not declare",
                        at(i),
                        other.folder_name(),
                        other.dist,
                        package.dist
                    ));
                }
            }
            if imported.is_empty() {
                found.extend(mentions(line, &others).into_iter().map(|(name, other)| {
                    format!(
                        "{}: names {name}, of {} ({}), which {} does not declare (a string import loads it all the same)",
                        at(i),
                        other.folder_name(),
                        other.dist,
                        package.dist
                    )
                }));
            }
        }
    }
    found
}

/// The contents of the string literals of a line that are dotted names, whole:
/// `import_module("dubbing_common.io")` gives `dubbing_common.io`; prose in a docstring
/// (`"""Audio in, text out."""`) gives nothing. A literal that spans lines is not seen whole.
fn quoted_names(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(open) = rest.find(['"', '\'']) {
        let quote = rest.as_bytes()[open] as char;
        let after = &rest[open + 1..];
        let Some(close) = after.find(quote) else {
            break;
        };
        let content = &after[..close];
        let dotted = !content.is_empty()
            && content
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.');
        if dotted {
            out.push(content);
        }
        rest = &after[close + 1..];
    }
    out
}

/// The undeclared local import names that a line which imports nothing names in a string, whole
/// (`importorskip("dubbing_contracts")`): a string import loads the package all the same. A word
/// of prose that happens to be an import name (`audio` in a docstring) is no import. (The keys of
/// remembered passes follow every mention, prose too: wider keys are never unsound.)
fn mentions<'a>(
    line: &str,
    others: &'a [(&'a Package, Vec<String>)],
) -> Vec<(&'a str, &'a Package)> {
    let code = line.trim_start();
    if code.starts_with('#') {
        return Vec::new();
    }
    let known = |token: &str| {
        others
            .iter()
            .flat_map(|(_, names)| names)
            .find(|n| n.as_str() == token)
            .map(String::as_str)
    };
    let mut found: Vec<(&'a str, &'a Package)> = Vec::new();
    for quoted in quoted_names(code) {
        for name in referenced_names(quoted.as_bytes(), &known) {
            let Some((other, _)) = others
                .iter()
                .find(|(_, names)| names.iter().any(|n| n == name))
            else {
                continue;
            };
            if !found.iter().any(|(n, _)| *n == name) {
                found.push((name, *other));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_whole_and_by_their_leading_parts() {
        let known = |t: &str| {
            ["dubbing_common", "dubbing.ns"]
                .into_iter()
                .find(|n| *n == t)
        };
        let text =
            b"x = importlib.import_module('dubbing_common.io')\nimportorskip(\"dubbing.ns\")";
        assert_eq!(
            referenced_names(text, &known),
            ["dubbing_common", "dubbing.ns"]
        );
        assert!(referenced_names(b"my_dubbing_common = dubbing_commons", &known).is_empty());
        assert!(referenced_names(b"dubbing.nsx", &known).is_empty());
    }

    #[test]
    fn a_string_names_a_package_only_when_it_is_the_whole_string() {
        assert_eq!(
            quoted_names("m = import_module('dubbing_common.io'); x = \"a b\""),
            ["dubbing_common.io"]
        );
        assert!(quoted_names("\"\"\"Speech recognition: audio in, text out.\"\"\"").is_empty());
        assert_eq!(quoted_names("importorskip(\"audio\")"), ["audio"]);
        assert!(quoted_names("it's audio").is_empty());
    }

    #[test]
    fn import_lines_name_their_modules() {
        assert_eq!(imported_modules("import a.b, c as d  # x"), ["a.b", "c"]);
        assert_eq!(imported_modules("    from a.b import (x,"), ["a.b"]);
        assert!(imported_modules("from . import x").is_empty());
        assert!(imported_modules("from .a import x").is_empty());
        assert!(imported_modules("imported = 1").is_empty());
        assert!(imported_modules("x = 'from a'").is_empty());
    }
}
