//! Remembered passes: the output of a job that passed, filed under the digest of its inputs
//! ([`Key`]). A job whose key has a file is not run again; its output is shown, marked cached.
//!
//! A few passes are kept per job, not one: switching back and forth between two states (two
//! terminals with different variables, a branch and back) finds the earlier pass again. Each
//! file is named by its key, so a file can only ever serve the inputs it was made from.

use std::fs;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::engine::inputs::Key;
use crate::fsutil;

/// Why nothing remembered is used when the xtask cannot read its own executable.
const UNKNOWN_BUILD: &str = "the xtask cannot read its own executable, so which build it is \
                             cannot be told: nothing remembered is used or kept";

/// How many passes are kept per job.
const KEEP: usize = 4;

pub struct Memo {
    /// The folder of memos (in the venv the job runs in).
    pub dir: PathBuf,
    /// The job, as a file name: `pytest-common--media-service-venv-`.
    pub id: String,
    pub key: Key,
    /// What the key was made of, to make it again after the job ran.
    pub spec: Rekey,
}

/// How a job's key is made again after it ran (a pass is filed only when it is the same).
#[derive(Debug, Clone)]
pub enum Rekey {
    /// A tool job's inputs (see [`crate::engine::inputs::Inputs::key_of`]).
    Inputs(KeySpec),
    /// A check's own inputs: files read whole, and fixed parts (a tool's version).
    Files(FileKey),
}

/// The key of a check that reads a few files: each under its label, with the fixed parts.
#[derive(Debug, Clone)]
pub struct FileKey {
    pub files: Vec<(String, PathBuf)>,
    pub fixed: Vec<(String, String)>,
}

impl FileKey {
    pub fn key(&self) -> Key {
        let mut parts = self.fixed.clone();
        parts.push((
            "the xtask's build".to_owned(),
            crate::own_binary::key_part(),
        ));
        for (label, path) in &self.files {
            parts.push((label.clone(), crate::digest::file_content(path)));
        }
        let mut key = Key {
            digest: String::new(),
            parts,
        };
        key.digest = crate::digest::hash(key.record().as_bytes());
        key
    }
}

/// What a job's key is made of: see [`crate::engine::inputs::Inputs::key`].
#[derive(Debug, Clone)]
pub struct KeySpec {
    pub command: String,
    /// The owner of the venv the job runs in.
    pub venv: String,
    /// The packages whose files the job reads.
    pub packages: Vec<String>,
    pub reads_layout: bool,
}

impl Memo {
    fn file(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{}.{digest}.txt", self.id))
    }

    /// This job's memo files, newest first.
    fn files(&self) -> Vec<PathBuf> {
        let prefix = format!("{}.", self.id);
        let mut files: Vec<(SystemTime, PathBuf)> = fsutil::entries(&self.dir)
            .into_iter()
            .filter(|(_, name, _)| name.starts_with(&prefix) && name.ends_with(".txt"))
            .map(|(path, _, meta)| (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), path))
            .collect();
        files.sort_by_key(|f| std::cmp::Reverse(f.0));
        files.into_iter().map(|(_, path)| path).collect()
    }

    /// The remembered output, or why there is none: `Err("")` when the job never passed here,
    /// else which of its inputs changed since its last pass.
    pub fn read(&self) -> Result<String, String> {
        if crate::own_binary::digest().is_none() {
            return Err(UNKNOWN_BUILD.to_owned());
        }
        if let Ok(text) = fs::read_to_string(self.file(&self.key.digest)) {
            let (_, output) = text.split_once("\n\n").unwrap_or((&text, ""));
            return Ok(output.to_owned());
        }
        let Some(last) = self.files().into_iter().next() else {
            return Err(String::new());
        };
        let text = fs::read_to_string(last).unwrap_or_default();
        let (record, _) = text.split_once("\n\n").unwrap_or((&text, ""));
        let changed = self.key.changed_since(record);
        Err(if changed.is_empty() {
            "its inputs changed since its last pass".to_owned()
        } else {
            format!("changed since its last pass: {}", changed.join(", "))
        })
    }

    /// Files a pass, and forgets the oldest beyond [`KEEP`]. Best effort: a memo that cannot be
    /// written only means the job runs next time.
    pub fn write(&self, output: &str) {
        // A pass no later run could be served: kept, it would only push out one that can be.
        if crate::own_binary::digest().is_none() || fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let text = format!("{}\n{output}", self.key.record());
        if fsutil::write_atomic(&self.file(&self.key.digest), text.as_bytes()).is_err() {
            return;
        }
        for old in self.files().into_iter().skip(KEEP) {
            let _ = fs::remove_file(old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parts: &[(&str, &str)]) -> Key {
        Key {
            digest: parts.iter().map(|(_, d)| *d).collect::<Vec<_>>().join(""),
            parts: parts
                .iter()
                .map(|(l, d)| ((*l).to_owned(), (*d).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn a_pass_serves_only_its_own_inputs_and_a_few_are_kept() {
        let dir = std::env::temp_dir().join(format!("xtask-memo-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let memo = |k: Key| Memo {
            dir: dir.clone(),
            id: "pytest-x".into(),
            key: k,
            spec: Rekey::Inputs(KeySpec {
                command: String::new(),
                venv: String::new(),
                packages: Vec::new(),
                reads_layout: false,
            }),
        };
        let a = memo(key(&[("the command", "1"), ("the files of x", "a")]));
        assert_eq!(a.read(), Err(String::new()));
        a.write("passed\n");
        assert_eq!(a.read(), Ok("passed\n".to_owned()));
        let b = memo(key(&[("the command", "1"), ("the files of x", "b")]));
        assert_eq!(
            b.read(),
            Err("changed since its last pass: the files of x".to_owned())
        );
        b.write("passed b\n");
        assert_eq!(
            a.read(),
            Ok("passed\n".to_owned()),
            "the earlier pass is kept"
        );
        for n in 0..KEEP {
            std::thread::sleep(std::time::Duration::from_millis(10));
            memo(key(&[
                ("the command", "1"),
                ("the files of x", &format!("n{n}")),
            ]))
            .write("");
        }
        assert!(a.read().is_err(), "the oldest pass is forgotten");
        assert_eq!(a.files().len(), KEEP);
        fs::remove_dir_all(&dir).unwrap();
    }
}
