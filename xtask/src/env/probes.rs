//! The interpreters' answers to the probe (their version and `sys.executable`), remembered by
//! the state of the files that make them, so that a command choosing an interpreter (`lock`,
//! `add`, `new`, a setup whose venv's discovery key moved) need not start every Python found:
//! nine here, 110 ms of a command's time and 150 ms of CPU.
//!
//! What an answer depends on, and so what keys it: the path started (`sys.executable` is that
//! path), the file it leads to through links, the library and standard library that file loads
//! from its prefix (`<prefix>/lib`), and the probe itself. Each file is recorded by its identity
//! (device, inode, size, modification and change times), as [`crate::file_digests`] records
//! files, and under the same conditions: only on a file system whose change times no program
//! can set, and only once the last change is [`SETTLED`] old (a Python installed while it was
//! probed is probed again). A version replaced in place (`pyenv install --force`, a package
//! upgrade, `make install`) writes its executable anew, which moves the inode or the change
//! time; a library or standard library replaced by a rename moves the times of `<prefix>/lib`.
//! A failed probe is never remembered, and a remembered answer is judged again on every use (a
//! `pyvenv.cfg` that appeared beside it makes it a venv's). What this cannot see: a library in
//! `<prefix>/lib` rewritten in place, which no installer does. `--no-cache` probes every
//! candidate.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::file_digests::{Identity, SETTLED, trusted_device};

/// The table's name in the tools folder.
pub const FILE: &str = "interpreter-probes.txt";

const HEADER: &str = "# Interpreters' probe answers by the state of their files, written by the \
                      xtask (xtask/src/env/probes.rs): safe to delete.\n";

/// More entries than this, and the table keeps only those of the last run.
const KEEP: usize = 256;

/// The remembered answers, loaded from a table file.
pub struct Probes {
    file: Option<PathBuf>,
    margin: Duration,
    known: HashMap<String, String>,
    used: HashMap<String, String>,
    learned: bool,
}

impl Probes {
    /// The tools folder's table (none under `--no-cache`: nothing is read or written).
    pub fn load() -> Probes {
        let file = crate::project::tools_dir().join(FILE);
        if crate::file_digests::reads_every_file() {
            return Probes::none();
        }
        Probes::with_margin(file, SETTLED)
    }

    /// A table that remembers nothing.
    pub fn none() -> Probes {
        Probes {
            file: None,
            margin: SETTLED,
            known: HashMap::new(),
            used: HashMap::new(),
            learned: false,
        }
    }

    /// The table in `file`, remembering files changed at least `margin` ago.
    pub fn with_margin(file: PathBuf, margin: Duration) -> Probes {
        let text = fs::read_to_string(&file).unwrap_or_default();
        let known = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (key, answer) = line.split_once('\t')?;
                let answer = answer.replace('\t', "\n");
                Some((key.to_owned(), answer))
            })
            .collect();
        Probes {
            file: Some(file),
            margin,
            known,
            used: HashMap::new(),
            learned: false,
        }
    }

    /// The key of `path` as its files are now; None when they cannot be remembered.
    pub fn key(&self, path: &Path) -> Option<String> {
        self.file.as_ref()?;
        let now = SystemTime::now();
        let real = fs::canonicalize(path).ok()?;
        let lib = real.parent()?.parent()?.join("lib");
        let device = trusted_device(real.parent()?)?;
        let mut key = format!(
            "{}\n{}\n{}\n",
            super::interpreter::PROBE,
            path.display(),
            real.display()
        );
        for (file, follow) in [(path, false), (real.as_path(), true), (lib.as_path(), true)] {
            let meta = if follow {
                fs::metadata(file)
            } else {
                fs::symlink_metadata(file)
            };
            let Ok(meta) = meta else {
                // No lib folder (another layout) is part of the state too.
                key.push_str("none\n");
                continue;
            };
            let identity = Identity::of(&meta)?;
            if !identity.settled(now, self.margin) || !same_device(&meta, device) {
                return None;
            }
            identity.write(&mut key);
            key.push('\n');
        }
        Some(crate::digest::hash(key.as_bytes()))
    }

    /// The answer remembered under `key`.
    pub fn answer(&mut self, key: &str) -> Option<String> {
        let answer = self.known.get(key)?.clone();
        self.used.insert(key.to_owned(), answer.clone());
        Some(answer)
    }

    /// Remembers a successful probe's answer (its standard output).
    pub fn learn(&mut self, key: String, answer: &str) {
        if answer.contains('\t') || answer.trim_end().contains("\n\n") {
            return;
        }
        self.used.insert(key.clone(), answer.to_owned());
        self.known.insert(key, answer.to_owned());
        self.learned = true;
    }

    /// Writes the table back when this run learned an answer; a failure costs probes, no more.
    pub fn save(&self) {
        let Some(file) = self.file.as_ref().filter(|_| self.learned) else {
            return;
        };
        let entries = if self.known.len() > KEEP {
            &self.used
        } else {
            &self.known
        };
        let mut lines: Vec<String> = entries
            .iter()
            .map(|(key, answer)| format!("{key}\t{}\n", answer.trim_end().replace('\n', "\t")))
            .collect();
        lines.sort();
        let text = format!("{HEADER}{}", lines.concat());
        if let Some(dir) = file.parent() {
            let _ = fs::create_dir_all(dir);
        }
        let _ = crate::fsutil::write_atomic(file, text.as_bytes());
    }
}

#[cfg(unix)]
fn same_device(meta: &fs::Metadata, device: u64) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    meta.dev() == device
}

#[cfg(not(unix))]
fn same_device(_meta: &fs::Metadata, _device: u64) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::env::interpreter::{Discovery, discover_from};
    use std::os::unix::fs::PermissionsExt as _;

    /// What a discovery found, as `version path` lines, and its rejections' paths.
    fn found(discovery: &Discovery) -> (Vec<String>, Vec<PathBuf>) {
        let found = discovery
            .found
            .iter()
            .map(|i| format!("{} {}", i.version, i.path.display()))
            .collect();
        (
            found,
            discovery.rejected.iter().map(|r| r.path.clone()).collect(),
        )
    }

    /// Writes a fake Python answering `version` (or failing), which counts its runs in `runs`.
    fn write_python(path: &Path, version: &str, runs: &Path) {
        let answer = if version.is_empty() {
            "exit 1".to_owned()
        } else {
            format!("echo {version}; echo \"$0\"")
        };
        let script = format!("#!/bin/sh\necho run >> '{}'\n{answer}\n", runs.display());
        // A file written anew, as installers do; the clock's coarse tick passes first.
        std::thread::sleep(Duration::from_millis(30));
        let tmp = path.with_extension("new");
        fs::write(&tmp, script).unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
        fs::rename(&tmp, path).unwrap();
    }

    /// Each change of a file an answer depends on is probed again, and every remembered
    /// discovery finds what a discovery that remembers nothing finds.
    #[test]
    fn an_answer_stands_while_its_files_do() {
        let dir = std::env::temp_dir().join(format!("xtask-probes-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (bin, lib) = (dir.join("prefix/bin"), dir.join("prefix/lib"));
        fs::create_dir_all(&bin).unwrap();
        fs::create_dir_all(&lib).unwrap();
        let runs_file = dir.join("runs");
        let runs = || {
            fs::read_to_string(&runs_file)
                .unwrap_or_default()
                .lines()
                .count()
        };
        let python = bin.join("python3.11");
        let link = bin.join("python3");
        write_python(&python, "3.11.4", &runs_file);
        std::os::unix::fs::symlink("python3.11", &link).unwrap();
        let table = dir.join("probes.txt");
        // A discovery with the table, and one with none, which must agree; the runs it took.
        let discover = |margin: Duration| {
            let before = runs();
            let mut probes = Probes::with_margin(table.clone(), margin);
            let remembered = discover_from(vec![link.clone()], &mut probes);
            probes.save();
            let took = runs() - before;
            let fresh = discover_from(vec![link.clone()], &mut Probes::none());
            assert_eq!(found(&remembered), found(&fresh));
            (found(&remembered).0, took)
        };
        let link_answer = |version: &str| vec![format!("{version} {}", link.display())];

        // Just written: not remembered (SETTLED), so probed every time.
        assert_eq!(discover(SETTLED), (link_answer("3.11.4"), 1));
        assert_eq!(discover(SETTLED), (link_answer("3.11.4"), 1));
        assert!(!table.exists());
        let settled = Duration::ZERO;
        assert_eq!(discover(settled), (link_answer("3.11.4"), 1));
        assert_eq!(
            discover(settled),
            (link_answer("3.11.4"), 0),
            "not remembered"
        );
        // An upgrade in place, of the same size.
        write_python(&python, "3.11.5", &runs_file);
        assert_eq!(discover(settled), (link_answer("3.11.5"), 1));
        assert_eq!(discover(settled).1, 0);
        // A library of the prefix replaced by a rename.
        std::thread::sleep(Duration::from_millis(30));
        fs::write(lib.join("libpython3.11.so.new"), "").unwrap();
        fs::rename(
            lib.join("libpython3.11.so.new"),
            lib.join("libpython3.11.so"),
        )
        .unwrap();
        assert_eq!(discover(settled).1, 1);
        assert_eq!(discover(settled).1, 0);
        // The link led to another file.
        write_python(&bin.join("python3.12"), "3.12.1", &runs_file);
        fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("python3.12", &link).unwrap();
        assert_eq!(discover(settled), (link_answer("3.12.1"), 1));
        // A failing probe is never remembered.
        write_python(&bin.join("python3.12"), "", &runs_file);
        assert_eq!(discover(settled), (vec![], 1));
        assert_eq!(discover(settled), (vec![], 1));
        // A remembered answer is judged again: a pyvenv.cfg beside it makes it a venv's.
        write_python(&bin.join("python3.12"), "3.12.1", &runs_file);
        assert_eq!(discover(settled).1, 1);
        fs::write(dir.join("prefix/pyvenv.cfg"), "home = /x\n").unwrap();
        assert_eq!(discover(settled), (vec![], 0));
        // Nothing remembered is read with `Probes::none` (`--no-cache`).
        fs::remove_file(dir.join("prefix/pyvenv.cfg")).unwrap();
        let before = runs();
        let fresh = discover_from(vec![link.clone()], &mut Probes::none());
        assert_eq!(
            (found(&fresh).0, runs() - before),
            (link_answer("3.12.1"), 1)
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
