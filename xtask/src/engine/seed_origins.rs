//! Which venv made each of a mypy seed's entries, by the entry's top-level name: what a job
//! seeding in one of those venvs must leave out (see [`crate::engine::caches`]).
//!
//! Why: mypy trusts an entry whose recorded path is the module's path while the module's size
//! and time are those it recorded; an entry made at another path it checks by the module's
//! hash. An entry of an installed package made in this very venv, by an install it no longer
//! holds, would be trusted on size and time alone, so it is left out. Without this record, every
//! installed package's entries were left out once the venv had ever added any entry to the seed:
//! a tree at a path a seed had seen (another checkout at the same place, a test's slot) analysed
//! pytest again in its first mypy run (1.8 s of CPU instead of 0.3 s). The record names, for
//! each venv, the top-level names of the entries it added; a name two venvs added is left out in
//! both. A seed an older xtask made has no record: every entry counts as made by every venv it
//! lists.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::fsutil;

/// The record's file in a seed.
const ORIGINS: &str = "origins";

/// Pairs of a venv and the top-level name of an entry it added.
#[derive(Default)]
pub struct Origins(BTreeSet<(String, String)>);

impl Origins {
    /// The seed's record; for a seed without one, every top-level name in its mypy folder `mypy`
    /// as made by each of `venvs`.
    pub fn of(seed: &Path, mypy: &Path, venvs: &[String]) -> Origins {
        match fs::read(seed.join(ORIGINS)) {
            Ok(bytes) => Origins::parse(&bytes),
            Err(_) => {
                let names = top_names(mypy);
                let pairs = venvs
                    .iter()
                    .flat_map(|venv| names.iter().map(move |name| (venv.clone(), name.clone())));
                Origins(pairs.collect())
            }
        }
    }

    /// The record of `seed`, or None when it has none (an older xtask's seed).
    pub fn read(seed: &Path) -> Option<Origins> {
        fs::read(seed.join(ORIGINS))
            .ok()
            .map(|bytes| Origins::parse(&bytes))
    }

    /// Fields separated by NUL (a path may hold any other byte): venv, name, venv, name, ...
    fn parse(bytes: &[u8]) -> Origins {
        let text = String::from_utf8_lossy(bytes);
        let fields: Vec<&str> = text.split('\0').collect();
        let pairs = fields
            .chunks_exact(2)
            .map(|pair| (pair[0].to_owned(), pair[1].to_owned()));
        Origins(pairs.collect())
    }

    /// Records that `venv` added the entries at `added` (paths below a mypy cache folder).
    pub fn add(&mut self, venv: &str, added: &[PathBuf]) {
        for name in added.iter().filter_map(|rel| top_name(rel)) {
            self.0.insert((venv.to_owned(), name));
        }
    }

    /// The top-level names of the entries `venv` added.
    pub fn made_by(&self, venv: &str) -> BTreeSet<String> {
        self.0
            .iter()
            .filter(|(v, _)| v == venv)
            .map(|(_, name)| name.clone())
            .collect()
    }

    pub fn write(&self, seed: &Path) {
        let text: String = self
            .0
            .iter()
            .map(|(venv, name)| format!("{venv}\0{name}\0"))
            .collect();
        let _ = fs::write(seed.join(ORIGINS), text);
    }
}

/// The top-level name of the entry at `rel` below a mypy cache folder: `3.10/_pytest/python.meta.ff`
/// and `3.10/_pytest.meta.ff` are `_pytest`'s.
fn top_name(rel: &Path) -> Option<String> {
    let entry = rel.components().nth(1)?.as_os_str().to_string_lossy();
    Some(entry.split('.').next().unwrap_or(&entry).to_owned())
}

/// The top-level names of the entries in a mypy cache folder.
fn top_names(mypy: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (version, version_name, meta) in fsutil::entries(mypy) {
        if meta.is_dir() {
            for (_, name, _) in fsutil::entries(&version) {
                names.extend(top_name(&Path::new(&version_name).join(name)));
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_with_paths_of_any_byte() {
        let dir = std::env::temp_dir().join(format!("xtask-origins-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mut origins = Origins::default();
        let venv = "/a b/line\nbreak/.venv";
        origins.add(
            venv,
            &[
                PathBuf::from("3.10/_pytest/python.meta.ff"),
                PathBuf::from("3.10/pluggy.data.ff"),
            ],
        );
        origins.add("/other/.venv", &[PathBuf::from("3.10/builtins.meta.ff")]);
        origins.write(&dir);
        let read = Origins::read(&dir).unwrap();
        assert_eq!(
            read.made_by(venv),
            BTreeSet::from(["_pytest".to_owned(), "pluggy".to_owned()])
        );
        assert_eq!(
            read.made_by("/other/.venv"),
            BTreeSet::from(["builtins".to_owned()])
        );
        assert!(read.made_by("/a b").is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_seed_without_a_record_counts_every_entry_as_every_venvs() {
        let dir = std::env::temp_dir().join(format!("xtask-origins-old-{}", std::process::id()));
        let mypy = dir.join("mypy");
        fs::create_dir_all(mypy.join("3.10/_pytest")).unwrap();
        fs::write(mypy.join("3.10/_pytest/python.meta.ff"), "").unwrap();
        fs::write(mypy.join("3.10/os.meta.ff"), "").unwrap();
        let origins = Origins::of(&dir, &mypy, &["/v/.venv".to_owned()]);
        assert_eq!(
            origins.made_by("/v/.venv"),
            BTreeSet::from(["_pytest".to_owned(), "os".to_owned()])
        );
        assert!(Origins::read(&dir).is_none());
        fs::remove_dir_all(&dir).unwrap();
    }
}
