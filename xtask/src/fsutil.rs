//! File-system helpers that keep the tool's promises: writes are atomic and UTF-8, nothing outside
//! the root is touched.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// What is at a path, without following a final symlink out of the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Missing,
    File,
    Dir,
}

/// Looks at `path` (inside `root`, both absolute, `root` canonical). A symlink is followed only when
/// it resolves inside `root`; one that leads outside, or nowhere, is an error naming it.
pub fn inspect(root: &Path, path: &Path) -> Result<Entry> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Entry::Missing),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let meta = if meta.file_type().is_symlink() {
        let target = fs::canonicalize(path).with_context(|| {
            format!(
                "{} is a symlink that leads nowhere; remove it or point it inside {}",
                path.display(),
                root.display()
            )
        })?;
        if !target.starts_with(root) {
            bail!(
                "{} is a symlink to {}, outside the root {}: refusing to write through it; \
                 replace it with a real folder or file",
                path.display(),
                target.display(),
                root.display()
            );
        }
        fs::metadata(&target).with_context(|| format!("cannot read {}", target.display()))?
    } else {
        meta
    };
    Ok(if meta.is_dir() {
        Entry::Dir
    } else {
        Entry::File
    })
}

/// Writes `content` to the file at `path` atomically: a temporary file in the same folder, synced,
/// then renamed into place, so a reader never sees half a file. A symlink at `path` stays a
/// symlink: the file it leads to is written (its folder holds the temporary file, its
/// permissions are kept), as an editor would. Callers that must not write outside a root check
/// that first (`inspect`, as scaffold does).
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<()> {
    let target = link_target(path)?;
    let dir = target.parent().context("a file path has a parent folder")?;
    let name = target
        .file_name()
        .context("a file path has a name")?
        .to_string_lossy();
    // One name a write, not a process: the jobs of one run write from threads of one process.
    static WRITES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp: PathBuf = dir.join(format!(".{name}.xtask-{}-{n}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(content)?;
        file.sync_all()?;
        if let Ok(meta) = fs::metadata(&target) {
            fs::set_permissions(&tmp, meta.permissions())?;
        }
        fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    let shown = if target == path {
        path.display().to_string()
    } else {
        format!(
            "{} (through the symlink {})",
            target.display(),
            path.display()
        )
    };
    result.with_context(|| format!("cannot write {shown}"))
}

/// Gives `to` the content of `from` without ever writing through a file that is there: a hard
/// link, else (another disk; `link` false: a file its tool writes in place) a copy made aside,
/// with `from`'s modification time, then linked into place. When `to` exists it is left as it
/// is: a copy onto a link of `from` (two processes seeding one cache, a file linked earlier)
/// would empty both.
pub fn link_or_copy_new(from: &Path, to: &Path, link: bool) -> std::io::Result<()> {
    use std::io::ErrorKind::AlreadyExists;
    let done = |result: std::io::Result<()>| match result {
        Err(e) if e.kind() == AlreadyExists => Ok(()),
        other => other,
    };
    if link {
        match fs::hard_link(from, to) {
            Err(e) if e.kind() != AlreadyExists => {}
            result => return done(result),
        }
    }
    static COPIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = to.file_name().unwrap_or_default().to_string_lossy();
    let aside = to.with_file_name(format!(".{name}.xtask-{}-{n}.tmp", std::process::id()));
    let copied = (|| {
        let mut source = fs::File::open(from)?;
        let mut target = fs::File::create_new(&aside)?;
        std::io::copy(&mut source, &mut target)?;
        target.set_modified(source.metadata()?.modified()?)?;
        fs::hard_link(&aside, to)
    })();
    let _ = fs::remove_file(&aside);
    done(copied)
}

/// Where a write to `path` lands: `path`, or the file its symlinks lead to, followed one link at
/// a time (a relative link from its own folder). A link that leads nowhere yet leads to where
/// the file will be.
fn link_target(path: &Path) -> Result<PathBuf> {
    let mut target = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&target) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&target)
                    .with_context(|| format!("cannot read the symlink {}", target.display()))?;
                let dir = target.parent().context("a symlink has a parent folder")?;
                target = dir.join(link);
            }
            _ => return Ok(target),
        }
    }
    bail!(
        "{} is a loop of symlinks: cannot write through it; point it at a file",
        path.display()
    )
}

/// Whether `name` is what [`write_atomic`] of the file `file` (a name) leaves when the process
/// is killed before its rename.
pub fn is_atomic_write_leftover(name: &str, file: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|rest| rest.strip_prefix(file))
        .and_then(|rest| rest.strip_prefix(".xtask-"))
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .is_some_and(|ids| {
            ids.split_once('-').is_some_and(|(pid, n)| {
                [pid, n]
                    .iter()
                    .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            })
        })
}

/// `path` relative to `root`, with `/` separators, for messages that read the same on every OS.
pub fn display_rel(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The entries of a folder, sorted by name, each with its own metadata: a symlink is described,
/// not followed. An unreadable folder has none.
pub fn entries(dir: &Path) -> Vec<(PathBuf, String, fs::Metadata)> {
    kinds(dir)
        .into_iter()
        .filter_map(|(path, name, _)| {
            let meta = fs::symlink_metadata(&path).ok()?;
            Some((path, name, meta))
        })
        .collect()
}

/// Every file below `dir`, as a path relative to it (folders walked, symlinks not followed,
/// as [`entries`] describes them).
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![PathBuf::new()];
    while let Some(folder) = folders.pop() {
        for (_, name, meta) in entries(&dir.join(&folder)) {
            let rel = folder.join(name);
            if meta.is_dir() {
                folders.push(rel);
            } else {
                found.push(rel);
            }
        }
    }
    found
}

/// A path from its bytes: as they are where paths are bytes (Unix); elsewhere as UTF-8, a byte
/// that is not made U+FFFD.
pub fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt as _;
        PathBuf::from(std::ffi::OsString::from_vec(bytes))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The entries of a folder, sorted by name, each with its type as the listing gives it (no
/// stat of each entry where the file system says the type): a symlink is a symlink.
pub fn kinds(dir: &Path) -> Vec<(PathBuf, String, fs::FileType)> {
    let Ok(read) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, String, fs::FileType)> = read
        .flatten()
        .filter_map(|e| {
            let kind = e.file_type().ok()?;
            Some((e.path(), e.file_name().to_string_lossy().into_owned(), kind))
        })
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// Takes a lock on the file at `path` (created if need be; never removed, so that it outlives
/// what it guards), shared or exclusive, held until the returned file is dropped. Says `waiting`
/// when it has to wait for another process.
pub fn lock_file(path: &Path, shared: bool, waiting: &str) -> Result<fs::File> {
    use std::fs::TryLockError;
    let file = fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    let attempt = if shared {
        file.try_lock_shared()
    } else {
        file.try_lock()
    };
    match attempt {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            crate::output::say(waiting);
            if shared {
                file.lock_shared()
            } else {
                file.lock()
            }
            .with_context(|| format!("cannot lock {}", path.display()))?;
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file already there stays, a link of the source included (a copy onto it would empty
    /// both); a missing one gets the content and the time, linked or copied.
    #[test]
    fn link_or_copy_new_never_writes_through_a_file_that_is_there() {
        let dir = std::env::temp_dir().join(format!("xtask-link-new-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let (from, linked, other) = (dir.join("from"), dir.join("linked"), dir.join("other"));
        fs::write(&from, "entry").unwrap();
        let time = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30);
        fs::File::options()
            .write(true)
            .open(&from)
            .unwrap()
            .set_modified(time)
            .unwrap();
        fs::hard_link(&from, &linked).unwrap();
        fs::write(&other, "mine").unwrap();
        for link in [true, false] {
            link_or_copy_new(&from, &linked, link).unwrap();
            link_or_copy_new(&from, &other, link).unwrap();
            assert_eq!(fs::read_to_string(&from).unwrap(), "entry");
            assert_eq!(fs::read_to_string(&other).unwrap(), "mine");
            let new = dir.join(format!("new-{link}"));
            link_or_copy_new(&from, &new, link).unwrap();
            assert_eq!(fs::read_to_string(&new).unwrap(), "entry");
            assert_eq!(fs::metadata(&new).unwrap().modified().unwrap(), time);
        }
        let left: Vec<_> = entries(&dir).into_iter().map(|e| e.1).collect();
        assert_eq!(left.len(), 5, "{left:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_write_through_a_symlink_writes_its_target_and_keeps_the_link() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let dir = std::env::temp_dir().join(format!("xtask-fsutil-link-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("shared")).unwrap();
        fs::create_dir_all(dir.join("pkg")).unwrap();
        let target = dir.join("shared/real.toml");
        fs::write(&target, "old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
        // A chain: an absolute link to a relative one.
        symlink("../shared/real.toml", dir.join("pkg/middle.toml")).unwrap();
        let link = dir.join("pkg/pyproject.toml");
        symlink(dir.join("pkg/middle.toml"), &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            fs::symlink_metadata(dir.join("pkg/middle.toml"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "the target's permissions are kept");
        let names =
            |d: &str| -> Vec<String> { entries(&dir.join(d)).into_iter().map(|e| e.1).collect() };
        assert_eq!(names("shared"), ["real.toml"], "no temporary file left");
        assert_eq!(names("pkg"), ["middle.toml", "pyproject.toml"]);

        let looped = dir.join("pkg/loop.toml");
        symlink("loop.toml", &looped).unwrap();
        let err = write_atomic(&looped, b"x").unwrap_err().to_string();
        assert!(err.contains("a loop of symlinks"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
