//! The bytecode of the venvs' installed packages, shared between venvs of one interpreter.
//!
//! Why: every tool job has a bytecode folder of its own (see [`super::caches`]), so the first
//! run of each job in a new venv compiled pytest, pluggy, coverage and mypy's Python modules from
//! source: 0.2 to 0.4 s of CPU a job, a second and more for the first verify after a setup. The
//! packages' files are the same in every venv that installs the same wheels.
//!
//! How, and why it is sound: an installer writes a `RECORD` in each `.dist-info`, the SHA-256 of
//! every file it installed. After a job ran, the bytecode of each installed `.py` file is put in
//! a store in the tools folder (one a `pyvenv.cfg`: one interpreter), named by that digest:
//! bytecode is a function of the source's content and the interpreter. Before a job's first run
//! (or its first after the install changed), each installed module whose digest the store holds
//! gets that bytecode. Python then checks it as it checks any: against the size and time of the
//! file in this venv, and compiles again when they differ (another copy of the file). A module's
//! bytecode is never taken for a file of other content: the digests are the installer's, and
//! the venv's install (its RECORDs) is what the jobs' keys and caches already answer for. A
//! bytecode file whose recorded source size is not the RECORD's is not stored. The tree's own
//! modules (editable installs point into `python/`) are never in a RECORD, so never here.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::env::pycache_prefix;
use crate::env::venv::Venv;
use crate::fsutil;

/// One installed module, as its RECORD lists it.
struct Installed {
    /// Its folder's mirror below a bytecode prefix.
    mirror: PathBuf,
    /// Its file name without `.py`: its bytecode is `<stem>.<tag>.pyc` there.
    stem: String,
    /// The RECORD's digest (`sha256=...`): the store's name for its bytecode.
    digest: String,
    /// The RECORD's size.
    size: u64,
}

/// The store of a venv's interpreter, in the tools folder's `seeds`; None without a `pyvenv.cfg`.
pub fn store(seeds: &Path, venv: &Venv) -> Option<PathBuf> {
    let cfg = fs::read(venv.dir.join("pyvenv.cfg")).ok()?;
    let digest = crate::digest::hash(&cfg);
    Some(seeds.join(format!("site-bytecode-{}", &digest[..16])))
}

/// Gives the job's bytecode folder `prefix` the stored bytecode of the venv's installed
/// modules that it lacks.
pub fn seed(prefix: &Path, venv: &Venv, store: &Path) {
    let stored = stored(store);
    if stored.is_empty() {
        return;
    }
    let mut made = HashSet::new();
    for module in installed(venv) {
        let Some(tags) = stored.get(&module.digest) else {
            continue;
        };
        let folder = prefix.join(&module.mirror);
        for tag in tags {
            let target = folder.join(format!("{}.{tag}", module.stem));
            if !made.contains(&folder) {
                if fs::create_dir_all(&folder).is_err() {
                    break;
                }
                made.insert(folder.clone());
            }
            let from = store.join(format!("{}.{tag}", module.digest));
            if !target.exists() && fs::hard_link(&from, &target).is_err() {
                let _ = fs::copy(&from, &target);
            }
        }
    }
}

/// Puts the bytecode of the venv's installed modules found in the job's bytecode folder
/// `prefix` into the store, where it lacks it.
pub fn publish(prefix: &Path, venv: &Venv, store: &Path) {
    let stored = stored(store);
    let mut by_folder: HashMap<PathBuf, Vec<Installed>> = HashMap::new();
    for module in installed(venv) {
        by_folder
            .entry(module.mirror.clone())
            .or_default()
            .push(module);
    }
    let mut made = false;
    for (mirror, modules) in by_folder {
        let names = fsutil::kinds(&prefix.join(&mirror));
        for module in modules {
            let start = format!("{}.", module.stem);
            for (path, name, kind) in &names {
                let Some(tag) = name.strip_prefix(&start) else {
                    continue;
                };
                let known = stored.get(&module.digest);
                if !kind.is_file()
                    || !tag.ends_with(".pyc")
                    || known.is_some_and(|tags| tags.iter().any(|t| t == tag))
                    || source_size(path) != Some(module.size)
                {
                    continue;
                }
                if !made {
                    if fs::create_dir_all(store).is_err() {
                        return;
                    }
                    made = true;
                }
                put(path, &store.join(format!("{}.{tag}", module.digest)));
            }
        }
    }
}

/// Links `from` at `to`, else copies it there (written aside, then renamed: a job never seeds
/// from half a file). Either way, `to` appears whole or not at all.
fn put(from: &Path, to: &Path) {
    if to.exists() || fs::hard_link(from, to).is_ok() {
        return;
    }
    let aside = to.with_extension(format!("tmp-{}", std::process::id()));
    if fs::copy(from, &aside).is_err() || fs::rename(&aside, to).is_err() {
        let _ = fs::remove_file(&aside);
    }
}

/// The source size a bytecode file records (bytes 12 to 16 of its header, little-endian, for
/// the timestamp-checked bytecode Python writes); None when it cannot be read or is
/// hash-checked.
fn source_size(pyc: &Path) -> Option<u64> {
    use std::io::Read;
    let mut header = [0u8; 16];
    fs::File::open(pyc).ok()?.read_exact(&mut header).ok()?;
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    (word(4) == 0).then(|| u64::from(word(12)))
}

/// The store's bytecode files, by digest: the tags (`cpython-310.pyc`) of each.
fn stored(store: &Path) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (_, name, kind) in fsutil::kinds(store) {
        if let Some((digest, tag)) = name.split_once('.')
            && kind.is_file()
            && tag.ends_with(".pyc")
        {
            out.entry(digest.to_owned())
                .or_default()
                .push(tag.to_owned());
        }
    }
    out
}

/// Every `.py` file the venv's RECORDs list below its site-packages, with its digest and size.
fn installed(venv: &Venv) -> Vec<Installed> {
    let mut out = Vec::new();
    for site in venv.site_packages() {
        for (dist, name, kind) in fsutil::kinds(&site) {
            if !kind.is_dir() || !name.ends_with(".dist-info") {
                continue;
            }
            let record = fs::read_to_string(dist.join("RECORD")).unwrap_or_default();
            out.extend(record.lines().filter_map(|line| module(&site, line)));
        }
    }
    out
}

/// One RECORD line (`path,sha256=digest,size`) as an installed module; None for another file,
/// a path outside site-packages, or a line without a digest or size.
fn module(site: &Path, line: &str) -> Option<Installed> {
    let mut fields = line.rsplitn(3, ',');
    let size = fields.next()?.trim().parse().ok()?;
    let digest = fields.next()?;
    let path = fields.next()?;
    let stem = path.strip_suffix(".py")?;
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '=' | '-' | '_');
    if !digest.starts_with("sha256=")
        || !digest.chars().all(safe)
        || path.starts_with('"')
        || path.starts_with('/')
        || path.split('/').any(|part| part == ".." || part.is_empty())
    {
        return None;
    }
    let (folder, stem) = stem.rsplit_once('/').unwrap_or(("", stem));
    Some(Installed {
        mirror: pycache_prefix::mirror(&site.join(folder)),
        stem: stem.to_owned(),
        digest: digest.to_owned(),
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_line_is_a_module_only_below_site_packages_with_a_digest() {
        let site = Path::new("/v/lib/python3.10/site-packages");
        let m = module(site, "_pytest/main.py,sha256=Ab-_9=,391").unwrap();
        assert_eq!(
            m.mirror,
            PathBuf::from("v/lib/python3.10/site-packages/_pytest")
        );
        assert_eq!((m.stem.as_str(), m.size), ("main", 391));
        assert_eq!(m.digest, "sha256=Ab-_9=");
        assert_eq!(module(site, "top.py,sha256=x,1").unwrap().stem, "top");
        for other in [
            "../../../bin/pytest,sha256=x,392",
            "../../x.py,sha256=x,1",
            "a/b.pyc,sha256=x,1",
            "a/RECORD,,",
            "a/b.py,,",
            "a/b.py,md5=x,1",
            "a/b.py,sha256=x/y,1",
            "\"a,b.py\",sha256=x,1",
        ] {
            assert!(module(site, other).is_none(), "{other}");
        }
    }

    #[test]
    fn only_bytecode_of_the_recorded_size_is_stored_and_seeded_by_digest() {
        let dir = std::env::temp_dir().join(format!("xtask-site-pyc-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let venv = |name: &str| {
            let v = dir.join(name);
            let site = v.join("lib/python3.10/site-packages");
            fs::create_dir_all(site.join("pkg-1.dist-info")).unwrap();
            fs::create_dir_all(site.join("pkg")).unwrap();
            fs::write(v.join("pyvenv.cfg"), "home = /x\n").unwrap();
            fs::write(
                site.join("pkg-1.dist-info/RECORD"),
                "pkg/a.py,sha256=AAA,10\npkg/b.py,sha256=BBB,20\n",
            )
            .unwrap();
            (Venv::of_dir(v), site)
        };
        let pyc = |size: u32| {
            let mut bytes = vec![0u8; 16];
            bytes[12..16].copy_from_slice(&size.to_le_bytes());
            bytes.extend(b"code");
            bytes
        };
        let (one, site_one) = venv("one");
        let prefix_one = dir.join("p1");
        let folder = prefix_one.join(pycache_prefix::mirror(&site_one.join("pkg")));
        fs::create_dir_all(&folder).unwrap();
        fs::write(folder.join("a.cpython-310.pyc"), pyc(10)).unwrap();
        // Compiled from a file of another size than the RECORD's: not the recorded content.
        fs::write(folder.join("b.cpython-310.pyc"), pyc(21)).unwrap();
        let store = dir.join("store");
        publish(&prefix_one, &one, &store);
        let mut names: Vec<String> = fsutil::kinds(&store).into_iter().map(|e| e.1).collect();
        names.sort();
        assert_eq!(names, ["sha256=AAA.cpython-310.pyc"]);

        let (two, site_two) = venv("two");
        let prefix_two = dir.join("p2");
        seed(&prefix_two, &two, &store);
        let seeded = prefix_two.join(pycache_prefix::mirror(&site_two.join("pkg")));
        assert_eq!(fs::read(seeded.join("a.cpython-310.pyc")).unwrap(), pyc(10));
        assert!(!seeded.join("b.cpython-310.pyc").exists());
        // Another content of a.py in a third venv: nothing of the store's.
        let (three, site_three) = venv("three");
        fs::write(
            site_three.join("pkg-1.dist-info/RECORD"),
            "pkg/a.py,sha256=CCC,10\n",
        )
        .unwrap();
        let prefix_three = dir.join("p3");
        seed(&prefix_three, &three, &store);
        assert!(!prefix_three.exists());
        let _ = fs::remove_dir_all(&dir);
    }
}
