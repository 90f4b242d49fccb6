//! Where a test's temporary folders go when it ends: moved aside into the process's trash, which
//! is removed when the process exits, not one tree at a time while other tests make theirs.
//!
//! Why: on an ext4 without a journal (this machine's), a new inode is never one freed in the last
//! minute or more (`recently_deleted`), and the search for one reads every such inode's block.
//! A test frees some 2,500 inodes (the folders of two venvs and of the jobs' caches), and the
//! next tests make as many: removed test by test, a third of the suite's CPU went to the kernel,
//! much of it in that search. Removed at the end, the suite took 323 s against 399 s, plus 13 s
//! to remove the trash (560 000 entries; most are links, whose inodes live on in uv's cache) on
//! one thread, 8 s on two.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::Ordering;

/// The start of a trash folder's name; the process's id follows.
const TRASH: &str = "xtask tést trash ";

/// This process's trash: beside the system's temporary folders, named by the process.
fn dir() -> PathBuf {
    std::env::temp_dir().join(format!("{TRASH}{}", std::process::id()))
}

/// Moves `path` into the trash (removes it where that fails, and where no `atexit` removes the
/// trash: not on Unix).
pub fn discard(path: &Path) {
    if cfg!(not(unix)) {
        let _ = fs::remove_dir_all(path);
        return;
    }
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        remove_abandoned();
        remove_at_exit();
    });
    let trash = dir();
    let _ = fs::create_dir_all(&trash);
    if fs::rename(path, trash.join(super::unique_in_process())).is_err() {
        let _ = fs::remove_dir_all(path);
    }
}

/// The trash of processes that are gone (killed before they could remove it).
fn remove_abandoned() {
    for (path, name, _) in super::entries(&std::env::temp_dir()) {
        let Some(pid) = name.strip_prefix(TRASH) else {
            continue;
        };
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // Where /proc tells which processes live; elsewhere the trash is left to the system.
        let proc = Path::new("/proc");
        if proc.join("self").exists() && !proc.join(pid).exists() {
            let _ = fs::remove_dir_all(path);
        }
    }
}

/// libtest's process ends with `exit`, which runs the functions given to C's `atexit`.
#[cfg(unix)]
fn remove_at_exit() {
    unsafe extern "C" {
        fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
    }
    extern "C" fn remove() {
        let _ = std::panic::catch_unwind(remove_all);
    }
    // SAFETY: `remove` is a function with C's calling convention that takes nothing and never
    // unwinds into C (catch_unwind).
    unsafe {
        atexit(remove);
    }
}

#[cfg(not(unix))]
fn remove_at_exit() {}

/// Removes the trash, its trees shared out among as many threads as there are cores: the work is
/// the kernel's (unlinking entries in folders no other thread touches), which one core did alone
/// while the others idled.
fn remove_all() {
    let trash = dir();
    let trees: Vec<PathBuf> = super::entries(&trash).into_iter().map(|e| e.0).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(tree) = trees.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let _ = fs::remove_dir_all(tree);
                }
            });
        }
    });
    let _ = fs::remove_dir_all(trash);
}
