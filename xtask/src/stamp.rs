//! The stamp: a fingerprint of everything a venv's content depends on, recorded in the venv after a
//! successful setup. Equal fingerprints mean there is nothing to do.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result};
use toml_edit::{DocumentMut, Item, Table, value};

use crate::fsutil;

/// Bumped whenever the way a venv is built changes, so every existing venv is rebuilt.
pub const RECIPE_VERSION: &str = "1";

/// FNV-1a, 64 bits: stable across Rust versions and platforms (unlike `DefaultHasher`), and enough
/// to notice that a file changed.
pub struct Fnv(u64);

impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub fn finish(&self) -> String {
        format!("{:016x}", self.0)
    }
}

pub fn hash(bytes: &[u8]) -> String {
    let mut h = Fnv::new();
    h.write(bytes);
    h.finish()
}

/// A hash of every file under `dir` (paths and contents), skipping venvs, caches and build
/// leftovers: what the tools read, not what they write.
pub fn hash_tree(dir: &Path) -> String {
    hash_tree_except(dir, &[])
}

/// [`hash_tree`] without the folders in `skip`.
pub fn hash_tree_except(dir: &Path, skip: &[&Path]) -> String {
    fn walk(base: &Path, dir: &Path, skip: &[&Path], h: &mut Fnv) {
        for (path, name, meta) in fsutil::entries(dir) {
            if crate::leftovers::is_leftover(&name, meta.is_dir())
                || [".venv", ".venv.lock", ".git"].contains(&name.as_str())
                || skip.contains(&path.as_path())
            {
                continue;
            }
            h.write(fsutil::display_rel(base, &path).as_bytes());
            h.write(&[0]);
            if meta.is_dir() {
                walk(base, &path, skip, h);
            } else {
                // A symlink counts by where it points, a file by its content.
                let content = match fs::read_link(&path) {
                    Ok(target) => target.to_string_lossy().into_owned().into_bytes(),
                    Err(_) => fs::read(&path).unwrap_or_default(),
                };
                h.write(&content);
                h.write(&[0]);
            }
        }
    }
    let mut h = Fnv::new();
    walk(dir, dir, skip, &mut h);
    h.finish()
}

/// Size and modification time of a file or folder: a cheap stand-in for its identity.
pub fn file_meta(path: &Path) -> String {
    match fs::metadata(path) {
        Ok(meta) => {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{mtime}", meta.len())
        }
        Err(_) => "missing".to_owned(),
    }
}

/// Named inputs and their values (hashes, versions, paths), in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint(pub BTreeMap<String, String>);

impl Fingerprint {
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Adds a file's content hash under `file:<path relative to root>`.
    pub fn add_file(&mut self, root: &Path, path: &Path) -> Result<()> {
        let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        self.set(
            format!("file:{}", fsutil::display_rel(root, path)),
            hash(&bytes),
        );
        Ok(())
    }

    /// The keys of `self` whose values differ from (or are missing in) `old`, and keys only `old`
    /// has: what changed since the stamp was written.
    pub fn changed_since(&self, old: &Fingerprint) -> Vec<String> {
        let mut keys: Vec<String> = self
            .0
            .iter()
            .filter(|(k, v)| old.0.get(*k) != Some(v))
            .map(|(k, _)| k.clone())
            .collect();
        keys.extend(old.0.keys().filter(|k| !self.0.contains_key(*k)).cloned());
        keys.sort();
        keys
    }

    /// The subset of keys with a given prefix.
    pub fn only(&self, keys: &[&str]) -> Fingerprint {
        Fingerprint(
            self.0
                .iter()
                .filter(|(k, _)| keys.iter().any(|p| k.starts_with(p)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    pub fn read(path: &Path) -> Option<Fingerprint> {
        let text = fs::read_to_string(path).ok()?;
        let doc: DocumentMut = text.parse().ok()?;
        let table = doc.get("fingerprint")?.as_table()?;
        let map = table
            .iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v.as_str()?.to_owned())))
            .collect();
        Some(Fingerprint(map))
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let mut doc = DocumentMut::new();
        let mut table = Table::new();
        for (k, v) in &self.0 {
            table.insert(k, value(v.as_str()));
        }
        doc.insert("fingerprint", Item::Table(table));
        let text = format!(
            "# Written by `cargo xtask setup` after a successful install; do not edit.\n{doc}"
        );
        fsutil::write_atomic(path, text.as_bytes())
    }
}

/// A human description of a changed key: `python/libs/common/pyproject.toml changed`.
pub fn describe(key: &str) -> String {
    match key.split_once(':') {
        Some(("file", path)) => format!("{path} changed"),
        _ => format!("{key} changed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_hash_sees_sources_and_ignores_leftovers() {
        let dir = std::env::temp_dir().join(format!("xtask-tree-hash-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src/pkg/__pycache__")).unwrap();
        fs::write(dir.join("src/pkg/a.py"), "A = 1\n").unwrap();
        let before = hash_tree(&dir);
        fs::write(dir.join("src/pkg/__pycache__/a.pyc"), "x").unwrap();
        fs::write(dir.join(".coverage"), "x").unwrap();
        assert_eq!(hash_tree(&dir), before, "leftovers changed the hash");
        fs::write(dir.join("src/pkg/a.py"), "A = 2\n").unwrap();
        assert_ne!(hash_tree(&dir), before, "a source change did not");
        let without_src = hash_tree_except(&dir, &[&dir.join("src")]);
        fs::write(dir.join("src/pkg/a.py"), "A = 3\n").unwrap();
        assert_eq!(
            hash_tree_except(&dir, &[&dir.join("src")]),
            without_src,
            "a skipped folder counted"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hash_is_stable_and_sensitive() {
        assert_eq!(hash(b""), "cbf29ce484222325");
        assert_eq!(hash(b"a"), "af63dc4c8601ec8c");
        assert_ne!(hash(b"dependencies = []"), hash(b"dependencies = [ ]"));
    }

    #[test]
    fn changes_are_named_and_a_round_trip_keeps_everything() {
        let mut a = Fingerprint::default();
        a.set("recipe", "1");
        a.set("file:python/libs/common/pyproject.toml", "aa");
        a.set("python.version", "3.10.13");
        let mut b = a.clone();
        assert!(b.changed_since(&a).is_empty());
        b.set("file:python/libs/common/pyproject.toml", "bb");
        b.0.remove("python.version");
        b.set("installer.name", "uv");
        assert_eq!(
            b.changed_since(&a),
            [
                "file:python/libs/common/pyproject.toml",
                "installer.name",
                "python.version"
            ]
        );
        assert_eq!(
            describe("file:python/libs/common/pyproject.toml"),
            "python/libs/common/pyproject.toml changed"
        );

        let path = std::env::temp_dir().join(format!("xtask-stamp-{}.toml", std::process::id()));
        b.write(&path).unwrap();
        assert_eq!(Fingerprint::read(&path), Some(b.clone()));
        assert_eq!(b.only(&["file:"]).0.len(), 1);
        fs::remove_file(&path).unwrap();
        assert_eq!(Fingerprint::read(&path), None);
    }
}
