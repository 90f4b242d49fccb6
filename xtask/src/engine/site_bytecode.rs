//! The bytecode of the venvs' installed packages, shared between venvs of one interpreter.
//!
//! Why: every tool job has a bytecode folder of its own (see [`super::caches`]), so the first
//! run of each job in a new venv compiled pytest, pluggy, coverage and mypy's Python modules from
//! source (0.2 to 0.4 s of CPU a job). The packages' files are the same in every venv that
//! installs the same wheels.
//!
//! How, and why it is sound: the store in the tools folder (one a `pyvenv.cfg`: one interpreter)
//! holds *hash-checked* bytecode (PEP 552): its header carries a hash of the source it was
//! compiled from, and Python compares that hash with the module's file each time it imports it,
//! compiling the source instead when they differ. So a stored file is never taken for a module
//! of other content, however the module was edited (its size and time kept, say) and wherever
//! the stored file came from; the store's names only help find it. After a job ran, each
//! installed module whose bytecode the job's folder holds (the tool imported it) and the store
//! lacks is compiled into the store by the venv's own Python (`py_compile`, hash-checked), named
//! by the SHA-256 the module's `RECORD` gives, and only when the file's content still has that
//! digest. Before a job's first run (or its first after the install changed), each installed
//! module whose `RECORD` digest the store holds gets that file, linked; a file whose header is
//! not hash-checked is never linked. The timestamp bytecode a job compiles itself is never
//! stored: it answers for a module by size and time alone. The tree's own modules (editable
//! installs point into `python/`) are in no `RECORD`, so never here.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::cmd::Cmd;
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
    /// The module's file.
    source: PathBuf,
}

/// The store of a venv's interpreter, in the tools folder's `seeds`; None without a `pyvenv.cfg`.
pub fn store(seeds: &Path, venv: &Venv) -> Option<PathBuf> {
    let cfg = fs::read(venv.dir.join("pyvenv.cfg")).ok()?;
    let digest = crate::digest::hash(&cfg);
    Some(seeds.join(format!("installed-bytecode-{}", &digest[..16])))
}

/// Gives the job's bytecode folder `prefix` the stored bytecode of the venv's installed
/// modules that it lacks.
pub fn seed(prefix: &Path, venv: &Venv, install: &str, store: &Path) {
    let stored = stored(store);
    if stored.is_empty() {
        return;
    }
    let mut made = HashSet::new();
    for module in installed(venv, install).iter() {
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
            if !target.exists() && hash_checked(&from) {
                let _ = crate::fsutil::link_or_copy_new(&from, &target, true);
            }
        }
    }
}

/// Removes from the job's bytecode folder `prefix` the bytecode of the venv's installed modules
/// the store knows to warn when compiled (`.warns`): loaded from bytecode, they would not warn.
pub fn forget_warning(prefix: &Path, venv: &Venv, install: &str, store: &Path) {
    let warns: HashSet<String> = fsutil::kinds(store)
        .into_iter()
        .filter_map(|(_, name, _)| {
            let (digest, _) = name.strip_suffix(".warns")?.split_once('.')?;
            Some(digest.to_owned())
        })
        .collect();
    if warns.is_empty() {
        return;
    }
    let installed = installed(venv, install);
    let warning = installed.iter().filter(|m| warns.contains(&m.digest));
    // Every level's (`.opt-1.pyc` too): a run with -O would load it as well.
    each_bytecode(prefix, warning, &mut |_, path, _| {
        let _ = fs::remove_file(path);
    });
}

/// Compiles into the store the installed modules whose bytecode the job's folder `prefix` holds
/// and the store lacks (see the module's comment).
pub fn publish(prefix: &Path, venv: &Venv, install: &str, store: &Path) {
    let stored = stored(store);
    // Source, digest, stored file: three fields a module, for the venv's Python.
    let mut wanted: Vec<String> = Vec::new();
    let installed = installed(venv, install);
    each_bytecode(prefix, installed.iter(), &mut |module, _, tag| {
        // `cpython-310.pyc`, not an optimised level's (`.opt-1.pyc`): Python's own.
        let known = stored.get(&module.digest);
        if tag.split('.').count() == 2 && !known.is_some_and(|tags| tags.iter().any(|t| t == tag)) {
            wanted.push(module.source.to_string_lossy().into_owned());
            wanted.push(module.digest.clone());
            let file = store.join(format!("{}.{tag}", module.digest));
            wanted.push(file.to_string_lossy().into_owned());
        }
    });
    if wanted.is_empty() || fs::create_dir_all(store).is_err() {
        return;
    }
    // Best effort: what is not compiled, a later job compiles for itself.
    let _ = Cmd::new(venv.python())
        .args(["-I", "-B", "-c", COMPILE])
        .stdin(crate::cmd::nul_separated(&wanted))
        .output();
}

/// Calls `found(module, file, tag)` for each bytecode file of `modules` in the job's folder
/// `prefix` (`<stem>.<tag>`, `tag` ending in `.pyc`), listing each mirrored folder once.
fn each_bytecode<'a>(
    prefix: &Path,
    modules: impl Iterator<Item = &'a Installed>,
    found: &mut dyn FnMut(&Installed, &Path, &str),
) {
    let mut by_folder: HashMap<&Path, Vec<&Installed>> = HashMap::new();
    for module in modules {
        by_folder.entry(&module.mirror).or_default().push(module);
    }
    for (mirror, modules) in by_folder {
        let names = fsutil::kinds(&prefix.join(mirror));
        for module in modules {
            let start = format!("{}.", module.stem);
            for (path, name, kind) in &names {
                if let Some(tag) = name.strip_prefix(&start)
                    && kind.is_file()
                    && tag.ends_with(".pyc")
                {
                    found(module, path, tag);
                }
            }
        }
    }
}

/// Reads NUL-separated triples (source, `sha256=` digest, stored file) on stdin and compiles
/// each source whose content has the digest into the stored file, hash-checked; written aside,
/// then renamed: a job never links half a file. A module whose compilation warns (an invalid
/// escape, `is` with a literal) is not stored: loaded from bytecode it would not warn, and a job
/// whose warnings are errors must fail on it as a fresh run does. An empty `<name>.warns` says
/// so, so that no later job compiles it again to learn the same.
const COMPILE: &str = r#"
import base64, hashlib, os, py_compile, sys, warnings
fields = sys.stdin.buffer.read().split(b"\0")
for i in range(0, len(fields) - 2, 3):
    source, digest, stored = (os.fsdecode(f) for f in fields[i : i + 3])
    try:
        with open(source, "rb") as f:
            data = f.read()
    except OSError:
        continue
    sha = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    if "sha256=" + sha != digest:
        continue
    aside = f"{stored}.tmp-{os.getpid()}"
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            py_compile.compile(
                source, cfile=aside, dfile=source, doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
            )
        if warned:
            os.remove(aside)
            open(stored + ".warns", "wb").close()
        else:
            os.replace(aside, stored)
    except Exception:
        try:
            os.remove(aside)
        except OSError:
            pass
"#;

/// Whether a bytecode file's header says it is hash-checked (PEP 552: bit 0 of the flags, the
/// second four bytes, says hash-based; bit 1, checked against the source at each import).
fn hash_checked(pyc: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 8];
    let read = fs::File::open(pyc).and_then(|mut f| f.read_exact(&mut header));
    read.is_ok() && u32::from_le_bytes([header[4], header[5], header[6], header[7]]) == 0b11
}

/// The store's bytecode files, by digest: the tags (`cpython-310.pyc`) of each, a module whose
/// compilation warns (`.pyc.warns`, no bytecode) among them: known, never linked.
fn stored(store: &Path) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (_, name, kind) in fsutil::kinds(store) {
        let name = name.strip_suffix(".warns").unwrap_or(&name);
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

/// Every `.py` file the venv's RECORDs list below its site-packages, with its digest and size:
/// read once a process for a venv and its install digest (`install`, see
/// [`Venv::installed`]), as the jobs of one run share them.
fn installed(venv: &Venv, install: &str) -> Arc<Vec<Installed>> {
    type Known = HashMap<(PathBuf, String), Arc<Vec<Installed>>>;
    static KNOWN: Mutex<Option<Known>> = Mutex::new(None);
    let key = (venv.dir.clone(), install.to_owned());
    if let Some(found) = KNOWN
        .lock()
        .ok()
        .and_then(|k| k.as_ref()?.get(&key).cloned())
    {
        return found;
    }
    let read = Arc::new(read_installed(venv));
    if let Ok(mut known) = KNOWN.lock() {
        known
            .get_or_insert_with(HashMap::new)
            .insert(key, Arc::clone(&read));
    }
    read
}

fn read_installed(venv: &Venv) -> Vec<Installed> {
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
    let _size: u64 = fields.next()?.trim().parse().ok()?;
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
        source: site.join(path),
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
        assert_eq!(m.stem, "main");
        assert_eq!(m.source, site.join("_pytest/main.py"));
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
    fn only_hash_checked_bytecode_of_a_recorded_digest_is_seeded() {
        let dir = std::env::temp_dir().join(format!("xtask-site-pyc-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let v = dir.join("venv");
        let site = v.join("lib/python3.10/site-packages");
        fs::create_dir_all(site.join("pkg-1.dist-info")).unwrap();
        fs::create_dir_all(site.join("pkg")).unwrap();
        fs::write(v.join("pyvenv.cfg"), "home = /x\n").unwrap();
        fs::write(
            site.join("pkg-1.dist-info/RECORD"),
            "pkg/a.py,sha256=AAA,10\npkg/b.py,sha256=BBB,20\npkg/c.py,sha256=CCC,30\n",
        )
        .unwrap();
        let venv = Venv::of_dir(v);
        let pyc = |flags: u32| {
            let mut bytes = vec![0u8; 16];
            bytes[4..8].copy_from_slice(&flags.to_le_bytes());
            bytes.extend(b"code");
            bytes
        };
        let store = dir.join("store");
        fs::create_dir_all(&store).unwrap();
        fs::write(store.join("sha256=AAA.cpython-310.pyc"), pyc(0b11)).unwrap();
        // Timestamp-checked (answers by size and time alone): never linked.
        fs::write(store.join("sha256=BBB.cpython-310.pyc"), pyc(0)).unwrap();
        // Another content's: no module of this venv has that digest.
        fs::write(store.join("sha256=ZZZ.cpython-310.pyc"), pyc(0b11)).unwrap();
        // A module whose compilation warns: known to the store, no bytecode to link.
        fs::write(store.join("sha256=CCC.cpython-310.pyc.warns"), "").unwrap();
        assert_eq!(stored(&store)["sha256=CCC"], ["cpython-310.pyc"]);
        let prefix = dir.join("prefix");
        seed(&prefix, &venv, "i1", &store);
        let seeded = prefix.join(pycache_prefix::mirror(&site.join("pkg")));
        let mut names: Vec<String> = fsutil::kinds(&seeded).into_iter().map(|e| e.1).collect();
        names.sort();
        assert_eq!(names, ["a.cpython-310.pyc"]);
        assert_eq!(
            fs::read(seeded.join("a.cpython-310.pyc")).unwrap(),
            pyc(0b11)
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
