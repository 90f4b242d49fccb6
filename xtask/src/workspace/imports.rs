//! Which local packages a package's code imports, read from its `.py` files: a package may import
//! only the local packages it declares (its dependencies, its dev tools). The remembered passes of
//! its jobs are keyed by the files of the packages it declares, so an undeclared import would let
//! an edit of the imported package go unseen; it also breaks in a venv that does not install it.

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

fn python_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for (path, name, meta) in fsutil::entries(dir) {
        if meta.is_dir() {
            if !leftovers::is_cache(&name, true)
                && !name.starts_with('.')
                && !path.join("pyvenv.cfg").is_file()
            {
                python_files(&path, out);
            }
        } else if name.ends_with(".py") {
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
        for (i, line) in text.lines().enumerate() {
            for module in imported_modules(line) {
                let owner = others.iter().find(|(_, names)| {
                    names
                        .iter()
                        .any(|n| module == n || module.starts_with(&format!("{n}.")))
                });
                if let Some((other, _)) = owner {
                    found.push(format!(
                        "{}:{}: imports {module}, of {} ({}), which {} does not declare",
                        fsutil::display_rel(&ws.root, &file),
                        i + 1,
                        other.folder_name(),
                        other.dist,
                        package.dist
                    ));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

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
