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
//! into it, today too (it would change uv's cache). The kept copy is remade when anything it
//! depends on is another than when it was made (see `key`), and after `KEPT_FOR`.
//!
//! One record is not the kept copy's: uv's record of each editable install (`uv_cache.json`),
//! which holds the change time of the package's `pyproject.toml` and the birth time of its
//! `src/`, as uv read them when it installed. A copy has other times, so uv took every editable
//! of a restored venv for stale and rebuilt it at the first sync of a test (`add`, a changed
//! lock): some 80 builds a suite run, 0.6 s of CPU each. The restore writes the times of the
//! restored files into the record, which is what uv writes when it installs the same files at
//! this path (see `uv_records`); a record of another shape is left as it was (uv rebuilds).
//!
//! A restore takes 0.15 s; what it saved the suite is in the README (Two commands).

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use super::{TempDir, git, repo_root, run, snapshot, uv_records, xtask};

/// Where one suite's slots are: beside the system's temporary trees, named after the xtask binary
/// (two checkouts' suites never share a slot). Those of a binary that is gone (a clean clone's
/// CI, a target folder removed) are removed first.
fn slots_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let binary = Path::new(env!("CARGO_BIN_EXE_xtask"));
        let mut hasher = DefaultHasher::new();
        binary.hash(&mut hasher);
        let name = format!("{SLOTS}{:016x}", hasher.finish());
        remove_orphaned_slots(&name);
        let dir = std::env::temp_dir().join(name);
        fs::create_dir_all(&dir).unwrap();
        dir
    })
}

const SLOTS: &str = "xtask tést slots ";

/// What changes the way slots are made or restored: a new value remakes every kept copy.
const HARNESS: &str = "2";

/// A kept copy older than this is made again: its locks resolve what the index had then.
const KEPT_FOR: Duration = Duration::from_secs(12 * 3600);

/// The slot folders beside `own` whose kept copy names a binary that no longer exists.
fn remove_orphaned_slots(own: &str) {
    for (path, name, _) in super::entries(&std::env::temp_dir()) {
        if !name.starts_with(SLOTS) || name == own {
            continue;
        }
        let key = fs::read_to_string(path.join("slot 0 kept/key")).unwrap_or_default();
        let binary = key.lines().find_map(|l| l.strip_prefix("binary "));
        if binary.is_some_and(|b| !Path::new(b).exists()) {
            let _ = fs::remove_dir_all(path);
        }
    }
}

/// What the kept copy depends on besides the xtask's source: the binary, the interpreters the
/// xtask can find (PATH's folders, pyenv's and uv's), the one the kept venvs were made with,
/// the pinned uv in the tools folder, and the variables an install reads.
fn key(store: &Path) -> String {
    let binary = Path::new(env!("CARGO_BIN_EXE_xtask"));
    let mut key = format!("harness {HARNESS}\nbinary {}\n", binary.display());
    key += &identity(binary);
    let home = |var: &str, rel: &str| std::env::var_os(var).map(|h| PathBuf::from(h).join(rel));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let folders = std::env::split_paths(&path)
        .chain(std::env::var_os("PYENV_ROOT").map(|r| PathBuf::from(r).join("versions")))
        .chain(home("HOME", ".pyenv/versions"))
        .chain(home("XDG_DATA_HOME", "uv/python"))
        .chain(home("HOME", ".local/share/uv/python"))
        .chain(std::env::var_os("UV_PYTHON_INSTALL_DIR").map(PathBuf::from));
    for folder in folders {
        key += &identity(&folder);
    }
    for venv in ["media-service", "sts-service"] {
        key += &identity(&made_with(store, venv));
    }
    for uv in pinned_uvs() {
        key += &identity(&uv);
    }
    key + &install_variables()
}

fn identity(path: &Path) -> String {
    let state = fs::metadata(path).ok().map(|m| state_of(&m));
    format!("{} {state:?}\n", path.display())
}

/// The interpreter a kept venv was made with (its `pyvenv.cfg`'s `home`).
fn made_with(store: &Path, service: &str) -> PathBuf {
    let config = store.join(format!("setup/python/apps/{service}/.venv/pyvenv.cfg"));
    let text = fs::read_to_string(config).unwrap_or_default();
    let home = text.lines().find_map(|l| {
        let (name, value) = l.split_once('=')?;
        (name.trim() == "home").then(|| PathBuf::from(value.trim()))
    });
    home.map(|h| h.join("python3")).unwrap_or_default()
}

/// The uvs the shared tools folder holds (`uv-<version>/bin/uv`), sorted.
pub fn pinned_uvs() -> Vec<PathBuf> {
    let mut uvs: Vec<PathBuf> = super::entries(&super::shared_tools())
        .into_iter()
        .filter(|(_, name, _)| name.starts_with("uv-"))
        .map(|(path, ..)| path.join("bin/uv"))
        .collect();
    uvs.sort();
    uvs
}

fn install_variables() -> String {
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
        .filter(|(k, _)| {
            [
                "PATH",
                "HOME",
                "XDG_CACHE_HOME",
                "XDG_DATA_HOME",
                "VIRTUAL_ENV",
            ]
            .contains(&k.as_str())
                || ["UV_", "PIP_", "PYTHON", "PYENV", "XTASK_", "SETUPTOOLS_"]
                    .iter()
                    .any(|p| k.starts_with(p))
        })
        .collect();
    vars.sort();
    vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
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
    if fs::read_to_string(&key_file).is_ok_and(|k| k == key(&slot.store)) && young(&key_file) {
        return;
    }
    let _ = fs::remove_dir_all(&slot.tree);
    let _ = fs::remove_dir_all(&slot.store);
    fs::create_dir_all(&slot.tree).unwrap();
    run(xtask(&slot.tree).arg("scaffold")).assert_ok();
    let scaffolded = snapshot(&slot.tree);
    copy_tree(&slot.tree, &slot.store.join("scaffold"));
    run(xtask(&slot.tree).arg("setup")).assert_ok();
    let (scaffold, setup) = (slot.store.join("scaffold"), slot.store.join("setup"));
    move_added(&slot.tree, &scaffold, &setup);
    // A restore lays `setup/` over `scaffold/`: what setup changed in place would be lost.
    assert!(
        snapshot(&slot.tree) == scaffolded,
        "setup changed a seed file"
    );
    fs::remove_dir_all(&slot.tree).unwrap();
    // Made now: the first setup may have installed the pinned uv.
    fs::write(&key_file, key(&slot.store)).unwrap();
}

fn young(file: &Path) -> bool {
    let made = fs::metadata(file).and_then(|m| m.modified());
    made.is_ok_and(|t| SystemTime::now().duration_since(t).unwrap_or_default() < KEPT_FOR)
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
    // Left by a process that outlived its test (see TempDir's drop), or by a killed run.
    if fs::symlink_metadata(&slot.tree).is_ok() {
        super::trash::discard(&slot.tree);
        assert!(
            fs::symlink_metadata(&slot.tree).is_err(),
            "{} is in the way",
            slot.tree.display()
        );
    }
    copy_tree(&slot.store.join("scaffold"), &slot.tree);
    if committed {
        fs::copy(repo_root().join(".gitignore"), slot.tree.join(".gitignore")).unwrap();
        git(&slot.tree, &["init", "-q"]);
        git(&slot.tree, &["add", "."]);
        git(&slot.tree, &["commit", "-q", "-m", "seed"]);
    }
    restore(&slot.store.join("setup"), &slot.tree, true);
    uv_records::refresh(&slot.tree);
    TempDir::holding(slot.tree, slot.lock)
}

/// Where the files `setup` added to the restored tree `tree` are kept (`python/apps/...` below).
pub fn kept_setup_files(tree: &Path) -> PathBuf {
    let name = tree.file_name().unwrap().to_string_lossy();
    tree.with_file_name(format!("{name} kept")).join("setup")
}
