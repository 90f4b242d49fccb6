//! Where the Python processes of an install (and of a lock that builds metadata) keep their
//! bytecode when the caller sets `PYTHONDONTWRITEBYTECODE` (and not `UV_COMPILE_BYTECODE`): a
//! folder of the command's own, in which the interpreter's standard library links to a store
//! shared by every command.
//!
//! Why: uv builds each package in a new build environment and runs two of the backend's hooks
//! there, each in a new Python process. With `PYTHONDONTWRITEBYTECODE` (CI machines set it, to keep
//! `__pycache__` out of checkouts) Python keeps no bytecode, so each hook compiles the backend
//! from source: setuptools takes 0.6 s of CPU to compile, 0.25 s to load compiled. With
//! `PYTHONPYCACHEPREFIX` set to a folder of the command's own, the first hook's bytecode serves the
//! second, and nothing is written beside a source file: what `PYTHONDONTWRITEBYTECODE` is set
//! for holds. A prefix hides the bytecode beside the standard library's files, which would then be
//! compiled in every command: its place in the folder is a link to a store that commands share.
//!
//! What is shared, and why it is sound: only the bytecode of the standard library of the
//! interpreter the command runs on (and its `site-packages`, where pip lives), in a store named
//! by the identity (inode, size, times) of the interpreter's executable, its `os.py`, and the two
//! folders: a reinstall, an upgrade in place, or an install into `site-packages` gives a new
//! store. The bytecode of everything else (the tree, uv's build environments, what a backend
//! imports from anywhere) is the command's alone and removed when it ends, so an edit to a tree's
//! file that keeps its size and time (which Python's bytecode check cannot see) never meets
//! bytecode of its old content. Without that variable, or where no standard library is found
//! (`lib/pythonX.Y` beside the executable's folder), or on Windows, the caller's environment
//! stands. A first setup of the seed tree (four editable builds) takes 6% less CPU with it: 1 s
//! less in Python, 0.5 s more in the kernel, which writes and removes the bytecode
//! (`xtask/bench/firstsetup.sh`).

use std::fs;
use std::path::{Path, PathBuf};
#[cfg(unix)]
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cmd::Cmd;
#[cfg(unix)]
use crate::file_digests::Identity;

/// The folder's name in the tools folder.
pub const BUILD_BYTECODE: &str = "build-bytecode";

/// The bytecode folder of one command's Python processes, removed when dropped.
pub struct BuildBytecode {
    run: Option<PathBuf>,
}

impl BuildBytecode {
    /// The folder for a command whose Python processes run on `python` (a base interpreter's
    /// real executable), or none.
    pub fn new(python: Option<&Path>) -> BuildBytecode {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        // uv's UV_COMPILE_BYTECODE compiles the venv's packages with the same variables: the
        // prefix would take that bytecode away with the folder.
        let asked = set("PYTHONDONTWRITEBYTECODE") && !set("UV_COMPILE_BYTECODE");
        let run = python.filter(|_| asked).and_then(|python| {
            let dir = std::path::absolute(crate::project::tools_dir().join(BUILD_BYTECODE));
            make_run(&dir.ok()?, python)
        });
        BuildBytecode { run }
    }

    /// `cmd` with its Python processes writing bytecode into the folder, and only there.
    pub fn apply(&self, cmd: Cmd) -> Cmd {
        match &self.run {
            Some(run) => cmd
                .without(["PYTHONDONTWRITEBYTECODE"])
                .env("PYTHONPYCACHEPREFIX", run),
            None => cmd,
        }
    }
}

impl Drop for BuildBytecode {
    fn drop(&mut self) {
        // Removes the link to the store, never what it leads to.
        if let Some(run) = &self.run {
            let _ = fs::remove_dir_all(run);
        }
    }
}

/// A new `run-<pid>-<n>` folder in `dir`, its standard library linked to the store; None when
/// any step fails. Folders of runs whose process is gone are removed first.
#[cfg(unix)]
fn make_run(dir: &Path, python: &Path) -> Option<PathBuf> {
    static MADE: AtomicUsize = AtomicUsize::new(0);
    let stdlib = stdlib_of(python)?;
    let store = dir.join(format!("stdlib-{}", store_key(python, &stdlib)?));
    fs::create_dir_all(&store).ok()?;
    remove_abandoned_runs(dir);
    let pid = std::process::id();
    let run = dir.join(format!(
        "run-{pid}-{}",
        MADE.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir(&run).ok()?;
    let link = run.join(crate::env::pycache_prefix::mirror(&stdlib));
    let linked =
        fs::create_dir_all(link.parent()?).and_then(|()| std::os::unix::fs::symlink(&store, &link));
    if linked.is_err() {
        let _ = fs::remove_dir_all(&run);
        return None;
    }
    Some(run)
}

#[cfg(not(unix))]
fn make_run(_dir: &Path, _python: &Path) -> Option<PathBuf> {
    None
}

/// The standard library of the interpreter whose executable is `python`: the one
/// `lib/pythonX.Y` holding `os.py` beside the executable's folder.
#[cfg(unix)]
fn stdlib_of(python: &Path) -> Option<PathBuf> {
    let lib = python.parent()?.parent()?.join("lib");
    let mut found = fs::read_dir(&lib)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| n.starts_with("python3.")) && p.join("os.py").is_file()
        });
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// The store's name: a digest of the identities of what the standard library's bytecode
/// depends on (as `file_digests` tells a file's state), and of its path.
#[cfg(unix)]
fn store_key(python: &Path, stdlib: &Path) -> Option<String> {
    let mut key = stdlib.to_string_lossy().into_owned();
    let site = stdlib.join("site-packages");
    for path in [python, &stdlib.join("os.py"), stdlib, &site] {
        key.push('|');
        Identity::of(&fs::metadata(path).ok()?)?.write(&mut key);
    }
    Some(crate::digest::hash(key.as_bytes())[..16].to_owned())
}

/// Removes the `run-<pid>-<n>` folders of processes that no longer run (stopped before their
/// end).
#[cfg(unix)]
fn remove_abandoned_runs(dir: &Path) {
    for (path, name, _) in crate::fsutil::kinds(dir) {
        let pid = name
            .strip_prefix("run-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok());
        // kill(pid, 0) asks whether the process exists, sending nothing.
        let gone = pid.is_some_and(|pid| {
            // SAFETY: signal 0 performs only the existence and permission check.
            let alive = unsafe { libc::kill(pid, 0) } == 0
                || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
            !alive
        });
        if gone {
            let _ = fs::remove_dir_all(path);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_run_links_the_standard_library_to_the_store_and_leaves_nothing_else() {
        let base = std::env::temp_dir().join(format!("xtask-bytecode-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let (bin, stdlib) = (base.join("py/bin"), base.join("py/lib/python3.10"));
        fs::create_dir_all(&bin).unwrap();
        fs::create_dir_all(stdlib.join("site-packages")).unwrap();
        fs::write(bin.join("python3.10"), "").unwrap();
        fs::write(stdlib.join("os.py"), "").unwrap();
        let dir = base.join("tools/build-bytecode");
        fs::create_dir_all(dir.join("run-999999999-0/tmp")).unwrap();
        let run = make_run(&dir, &bin.join("python3.10")).unwrap();
        assert!(
            !dir.join("run-999999999-0").exists(),
            "an abandoned run stays"
        );
        let linked = run.join(stdlib.strip_prefix("/").unwrap());
        fs::create_dir_all(linked.join("json")).unwrap();
        fs::write(linked.join("json/x.pyc"), "").unwrap();
        fs::create_dir_all(run.join("repo/src")).unwrap();
        let store = fs::canonicalize(&linked).unwrap();
        assert!(store.join("json/x.pyc").is_file());
        drop(BuildBytecode {
            run: Some(run.clone()),
        });
        assert!(!run.exists());
        assert!(
            store.join("json/x.pyc").is_file(),
            "the store went with the run"
        );
        // Another state of the interpreter (here: os.py rewritten) gets another store.
        fs::remove_file(stdlib.join("os.py")).unwrap();
        fs::write(stdlib.join("os.py"), "#").unwrap();
        let other = make_run(&dir, &bin.join("python3.10")).unwrap();
        let other_store = fs::canonicalize(other.join(stdlib.strip_prefix("/").unwrap())).unwrap();
        assert_ne!(store, other_store);
        assert!(!other_store.join("json/x.pyc").exists());
        let _ = fs::remove_dir_all(&base);
    }
}
