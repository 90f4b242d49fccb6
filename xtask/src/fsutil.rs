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

/// Writes `content` to a new file at `path` atomically: a temporary file in the same folder, synced,
/// then renamed into place, so a reader never sees half a file.
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<()> {
    let dir = path.parent().context("a file path has a parent folder")?;
    let name = path
        .file_name()
        .context("a file path has a name")?
        .to_string_lossy();
    let tmp: PathBuf = dir.join(format!(".{name}.xtask-{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(content)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
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
    let Ok(read) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, String, fs::Metadata)> = read
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let meta = fs::symlink_metadata(&path).ok()?;
            Some((path, e.file_name().to_string_lossy().into_owned(), meta))
        })
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}
