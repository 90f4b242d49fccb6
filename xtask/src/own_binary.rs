//! The xtask's own executable, as an input of every remembered verdict: a pass is the verdict of
//! this xtask's checks, keys and tool runs, and a build whose differ (a fixed false green, a key
//! that covers more, a stricter check) must not serve it. Bazel keys an action by its tool the
//! same way. Without this, a fix reached nobody who had a wrong pass remembered: the old pass
//! stayed until some input changed.
//!
//! The executable's content, not its path or time: two builds of the same source (a CI runner's
//! build restored from a cache, a rebuild after `cargo clean`) share their passes. Its digest is
//! remembered by the file's identity ([`crate::file_digests`]) in the tools folder, so a command
//! reads the 10 MB only once per build; when it cannot be read, the run's key is its own and
//! nothing remembered is served.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use crate::file_digests::FileDigests;

/// The tools folder's folder of the table (a folder, so that `clean` takes it with the rest of
/// the xtask's own there).
pub const FOLDER: &str = "xtask-binaries";

/// The digest of the running executable's content; None when it cannot be read (an
/// executable without read permission): then nothing remembered is used or kept.
pub fn digest() -> Option<&'static str> {
    static DIGEST: OnceLock<Option<String>> = OnceLock::new();
    DIGEST
        .get_or_init(|| std::env::current_exe().ok().and_then(|exe| of(&exe)))
        .as_deref()
}

/// The key part of a remembered verdict: the digest, or a mark that no other run shares.
pub fn key_part() -> String {
    digest().map_or_else(
        || {
            format!(
                "unknown, run {} at {:?}",
                std::process::id(),
                SystemTime::now()
            )
        },
        str::to_owned,
    )
}

/// The content's digest of `exe`, read where the running file is: on Linux `/proc/self/exe`,
/// which stays this process's file when a new build replaces the path meanwhile (a digest of
/// the new one would file this build's passes under the other's key). One table per path of an
/// executable, so that two builds in use (two worktrees, a copy) are each read once.
fn of(exe: &Path) -> Option<String> {
    let running = if cfg!(target_os = "linux") {
        PathBuf::from("/proc/self/exe")
    } else {
        exe.to_path_buf()
    };
    std::fs::File::open(&running).ok()?;
    let dir = crate::project::tools_dir().join(FOLDER);
    let _ = std::fs::create_dir_all(&dir);
    let name = crate::digest::hash(exe.as_os_str().as_encoded_bytes());
    let mut table = FileDigests::load(dir.join(format!("{}.txt", &name[..16])));
    let digest = table.content(&exe.to_string_lossy(), &running);
    table.save();
    Some(digest).filter(|d| d != "absent")
}
