//! Hashing: a stable, fast, non-cryptographic digest of bytes, and a cheap stand-in for a file's
//! identity. Used by the stamp (the environment layer) and the inputs of jobs (the engine).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::fsutil;
use crate::leftovers;

/// FNV-1a, 64 bits: stable across Rust versions and platforms (unlike `DefaultHasher`), and enough
/// to notice that a file changed.
pub struct Fnv(u64);

impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    /// Eight bytes a step, then the rest one by one: FNV-1a over 64-bit words. The xtask runs as
    /// an unoptimised build (`cargo xtask` compiles in the dev profile), where a loop a byte is
    /// what a no-op setup spends its time on (its locks are 100 KB of hashes each).
    pub fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            self.0 ^= word;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        for b in chunks.remainder() {
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

/// A digest of the environment variables whose names `keep` accepts, in name order: each as
/// `name=value` and a NUL.
pub fn variables(keep: impl Fn(&str) -> bool) -> String {
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .filter(|(k, _)| keep(k))
        .collect();
    vars.sort();
    let mut h = Fnv::new();
    for (k, v) in vars {
        h.write(format!("{k}={v}\0").as_bytes());
    }
    h.finish()
}

/// Every file a tool could read under `dir`, as (path relative to `dir` with `/`, hash of its
/// content), sorted by path. Each file is read once.
///
/// Left out, because no tool reads them as sources and the tools themselves write them while they
/// run: caches (`__pycache__`, `.mypy_cache`, `.coverage`, ...), venvs (a folder with a
/// `pyvenv.cfg`: its content is an input of its own, read cheaply), `.venv.lock`, `.git`. Kept:
/// build leftovers (`build/`, `*.egg-info`), since a tool can read them. A symlink counts by its
/// target's content (a linked folder is walked once, however many links lead to it); one that
/// leads nowhere counts by where it points.
pub fn tree_files(dir: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, prefix: &str, seen: &mut Vec<PathBuf>, out: &mut Vec<(String, String)>) {
        // A folder reached again below itself is a symlink loop; one reached twice by two
        // paths (a linked folder shared by two packages) counts for both.
        let real = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if seen.contains(&real) {
            return;
        }
        seen.push(real);
        for (path, name, meta) in fsutil::entries(dir) {
            let rel = format!("{prefix}{name}");
            let target = if meta.file_type().is_symlink() {
                fs::metadata(&path).ok()
            } else {
                Some(meta)
            };
            let Some(target) = target else {
                let link = fs::read_link(&path).unwrap_or_default();
                out.push((rel, hash(link.to_string_lossy().as_bytes())));
                continue;
            };
            let is_dir = target.is_dir();
            if leftovers::is_cache(&name, is_dir)
                || name == ".git"
                || name == ".venv.lock"
                || (is_dir && path.join("pyvenv.cfg").is_file())
            {
                continue;
            }
            if is_dir {
                walk(&path, &format!("{rel}/"), seen, out);
            } else {
                out.push((rel, hash(&fs::read(&path).unwrap_or_default())));
            }
        }
        seen.pop();
    }
    let mut out = Vec::new();
    walk(dir, "", &mut Vec::new(), &mut out);
    out.sort();
    out
}

/// One digest of every file a tool could read under `dir` (see [`tree_files`]).
pub fn tree(dir: &Path) -> String {
    let mut h = Fnv::new();
    for (rel, content) in tree_files(dir) {
        h.write(rel.as_bytes());
        h.write(&[0]);
        h.write(content.as_bytes());
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_sensitive() {
        assert_eq!(hash(b""), "cbf29ce484222325");
        assert_eq!(hash(b"a"), "af63dc4c8601ec8c");
        assert_ne!(hash(b"dependencies = []"), hash(b"dependencies = [ ]"));
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
        fs::write(dir.join("src/pkg/build/m.py"), "B = 1\n").unwrap();
        let with_build = tree(&dir);
        assert_ne!(with_build, before, "a module under build/ did not count");
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
}
