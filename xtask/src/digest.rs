//! Hashing: the one digest every remembered result is keyed by (stamps, lock headers, memo keys),
//! and the walk that reads a tree's files for it.
//!
//! The digest is SHA-256 (the `sha2` crate), written as 64 hex digits. Why that one: every input
//! byte moves every output bit (the FNV-1a over 8-byte words it replaces let two ordinary edits of
//! one file collide), it is the digest the Python world already speaks (pip's `--hash=sha256:`,
//! wheel RECORDs, the manifests of deployables), so one crate serves all of them, and with the
//! CPU's SHA extensions it hashes 1.8 GB/s here (5,000 files of 2 KB in 11 ms; BLAKE3 and XXH3-128
//! were measured too: faster on large inputs, but a no-op run hashes a few hundred small files,
//! where the difference is a millisecond). `sha2` is built optimised even in the dev profile
//! (`[profile.dev.package.sha2]` in the workspace's Cargo.toml), so the xtask itself need not be.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use sha2::{Digest as _, Sha256};

use crate::fsutil;
use crate::leftovers::{self, Place};

/// How many hex digits a digest has: a recorded digest of another length was made by an older
/// xtask (its 16-digit FNV), and reads as changed.
pub const HEX_LEN: usize = 64;

/// A running SHA-256.
pub struct Hasher(Sha256);

impl Hasher {
    pub fn new() -> Hasher {
        Hasher(Sha256::new())
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest as lowercase hex.
    pub fn finish(self) -> String {
        hex(&self.0.finalize())
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

pub fn hash(bytes: &[u8]) -> String {
    let mut h = Hasher::new();
    h.write(bytes);
    h.finish()
}

/// The digest of a file's content, `absent` when there is no file to read.
pub fn file_content(path: &Path) -> String {
    fs::read(path).map_or_else(|_| "absent".to_owned(), |bytes| hash(&bytes))
}

/// Size, modification and change times and inode of a file or folder: a cheap stand-in for its
/// identity, used only where the xtask itself wrote the file (a venv's RECORD) or to decide
/// whether to look again. The change time and inode (where there are such) tell a file put in
/// place with the old one's size and time (an interpreter replaced by `cp` and `touch -r`, then
/// `mv`) from the old one.
pub fn file_meta(path: &Path) -> String {
    match fs::metadata(path) {
        Ok(meta) => format!(
            "{}:{}:{}:{}",
            meta.len(),
            mtime_ns(&meta),
            changed_ns(&meta),
            inode(&meta)
        ),
        Err(_) => "missing".to_owned(),
    }
}

fn inode(meta: &fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        meta.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        0
    }
}

pub fn mtime_ns(meta: &fs::Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// See [`TreeFile::changed_ns`].
pub fn changed_ns(meta: &fs::Metadata) -> u128 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let (s, ns) = (meta.ctime(), meta.ctime_nsec());
        u128::try_from(s).unwrap_or(0) * 1_000_000_000 + u128::try_from(ns).unwrap_or(0)
    }
    #[cfg(not(unix))]
    {
        mtime_ns(meta)
    }
}

/// A digest of the environment variables whose names `keep` accepts, in name order: each as
/// `name=value` and a NUL, byte for byte (two values that differ in bytes that are not UTF-8
/// differ here too; a process sees them apart through `os.environb`).
pub fn variables(keep: impl Fn(&str) -> bool) -> String {
    let mut vars: Vec<(std::ffi::OsString, std::ffi::OsString)> = std::env::vars_os()
        .filter(|(k, _)| keep(&k.to_string_lossy()))
        .collect();
    vars.sort();
    let mut h = Hasher::new();
    for (k, v) in vars {
        h.write(k.as_encoded_bytes());
        h.write(b"=");
        h.write(v.as_encoded_bytes());
        h.write(b"\0");
    }
    h.finish()
}

/// One file of a tree as it was read: its path relative to the tree (with `/`), the digest of its
/// content, and the size and modification time it had (what tools' own caches trust).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    pub rel: String,
    pub digest: String,
    pub size: u64,
    pub mtime_ns: u128,
    /// When its inode last changed (ctime; the modification time where there is none): a write
    /// sets it and no tool can set it back, so a file written again with its old content and
    /// time (`cp -p`) still differs here.
    pub changed_ns: u128,
    /// Whether it has an execute bit: tools read it too (ruff's EXE rules; a test may check
    /// `os.access(path, os.X_OK)`), so the job keys count it beside the content.
    pub executable: bool,
}

impl TreeFile {
    /// Writes the file's state (path, size, modification and change time) into `h`: what a
    /// run compares before and after to know nothing was written meanwhile.
    pub fn write_state(&self, h: &mut Hasher) {
        h.write(self.rel.as_bytes());
        for n in [u128::from(self.size), self.mtime_ns, self.changed_ns] {
            h.write(&n.to_le_bytes());
        }
    }
}

/// Every file a tool could read under `dir`, sorted by path; each file is read once.
///
/// Left out, by where tools write them rather than by name anywhere ([`leftovers::is_tool_output`]):
/// bytecode folders, and at a folder where tools run (`tool_roots`: relative paths ending in `/`,
/// `""` for `dir` itself) their caches, coverage data and the venvs. A fixture named like a cache
/// deeper down is a file like any other. Kept: build leftovers (`build/`, `*.egg-info`), since a
/// tool can read them. A symlink counts by its target's content (a linked folder is walked once,
/// however many links lead to it); one that leads nowhere counts by where it points. What is
/// neither a file nor a folder (a named pipe, a socket, a device) is never opened: reading a pipe
/// would hang; `-v` names it.
pub fn tree_files(dir: &Path, tool_roots: &[String]) -> Vec<TreeFile> {
    tree_files_reading(dir, tool_roots, &mut |_, _| {}).files
}

/// The files a build of the package in `dir` reads: its folder's tree ([`tree_files`], without
/// tool outputs) without what builds leave there (`build/`, `dist/`, `*.egg-info`): a build
/// writes them, and reads its sources afresh.
pub fn build_sources(dir: &Path) -> Vec<TreeFile> {
    tree_files(dir, &[String::new()])
        .into_iter()
        .filter(|f| !in_build_output(&f.rel))
        .collect()
}

/// Whether a file (`rel`, from a package's folder) is in what a build leaves there: its
/// `build/` or `dist/`, or an `*.egg-info` folder.
fn in_build_output(rel: &str) -> bool {
    let first = rel.split('/').next().unwrap_or_default();
    matches!(first, "build" | "dist")
        || rel
            .split('/')
            .rev()
            .skip(1)
            .any(|dir| dir.ends_with(".egg-info"))
}

/// What [`tree_files_reading`] found under a folder.
pub struct Tree {
    /// Every file a tool could read, sorted by path.
    pub files: Vec<TreeFile>,
    /// Every folder that holds none of them, nor such a folder, as its path ending in `/`,
    /// sorted. Python imports an empty folder as a namespace package, and ruff calls its name
    /// first-party: its existence is an input, though no file stands for it.
    pub empty_folders: Vec<String>,
    /// Where each symlink met leads (canonical), file or folder, sorted: what the tools read
    /// through it, wherever it is.
    pub link_targets: Vec<PathBuf>,
}

/// What [`tree_files_reading`] finds, but no file is read: each file's digest is empty. For a
/// caller that needs the paths alone (what lies outside `python/` that its files lead to), so
/// that it finds them by the same walk as the keys.
pub fn tree_listing(dir: &Path, tool_roots: &[String]) -> Tree {
    walk_tree(dir, tool_roots, None)
}

/// [`tree_files`] and the empty folders, showing each file's path and content to `visit` as it
/// is read, so that a caller that looks inside the files reads each once.
pub fn tree_files_reading(
    dir: &Path,
    tool_roots: &[String],
    visit: &mut dyn FnMut(&str, &[u8]),
) -> Tree {
    walk_tree(dir, tool_roots, Some(visit))
}

/// What a walk shows each file it reads: its path and content.
type Visit<'v> = &'v mut dyn FnMut(&str, &[u8]);

/// The walk of [`tree_files_reading`] (`visit`: files are read) and [`tree_listing`] (none).
fn walk_tree(dir: &Path, tool_roots: &[String], visit: Option<Visit<'_>>) -> Tree {
    let mut walk = Walk {
        root: dir,
        tool_roots,
        visit,
        seen: Vec::new(),
        out: Vec::new(),
        empty: Vec::new(),
        links: Vec::new(),
    };
    walk.folder(dir, "");
    walk.out.sort_by(|a, b| a.rel.cmp(&b.rel));
    walk.empty.sort_unstable();
    walk.links.sort_unstable();
    walk.links.dedup();
    Tree {
        files: walk.out,
        empty_folders: walk.empty,
        link_targets: walk.links,
    }
}

struct Walk<'a, 'v> {
    root: &'a Path,
    tool_roots: &'a [String],
    /// None: list the files, read none.
    visit: Option<Visit<'v>>,
    seen: Vec<PathBuf>,
    out: Vec<TreeFile>,
    empty: Vec<String>,
    links: Vec<PathBuf>,
}

impl Walk<'_, '_> {
    fn folder(&mut self, dir: &Path, prefix: &str) {
        // A folder reached again below itself is a symlink loop; one reached twice by two
        // paths (a linked folder shared by two packages) counts for both.
        let real = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if self.seen.contains(&real) {
            return;
        }
        self.seen.push(real);
        let place = if self.tool_roots.iter().any(|r| r == prefix) {
            Place::ToolRoot
        } else {
            Place::Below
        };
        let found = (self.out.len(), self.empty.len());
        for (path, name, meta) in fsutil::entries(dir) {
            self.entry(&path, &format!("{prefix}{name}"), &name, meta, place);
        }
        if !prefix.is_empty() && found == (self.out.len(), self.empty.len()) {
            self.empty.push(prefix.to_owned());
        }
        self.seen.pop();
    }

    fn entry(&mut self, path: &Path, rel: &str, name: &str, meta: fs::Metadata, place: Place) {
        let target = if meta.file_type().is_symlink() {
            if let Ok(real) = fs::canonicalize(path) {
                self.links.push(real);
            }
            fs::metadata(path).ok()
        } else {
            Some(meta)
        };
        let Some(target) = target else {
            let link = fs::read_link(path).unwrap_or_default();
            self.push(rel, hash(link.as_os_str().as_encoded_bytes()), 0, 0);
            return;
        };
        let is_dir = target.is_dir();
        if leftovers::is_tool_output(path, name, is_dir, place) {
            return;
        }
        if is_dir {
            self.folder(path, &format!("{rel}/"));
        } else if target.is_file() {
            let digest = match self.visit.as_mut() {
                Some(visit) => {
                    let content = fs::read(path).unwrap_or_default();
                    visit(rel, &content);
                    self.digest(path, rel, &content)
                }
                None => String::new(),
            };
            let file = TreeFile {
                rel: rel.to_owned(),
                digest,
                size: target.len(),
                mtime_ns: mtime_ns(&target),
                changed_ns: changed_ns(&target),
                executable: is_executable(&target),
            };
            self.out.push(file);
        } else if crate::output::verbose() {
            eprintln!(
                "not read: {} is not a regular file (a pipe, socket or device)",
                path.display()
            );
        }
    }

    /// A file's digest: its content's; and where its path is not UTF-8 (`rel` then holds
    /// U+FFFD for each byte that is not), the path's bytes too, since two such names can read
    /// alike in `rel` while a test sees them apart (`os.listdir(b".")`).
    fn digest(&self, path: &Path, rel: &str, content: &[u8]) -> String {
        if !rel.contains(char::REPLACEMENT_CHARACTER) {
            return hash(content);
        }
        let raw = path.strip_prefix(self.root).unwrap_or(path);
        let mut h = Hasher::new();
        h.write(content);
        h.write(b"\0path\0");
        h.write(raw.as_os_str().as_encoded_bytes());
        h.finish()
    }

    fn push(&mut self, rel: &str, digest: String, size: u64, mtime_ns: u128) {
        self.out.push(TreeFile {
            rel: rel.to_owned(),
            digest,
            size,
            mtime_ns,
            changed_ns: mtime_ns,
            executable: false,
        });
    }
}

/// Whether a file has an execute bit (see [`TreeFile::executable`]). Windows has no such bit.
#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}

/// One digest of every file a tool could read under `dir`, a folder where tools run (see
/// [`tree_files`]).
pub fn tree(dir: &Path) -> String {
    let mut h = Hasher::new();
    for file in tree_files(dir, &[String::new()]) {
        h.write(file.rel.as_bytes());
        h.write(&[0]);
        h.write(file.digest.as_bytes());
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file moved into the place of another of the same size and time (an interpreter
    /// replaced by `cp`, `touch -r` and `mv`) is not the same file.
    #[cfg(unix)]
    #[test]
    fn a_file_replaced_keeping_size_and_time_has_other_meta() {
        let dir = std::env::temp_dir().join(format!("xtask-meta-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let (old, new) = (dir.join("python3"), dir.join("python3.new"));
        fs::write(&old, "3.10").unwrap();
        let before = file_meta(&old);
        fs::write(&new, "3.11").unwrap();
        let time = fs::metadata(&old).unwrap().modified().unwrap();
        fs::File::options()
            .write(true)
            .open(&new)
            .unwrap()
            .set_modified(time)
            .unwrap();
        fs::rename(&new, &old).unwrap();
        assert_eq!(fs::metadata(&old).unwrap().modified().unwrap(), time);
        assert_ne!(file_meta(&old), before);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn build_output_is_not_a_build_source() {
        assert!(in_build_output("build/lib/x.py"));
        assert!(in_build_output("dist/x.whl"));
        assert!(in_build_output("src/pkg.egg-info/PKG-INFO"));
        assert!(!in_build_output("src/pkg/build/x.py"));
        assert!(!in_build_output("src/pkg/x.py"));
        assert!(!in_build_output("README.md"));
    }

    #[test]
    fn the_digest_is_sha256() {
        assert_eq!(
            hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(hash(b"abc").len(), HEX_LEN);
    }

    /// The edit that collided under the old digest: every byte moves the digest, wherever it is.
    #[test]
    fn every_byte_counts_wherever_it_stands() {
        let base: Vec<u8> = b"LIMIT = 128\nOTHER = 250\n".repeat(8);
        let mut seen = std::collections::HashSet::new();
        seen.insert(hash(&base));
        for i in 0..base.len() {
            let mut changed = base.clone();
            changed[i] ^= 1;
            assert!(seen.insert(hash(&changed)), "byte {i} collided");
        }
        let two = String::from_utf8(base.clone())
            .unwrap()
            .replacen("128", "118", 1)
            .replacen("250", "200", 1);
        assert_ne!(hash(two.as_bytes()), hash(&base));
    }

    /// A folder counts as empty when it holds no file a tool reads, at any depth: only its
    /// innermost empty folders are named, and one holding only bytecode is empty.
    #[test]
    fn folders_without_files_are_named_innermost_first() {
        let dir = std::env::temp_dir().join(format!("xtask-empty-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for folder in ["a", "b", "c/d", "e/__pycache__"] {
            fs::create_dir_all(dir.join(folder)).unwrap();
        }
        fs::write(dir.join("b/x.py"), "x = 1\n").unwrap();
        fs::write(dir.join("e/__pycache__/x.cpython-312.pyc"), "").unwrap();
        let tree = tree_files_reading(&dir, &[String::new()], &mut |_, _| {});
        assert_eq!(tree.empty_folders, ["a/", "c/d/", "e/"]);
        assert_eq!(tree.files.len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_tree_counts_sources_build_folders_and_link_targets_but_not_caches() {
        let dir = std::env::temp_dir().join(format!("xtask-tree-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src/pkg/__pycache__")).unwrap();
        fs::create_dir_all(dir.join("src/pkg/build")).unwrap();
        fs::create_dir_all(dir.join(".venv")).unwrap();
        fs::write(dir.join(".venv/pyvenv.cfg"), "").unwrap();
        fs::write(dir.join("src/pkg/a.py"), "A = 1\n").unwrap();
        let before = tree(&dir);
        for cache in ["src/pkg/__pycache__/a.pyc", ".coverage", ".venv/x.py"] {
            fs::write(dir.join(cache), "x").unwrap();
            assert_eq!(tree(&dir), before, "{cache} changed the digest");
        }
        // Named like a cache, but not where a tool writes one: a fixture.
        fs::create_dir_all(dir.join("tests/fixtures/env")).unwrap();
        fs::write(dir.join("tests/fixtures/coverage.xml"), "<c/>").unwrap();
        let fixture = tree(&dir);
        assert_ne!(
            fixture, before,
            "a fixture named coverage.xml did not count"
        );
        fs::write(dir.join("tests/fixtures/env/pyvenv.cfg"), "home = /x\n").unwrap();
        assert_ne!(
            tree(&dir),
            fixture,
            "a fixture folder with a pyvenv.cfg did not count"
        );
        let with_fixtures = tree(&dir);
        fs::write(dir.join("src/pkg/build/m.py"), "B = 1\n").unwrap();
        assert_ne!(
            tree(&dir),
            with_fixtures,
            "a module under build/ did not count"
        );
        #[cfg(unix)]
        {
            let outside = dir.with_extension("outside");
            fs::write(&outside, "1").unwrap();
            std::os::unix::fs::symlink(&outside, dir.join("src/pkg/linked.py")).unwrap();
            let linked = tree(&dir);
            fs::write(&outside, "2").unwrap();
            assert_ne!(
                tree(&dir),
                linked,
                "a symlink's target content did not count"
            );
            std::os::unix::fs::symlink(&dir, dir.join("src/pkg/loop")).unwrap();
            let _ = tree(&dir); // a loop ends
            fs::remove_file(&outside).unwrap();
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_named_pipe_is_never_opened() {
        let dir = std::env::temp_dir().join(format!("xtask-fifo-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("a.py"), "A = 1\n").unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.join("pipe"))
            .status()
            .unwrap();
        assert!(made.success());
        // Opening the pipe for reading would block this test forever.
        let files = tree_files(&dir, &[String::new()]);
        assert_eq!(files.len(), 1, "{files:?}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
