//! Where Python keeps bytecode under a `PYTHONPYCACHEPREFIX` (`-X pycache_prefix`): below the
//! prefix, a mirror of each source file's folder. Python trusts a file's bytecode while the
//! file's size and modification time (in whole seconds) are those it recorded, so an edit that
//! keeps both (`cp -p`, `tar`, a CI cache restore) meets the old bytecode: the callers keep the
//! bytecode of the files whose state they check and of the interpreter's standard library, and
//! forget the rest.

use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::cmd::Cmd;
use crate::env::venv::Venv;
use crate::fsutil;

/// `path` without its root or drive: where a prefix puts the bytecode of its files.
pub fn mirror(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

/// Where a path below a prefix stands to a set of kept mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Below one of them: kept.
    Kept,
    /// A folder on the way to one of them.
    OnTheWay,
    /// Neither.
    Outside,
}

/// Where `rel` (a path below a prefix; `is_dir`: a folder) stands to the `kept` mirrors.
pub fn place(rel: &Path, is_dir: bool, kept: &[PathBuf]) -> Place {
    if kept.iter().any(|k| rel.starts_with(k)) {
        Place::Kept
    } else if is_dir && kept.iter().any(|k| k.starts_with(rel)) {
        Place::OnTheWay
    } else {
        Place::Outside
    }
}

/// Keeps only the bytecode under `prefix` of the files below `checked` (folders whose files'
/// state the caller checks) and of the standard library of the interpreter `venv` runs on.
pub fn keep_only(prefix: &Path, checked: &[&Path], venv: &Venv) {
    let mut kept: Vec<PathBuf> = checked.iter().map(|dir| mirror(dir)).collect();
    kept.extend(stdlib_mirrors(venv));
    forget_below(prefix, Path::new(""), &kept);
}

fn forget_below(dir: &Path, rel: &Path, kept: &[PathBuf]) {
    for (path, name, meta) in fsutil::entries(dir) {
        let rel = rel.join(&name);
        match place(&rel, meta.is_dir(), kept) {
            Place::Kept => {}
            Place::OnTheWay => forget_below(&path, &rel, kept),
            Place::Outside if meta.is_dir() => {
                let _ = fs::remove_dir_all(&path);
            }
            Place::Outside => {
                let _ = fs::remove_file(&path);
            }
        }
    }
}

/// The mirrors of the standard library folders of the interpreter `venv` runs on, as that
/// interpreter names them (`sysconfig`'s `stdlib` and `platstdlib`: the paths it imports them
/// by, which `pyvenv.cfg`'s `home` does not tell where links, `usr` merges or a venv made from
/// another venv are involved). Asked once a venv: the answer is kept in its `xtask-cache`,
/// with the `pyvenv.cfg` it was asked under. None found: nothing of the interpreter's is kept.
pub fn stdlib_mirrors(venv: &Venv) -> Vec<PathBuf> {
    let Ok(cfg) = fs::read(venv.dir.join("pyvenv.cfg")) else {
        return Vec::new();
    };
    let key = crate::digest::hash(&cfg);
    // Once a process for a venv as its pyvenv.cfg is: its jobs ask from threads of one run, and
    // an interpreter that cannot answer is not started again for each.
    type Known = Vec<(PathBuf, String, Vec<PathBuf>)>;
    static KNOWN: std::sync::Mutex<Known> = std::sync::Mutex::new(Vec::new());
    let lock = || {
        KNOWN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let found = lock()
        .iter()
        .find(|(d, k, _)| *d == venv.dir && *k == key)
        .map(|(_, _, mirrors)| mirrors.clone());
    if let Some(mirrors) = found {
        return mirrors;
    }
    // Not held while Python answers: the jobs of other venvs go on meanwhile.
    let mirrors = recorded_or_asked(venv, &key);
    lock().push((venv.dir.clone(), key, mirrors.clone()));
    mirrors
}

/// [`stdlib_mirrors`] from the venv's record when it was made under `key`, else asked.
fn recorded_or_asked(venv: &Venv, key: &str) -> Vec<PathBuf> {
    let record = venv.dir.join("xtask-cache").join("stdlib");
    let known = fs::read_to_string(&record).ok().and_then(|text| {
        let (first, rest) = text.split_once('\n')?;
        (first == key).then(|| rest.to_owned())
    });
    let paths = match known {
        Some(paths) => paths,
        None => {
            let Some(asked) = ask_stdlib(venv) else {
                return Vec::new();
            };
            let _ = fs::create_dir_all(venv.dir.join("xtask-cache"));
            let _ = fsutil::write_atomic(&record, format!("{key}\n{asked}").as_bytes());
            asked
        }
    };
    paths
        .lines()
        .map(|line| mirror(Path::new(line)))
        .filter(|m| m.components().count() > 1)
        .collect()
}

const ASK_STDLIB: &str = "import sysconfig\nfor name in ('stdlib', 'platstdlib'):\n    print(sysconfig.get_path(name))\n";

fn ask_stdlib(venv: &Venv) -> Option<String> {
    let out = Cmd::new(venv.python())
        .args(["-I", "-S", "-c", ASK_STDLIB])
        .output()
        .ok()?;
    let paths: Vec<&str> = out
        .output
        .lines()
        .filter(|l| Path::new(l).is_absolute())
        .collect();
    (out.success() && paths.len() == 2).then(|| paths.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the bytecode below the kept mirrors stays.
    #[test]
    fn only_the_kept_mirrors_stay() {
        let dir = std::env::temp_dir().join(format!("xtask-pycache-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let kept = [
            PathBuf::from("tmp/t/python"),
            PathBuf::from("usr/lib/python3.10"),
        ];
        let files = [
            ("tmp/t/python/libs/x.cpython-310.pyc", true),
            ("usr/lib/python3.10/os.cpython-310.pyc", true),
            ("usr/src/app/plugin.cpython-310.pyc", false),
            ("tmp/t/mypy_check.cpython-310.pyc", false),
            ("tmp/t/pythonx/y.cpython-310.pyc", false),
            ("opt/plugin.cpython-310.pyc", false),
        ];
        for (rel, _) in files {
            fs::create_dir_all(dir.join(rel).parent().unwrap()).unwrap();
            fs::write(dir.join(rel), "").unwrap();
        }
        forget_below(&dir, Path::new(""), &kept);
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

    /// The standard library is the one the venv's interpreter names, asked once: a second look
    /// reads the record; a new `pyvenv.cfg` asks again.
    #[test]
    fn the_standard_library_is_the_interpreters_own() {
        let dir = std::env::temp_dir().join(format!("xtask-pycache-v-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let python = which::which(if cfg!(windows) { "python" } else { "python3" }).unwrap();
        let ok = std::process::Command::new(&python)
            .args(["-m", "venv", "--without-pip"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok);
        let venv = Venv::of_dir(dir.clone());
        let mirrors = stdlib_mirrors(&venv);
        assert!(!mirrors.is_empty());
        for m in &mirrors {
            assert!(
                Path::new("/").join(m).join("os.py").is_file() || cfg!(windows),
                "{m:?}"
            );
        }
        // Recorded, with the pyvenv.cfg it was asked under: a new process reads the record.
        let record = dir.join("xtask-cache/stdlib");
        let text = fs::read_to_string(&record).unwrap();
        let key = crate::digest::hash(&fs::read(dir.join("pyvenv.cfg")).unwrap());
        assert!(text.starts_with(&format!("{key}\n")), "{text}");
        fs::write(&record, text.replace("\n/", "\n/elsewhere/")).unwrap();
        assert!(recorded_or_asked(&venv, &key)[0].starts_with("elsewhere"));
        // Another pyvenv.cfg (a venv made anew): asked again.
        assert_eq!(recorded_or_asked(&venv, "another"), mirrors);
        fs::remove_dir_all(&dir).unwrap();
    }
}
