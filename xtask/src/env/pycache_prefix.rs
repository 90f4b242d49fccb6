//! Where Python keeps bytecode under a `PYTHONPYCACHEPREFIX` (`-X pycache_prefix`): below the
//! prefix, a mirror of each source file's folder. Python trusts a file's bytecode while the
//! file's size and modification time (in whole seconds) are those it recorded, so an edit that
//! keeps both (`cp -p`, `tar`, a CI cache restore) meets the old bytecode: the callers forget the
//! bytecode of files whose state they do not check.

use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::env::venv::Venv;
use crate::fsutil;

/// `path` without its root or drive: where a prefix puts the bytecode of its files.
pub fn mirror(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

/// The mirror of the files of the interpreter `venv` runs on (its standard library): they
/// change only with the interpreter, which the venv's checks see. None when unknown.
pub fn interpreter_mirror(venv: &Venv) -> Option<PathBuf> {
    Some(mirror(&venv.base_prefix()?)).filter(|m| !m.as_os_str().is_empty())
}

/// Removes the bytecode under `prefix` but that below the `kept` mirrors (and the folders on
/// the way to them).
pub fn forget_outside(prefix: &Path, kept: &[PathBuf]) {
    forget_below(prefix, Path::new(""), kept);
}

fn forget_below(dir: &Path, rel: &Path, kept: &[PathBuf]) {
    for (path, name, meta) in fsutil::entries(dir) {
        let rel = rel.join(&name);
        if kept.iter().any(|place| rel.starts_with(place)) {
            continue;
        }
        if meta.is_dir() && kept.iter().any(|place| place.starts_with(&rel)) {
            forget_below(&path, &rel, kept);
        } else if meta.is_dir() {
            let _ = fs::remove_dir_all(&path);
        } else {
            let _ = fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the bytecode below the kept mirrors stays.
    #[test]
    fn only_the_kept_mirrors_stay() {
        let dir = std::env::temp_dir().join(format!("xtask-pycache-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let kept = [PathBuf::from("tmp/t/python"), PathBuf::from("usr")];
        let files = [
            ("tmp/t/python/libs/x.cpython-310.pyc", true),
            ("usr/lib/python3.10/os.cpython-310.pyc", true),
            ("tmp/t/mypy_check.cpython-310.pyc", false),
            ("tmp/t/pythonx/y.cpython-310.pyc", false),
            ("opt/plugin.cpython-310.pyc", false),
        ];
        for (rel, _) in files {
            fs::create_dir_all(dir.join(rel).parent().unwrap()).unwrap();
            fs::write(dir.join(rel), "").unwrap();
        }
        forget_outside(&dir, &kept);
        for (rel, stays) in files {
            assert_eq!(dir.join(rel).is_file(), stays, "{rel}");
        }
        assert!(!dir.join("opt").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_mirror_has_no_root() {
        assert_eq!(mirror(Path::new("/a b/é")), PathBuf::from("a b/é"));
    }
}
