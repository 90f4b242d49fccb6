//! The data files and the modules of the install set's import packages, as the source holds
//! them: what the probe requires in the installed wheels. A data file left out of a wheel
//! (setuptools ships no data unless told), or a subpackage a build's `packages` leaves out, works
//! in the editable dev venv and fails in the image; importing what the wheel holds cannot show
//! it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::fsutil;
use crate::workspace::Package;
use crate::workspace::layout::is_dotted_identifier;

/// The files git tracks under the root, to tell a machine's own files from the source's.
pub struct Tracked {
    root: PathBuf,
    /// The root with every symlink resolved, to find a file a symlink leads to.
    real_root: PathBuf,
    /// Paths from the root, with `/`, as git lists them.
    files: BTreeSet<String>,
}

impl Tracked {
    pub fn new(root: &Path, relative: Vec<String>) -> Tracked {
        Tracked {
            root: root.to_path_buf(),
            real_root: fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()),
            files: relative.into_iter().collect(),
        }
    }

    /// Whether git tracks the file at `path`, or the file a symlink on the way leads to (a
    /// tracked link to a tracked folder elsewhere in the repository).
    fn holds(&self, path: &Path) -> bool {
        let listed = |rel: &Path| {
            self.files
                .contains(&rel.to_string_lossy().replace('\\', "/"))
        };
        path.strip_prefix(&self.root).is_ok_and(listed)
            || fs::canonicalize(path)
                .is_ok_and(|real| real.strip_prefix(&self.real_root).is_ok_and(listed))
    }
}

/// What the source of the install set's import packages holds, for the probe.
pub struct Contents {
    /// For each import package (a folder): the paths of its data files below its folder, with
    /// `/`. Data: any file but Python source and bytecode and `py.typed` (PEP 561's marker, for
    /// type checkers), outside hidden folders and `__pycache__`.
    pub data: BTreeMap<String, Vec<String>>,
    /// For each import package: the dotted names of the modules its source holds below it
    /// ([`module_name`]).
    pub modules: BTreeMap<String, Vec<String>>,
}

/// The [`Contents`] of `set`'s import packages, each folder walked once; in a git repository,
/// only the files git tracks (a file git ignores is the machine's own, never shipped).
pub fn of(set: &[&Package], tracked: Option<&Tracked>) -> Contents {
    let mut contents = Contents {
        data: BTreeMap::new(),
        modules: BTreeMap::new(),
    };
    for package in set {
        for import in package.layout.imports.iter().filter(|i| i.path.is_dir()) {
            let files = files_of(&import.path, tracked);
            let data: Vec<String> = files.iter().filter(|f| is_data(f)).cloned().collect();
            let modules: Vec<String> = files
                .iter()
                .filter(|f| f.ends_with(".py"))
                .filter_map(|rel| module_name(&import.name, rel))
                .collect();
            if !data.is_empty() {
                contents.data.insert(import.name.clone(), data);
            }
            if !modules.is_empty() {
                contents.modules.insert(import.name.clone(), modules);
            }
        }
    }
    contents
}

/// `media_service` and `pipelines/mix.py` -> `media_service.pipelines.mix`; None for
/// `__main__`, for `__init__.py` (the package itself) and for a path no import can name. Tests
/// kept beside the code (`tests/`, `test_*.py`) are modules too: the probe reports one the
/// wheel lacks only when an installed module imports it, which no test is, and a runtime
/// module named like one (`sources/test_card.py`) is then found.
fn module_name(package: &str, rel: &str) -> Option<String> {
    let stem = rel.strip_suffix(".py")?;
    let stem = stem.strip_suffix("/__init__").unwrap_or(stem);
    if stem == "__init__" || stem.rsplit('/').next() == Some("__main__") {
        return None;
    }
    let dotted = format!("{package}.{}", stem.replace('/', "."));
    is_dotted_identifier(&dotted).then_some(dotted)
}

/// The files below `dir`, with `/`; through symlinks (a build ships what a link leads to,
/// under the link's name too), a folder never inside itself; in a git repository, only those
/// git tracks.
fn files_of(dir: &Path, tracked: Option<&Tracked>) -> Vec<String> {
    let mut files = Vec::new();
    walk(dir, "", &mut Vec::new(), &mut files);
    if let Some(tracked) = tracked {
        files.retain(|rel| tracked.holds(&dir.join(rel)));
    }
    files
}

fn walk(dir: &Path, prefix: &str, above: &mut Vec<PathBuf>, out: &mut Vec<String>) {
    // A link back up would walk forever: a real folder is not walked inside itself. Another
    // name for it elsewhere is walked again, as the dev venv reads it under that name too.
    let real = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if above.contains(&real) {
        return;
    }
    above.push(real);
    for (path, name, meta) in fsutil::entries(dir) {
        let rel = format!("{prefix}{name}");
        let meta = if meta.file_type().is_symlink() {
            match fs::metadata(&path) {
                Ok(target) => target,
                Err(_) => continue, // a link that leads nowhere ships nothing
            }
        } else {
            meta
        };
        if meta.is_dir() {
            if !name.starts_with('.') && name != "__pycache__" {
                walk(&path, &format!("{rel}/"), above, out);
            }
        } else if meta.is_file() {
            out.push(rel);
        }
    }
    above.pop();
}

/// Whether a file (its name, or its path from the package) is data rather than source.
fn is_data(name: &str) -> bool {
    let name = name.rsplit('/').next().unwrap_or(name);
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

    /// A folder a symlink names again is read under both names (the dev venv reads either); a
    /// link back up ends.
    #[cfg(unix)]
    #[test]
    fn symlinked_folders_are_walked_under_every_name_and_loops_end() {
        let dir = std::env::temp_dir().join(format!("xtask-data-files-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("a")).unwrap();
        fs::write(dir.join("a/x.json"), "{}").unwrap();
        std::os::unix::fs::symlink("a", dir.join("b")).unwrap();
        std::os::unix::fs::symlink("..", dir.join("a/up")).unwrap();
        let files = files_of(&dir, None);
        assert!(
            files.contains(&"a/x.json".to_owned()) && files.contains(&"b/x.json".to_owned()),
            "{files:?}"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn module_names_follow_the_folders() {
        let name = |rel: &str| module_name("media_service", rel);
        assert_eq!(
            name("pipelines/mix.py").as_deref(),
            Some("media_service.pipelines.mix")
        );
        assert_eq!(
            name("handlers/__init__.py").as_deref(),
            Some("media_service.handlers")
        );
        assert_eq!(name("api.py").as_deref(), Some("media_service.api"));
        assert_eq!(name("__init__.py"), None);
        assert_eq!(name("__main__.py"), None);
        assert_eq!(name("cli/__main__.py"), None);
        assert_eq!(name("data-files/x.py"), None);
        assert_eq!(
            name("sources/test_card.py").as_deref(),
            Some("media_service.sources.test_card")
        );
        assert_eq!(
            name("tests/test_mix.py").as_deref(),
            Some("media_service.tests.test_mix")
        );
        assert_eq!(name("testing.py").as_deref(), Some("media_service.testing"));
    }
}
