//! The data files of the install set's import packages: what the code may read from its own
//! package (`importlib.resources`, a path beside `__file__`), which the probe requires in the
//! installed wheels. A file left out of a wheel (setuptools ships no data unless told) works in
//! the editable dev venv and fails in the image; importing every module cannot show it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::fsutil;
use crate::workspace::Package;

/// For each import package (a folder) of `set`: the paths of its data files below its folder,
/// with `/`. Data: any file but Python source and bytecode and `py.typed` (PEP 561's marker, for
/// type checkers), outside hidden folders and `__pycache__`; in a git repository, only those git
/// tracks (a file git ignores is the machine's own, never shipped).
pub fn of(set: &[&Package], tracked: Option<&BTreeSet<String>>) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for package in set {
        for import in package.layout.imports.iter().filter(|i| i.path.is_dir()) {
            let mut files = Vec::new();
            walk(&import.path, "", &mut files);
            if let Some(tracked) = tracked {
                let prefix = import.path.to_string_lossy().replace('\\', "/");
                files.retain(|rel| tracked.contains(&format!("{prefix}/{rel}")));
            }
            if !files.is_empty() {
                out.insert(import.name.clone(), files);
            }
        }
    }
    out
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for (path, name, meta) in fsutil::entries(dir) {
        let rel = format!("{prefix}{name}");
        if meta.is_dir() {
            if !name.starts_with('.') && name != "__pycache__" {
                walk(&path, &format!("{rel}/"), out);
            }
        } else if meta.is_file() && is_data(&name) {
            out.push(rel);
        }
    }
}

fn is_data(name: &str) -> bool {
    let source = [".py", ".pyi", ".pyc", ".pyo"]
        .iter()
        .any(|ext| name.ends_with(ext));
    !source && name != "py.typed" && !name.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_every_file_but_source_bytecode_and_the_marker() {
        for (name, data) in [
            ("voices.json", true),
            ("templates.html", true),
            ("model.onnx", true),
            ("x.py", false),
            ("x.pyi", false),
            ("x.cpython-310.pyc", false),
            ("py.typed", false),
            (".DS_Store", false),
        ] {
            assert_eq!(is_data(name), data, "{name}");
        }
    }
}
