//! Seed trees already set up, for tests whose subject comes after `setup`.
//!
//! Why: a first `setup` of the seed tree costs 3.6 s of CPU (four editable builds, each two
//! setuptools hooks in a new build environment, and two locks), and most tests start with one.
//! uv cannot reuse an editable build of another tree: its key holds the change time of the
//! package's `pyproject.toml`, which a copy cannot keep. A venv is not relocatable either (its
//! scripts and editable paths hold the tree's path). So the tree is restored at the same path:
//! a test takes a slot (a folder whose path is fixed, `slot 0`, `slot 1`, ...: one per test
//! running at once, held by a file lock, so the processes of nextest share them too), and gets
//! there what `scaffold` and then `setup` left, both made once per slot by the real binary.
//!
//! What a restored tree is, against one made on the spot: the same files at the same path. Files
//! `setup` wrote are copied, and the files uv linked from its cache are linked from the same
//! inodes, as uv links them: a test that edits an installed file must replace it, not write
//! into it, today too (it would change uv's cache). The kept copy is remade when the binary, the
//! base interpreter or a variable the install reads is another than when it was made.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use super::{TempDir, base_python, git, repo_root, run, xtask};

/// Where one suite's slots are: beside the system's temporary trees, named after the xtask binary
/// (two checkouts' suites never share a slot).
fn slots_dir() -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_xtask"));
    let mut hasher = DefaultHasher::new();
    binary.hash(&mut hasher);
    std::env::temp_dir().join(format!("xtask tést slots {:016x}", hasher.finish()))
}

/// What the kept copy depends on besides the xtask's source: the binary, the base interpreter,
/// the pinned uv in the tools folder and the variables an install reads.
fn key() -> String {
    let identity = |path: &Path| {
        format!(
            "{} {:?}\n",
            path.display(),
            fs::metadata(path).ok().map(|m| state_of(&m))
        )
    };
    let mut key = identity(Path::new(env!("CARGO_BIN_EXE_xtask")));
    key += &identity(&base_python());
    let mut uvs: Vec<PathBuf> = fs::read_dir(super::shared_tools())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("uv-"))
        .map(|e| e.path().join("bin/uv"))
        .collect();
    uvs.sort();
    for uv in uvs {
        key += &identity(&uv);
    }
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
        .filter(|(k, _)| {
            ["PATH", "HOME", "XDG_CACHE_HOME", "VIRTUAL_ENV"].contains(&k.as_str())
                || ["UV_", "PIP_", "PYTHON", "XTASK_", "SETUPTOOLS_"]
                    .iter()
                    .any(|p| k.starts_with(p))
        })
        .collect();
    vars.sort();
    for (k, v) in vars {
        key += &format!("{k}={v}\n");
    }
    key
}

/// A file's identity: a reinstall gives another inode, an upgrade in place another size or time.
/// (Not its change time: a test's tools folder links the shared uv, which moves it.)
#[cfg(unix)]
fn state_of(meta: &fs::Metadata) -> (u64, u64, i64, i64) {
    use std::os::unix::fs::MetadataExt;
    (meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec())
}

#[cfg(not(unix))]
fn state_of(meta: &fs::Metadata) -> (u64, Option<std::time::SystemTime>) {
    (meta.len(), meta.modified().ok())
}

/// A slot taken: its tree's path and the lock that holds it (released when dropped).
struct Slot {
    tree: PathBuf,
    store: PathBuf,
    lock: fs::File,
}

fn take_slot() -> Slot {
    let dir = slots_dir();
    fs::create_dir_all(&dir).unwrap();
    for n in 0.. {
        let lock = fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("slot {n}.lock")))
            .unwrap();
        if lock.try_lock().is_ok() {
            return Slot {
                tree: dir.join(format!("slot {n}")),
                store: dir.join(format!("slot {n} kept")),
                lock,
            };
        }
    }
    unreachable!()
}

/// Makes the slot's kept copy when it is missing or out of date: `scaffold` in the slot's tree
/// (its files copied to `scaffold/`), then `setup` (what it added moved to `setup/`).
fn keep_copy(slot: &Slot) {
    let key_file = slot.store.join("key");
    if fs::read_to_string(&key_file).is_ok_and(|k| k == key()) {
        return;
    }
    let _ = fs::remove_dir_all(&slot.tree);
    let _ = fs::remove_dir_all(&slot.store);
    fs::create_dir_all(&slot.tree).unwrap();
    run(xtask(&slot.tree).arg("scaffold")).assert_ok();
    copy_tree(&slot.tree, &slot.store.join("scaffold"));
    run(xtask(&slot.tree).arg("setup")).assert_ok();
    move_added(
        &slot.tree,
        &slot.store.join("scaffold"),
        &slot.store.join("setup"),
    );
    fs::remove_dir_all(&slot.tree).unwrap();
    // Made now: the first setup may have installed the pinned uv.
    fs::write(&key_file, key()).unwrap();
}

/// Moves every entry of `tree` that `before` does not have to the same place under `to`.
fn move_added(tree: &Path, before: &Path, to: &Path) {
    for entry in fs::read_dir(tree).unwrap().flatten() {
        let (path, name) = (entry.path(), entry.file_name());
        let kept = before.join(&name);
        if fs::symlink_metadata(&kept).is_err() {
            fs::create_dir_all(to).unwrap();
            fs::rename(&path, to.join(&name)).unwrap();
        } else if entry.file_type().unwrap().is_dir() {
            move_added(&path, &kept, &to.join(&name));
        }
    }
}

/// Copies `from` to `to`, every file its own copy.
fn copy_tree(from: &Path, to: &Path) {
    restore(from, to, false);
}

/// Recreates `from` at `to`: folders made, symlinks as symlinks, files copied, or linked when
/// `link` and the file is a link of uv's cache already (more than one name): the file as uv
/// installs it. Files of one name (what the install wrote: the venv's configuration, the
/// xtask's stamp, scripts) are copied, so a test's writes never reach the kept copy.
fn restore(from: &Path, to: &Path, link: bool) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap().flatten() {
        let (path, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            restore(&path, &target, link);
        } else if kind.is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(fs::read_link(&path).unwrap(), &target).unwrap();
        } else if link && linked(&path) {
            fs::hard_link(&path, &target).unwrap();
        } else {
            fs::copy(&path, &target).unwrap();
        }
    }
}

#[cfg(unix)]
fn linked(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).is_ok_and(|m| m.nlink() > 1)
}

#[cfg(not(unix))]
fn linked(_: &Path) -> bool {
    false
}

/// The seed tree, set up: what `scaffold` then `setup` leave, at a slot's path.
pub fn set_up_tree() -> TempDir {
    restored(false)
}

/// The same, its seed files (and the repository's .gitignore) committed in a fresh git
/// repository before `setup` ran, as `committed_tree` then a first gate leave it: the locks
/// `setup` wrote are not committed.
pub fn committed_set_up_tree() -> TempDir {
    restored(true)
}

fn restored(committed: bool) -> TempDir {
    crate::heartbeat();
    let slot = take_slot();
    keep_copy(&slot);
    let _ = fs::remove_dir_all(&slot.tree);
    copy_tree(&slot.store.join("scaffold"), &slot.tree);
    if committed {
        fs::copy(repo_root().join(".gitignore"), slot.tree.join(".gitignore")).unwrap();
        git(&slot.tree, &["init", "-q"]);
        git(&slot.tree, &["add", "."]);
        git(&slot.tree, &["commit", "-q", "-m", "seed"]);
    }
    restore(&slot.store.join("setup"), &slot.tree, true);
    TempDir::holding(slot.tree, slot.lock)
}
