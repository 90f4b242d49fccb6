//! The stamp: a fingerprint of everything a venv's content depends on, recorded in the venv after a
//! successful setup. Equal fingerprints mean there is nothing to do.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use toml_edit::{DocumentMut, Item, Table, value};

use crate::digest::hash;
use crate::fsutil;
use crate::workspace::Package;
use crate::workspace::build_files::EXTENSION_SOURCES;

/// Bumped whenever the way a venv is built or known changes, so every existing venv is rebuilt
/// (3: its installed set is known by the contents of RECORD files, not their times).
pub const RECIPE_VERSION: &str = "3";

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
    /// A file that does not exist counts as `missing`: its coming back is a change too.
    pub fn add_file(&mut self, root: &Path, path: &Path) -> Result<()> {
        let value = match fs::read(path) {
            Ok(bytes) => hash(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "missing".to_owned(),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        self.set(format!("file:{}", fsutil::display_rel(root, path)), value);
        Ok(())
    }

    /// Adds a requirement file by its requirements alone (comment lines left out: a lock's
    /// header records its inputs, not what it installs) under `file:<path>`.
    /// Returns the file's text. A lock's header names the digest of its pins (`# pins:`),
    /// which `lock::status` checks against them before any setup: that digest is used as it is.
    pub fn add_pins(&mut self, root: &Path, path: &Path) -> Result<String> {
        let key = format!("file:{}", fsutil::display_rel(root, path));
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.set(key, "missing");
                return Ok(String::new());
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let recorded = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .find_map(|l| l.strip_prefix("# pins: "));
        let digest = match recorded {
            Some(digest) => digest.trim().to_owned(),
            None => {
                let body: String = text
                    .lines()
                    .filter(|l| !l.trim_start().starts_with('#'))
                    .collect::<Vec<_>>()
                    .join("\n");
                hash(body.as_bytes())
            }
        };
        self.set(key, digest);
        Ok(text)
    }

    /// Adds a folder's listing (names, sizes, times) under `listing:<path>`: a find-links folder,
    /// where a new wheel changes what gets installed.
    pub fn add_listing(&mut self, root: &Path, dir: &Path) {
        let mut h = crate::digest::Hasher::new();
        h.write(if dir.is_dir() { b"dir" } else { b"missing" });
        for (path, name, _) in fsutil::entries(dir) {
            h.write(name.as_bytes());
            h.write(crate::digest::file_meta(&path).as_bytes());
        }
        self.set(
            format!("listing:{}", fsutil::display_rel(root, dir)),
            h.finish(),
        );
    }

    /// Adds the build files of a package ([`Package::build_files`], present or missing) under
    /// `file:<path>`; with a `setup.py`, the sources of compiled extensions in its folder under
    /// `sources:<path>`; and the names of its import packages under `imports:<path>` (an editable
    /// served by an import hook knows the names it was built with).
    pub fn add_build_inputs(&mut self, root: &Path, package: &Package) -> Result<()> {
        for file in &package.build_files {
            self.add_file(root, file)?;
        }
        let rel = fsutil::display_rel(root, &package.dir);
        if package.dir.join("setup.py").is_file() {
            let tree = crate::digest::tree_listing(&package.dir, &[String::new()]);
            let mut h = crate::digest::Hasher::new();
            for file in &tree.files {
                if EXTENSION_SOURCES.iter().any(|s| file.rel.ends_with(s)) {
                    h.write(file.rel.as_bytes());
                    h.write(&[0]);
                    h.write(crate::digest::file_content(&package.dir.join(&file.rel)).as_bytes());
                    h.write(&[0]);
                }
            }
            self.set(format!("sources:{rel}"), h.finish());
        }
        self.set(format!("imports:{rel}"), package.import_names().join(" "));
        Ok(())
    }

    /// The keys [`Fingerprint::add_build_inputs`] sets for `package`.
    pub fn build_input_keys(root: &Path, package: &Package) -> Vec<String> {
        let rel = fsutil::display_rel(root, &package.dir);
        let mut keys: Vec<String> = package
            .build_files
            .iter()
            .map(|f| format!("file:{}", fsutil::display_rel(root, f)))
            .collect();
        keys.push(format!("sources:{rel}"));
        keys.push(format!("imports:{rel}"));
        keys
    }

    /// Adds every file under a folder (see [`crate::digest::tree`]) under `tree:<path>`.
    pub fn add_tree(&mut self, root: &Path, dir: &Path) {
        self.set(
            format!("tree:{}", fsutil::display_rel(root, dir)),
            crate::digest::tree(dir),
        );
    }

    /// Adds the git state of a folder (the commit and the tags near it: what a version from tags
    /// is made of) under `git:<path>`.
    pub fn add_git(&mut self, root: &Path, dir: &Path) {
        let described = crate::cmd::Cmd::new("git")
            .arg("-C")
            .arg(dir)
            .args(["describe", "--tags", "--long", "--always", "--dirty"])
            .output()
            .map(|out| out.output)
            .unwrap_or_default();
        self.set(
            format!("git:{}", fsutil::display_rel(root, dir)),
            hash(described.as_bytes()),
        );
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
        Some(("listing", path)) => format!("the files in {path} changed"),
        Some(("tree", path)) => format!("{path} changed (its dynamic metadata is read from it)"),
        Some(("git", path)) => {
            format!("the git state of {path} changed (its version comes from git)")
        }
        Some(("sources", path)) => format!("the extension sources in {path} changed"),
        Some(("imports", path)) => format!("the import packages of {path} changed"),
        _ => match key {
            "installer.env" => "the installer's variables (UV_*, PIP_*) changed".into(),
            "installer.name" | "installer.version" => "the installer changed".into(),
            "python.path" | "python.version" => "the Python changed".into(),
            "recipe" => "the xtask builds venvs differently now".into(),
            "unfinished" => "the last install did not finish".into(),
            "venv.dir" => "the venv moved".into(),
            _ => format!("{key} changed"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
