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

    /// The key of `path` as its files are now; None when they cannot be remembered.
    pub fn key(&self, path: &Path) -> Option<Key> {
        self.file.as_ref()?;
        let now = SystemTime::now();
        let real = fs::canonicalize(path).ok()?;
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
            if !identity.settled(now, self.margin) || !same_device(&meta, device) {
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
            let mut probes = Probes::read(table.clone(), margin, true);
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
        assert_eq!(discover(settled), (vec![], 1), "probed again");
        // Nothing remembered is read with `Probes::none` (`--no-cache`).
        fs::remove_file(dir.join("prefix/pyvenv.cfg")).unwrap();
        let before = runs();
        let fresh = discover_from(vec![link.clone()], &mut Probes::none());
        assert_eq!(
            (found(&fresh).0, runs() - before),
            (link_answer("3.12.1"), 1)
        );

        // An entry that no longer reads as an answer (a hand edit) is forgotten and probed.
        assert_eq!(discover(settled).1, 1);
        let key = Probes::read(table.clone(), settled, true)
            .key(&link)
            .unwrap();
        let text = fs::read_to_string(&table).unwrap();
        let edited = text.replace(
            &format!("{}\t3.12.1", key.digest),
            &format!("{}\tgarbage", key.digest),
        );
        assert_ne!(text, edited);
        fs::write(&table, edited).unwrap();
        assert_eq!(discover(settled), (link_answer("3.12.1"), 1));
        assert_eq!(discover(settled).1, 0);
        let _ = fs::remove_dir_all(&dir);
    }

    /// An answer that is not the file's own is never remembered: a script's (it may start
    /// another interpreter, which the key does not hold), and one whose executable is another
    /// file (a launcher).
    #[test]
    fn only_a_files_own_answer_is_remembered() {
        let dir = std::env::temp_dir().join(format!("xtask-probes-own-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let bin = dir.join("prefix/bin");
        fs::create_dir_all(&bin).unwrap();
        let runs_file = dir.join("runs");
        let runs = || {
            fs::read_to_string(&runs_file)
                .unwrap_or_default()
                .lines()
                .count()
        };
        let table = dir.join("probes.txt");
        let python = bin.join("python3");
        write_python(&python, "3.11.4", &runs_file);
        let runs_of = |probes: &mut Probes, candidate: &Path| {
            let before = runs();
            for _ in 0..2 {
                discover_from(vec![candidate.to_path_buf()], probes);
            }
            runs() - before
        };
        // As the xtask runs: a script is probed every time.
        assert_eq!(
            runs_of(
                &mut Probes::read(table.clone(), Duration::ZERO, false),
                &python
            ),
            2
        );
        // A launcher that answers for another file: probed every time, scripts or not.
        let other = bin.join("python3.11");
        write_python(&other, "3.11.4", &runs_file);
        let launcher = bin.join("launcher");
        let script = format!(
            "#!/bin/sh\necho run >> '{}'\necho 3.11.4; echo '{}'\n",
            runs_file.display(),
            other.display()
        );
        fs::write(&launcher, script).unwrap();
        fs::set_permissions(&launcher, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            runs_of(
                &mut Probes::read(table.clone(), Duration::ZERO, true),
                &launcher
            ),
            2
        );
        // The file's own answer, scripts allowed (the tests' fakes): remembered.
        assert_eq!(
            runs_of(
                &mut Probes::read(table.clone(), Duration::ZERO, true),
                &python
            ),
            1
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
