//! The interpreters' answers to the probe (their version and `sys.executable`), remembered by
//! the state of the files that make them, so that a command choosing an interpreter (`lock`,
//! `add`, `new`, a setup whose venv's discovery key moved) need not start every Python found:
//! nine here, 110 ms of a command's time and 150 ms of CPU.
//!
//! What an answer depends on, and so what keys it: the path started (`sys.executable` is that
//! path), the file it leads to through links, the shared library that file loads from its
//! prefix (`<prefix>/lib`, `<prefix>/lib64`), the variables that tell the dynamic loader where
//! else to look (`LD_*`, `DYLD_*`), and the probe itself. Each file is recorded by its identity
//! (device, inode, size, modification and change times), as [`crate::file_digests`] records
//! files, and under the same conditions: only on a file system whose change times no program
//! can set, and only once the last change is [`SETTLED`] old (a Python installed while it was
//! probed is probed again). A version replaced in place (`pyenv install --force`, a package
//! upgrade, `make install`) writes its executable anew, which moves the inode or the change
//! time; a library replaced by a rename moves the times of its folder.
//!
//! Only an answer of the file itself is remembered: not when the file is a script (`#!`: an
//! asdf shim, a Nix wrapper, a hand-made `exec`, whose answer is another interpreter's, which
//! the key does not hold), nor when the answer's `sys.executable` leads to another file than the
//! one started (a launcher such as mise's shims). A failed probe is never remembered, and a
//! remembered answer is judged again on every use (a `pyvenv.cfg` that appeared beside it makes
//! it a venv's); one that no longer reads as an answer is forgotten and the candidate probed.
//! What this cannot see: a library rewritten in place (not replaced), which no installer does.
//! `--no-cache` probes every candidate.

use std::collections::HashMap;
use std::fs;
use std::io::Read as _;
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
    /// Whether a script's answer is remembered (the tests' fake interpreters are scripts).
    scripts: bool,
    known: HashMap<String, String>,
    used: HashMap<String, String>,
    learned: bool,
}

/// A candidate's key, and what its answer must agree with to be remembered.
pub struct Key {
    digest: String,
    /// The file the candidate leads to.
    real: PathBuf,
    script: bool,
}

impl Probes {
    /// The tools folder's table (none under `--no-cache`: nothing is read or written).
    pub fn load() -> Probes {
        if crate::file_digests::reads_every_file() {
            return Probes::none();
        }
        Probes::read(crate::project::tools_dir().join(FILE), SETTLED, false)
    }

    /// A table that remembers nothing.
    pub fn none() -> Probes {
        Probes {
            file: None,
            margin: SETTLED,
            scripts: false,
            known: HashMap::new(),
            used: HashMap::new(),
            learned: false,
        }
    }

    /// The table in `file`, remembering files changed at least `margin` ago.
    fn read(file: PathBuf, margin: Duration, scripts: bool) -> Probes {
        let text = fs::read_to_string(&file).unwrap_or_default();
        let known = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (key, answer) = line.split_once('\t')?;
                Some((key.to_owned(), answer.replace('\t', "\n")))
            })
            .collect();
        Probes {
            file: Some(file),
            margin,
            scripts,
            known,
            used: HashMap::new(),
            learned: false,
        }
    }

    /// The key of `path` (leading to the file `real`, its canonical path) as its files are now;
    /// None when they cannot be remembered.
    pub fn key(&self, path: &Path, real: PathBuf) -> Option<Key> {
        self.file.as_ref()?;
        let now = SystemTime::now();
        let prefix = real.parent()?.parent()?;
        let device = trusted_device(real.parent()?)?;
        let mut key = format!(
            "{}\n{}\n{}\n",
            super::interpreter::PROBE,
            path.display(),
            real.display()
        );
        let (lib, lib64) = (prefix.join("lib"), prefix.join("lib64"));
        for (file, follow) in [(path, false), (&real, true), (&lib, true), (&lib64, true)] {
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
            if !identity.settled(now, self.margin) || identity.device() != device {
                return None;
            }
            identity.write(&mut key);
            key.push('\n');
        }
        key +=
            &crate::digest::variables(|name| name.starts_with("LD_") || name.starts_with("DYLD_"));
        let script = is_script(&real)?;
        Some(Key {
            digest: crate::digest::hash(key.as_bytes()),
            real,
            script,
        })
    }

    /// The answer remembered under `key`.
    pub fn answer(&mut self, key: &Key) -> Option<String> {
        let answer = self.known.get(&key.digest)?.clone();
        self.used.insert(key.digest.clone(), answer.clone());
        Some(answer)
    }

    /// Forgets the answer under `key`: it no longer reads as one.
    pub fn forget(&mut self, key: &Key) {
        self.known.remove(&key.digest);
        self.used.remove(&key.digest);
        self.learned = true;
    }

    /// Remembers a successful probe's answer (its standard output), when it is the file's own:
    /// the file is no script, and the answer's executable leads to it.
    pub fn learn(&mut self, key: Key, answer: &str, executable: &Path) {
        let own = fs::canonicalize(executable).is_ok_and(|e| e == key.real);
        if !own || key.script && !self.scripts || answer.contains('\t') {
            return;
        }
        self.used.insert(key.digest.clone(), answer.to_owned());
        self.known.insert(key.digest, answer.to_owned());
        self.learned = true;
    }

    /// Writes the table back when this run changed it; a failure costs probes, no more.
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

/// Whether the file starts with `#!`; None when it cannot be read.
fn is_script(path: &Path) -> Option<bool> {
    let mut start = [0u8; 2];
    let read = fs::File::open(path).ok()?.read(&mut start).ok()?;
    Some(read == 2 && start == *b"#!")
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::env::interpreter::{Discovery, discover_from};
    use std::os::unix::fs::PermissionsExt as _;

    /// A prefix of fake Pythons in a temporary folder (removed when dropped), which count their
    /// runs, and a table beside it.
    struct Scratch {
        dir: PathBuf,
    }

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(dir.join("prefix/bin")).unwrap();
            fs::create_dir_all(dir.join("prefix/lib")).unwrap();
            Scratch { dir }
        }

        fn path(&self, rel: &str) -> PathBuf {
            self.dir.join(rel)
        }

        fn runs(&self) -> usize {
            let runs = fs::read_to_string(self.path("runs")).unwrap_or_default();
            runs.lines().count()
        }

        /// Writes `prefix/bin/<name>` anew, as installers do, answering `version` (or failing
        /// when it is empty); the clock's coarse tick passes first.
        fn python(&self, name: &str, version: &str) -> PathBuf {
            let path = self.path(&format!("prefix/bin/{name}"));
            let answer = match version {
                "" => "exit 1".to_owned(),
                _ => format!("echo {version}; echo \"$0\""),
            };
            let runs = self.path("runs");
            let script = format!("#!/bin/sh\necho run >> '{}'\n{answer}\n", runs.display());
            std::thread::sleep(Duration::from_millis(30));
            let tmp = path.with_extension("new");
            fs::write(&tmp, script).unwrap();
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
            fs::rename(&tmp, &path).unwrap();
            path
        }

        fn table(&self, margin: Duration, scripts: bool) -> Probes {
            Probes::read(self.path("probes.txt"), margin, scripts)
        }

        /// A discovery of `candidate` with the table (files changed `margin` ago remembered,
        /// scripts too), which must find what one with no table finds: what it found, and the
        /// runs it took.
        fn discover(&self, candidate: &Path, margin: Duration) -> (Vec<String>, usize) {
            let before = self.runs();
            let mut probes = self.table(margin, true);
            let remembered = discover_from(vec![candidate.to_path_buf()], &mut probes);
            probes.save();
            let took = self.runs() - before;
            let fresh = discover_from(vec![candidate.to_path_buf()], &mut Probes::none());
            assert_eq!(found(&remembered), found(&fresh));
            (found(&remembered).0, took)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    /// What a discovery found, as `version path` lines, and its rejections' paths.
    fn found(discovery: &Discovery) -> (Vec<String>, Vec<PathBuf>) {
        let found = discovery.found.iter();
        let found = found.map(|i| format!("{} {}", i.version, i.path.display()));
        let rejected = discovery.rejected.iter().map(|r| r.path.clone());
        (found.collect(), rejected.collect())
    }

    const SETTLED_NOW: Duration = Duration::ZERO;

    /// Each change of a file an answer depends on is probed again.
    #[test]
    fn a_change_of_a_file_the_answer_depends_on_is_probed_again() {
        let scratch = Scratch::new("probes-change");
        let python = scratch.python("python3.11", "3.11.4");
        let link = scratch.path("prefix/bin/python3");
        std::os::unix::fs::symlink("python3.11", &link).unwrap();
        let answer = |version: &str| vec![format!("{version} {}", link.display())];
        // Just written: not remembered, so probed every time.
        assert_eq!(scratch.discover(&link, SETTLED), (answer("3.11.4"), 1));
        assert_eq!(scratch.discover(&link, SETTLED), (answer("3.11.4"), 1));
        assert!(!scratch.path("probes.txt").exists());
        assert_eq!(scratch.discover(&link, SETTLED_NOW), (answer("3.11.4"), 1));
        assert_eq!(scratch.discover(&link, SETTLED_NOW), (answer("3.11.4"), 0));
        // An upgrade in place, of the same size.
        assert_eq!(python, scratch.python("python3.11", "3.11.5"));
        assert_eq!(scratch.discover(&link, SETTLED_NOW), (answer("3.11.5"), 1));
        assert_eq!(scratch.discover(&link, SETTLED_NOW).1, 0);
        // A library of the prefix replaced by a rename.
        std::thread::sleep(Duration::from_millis(30));
        let lib = scratch.path("prefix/lib/libpython3.11.so");
        fs::write(lib.with_extension("new"), "").unwrap();
        fs::rename(lib.with_extension("new"), &lib).unwrap();
        assert_eq!(scratch.discover(&link, SETTLED_NOW).1, 1);
        assert_eq!(scratch.discover(&link, SETTLED_NOW).1, 0);
        // The link led to another file.
        scratch.python("python3.12", "3.12.1");
        fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("python3.12", &link).unwrap();
        assert_eq!(scratch.discover(&link, SETTLED_NOW), (answer("3.12.1"), 1));
        assert_eq!(scratch.discover(&link, SETTLED_NOW).1, 0);
    }

    /// A failed probe is never remembered; a remembered answer is judged again on each use, and
    /// one that is no longer an answer is probed again; `--no-cache` reads nothing.
    #[test]
    fn failures_and_what_is_no_answer_now_are_probed_again() {
        let scratch = Scratch::new("probes-failures");
        let python = scratch.python("python3", "");
        let answer = vec![format!("3.12.1 {}", python.display())];
        assert_eq!(scratch.discover(&python, SETTLED_NOW), (vec![], 1));
        assert_eq!(scratch.discover(&python, SETTLED_NOW), (vec![], 1));
        scratch.python("python3", "3.12.1");
        assert_eq!(scratch.discover(&python, SETTLED_NOW), (answer.clone(), 1));
        // A pyvenv.cfg beside it makes it a venv's.
        fs::write(scratch.path("prefix/pyvenv.cfg"), "home = /x\n").unwrap();
        assert_eq!(scratch.discover(&python, SETTLED_NOW), (vec![], 1));
        fs::remove_file(scratch.path("prefix/pyvenv.cfg")).unwrap();
        assert_eq!(scratch.discover(&python, SETTLED_NOW), (answer.clone(), 1));
        assert_eq!(scratch.discover(&python, SETTLED_NOW), (answer.clone(), 0));
        // With no table, every candidate is run.
        let before = scratch.runs();
        discover_from(vec![python.clone()], &mut Probes::none());
        assert_eq!(scratch.runs() - before, 1);
        // An entry edited by hand into no answer.
        let real = fs::canonicalize(&python).unwrap();
        let key = scratch.table(SETTLED_NOW, true).key(&python, real).unwrap();
        let text = fs::read_to_string(scratch.path("probes.txt")).unwrap();
        let digest = &key.digest;
        let edited = text.replace(&format!("{digest}\t3.12.1"), &format!("{digest}\tgarbage"));
        assert_ne!(text, edited);
        fs::write(scratch.path("probes.txt"), edited).unwrap();
        assert_eq!(scratch.discover(&python, SETTLED_NOW), (answer.clone(), 1));
        assert_eq!(scratch.discover(&python, SETTLED_NOW), (answer, 0));
    }

    /// An answer that is not the file's own is never remembered: a script's (it may start
    /// another interpreter, which the key does not hold), and one whose executable is another
    /// file (a launcher).
    #[test]
    fn only_a_files_own_answer_is_remembered() {
        let scratch = Scratch::new("probes-own");
        let python = scratch.python("python3", "3.11.4");
        let runs_of = |mut probes: Probes, candidate: &Path| {
            let before = scratch.runs();
            for _ in 0..2 {
                discover_from(vec![candidate.to_path_buf()], &mut probes);
            }
            scratch.runs() - before
        };
        // As the xtask runs: a script is probed every time.
        assert_eq!(runs_of(scratch.table(SETTLED_NOW, false), &python), 2);
        // A launcher that answers for another file: probed every time, scripts or not.
        let other = scratch.python("python3.11", "3.11.4");
        let launcher = scratch.python("launcher", "3.11.4");
        let text = fs::read_to_string(&launcher).unwrap();
        let text = text.replace("\"$0\"", &format!("'{}'", other.display()));
        fs::write(&launcher, text).unwrap();
        assert_eq!(runs_of(scratch.table(SETTLED_NOW, true), &launcher), 2);
        // The file's own answer, scripts allowed (the tests' fakes): remembered.
        assert_eq!(runs_of(scratch.table(SETTLED_NOW, true), &python), 1);
    }
}
