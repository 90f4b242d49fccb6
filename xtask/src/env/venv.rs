//! A service's virtualenv: where it lives and the platform's layout inside it.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};

use crate::cmd::Cmd;
use crate::digest::Hasher;
use crate::file_digests::FileDigests;
use crate::fsutil;
use crate::leftovers::{REMOVAL_MARK, is_removal_leftover};
use crate::workspace::Package;

/// The layouts of a virtualenv: `bin/python` on Unix, `Scripts\python.exe` on Windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Unix,
    Windows,
}

impl Platform {
    pub const fn current() -> Platform {
        if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Unix
        }
    }

    /// The folder of executables inside a venv or an interpreter's prefix.
    pub fn bin_dir(self, prefix: &Path) -> PathBuf {
        match self {
            Platform::Unix => prefix.join("bin"),
            Platform::Windows => prefix.join("Scripts"),
        }
    }

    /// The file name of an executable: `uv`, `uv.exe`.
    pub fn exe(self, name: &str) -> String {
        match self {
            Platform::Unix => name.to_owned(),
            Platform::Windows => format!("{name}.exe"),
        }
    }

    pub fn venv_python(self, venv: &Path) -> PathBuf {
        self.bin_dir(venv).join(self.exe("python"))
    }
}

/// The virtualenv of one service, at `<service>/.venv`.
#[derive(Debug, Clone)]
pub struct Venv {
    pub dir: PathBuf,
    pub platform: Platform,
}

impl Venv {
    pub const DIR: &'static str = ".venv";
    /// The lock file beside the venv: it outlives the venv's removal and re-creation.
    pub const LOCK: &'static str = ".venv.lock";
    const STAMP: &'static str = "xtask-stamp.toml";
    /// The digests of its RECORDs and top-level modules, by file identity.
    const DIGESTS: &'static str = "xtask-digests.txt";

    /// A venv at a folder.
    pub fn of_dir(dir: PathBuf) -> Venv {
        Venv {
            dir,
            platform: Platform::current(),
        }
    }

    pub fn of(service: &Package) -> Venv {
        Venv {
            dir: service.dir.join(Venv::DIR),
            platform: Platform::current(),
        }
    }

    pub fn python(&self) -> PathBuf {
        self.platform.venv_python(&self.dir)
    }

    /// ruff in this venv: its own executable, the one `python -m ruff` finds and runs, else
    /// `python -m ruff`. A Python start-up less a ruff job (24 ms of CPU down to 7 ms for a
    /// package's `ruff format --check`), with the same ruff.
    pub fn ruff(&self) -> Cmd {
        let exe = self
            .platform
            .bin_dir(&self.dir)
            .join(self.platform.exe("ruff"));
        if exe.is_file() {
            Cmd::new(exe)
        } else {
            Cmd::new(self.python()).args(["-m", "ruff"])
        }
    }

    pub fn stamp(&self) -> PathBuf {
        self.dir.join(Venv::STAMP)
    }

    pub fn lock_file(&self) -> PathBuf {
        self.dir.with_file_name(Venv::LOCK)
    }

    /// A folder is a venv (ours to remove and re-create) only if it has a `pyvenv.cfg`.
    pub fn is_venv(&self) -> bool {
        self.dir.join("pyvenv.cfg").is_file()
    }

    /// Whether the folder is what an interrupted removal left of a venv: no `pyvenv.cfg`, nothing
    /// at its top that a venv does not hold, and a mark that only a venv tool or the xtask
    /// writes (its stamp, its results, uv's `CACHEDIR.TAG` or `*` `.gitignore`), or nothing at
    /// all. An older xtask deleted a venv in place, and an interruption could leave any part of
    /// it; a folder a person made has files of its own, or no mark, and is never taken for one.
    pub fn is_half_removed(&self) -> bool {
        let Ok(meta) = fs::symlink_metadata(&self.dir) else {
            return false;
        };
        if !meta.is_dir() || self.is_venv() {
            return false;
        }
        let entries = fsutil::entries(&self.dir);
        let all_a_venv_s = entries.iter().all(|(_, name, _)| is_venv_entry(name));
        let marked = entries.iter().any(|(path, name, _)| is_mark(path, name));
        all_a_venv_s && (entries.is_empty() || marked)
    }

    /// Removes the venv: moved aside first, then deleted (see [`remove_aside`]).
    pub fn remove(&self) -> Result<()> {
        remove_aside(&self.dir)
    }

    /// Deletes what interrupted removals left beside the venv (under its exclusive lock: no
    /// removal of this venv runs meanwhile); returns what it deleted.
    pub fn finish_removals(&self) -> Result<Vec<PathBuf>> {
        let Some(folder) = self.dir.parent() else {
            return Ok(Vec::new());
        };
        let mut done = Vec::new();
        for (path, name, meta) in fsutil::entries(folder) {
            if meta.is_dir() && is_removal_leftover(&name) {
                delete_leftover(&path)?;
                done.push(path);
            }
        }
        if self.is_half_removed() {
            remove_aside(&self.dir)?;
            done.push(self.dir.clone());
        }
        Ok(done)
    }

    /// Whether the venv's interpreter is there and its link (if any) leads somewhere.
    pub fn python_works(&self) -> bool {
        fs::metadata(self.python()).is_ok()
    }

    /// The venv's site-packages folders: `lib/python3.X/site-packages` (any `python*` folder of
    /// `lib`) or `Lib\\site-packages`.
    pub fn site_packages(&self) -> Vec<PathBuf> {
        match self.platform {
            Platform::Unix => fsutil::kinds(&self.dir.join("lib"))
                .into_iter()
                .filter(|(_, name, _)| name.starts_with("python"))
                .map(|(path, _, _)| path.join("site-packages"))
                .filter(|site| site.is_dir())
                .collect(),
            Platform::Windows => {
                let site = self.dir.join("Lib").join("site-packages");
                if site.is_dir() {
                    vec![site]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// The distributions installed here that register an entry point in `group` (`pytest11`),
    /// from each `.dist-info/entry_points.txt`: their names as the folder spells them.
    pub fn entry_point_dists(&self, group: &str) -> Vec<String> {
        let header = format!("[{group}]");
        let mut out = Vec::new();
        for site in self.site_packages() {
            for (path, name, _) in fsutil::entries(&site) {
                let Some(stem) = name.strip_suffix(".dist-info") else {
                    continue;
                };
                let registers = fs::read_to_string(path.join("entry_points.txt"))
                    .is_ok_and(|text| text.lines().any(|l| l.trim() == header));
                if registers {
                    out.push(stem.split('-').next().unwrap_or(stem).to_owned());
                }
            }
        }
        out
    }

    /// What is installed in the venv now, read cheaply: one listing of site-packages, the `.pth`
    /// files (editable paths live there), each distribution's RECORD and each top-level module
    /// by content (remembered by file identity, see [`FileDigests`]), never the installed files
    /// themselves.
    pub fn installed(&self) -> Installed {
        self.read_installed(Remember::Write)
    }

    /// The same, writing nothing into the venv with [`Remember::ReadOnly`] (the digests learned
    /// are not kept): for a look that changes nothing, as `doctor`'s.
    pub fn read_installed(&self, remember: Remember) -> Installed {
        let mut digests = FileDigests::load(self.dir.join(Venv::DIGESTS));
        let mut h = Hasher::new();
        h.write(&fs::read(self.dir.join("pyvenv.cfg")).unwrap_or_default());
        let mut entries = Vec::new();
        for site in self.site_packages() {
            for (path, name, kind) in fsutil::kinds(&site) {
                // Bytecode that Python or compileall writes is not an install.
                if crate::leftovers::is_bytecode(&name, kind.is_dir()) {
                    continue;
                }
                h.write(name.as_bytes());
                h.write(&[0]);
                if let Some(content) = self.entry_content(&mut digests, &path, &name, kind) {
                    h.write(&content);
                }
                h.write(&[0]);
                entries.push(name);
            }
        }
        if remember == Remember::Write {
            digests.save();
        }
        Installed {
            entries,
            digest: h.finish(),
        }
    }

    /// What stands for one entry of site-packages in [`Venv::installed`]. Contents, never times:
    /// a venv restored from an archive that keeps times to the second (or not at all) holds the
    /// same install. A RECORD lists the digest of every file its installer wrote, METADATA's too.
    fn entry_content(
        &self,
        digests: &mut FileDigests,
        path: &Path,
        name: &str,
        kind: fs::FileType,
    ) -> Option<Vec<u8>> {
        let key = || {
            path.strip_prefix(&self.dir)
                .unwrap_or(path)
                .to_string_lossy()
        };
        if name.ends_with(".dist-info") {
            let record = path.join("RECORD");
            Some(
                digests
                    .content(&format!("{}/RECORD", key()), &record)
                    .into_bytes(),
            )
        } else if name.ends_with(".pth") {
            Some(fs::read(path).unwrap_or_default())
        } else if kind.is_dir() {
            None
        } else {
            // A top-level module (sitecustomize.py, six.py): its content. A large one is an
            // extension of some distribution (mypy's 40 MB `__mypyc` library), whose RECORD,
            // read above, changes with every install of it: its size then stands for it, and a
            // no-op setup reads no binary of tens of megabytes.
            let content = digests
                .content_up_to(&key(), path, LARGE_MODULE)
                .unwrap_or_else(|len| format!("{len} bytes"));
            Some(content.into_bytes())
        }
    }
}

/// Whether reading a venv's installed set may write the digests it learned into the venv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remember {
    Write,
    ReadOnly,
}

/// The size above which a top-level file of site-packages is known by its size (see
/// [`Venv::installed`]).
const LARGE_MODULE: u64 = 1 << 20;

/// What a venv holds at its top, on every platform: its layout, and what uv adds.
const VENV_ENTRIES: &[&str] = &[
    "bin",
    "Scripts",
    "lib",
    "Lib",
    "lib64",
    "include",
    "Include",
    "share",
    ".gitignore",
    ".lock",
    "CACHEDIR.TAG",
];

/// What the xtask adds at a venv's top: each is a mark that only the xtask writes there.
const XTASK_ENTRIES: &[&str] = &[
    Venv::STAMP,
    "xtask-results",
    "xtask-cache",
    "xtask-bytecode",
    "xtask-editables.txt",
    Venv::DIGESTS,
];

/// Whether a venv may hold `name` at its top: its layout, uv's files, the xtask's, and what an
/// interrupted write of the digests table leaves.
fn is_venv_entry(name: &str) -> bool {
    VENV_ENTRIES.contains(&name)
        || XTASK_ENTRIES.contains(&name)
        || crate::file_digests::is_temporary(name, Venv::DIGESTS)
}

/// A file only a venv tool or the xtask writes into a venv.
fn is_mark(path: &Path, name: &str) -> bool {
    let text = || fs::read_to_string(path).unwrap_or_default();
    match name {
        name if XTASK_ENTRIES.contains(&name) => true,
        // uv's, and Python's own since 3.13: ignore everything.
        ".gitignore" => text().lines().filter(|l| !l.starts_with('#')).eq(["*"]),
        "CACHEDIR.TAG" => text().starts_with("Signature: 8a477f597d28d172789f06886806bc55"),
        _ => false,
    }
}

/// Removes a folder so that an interruption (Ctrl-C, a crash) never leaves half of it in its
/// place: renamed aside in one step, then deleted. What an interrupted deletion leaves has a
/// name [`is_removal_leftover`] knows, and the next setup, gate or clean deletes it.
pub fn remove_aside(dir: &Path) -> Result<()> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = dir
        .file_name()
        .context("a folder to remove has a name")?
        .to_string_lossy();
    let aside = loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let candidate =
            dir.with_file_name(format!("{name}{REMOVAL_MARK}{}-{n}", std::process::id()));
        if fs::symlink_metadata(&candidate).is_err() {
            break candidate;
        }
    };
    fs::rename(dir, &aside).with_context(|| {
        format!(
            "cannot move {} aside to remove it; close what uses it, then run the command again",
            dir.display()
        )
    })?;
    delete_leftover(&aside)
}

/// Deletes a folder a removal moved aside (never through a symlink: `remove_dir_all` removes
/// links, not what they lead to).
fn delete_leftover(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).with_context(|| {
            format!(
                "cannot delete {}, a venv being removed; close what uses it, then run the command again",
                path.display()
            )
        }),
        _ => Ok(()),
    }
}

/// A lock on a venv, held until dropped: exclusive while setup changes the venv, shared while
/// jobs run in it. A setup waits for running jobs, and jobs never run in a venv being rebuilt.
pub struct VenvLock {
    _file: File,
}

/// How a venv is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Setup: nobody else uses the venv meanwhile.
    Exclusive,
    /// Jobs: any number at once, but no setup.
    Shared,
}

impl Venv {
    /// Takes the lock of the venv (`.venv.lock` beside it: it outlives the venv's removal and
    /// re-creation), saying so when it has to wait.
    pub fn lock(&self, mode: LockMode, name: &str) -> Result<VenvLock> {
        let path = self.lock_file();
        let waiting = match mode {
            LockMode::Exclusive => format!(
                "{name}: waiting for another setup of this venv, or for jobs running in it, to finish (lock {})",
                path.display()
            ),
            LockMode::Shared => format!(
                "{name}: waiting for a setup of this venv to finish (lock {})",
                path.display()
            ),
        };
        let file = fsutil::lock_file(&path, mode == LockMode::Shared, &waiting)?;
        Ok(VenvLock { _file: file })
    }
}

/// A venv's installed set: the top-level entries of site-packages (each distribution's
/// `.dist-info`, its packages and modules, the `.pth` files), and a digest of all of it that
/// changes when anything is installed, removed, or edited by an installer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub entries: Vec<String>,
    pub digest: String,
}

impl Installed {
    /// The stamp's record of it: every entry, space-separated.
    pub fn listing(&self) -> String {
        self.entries.join(" ")
    }

    /// Whether what was added since an earlier listing includes something no installer would
    /// remove: a `.pth` file, or entries with no distribution added to own them.
    pub fn adds_strays(&self, earlier: &str) -> bool {
        let before: Vec<&str> = earlier.split_whitespace().collect();
        let added: Vec<&str> = self
            .entries
            .iter()
            .map(String::as_str)
            .filter(|e| !before.contains(e))
            .collect();
        let dists = added.iter().any(|e| e.ends_with(".dist-info"));
        added.iter().any(|e| e.ends_with(".pth")) || (!added.is_empty() && !dists)
    }

    /// What differs from an earlier listing, as a person names it: a distribution by its
    /// `name-version`, anything else (a `.pth`, a module) by its file name; the packages of a
    /// distribution are not named again. Returns (removed, added).
    pub fn diff(&self, earlier: &str) -> (Vec<String>, Vec<String>) {
        let before: Vec<&str> = earlier.split_whitespace().collect();
        let now: Vec<&str> = self.entries.iter().map(String::as_str).collect();
        let name = |list: &[&str], other: &[&str]| -> Vec<String> {
            let gone: Vec<&str> = list
                .iter()
                .filter(|w| !other.contains(w))
                .copied()
                .collect();
            let dists: Vec<&str> = gone
                .iter()
                .filter_map(|w| w.strip_suffix(".dist-info"))
                .collect();
            if dists.is_empty() {
                gone.iter().map(|w| (*w).to_owned()).collect()
            } else {
                let mut named: Vec<String> = dists.iter().map(|d| (*d).to_owned()).collect();
                named.extend(
                    gone.iter()
                        .filter(|w| w.ends_with(".pth"))
                        .map(|w| (*w).to_owned()),
                );
                named
            }
        };
        (name(&before, &now), name(&now, &before))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_of_both_platforms() {
        let venv = Path::new("svc").join(".venv");
        assert_eq!(
            Platform::Unix.venv_python(&venv),
            venv.join("bin").join("python")
        );
        assert_eq!(
            Platform::Windows.venv_python(&venv),
            venv.join("Scripts").join("python.exe")
        );
        assert_eq!(Platform::Windows.exe("uv"), "uv.exe");
        assert_eq!(Platform::Unix.exe("uv"), "uv");
        // site-packages is found by listing, whatever the venv's path holds.
        let dir = std::env::temp_dir().join(format!("xtask-site a [b] {}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let venv = Venv::of_dir(dir.join(".venv"));
        fs::create_dir_all(venv.dir.join("lib/python3.10/site-packages")).unwrap();
        fs::create_dir_all(venv.dir.join("lib/python3.9")).unwrap();
        fs::write(venv.dir.join("lib/python.txt"), "").unwrap();
        let found = venv.site_packages();
        let _ = fs::remove_dir_all(&dir);
        if cfg!(unix) {
            assert_eq!(found, [venv.dir.join("lib/python3.10/site-packages")]);
        }
    }

    #[test]
    fn removal_leftovers_and_half_removed_venvs_are_told_from_a_person_s_folders() {
        assert!(is_removal_leftover(".venv.xtask-trash-123-0"));
        assert!(!is_removal_leftover(".venv.xtask-trash-"));
        assert!(!is_removal_leftover(".venv.xtask-trash-notes"));
        assert!(!is_removal_leftover(".venv"));
        let dir = std::env::temp_dir().join(format!("xtask-half-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let venv = Venv::of_dir(dir.join(".venv"));
        fs::create_dir_all(venv.dir.join("lib/python3.10/site-packages")).unwrap();
        assert!(!venv.is_half_removed(), "no mark: a person's folder, maybe");
        fs::write(venv.dir.join("xtask-stamp.toml"), "").unwrap();
        assert!(venv.is_half_removed());
        fs::write(venv.dir.join("notes.txt"), "mine").unwrap();
        assert!(!venv.is_half_removed(), "a file no venv holds");
        fs::remove_file(venv.dir.join("notes.txt")).unwrap();
        fs::write(venv.dir.join("pyvenv.cfg"), "").unwrap();
        assert!(!venv.is_half_removed(), "a whole venv");
        fs::remove_file(venv.dir.join("pyvenv.cfg")).unwrap();

        // Finished: moved aside, deleted, with an earlier removal's leftover beside it.
        let leftover = dir.join(".venv.xtask-trash-1-0");
        fs::create_dir_all(leftover.join("bin")).unwrap();
        let done = venv.finish_removals().unwrap();
        assert_eq!(done, [leftover.clone(), venv.dir.clone()]);
        assert!(!leftover.exists() && !venv.dir.exists());
        assert_eq!(fsutil::entries(&dir).len(), 0, "nothing left beside it");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_lock_sits_beside_the_venv() {
        let venv = Venv {
            dir: Path::new("svc").join(".venv"),
            platform: Platform::Unix,
        };
        assert_eq!(venv.lock_file(), Path::new("svc").join(".venv.lock"));
        assert_eq!(
            venv.stamp(),
            Path::new("svc").join(".venv").join("xtask-stamp.toml")
        );
    }
}
