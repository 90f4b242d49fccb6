//! Which venv made each of a mypy seed's entries, by the entry's top-level name: what a job
//! seeding in one of those venvs must leave out (see [`crate::engine::caches`]).
//!
//! Why: mypy trusts an entry whose recorded path is the module's path while the module's size
//! and time are those it recorded; an entry made at another path it checks by the module's
//! hash. An entry of an installed package made in this very venv, by an install it no longer
//! holds, would be trusted on size and time alone, so it is left out. Without this record, every
//! installed package's entries were left out once the venv had ever added any entry to the seed:
//! a tree at a path a seed had seen (another checkout at the same place, a test's slot) analysed
//! pytest again in its first mypy run (1.8 s of CPU instead of 0.3 s).
//!
//! The record names, for each venv, the top-level names of the entries it added; a name two
//! venvs added counts for both. An entry a job publishes may have come to it by seeding, with
//! another venv's path: each job keeps the same record of what it received (its `origins`), and
//! what it publishes carries those pairs along with its own venv's. A seed or a job without a
//! record (an older xtask's) is of unknown origins: a job does not seed from it, nor publish
//! from caches without one.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The record's file in a seed.
pub const ORIGINS: &str = "origins";

/// Pairs of a venv and the top-level name of an entry it added.
#[derive(Default)]
pub struct Origins(BTreeSet<(String, String)>);

impl Origins {
    /// The record in `dir` (a seed or a job's caches), or None when it has none (an older
    /// xtask's).
    pub fn read(dir: &Path) -> Option<Origins> {
        fs::read(dir.join(ORIGINS))
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

    /// Whether `dir` holds a record, without reading it: a publish reads a seed's record after
    /// the seed's generation, so that both are of the entries it copies.
    pub fn held_by(dir: &Path) -> bool {
        dir.join(ORIGINS).is_file()
    }

    /// Records that `venv` added the entries at `added` (paths below a mypy cache folder).
    pub fn add(&mut self, venv: &str, added: &[PathBuf]) {
        for name in names_of(added) {
            self.0.insert((venv.to_owned(), name));
        }
    }

    /// Adds every pair of `other` whose name is one of `names`.
    pub fn add_pairs_of(&mut self, other: &Origins, names: &BTreeSet<String>) {
        let pairs = other.0.iter().filter(|(_, name)| names.contains(name));
        self.0.extend(pairs.cloned());
    }

    /// The top-level names of the entries `venv` added.
    pub fn made_by(&self, venv: &str) -> BTreeSet<String> {
        self.0
            .iter()
            .filter(|(v, _)| v == venv)
            .map(|(_, name)| name.clone())
            .collect()
    }

    pub fn write(&self, dir: &Path) {
        let text: String = self
            .0
            .iter()
            .map(|(venv, name)| format!("{venv}\0{name}\0"))
            .collect();
        let _ = fs::write(dir.join(ORIGINS), text);
    }
}

/// The top-level name of the entry at `rel` below a mypy cache folder: `3.10/_pytest/python.meta.ff`
/// and `3.10/_pytest.meta.ff` are `_pytest`'s.
fn top_name(rel: &Path) -> Option<String> {
    let entry = rel.components().nth(1)?.as_os_str().to_string_lossy();
    Some(entry.split('.').next().unwrap_or(&entry).to_owned())
}

/// The top-level names of the entries at `rels` (paths below a mypy cache folder).
pub fn names_of(rels: &[PathBuf]) -> BTreeSet<String> {
    rels.iter().filter_map(|rel| top_name(rel)).collect()
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
    fn pairs_are_carried_for_the_names_asked() {
        let mut received = Origins::default();
        received.add("/y/.venv", &[PathBuf::from("3.10/numpy/core.meta.ff")]);
        received.add("/z/.venv", &[PathBuf::from("3.10/six.meta.ff")]);
        let mut published = Origins::default();
        let added = [PathBuf::from("3.10/numpy/linalg.data.ff")];
        published.add("/v/.venv", &added);
        published.add_pairs_of(&received, &names_of(&added));
        assert_eq!(
            published.made_by("/y/.venv"),
            BTreeSet::from(["numpy".to_owned()])
        );
        assert!(published.made_by("/z/.venv").is_empty());
        assert_eq!(
            published.made_by("/v/.venv"),
            BTreeSet::from(["numpy".to_owned()])
        );
    }
}
