//! The tools' own caches, kept sound: when the xtask runs a tool, no cache of that tool answers
//! for a file whose content changed since the cache was made.
//!
//! Why this is needed: mypy's incremental cache and Python's bytecode (and pytest's rewritten
//! test modules) trust a source file whose size and modification time (in whole seconds) are
//! what they were; an edit that keeps both (`cp -p`, `tar`, `touch -r`, a CI cache restore, two
//! saves within a second) would be answered from the cache. ruff's cache trusts the time alone:
//! ruff always runs with `--no-cache` (it checks a package in milliseconds without one).
//!
//! How: every job has caches of its own, in its venv (`.venv/xtask-cache/<job>/`): mypy's
//! `--cache-dir`, the bytecode (`PYTHONPYCACHEPREFIX`, where pytest writes its rewritten tests
//! too), pytest's cache folder and the coverage data. Only that job's runs write there, and after
//! each run the xtask records the state (content digest, size, time) of every file the job reads,
//! as read before it ran. Before the next run, a file whose content differs from the record while
//! its size and time-in-seconds do not is one the caches would wrongly trust: the cache entries
//! of the tree's modules are then forgotten (the mypy entries of modules named like anything
//! under `python/`, and the bytecode of every file under `python/` outside the venvs), while those
//! of the standard library and the installed packages stay. A file changed any other way is one
//! the tools notice themselves. The installed packages' entries stay only while the venv holds
//! the same install (its installed set's digest, the one the jobs' keys use, is recorded with the
//! files): a venv synced since, or restored from an archive with other packages, forgets every
//! entry. A change of the jobs' settings (the environment, the shared configuration: see
//! [`crate::engine::inputs::Inputs::settings`]) forgets all the bytecode, since bytecode keeps no
//! trace of the warnings its compilation gave, which new settings may make errors (for the same
//! reason the bytecode of the tree's modules is forgotten before every run), and mypy's entries
//! of the tree; mypy's entries of the installed packages and the standard library stay (mypy
//! compares the options each entry was made with itself), unless a mypy plugin is configured,
//! whose helper modules among the settings' files mypy would not check, or the configuration
//! reports errors in installed packages (see [`ToolCaches::entries_outlive_settings`]): then
//! they go too. `--no-cache` forgets the tree's entries before every run, and runs pytest without its
//! cache plugin unless the arguments ask for it (`--lf`); the installed packages' bytecode and
//! mypy's entries of them stay, under the same check of the install (compiling the venv's
//! packages again in every job doubled `--no-cache` and would find nothing). What this cannot
//! see: a file that was deleted and comes back, by `cp -p`, with other content but the size and
//! time of the copy the caches knew.
//!
//! mypy's entries of the modules in `mypy_path` folders outside `python/` (stubs of one's own) are
//! forgotten before every mypy run: no record of those files' state is kept, and re-reading a
//! few stubs costs little.
//!
//! A job's first run starts from a seed (see [`ToolCaches::seed`]): another job's caches less
//! the tree's entries, since computing the standard library's is most of a first run.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::digest::TreeFile;
use crate::engine::seed_origins::Origins;
use crate::engine::{seed_origins, site_bytecode};
use crate::env::pycache_prefix::{self, Place};
use crate::env::venv::Venv;
use crate::fsutil;

/// The caches of one job.
pub struct ToolCaches {
    dir: PathBuf,
    /// `python/`, whose modules' entries are forgotten.
    python: PathBuf,
    /// The files the job reads, as read before it runs (shared by the jobs that read them).
    files: Vec<Arc<[TreeFile]>>,
    /// `--no-cache`: forget before every run.
    fresh: bool,
    /// The digest of the venv's installed set (see [`crate::env::venv::Venv::installed`]).
    install: String,
    /// The tools folder's seeds (see [`ToolCaches::seed_dir`]).
    seeds: PathBuf,
    /// The top-level names of the modules mypy reads from folders outside `python/` (its
    /// `mypy_path`): their entries are forgotten before every run, since no record of their
    /// files' state is kept.
    outside_modules: BTreeSet<String>,
}

const SEEN: &str = "seen";
/// In the record, the digest of a file saved while the job ran: no content matches it.
const SAVED_MEANWHILE: &str = "saved-while-the-job-ran";
/// The record of the install the caches were made with.
const INSTALL: &str = "install";
/// The folder of the seeds in the tools folder.
pub const JOB_SEEDS: &str = "job-caches";
/// In a seed: the venv its entries were made in.
const VENV: &str = "venv";
/// In a seed: a name of its own, new each time it is replaced (see [`generation`]).
const GENERATION: &str = "generation";

/// A seed's name of its own, or none (a sibling job's caches, which are never replaced): the same
/// before and after a copy from it, the copy is of one seed.
fn generation(dir: &Path) -> Option<String> {
    fs::read_to_string(dir.join(GENERATION)).ok()
}

/// A name no other seed has: the process, a count, and the time.
fn new_generation() -> String {
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{}-{n}-{now}", std::process::id())
}

impl ToolCaches {
    pub fn new(
        dir: PathBuf,
        python: PathBuf,
        files: Vec<Arc<[TreeFile]>>,
        fresh: bool,
        install: String,
        seeds: &Path,
    ) -> ToolCaches {
        ToolCaches {
            dir,
            python,
            files,
            fresh,
            install,
            seeds: seeds.to_path_buf(),
            outside_modules: BTreeSet::new(),
        }
    }

    /// The same, forgetting before every run mypy's entries of the modules named `names` (those
    /// of folders outside `python/` that mypy reads: see the field).
    pub fn forgetting(mut self, names: BTreeSet<String>) -> ToolCaches {
        self.outside_modules = names;
        self
    }

    /// The seed for the job's tool, its version and the interpreter in the tools folder: the
    /// interpreter a venv runs (`home`, `version_info`) is in its pyvenv.cfg, the tool's version in
    /// the name of its `.dist-info` folder (mypy ignores another version's entries: a seed of one
    /// version would never grow entries of the next). Read only when a job seeds or has run, never
    /// for a remembered pass.
    fn seed_dir(&self) -> Option<PathBuf> {
        let mut key = fs::read(self.venv_dir().join("pyvenv.cfg")).ok()?;
        let tool = tool_of(&self.dir);
        let dist_info = Venv::of_dir(self.venv_dir())
            .site_packages()
            .iter()
            .flat_map(|site| fsutil::entries(site))
            .map(|(_, name, _)| name)
            .find(|name| name.starts_with(&format!("{tool}-")) && name.ends_with(".dist-info"));
        key.push(0);
        key.extend(dist_info.unwrap_or_default().into_bytes());
        let digest = crate::digest::hash(&key);
        Some(self.seeds.join(format!("{tool}-{}", &digest[..16])))
    }

    fn files(&self) -> impl Iterator<Item = &TreeFile> {
        self.files.iter().flat_map(|f| f.iter())
    }

    /// mypy's `--cache-dir`.
    pub fn mypy(&self) -> PathBuf {
        self.dir.join("mypy")
    }

    /// `PYTHONPYCACHEPREFIX`: Python's bytecode and pytest's rewritten tests.
    pub fn bytecode(&self) -> PathBuf {
        self.dir.join("pyc")
    }

    /// pytest's `cache_dir`.
    pub fn pytest(&self) -> PathBuf {
        self.dir.join("pytest")
    }

    /// `COVERAGE_FILE`.
    pub fn coverage(&self) -> PathBuf {
        self.dir.join("coverage")
    }

    /// Before the job runs: forgets the tree's bytecode, and mypy's entries of the tree when a
    /// cache could trust a changed file (or `--no-cache`).
    pub fn prepare(&self) {
        let first = !self.dir.join(SEEN).is_file();
        if first {
            self.seed();
        }
        let recorded = fs::read_to_string(self.dir.join(INSTALL)).ok();
        let reinstalled = recorded.as_ref().filter(|r| **r != self.install);
        if let Some(recorded) = reinstalled {
            if installed_set(recorded) == installed_set(&self.install)
                && self.entries_outlive_settings()
            {
                // The settings alone changed: the bytecode goes (see the module's comment), and
                // mypy's entries of the tree; those of the installed packages and the standard
                // library are of files that did not change, and mypy checks its options itself.
                let _ = fs::remove_dir_all(self.bytecode());
                self.forget_tree_mypy_entries();
            } else {
                self.forget_all();
            }
            // Started again as a first run is: from a sibling's or the tools folder's seed, the
            // standard library's entries (a mypy analysis of it from nothing is seconds).
            self.seed();
        } else if self.fresh || self.disguised_change() {
            self.forget_tree_mypy_entries();
        }
        if !self.outside_modules.is_empty() {
            self.forget_mypy_entries(&self.outside_modules);
        }
        self.keep_bytecode_of_the_venv_and_stdlib();
        if let Some(store) = site_bytecode::store(&self.seeds, &self.venv()) {
            if first || reinstalled.is_some() {
                site_bytecode::seed(&self.bytecode(), &self.venv(), &self.install, &store);
            }
            // Nor does the bytecode of an installed module known to warn when compiled.
            site_bytecode::forget_warning(&self.bytecode(), &self.venv(), &self.install, &store);
        }
    }

    /// Whether mypy's entries of the installed packages and the standard library stay right
    /// under other settings: mypy compares the options each was made with, but not the helper
    /// modules a plugin imports (which could be among the settings' files) nor the global
    /// options that change which errors it reports, which matter only where it reports errors
    /// in installed packages (`no_silence_site_packages`, in the configuration every job reads).
    fn entries_outlive_settings(&self) -> bool {
        let config = fs::read_to_string(self.python.join("pyproject.toml")).unwrap_or_default();
        no_plugins(&self.mypy())
            && !config.contains("silence_site_packages")
            && !config.contains("silence-site-packages")
    }

    /// The bytecode the caches keep between runs is that of the venv's installed files (under
    /// the install's check) and of the interpreter's standard library; the rest is forgotten
    /// before every run, in one walk of the folder:
    /// - the tree's modules: a module whose compilation warns (an invalid escape) warns only
    ///   when compiled, and any file of the tree (a conftest.py, a module calling
    ///   `warnings.simplefilter`) may make that warning an error in this run. A job runs only
    ///   when an input changed; the tree's own modules are few to compile.
    /// - files from elsewhere that a job imports (a mypy or pytest plugin beside `python/`,
    ///   another venv's modules through a subprocess): their state is not recorded, so an edit
    ///   that keeps their size and time would meet their old bytecode. They are few, and
    ///   compiling them costs little.
    fn keep_bytecode_of_the_venv_and_stdlib(&self) {
        let venv = self.venv_dir();
        pycache_prefix::keep_only(&self.bytecode(), &[&venv], &self.venv());
    }

    fn venv(&self) -> Venv {
        Venv::of_dir(self.venv_dir())
    }

    /// After the job ran: records the files' state as read before it ran. A file saved while
    /// it ran may have been read by the tool in its new state, whose content the xtask never
    /// read: it is recorded with that size and time and no digest, so the next run forgets the
    /// tree's entries unless the file is then of another size or time (which the tools see).
    pub fn record(&self) {
        let mut text = String::new();
        for f in self.files() {
            let now = fs::metadata(self.python.join(&f.rel))
                .ok()
                .map(|m| (m.len(), crate::digest::mtime_ns(&m)));
            let line = match now {
                Some((size, mtime)) if (size, mtime) != (f.size, f.mtime_ns) => {
                    format!("{SAVED_MEANWHILE}\t{size}\t{mtime}\t{}\n", f.rel)
                }
                _ => format!("{}\t{}\t{}\t{}\n", f.digest, f.size, f.mtime_ns, f.rel),
            };
            text += &line;
        }
        let _ = fs::create_dir_all(&self.dir);
        let _ = fsutil::write_atomic(&self.dir.join(SEEN), text.as_bytes());
        let _ = fsutil::write_atomic(&self.dir.join(INSTALL), self.install.as_bytes());
        if let Some(store) = site_bytecode::store(&self.seeds, &self.venv()) {
            site_bytecode::publish(&self.bytecode(), &self.venv(), &self.install, &store);
        }
        self.publish();
    }

    /// Whether a file's content differs from the record while its size and time in seconds (what
    /// mypy and Python compare) do not. No record: nothing was cached by these caches.
    fn disguised_change(&self) -> bool {
        let Ok(text) = fs::read_to_string(self.dir.join(SEEN)) else {
            return false;
        };
        let seen: HashMap<&str, (&str, &str, &str)> = text
            .lines()
            .filter_map(|line| {
                let mut parts = line.splitn(4, '\t');
                let (digest, size, mtime) = (parts.next()?, parts.next()?, parts.next()?);
                Some((parts.next()?, (digest, size, mtime)))
            })
            .collect();
        self.files().any(|f| {
            seen.get(f.rel.as_str())
                .is_some_and(|(digest, size, mtime)| {
                    let seconds =
                        |ns: &str| ns.parse::<u128>().map_or(u128::MAX, |n| n / 1_000_000_000);
                    *digest != f.digest
                        && *size == f.size.to_string()
                        && seconds(mtime) == f.mtime_ns / 1_000_000_000
                })
        })
    }

    /// A job's first run starts from the caches of another job of its tool: in its venv (same
    /// install), else from the seed of the tools folder (any tree, the same interpreter). Their
    /// entries of the standard library and the installed packages are what this job would
    /// compute, and computing them is most of a first run (mypy's analysis of the standard
    /// library, the bytecode of pytest and its plugins: a second of CPU and more a job). Each
    /// tool checks a seeded entry as it checks its own: Python compares a module's size and time
    /// with its bytecode's record, and mypy an entry's path, size and time with its module's, and
    /// hashes the module when the path differs (another venv's). The entries of the tree's
    /// modules are never seeded, so each job's entries of the tree are its own (what
    /// [`ToolCaches::prepare`] relies on). Linked (see [`link_or_copy`]).
    fn seed(&self) {
        // A seed replaced while copied from: what was copied is dropped, and the copy made again
        // from the new one (twice at most; then the run starts from nothing).
        for _ in 0..3 {
            if self.seed_once() {
                return;
            }
            self.forget_all();
        }
        self.write_received(&Origins::default());
    }

    /// One copy for [`ToolCaches::seed`]: false when the seed was replaced while copied from
    /// (the entries may then be of a seed whose record was not read).
    fn seed_once(&self) -> bool {
        let Some((from, before, origins)) = self.seed_source() else {
            // Nothing received: what the job's caches hold is its own venv's.
            if !Origins::held_by(&self.dir) {
                self.write_received(&Origins::default());
            }
            return true;
        };
        let seen = fs::read_to_string(from.join(SEEN)).unwrap_or_default();
        let mut names = self.tree_module_names();
        names.extend(self.installed_made_here(&origins));
        for rel in seen.lines().filter_map(|line| line.splitn(4, '\t').nth(3)) {
            names.extend(module_names(rel).map(str::to_owned));
        }
        let mirror = pycache_prefix::mirror(&self.python);
        let stdlib = pycache_prefix::stdlib_mirrors(&self.venv());
        // Into caches that hold entries (a change of the settings keeps some): a module's files
        // come whole from one side, never a seeded part beside a part of its own (a mypy run
        // stopped between its meta and its errors' files).
        let mypy = self.mypy();
        let own = std::cell::RefCell::new(Listing::default());
        let take_mypy = |rel: &Path, is_dir: bool| match mypy_entries(rel, &names) {
            Take::Skip => Take::Skip,
            _ if !is_dir && own.borrow_mut().has_entry(&mypy.join(rel)) => Take::Skip,
            take => take,
        };
        let received = copy_tree(&from.join("mypy"), &mypy, &take_mypy);
        copy_tree(&from.join("pyc"), &self.bytecode(), &|rel, is_dir| {
            bytecode_but_the_tree(rel, is_dir, &mirror, &self.python, &stdlib)
        });
        if generation(&from) != before {
            return false;
        }
        let mut record = Origins::read(&self.dir).unwrap_or_default();
        record.add_pairs_of(&origins, &seed_origins::names_of(&received));
        self.write_received(&record);
        true
    }

    /// Where a first run's entries come from, with its generation (read first: the same after
    /// the copy, the record read next is that of the entries copied) and its record of origins:
    /// a sibling job (see [`ToolCaches::sibling`]), else the tools folder's seed; never one
    /// without a record.
    fn seed_source(&self) -> Option<(PathBuf, Option<String>, Origins)> {
        let from = self.sibling().or_else(|| {
            let seed = self.seed_dir()?;
            seed.join(SEEN).is_file().then_some(seed)
        })?;
        let before = generation(&from);
        let origins = Origins::read(&from)?;
        Some((from, before, origins))
    }

    /// Records what the job's caches received by seeding (see [`crate::engine::seed_origins`]).
    fn write_received(&self, record: &Origins) {
        let _ = fs::create_dir_all(&self.dir);
        record.write(&self.dir);
    }

    /// The installed packages' names whose entries `origins` says this venv made (by a job
    /// before its install changed): mypy would trust them by their size and time, as they are
    /// at this path. From another venv, mypy hashes each module whose path differs from the
    /// entry's. See [`crate::engine::seed_origins`].
    fn installed_made_here(&self, origins: &Origins) -> Vec<String> {
        let made = origins.made_by(&self.venv_dir().to_string_lossy());
        let installed = self.installed_names();
        installed.into_iter().filter(|n| made.contains(n)).collect()
    }

    /// A job of the same tool in the same venv with the same install that has run.
    fn sibling(&self) -> Option<PathBuf> {
        let tool = tool_of(&self.dir);
        fsutil::entries(self.dir.parent()?)
            .into_iter()
            .map(|(dir, _, _)| dir)
            .find(|dir| {
                *dir != self.dir
                    && tool_of(dir) == tool
                    && dir.join(SEEN).is_file()
                    && fs::read_to_string(dir.join(INSTALL)).is_ok_and(|i| i == self.install)
            })
    }

    /// After a job ran: makes the tools folder's seed for its tool, its version and interpreter
    /// from its caches, or grows the seed there by the entries it lacks (the first job of a tree
    /// may read a few modules of the standard library; the next, many more): the entries of the
    /// standard library and installed packages in mypy's cache, and the bytecode of the
    /// interpreter's files (another tree's venvs are elsewhere; a plugin beside `python/` is a
    /// tree's file). Entries made with other mypy plugins are not mixed in. Written aside, then
    /// put in the seed's place: a job never seeds from half a seed (one that reads a seed while
    /// it is replaced gets fewer entries, each whole, and computes the rest).
    fn publish(&self) {
        let Some(seed) = self.seed_dir() else {
            return;
        };
        let names = self.tree_module_names();
        let mirror = pycache_prefix::mirror(&self.python);
        let stdlib = pycache_prefix::stdlib_mirrors(&self.venv());
        // Unknown (the interpreter could not say: a broken venv): the seed's bytecode is kept as
        // it is, neither grown nor cleaned; mypy's entries still grow.
        let known = !stdlib.is_empty();
        let mypy = |rel: &Path, _: bool| mypy_entries(rel, &names);
        let pyc = |rel: &Path, is_dir: bool| {
            if !known || rel.starts_with(&mirror) {
                Take::Skip
            } else {
                only_in(rel, is_dir, &stdlib)
            }
        };
        let old_pyc = |rel: &Path, is_dir: bool| if known { pyc(rel, is_dir) } else { Take::Ask };
        // What this job's caches received is known, or nothing is published; a seed without a
        // record (an older xtask's) is replaced, not grown.
        let Some(received) = Origins::read(&self.dir) else {
            return;
        };
        let old = (seed.join(SEEN).is_file() && Origins::held_by(&seed)).then_some(&seed);
        if let Some(old) = old {
            // A seed an older xtask grew may hold other bytecode: rewritten without it.
            let grows = lacks(&old.join("mypy"), &self.mypy(), &mypy)
                || (known
                    && (lacks(&old.join("pyc"), &self.bytecode(), &pyc)
                        || holds_other(&old.join("pyc"), &pyc)));
            if !grows || !same_plugins(&old.join("mypy"), &self.mypy()) {
                return;
            }
        }
        // One aside a job: the jobs of one run publish from threads of one process.
        let job = self.dir.file_name().unwrap_or_default().to_string_lossy();
        let aside = seed.with_extension(format!("tmp-{}-{job}", std::process::id()));
        let _ = fs::remove_dir_all(&aside);
        let (mut venvs, mut origins) = (Vec::new(), Origins::default());
        if let Some(old) = old {
            let before = generation(old);
            venvs = made_in(old);
            origins = Origins::read(old).unwrap_or_default();
            copy_tree(&old.join("mypy"), &aside.join("mypy"), &|_, _| Take::Ask);
            // A seed an older xtask grew holds the bytecode of other files: left behind.
            copy_tree(&old.join("pyc"), &aside.join("pyc"), &old_pyc);
            if generation(old) != before {
                // Replaced meanwhile: its record may not be that of the entries copied.
                let _ = fs::remove_dir_all(&aside);
                return;
            }
        }
        let (to_mypy, to_pyc) = (aside.join("mypy"), aside.join("pyc"));
        let venv = self.venv_dir().to_string_lossy().into_owned();
        let added = copy_tree(&self.mypy(), &to_mypy, &only_new(&mypy, &to_mypy));
        origins.add(&venv, &added);
        origins.add_pairs_of(&received, &seed_origins::names_of(&added));
        copy_tree(&self.bytecode(), &to_pyc, &only_new(&pyc, &to_pyc));
        venvs.push(venv);
        let list: String = venvs.iter().map(|venv| format!("{venv}\0")).collect();
        let _ = fs::write(aside.join(SEEN), "");
        let _ = fs::write(aside.join(VENV), list);
        origins.write(&aside);
        let _ = fs::write(aside.join(GENERATION), new_generation());
        replace_dir(&aside, &seed, &job);
    }

    /// The venv the job runs in: its caches are in `<venv>/xtask-cache/<job>`.
    fn venv_dir(&self) -> PathBuf {
        self.dir
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// The names mypy gives the entries of the venv's installed packages: the top-level names in
    /// its site-packages (`numpy`, `six`, `pytest`) and in the folders its `.pth` files add to the
    /// path, a stub-only package's under the name it types (`bar-stubs/`: `bar`, PEP 561).
    fn installed_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for site in Venv::of_dir(self.venv_dir()).site_packages() {
            let mut folders = pth_folders(&site);
            folders.push(site);
            for folder in folders {
                for (_, name, _) in fsutil::entries(&folder) {
                    let top = name.split('.').next().unwrap_or(&name);
                    names.push(top.strip_suffix("-stubs").unwrap_or(top).to_owned());
                }
            }
        }
        names
    }

    /// The names a module under `python/` that this job reads can have in mypy's cache.
    fn tree_module_names(&self) -> BTreeSet<String> {
        self.files()
            .flat_map(|f| module_names(&f.rel))
            .map(str::to_owned)
            .collect()
    }

    /// Forgets every entry: the install they were made with is not the venv's.
    fn forget_all(&self) {
        let _ = fs::remove_dir_all(self.bytecode());
        let _ = fs::remove_dir_all(self.mypy());
        let _ = fs::remove_file(self.dir.join(seed_origins::ORIGINS));
    }

    /// Forgets mypy's entries of every module named like a folder or module under `python/`
    /// (the tree's bytecode is forgotten before every run anyway: see [`ToolCaches::prepare`]).
    fn forget_tree_mypy_entries(&self) {
        self.forget_mypy_entries(&self.tree_module_names());
    }

    /// Forgets mypy's entries of the modules whose top-level name is one of `names`.
    fn forget_mypy_entries(&self, names: &BTreeSet<String>) {
        for (version, _, meta) in fsutil::entries(&self.mypy()) {
            if !meta.is_dir() {
                continue;
            }
            for (entry, name, meta) in fsutil::entries(&version) {
                let top = name.split('.').next().unwrap_or(&name);
                if names.contains(top) {
                    let _ = if meta.is_dir() {
                        fs::remove_dir_all(&entry)
                    } else {
                        fs::remove_file(&entry)
                    };
                }
            }
        }
    }
}

/// The folders the `.pth` files of `site` add to the path: each line that is not a comment or an
/// `import`, relative to `site` unless absolute.
fn pth_folders(site: &Path) -> Vec<PathBuf> {
    fsutil::entries(site)
        .into_iter()
        .filter(|(_, name, meta)| name.ends_with(".pth") && meta.is_file())
        .flat_map(|(path, _, _)| {
            let text = fs::read_to_string(path).unwrap_or_default();
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("import"))
                .map(|l| site.join(l))
                .filter(|folder| folder.is_dir())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The tool of a job's cache folder, which is named by it first: `mypy-common--...`.
fn tool_of(dir: &Path) -> String {
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    name.split('-').next().unwrap_or_default().to_owned()
}

/// The venvs whose caches a seed's entries come from (each path ends with a NUL; a seed of an
/// older xtask names one venv, with none). Compared as text: two paths that differ only in bytes
/// that are not UTF-8 count as one venv, which seeds fewer entries, never more.
fn made_in(seed: &Path) -> Vec<String> {
    let bytes = fs::read(seed.join(VENV)).unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .split('\0')
        .filter(|venv| !venv.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The installed set's part of a job's install record: the record is `<installed set>+<settings>`
/// (see the gate's `caches`); one without a `+` is all installed set.
fn installed_set(install: &str) -> &str {
    install.split_once('+').map_or(install, |(set, _)| set)
}

/// `take`, skipping too the files that `to` already has: a seed's entry stays whole (mypy's meta
/// file records its data file's time).
fn only_new<'a>(
    take: &'a dyn Fn(&Path, bool) -> Take,
    to: &'a Path,
) -> impl Fn(&Path, bool) -> Take + 'a {
    let listing = std::cell::RefCell::new(Listing::default());
    move |rel, is_dir| match take(rel, is_dir) {
        Take::Skip => Take::Skip,
        _ if !is_dir && listing.borrow_mut().has(&to.join(rel)) => Take::Skip,
        _ => Take::Ask,
    }
}

/// Whether the job's cache `from` holds a file, of those `take` copies, that the seed's `to`
/// lacks.
fn lacks(to: &Path, from: &Path, take: &dyn Fn(&Path, bool) -> Take) -> bool {
    let mut listing = Listing::default();
    let mut missing = false;
    visit(from, take, &mut |rel, _| {
        missing = missing || !listing.has(&to.join(rel));
    });
    missing
}

/// The names in one folder, read once for the files of that folder: a cache holds thousands
/// of files, and a look at each (a `stat`) cost more than the rest of a publish.
#[derive(Default)]
struct Listing {
    dir: Option<PathBuf>,
    names: HashSet<std::ffi::OsString>,
    /// The names' parts before their first dot (see [`Listing::has_entry`]), made when asked.
    stems: Option<HashSet<String>>,
}

/// The part of a file's name before its first dot: its mypy entry's module.
fn stem(name: &std::ffi::OsStr) -> String {
    let name = name.to_string_lossy();
    name.split('.').next().unwrap_or_default().to_owned()
}

impl Listing {
    /// Whether there is an entry at `path`.
    fn has(&mut self, path: &Path) -> bool {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return false;
        };
        if self.dir.as_deref() != Some(dir) {
            self.names = fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            self.stems = None;
            self.dir = Some(dir.to_path_buf());
        }
        self.names.contains(name)
    }

    /// Whether the folder of `path` holds a file of the same mypy entry: a name with the same
    /// part before its first dot (`x.meta.ff`, `x.data.ff`, `x.meta_ex.ff` are `x`'s).
    fn has_entry(&mut self, path: &Path) -> bool {
        let Some(name) = path.file_name() else {
            return false;
        };
        self.has(path);
        let names = &self.names;
        let stems = self
            .stems
            .get_or_insert_with(|| names.iter().map(|n| stem(n)).collect());
        stems.contains(&stem(name))
    }
}

/// Whether `dir` holds a file that `take` leaves out.
fn holds_other(dir: &Path, take: &dyn Fn(&Path, bool) -> Take) -> bool {
    fn walk(from: &Path, rel: &Path, take: &dyn Fn(&Path, bool) -> Take) -> bool {
        fsutil::kinds(&from.join(rel))
            .into_iter()
            .any(|(path, name, kind)| {
                let rel = rel.join(&name);
                match take(&rel, kind.is_dir()) {
                    Take::Skip if kind.is_dir() => !fsutil::files_below(&path).is_empty(),
                    Take::Skip => kind.is_file(),
                    Take::Ask if kind.is_dir() => walk(from, &rel, take),
                    _ => false,
                }
            })
    }
    walk(dir, Path::new(""), take)
}

/// The plugins snapshot of each Python version's folder in the mypy cache `dir` (None where the
/// folder has none).
fn plugin_snapshots(dir: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    fsutil::entries(dir)
        .into_iter()
        .filter(|(_, _, meta)| meta.is_dir())
        .map(|(path, name, _)| (name, fs::read(path.join("@plugins_snapshot.json")).ok()))
        .collect()
}

/// Whether the mypy cache `dir` was made with no plugin: each version's snapshot is empty.
fn no_plugins(dir: &Path) -> bool {
    plugin_snapshots(dir)
        .iter()
        .all(|(_, snapshot)| snapshot.as_deref().is_some_and(|s| s.trim_ascii() == b"{}"))
}

/// Whether two mypy caches were made with the same plugins (their snapshot, in each Python
/// version's folder): mypy trusts no entry made with other plugins, and one seed holds one
/// snapshot.
fn same_plugins(a: &Path, b: &Path) -> bool {
    let snapshots = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let all = plugin_snapshots(dir).into_iter();
        all.map(|(version, snapshot)| (version, snapshot.unwrap_or_default()))
            .collect()
    };
    let theirs = snapshots(b);
    snapshots(a)
        .iter()
        .all(|(version, mine)| theirs.iter().all(|(v, s)| v != version || s == mine))
}

/// Puts the folder `aside` in the place of `dir`, which may exist: the old is moved away first
/// (a folder cannot be renamed over one that is not empty), then removed. Another process that
/// put its own there meanwhile keeps its place, and `aside` goes.
fn replace_dir(aside: &Path, dir: &Path, job: &str) {
    let old = dir.with_extension(format!("old-{}-{job}", std::process::id()));
    if dir.exists() && fs::rename(dir, &old).is_err() {
        let _ = fs::remove_dir_all(aside);
        return;
    }
    if fs::rename(aside, dir).is_err() {
        let _ = fs::remove_dir_all(aside);
    }
    let _ = fs::remove_dir_all(&old);
}

/// The names the parts of a Python file's path under `python/` give to mypy's cache entries
/// (`libs/common/src/dubbing_common/x.py`: `libs`, `common`, ..., `x`); none for other files.
fn module_names(rel: &str) -> impl Iterator<Item = &str> {
    let python = rel.ends_with(".py") || rel.ends_with(".pyi");
    rel.split('/')
        .filter(move |_| python)
        .map(|part| part.split('.').next().unwrap_or(part))
}

/// In a job's `pyc` folder, the bytecode of every file but the tree modules': those under
/// `python/` (`mirror` in the folder) outside a venv. A venv's folder is known by its
/// `pyvenv.cfg`, looked for once a folder.
fn bytecode_but_the_tree(
    rel: &Path,
    is_dir: bool,
    mirror: &Path,
    python: &Path,
    stdlib: &[PathBuf],
) -> Take {
    match rel.strip_prefix(mirror) {
        // A folder on the way to `python/`'s mirror.
        Err(_) if mirror.starts_with(rel) => Take::Ask,
        // Outside `python/`: the standard library's only (see
        // `keep_bytecode_of_the_venv_and_stdlib`).
        Err(_) => only_in(rel, is_dir, stdlib),
        Ok(below) if is_dir && python.join(below).join("pyvenv.cfg").is_file() => Take::All,
        Ok(_) if is_dir => Take::Ask,
        Ok(_) => Take::Skip,
    }
}

/// Everything below the `kept` places (paths below a job's `pyc` folder), and the folders on
/// the way to them.
fn only_in(rel: &Path, is_dir: bool, kept: &[PathBuf]) -> Take {
    match pycache_prefix::place(rel, is_dir, kept) {
        Place::Kept => Take::All,
        Place::OnTheWay => Take::Ask,
        Place::Outside => Take::Skip,
    }
}

/// In a job's `mypy` folder, every entry but a tree module's: those in the Python version's
/// folder named like one (`3.10/dubbing_common/`, `3.10/x.data.ff`).
fn mypy_entries(rel: &Path, names: &BTreeSet<String>) -> Take {
    let mut parts = rel.components().skip(1);
    let tree = parts.next().is_some_and(|entry| {
        let entry = entry.as_os_str().to_string_lossy();
        names.contains(entry.split('.').next().unwrap_or(&entry))
    });
    if tree { Take::Skip } else { Take::Ask }
}

/// What [`copy_tree`] does with a file or folder below its source.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Not copied; for a folder, nothing below it.
    Skip,
    /// Copied; for a folder, everything below it, without asking again.
    All,
    /// Copied if a file; a folder's entries are asked about one by one.
    Ask,
}

/// Copies the files under `from` to `to`, as `take` says of each path below `from` (and whether
/// it is a folder). Best effort: what is not copied, the tool computes. Returns the paths (below
/// `from`) of the files it copied.
fn copy_tree(from: &Path, to: &Path, take: &dyn Fn(&Path, bool) -> Take) -> Vec<PathBuf> {
    let mut made: HashSet<PathBuf> = HashSet::new();
    let mut copied = Vec::new();
    visit(from, take, &mut |rel, path| {
        let target = to.join(rel);
        // A folder is made with its first file: one whose files are all skipped is not made.
        let folder = target.parent().unwrap_or(to);
        if made.contains(folder) || fs::create_dir_all(folder).is_ok() {
            made.insert(folder.to_path_buf());
            link_or_copy(path, &target);
            copied.push(rel.to_path_buf());
        }
    });
    copied
}

/// Calls `file` with each file under `from` (its path below `from`, its path) that `take`
/// keeps, as it says of each path below `from` (and whether it is a folder). Symlinks are
/// neither followed nor visited.
fn visit(from: &Path, take: &dyn Fn(&Path, bool) -> Take, file: &mut dyn FnMut(&Path, &Path)) {
    fn walk(
        from: &Path,
        rel: &Path,
        decided: Take,
        take: &dyn Fn(&Path, bool) -> Take,
        file: &mut dyn FnMut(&Path, &Path),
    ) {
        // The kinds the folder's listing gives: no `stat` a file.
        for (path, name, kind) in fsutil::kinds(&from.join(rel)) {
            let rel = rel.join(&name);
            let what = match decided {
                Take::Ask => take(&rel, kind.is_dir()),
                whole => whole,
            };
            if what == Take::Skip {
                continue;
            }
            if kind.is_dir() {
                walk(from, &rel, what, take, file);
            } else if kind.is_file() {
                file(&rel, &path);
            }
        }
    }
    walk(from, Path::new(""), Take::Ask, take, file);
}

/// Links a cache file to its seed: Python, pytest and mypy write each entry aside and rename it
/// over the old, so a seeded entry that a tool writes again becomes a file of its own. A
/// database (mypy's `sqlite_cache`) is written in place: copied. So is a file on another disk.
/// A file already at `to` stays (see [`fsutil::link_or_copy_new`]).
fn link_or_copy(from: &Path, to: &Path) {
    let in_place = from
        .extension()
        .is_some_and(|e| e == "db" || e == "db-journal" || e == "db-wal");
    let _ = fsutil::link_or_copy_new(from, to, !in_place);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rel: &str, digest: &str, size: u64, mtime_ns: u128) -> TreeFile {
        TreeFile {
            rel: rel.into(),
            digest: digest.into(),
            size,
            mtime_ns,
            changed_ns: mtime_ns,
            executable: false,
        }
    }

    #[test]
    fn only_an_edit_that_keeps_size_and_second_forgets_the_tree() {
        let dir = std::env::temp_dir().join(format!("xtask-caches-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let python = dir.join("python");
        let entry = dir.join("c/mypy/3.10/dubbing_common/x.meta.ff");
        let third_party = dir.join("c/mypy/3.10/numpy/x.meta.ff");
        let make = |files: Vec<TreeFile>| {
            ToolCaches::new(
                dir.join("c"),
                python.clone(),
                vec![files.into()],
                false,
                "i1".into(),
                &dir.join("seeds"),
            )
        };
        let then = vec![file(
            "libs/common/src/dubbing_common/x.py",
            "aa",
            10,
            5_000_000_001,
        )];
        make(then).record();
        let prepare = |files: Vec<TreeFile>| {
            for path in [&entry, &third_party] {
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, "").unwrap();
            }
            make(files).prepare();
            entry.exists()
        };
        // Another size, or another second: mypy looks at the content itself.
        assert!(prepare(vec![file(
            "libs/common/src/dubbing_common/x.py",
            "bb",
            11,
            5_000_000_001
        )]));
        assert!(prepare(vec![file(
            "libs/common/src/dubbing_common/x.py",
            "bb",
            10,
            6_000_000_000
        )]));
        // Same size, same second, other content: mypy would trust its entry.
        assert!(!prepare(vec![file(
            "libs/common/src/dubbing_common/x.py",
            "bb",
            10,
            5_900_000_000
        )]));
        assert!(
            third_party.exists(),
            "an installed package's entry was forgotten"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A file saved while the job ran (the tool may have read it so) is recorded with its new
    /// size and time and no content: the next run forgets the tree's entries if the file still
    /// has them, whatever its content, and not once the tools can see it changed.
    #[test]
    fn a_file_saved_while_the_job_ran_is_not_trusted_by_size_and_time() {
        let dir = std::env::temp_dir().join(format!("xtask-caches-r-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let python = dir.join("python");
        let rel = "libs/common/src/dubbing_common/x.py";
        let entry = dir.join("c/mypy/3.10/dubbing_common/x.meta.ff");
        let make = |files: Vec<TreeFile>| {
            let files = vec![files.into()];
            ToolCaches::new(
                dir.join("c"),
                python.clone(),
                files,
                false,
                "i1".into(),
                &dir,
            )
        };
        // Read as 3 bytes; 4 bytes on disk when the job ends (saved meanwhile).
        fs::create_dir_all(python.join(rel).parent().unwrap()).unwrap();
        fs::write(python.join(rel), "new!").unwrap();
        let saved = fs::metadata(python.join(rel)).unwrap();
        let saved_at = crate::digest::mtime_ns(&saved);
        make(vec![file(rel, "aa", 3, 5_000_000_001)]).record();
        let prepare = |f: TreeFile| {
            fs::create_dir_all(entry.parent().unwrap()).unwrap();
            fs::write(&entry, "").unwrap();
            make(vec![f]).prepare();
            entry.exists()
        };
        assert!(!prepare(file(rel, "cc", 4, saved_at)));
        assert!(prepare(file(rel, "cc", 5, saved_at + 2_000_000_000)));
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Every run forgets the bytecode of the tree's files, not that of a venv's packages (nor, but
    /// with `--no-cache`, mypy's entries of the tree); a venv whose install changed forgets
    /// everything, mypy's entries of its packages too.
    #[test]
    fn the_install_answers_for_the_venvs_entries() {
        let dir = std::env::temp_dir().join(format!("xtask-caches-i-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let python = dir.join("python");
        let venv = python.join("apps/svc/.venv");
        fs::create_dir_all(&venv).unwrap();
        fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        // numpy is installed: the seed the first run leaves in the tools folder holds mypy's
        // entries of it, which a reinstall in this venv must not take back.
        fs::create_dir_all(venv.join("lib/python3.10/site-packages/numpy")).unwrap();
        // In the venv, as a job's caches are (`<venv>/xtask-cache/<job>`).
        let job = venv.join("xtask-cache/c");
        let caches = |fresh: bool, install: &str| {
            ToolCaches::new(
                job.clone(),
                python.clone(),
                vec![],
                fresh,
                install.into(),
                &dir.join("seeds"),
            )
        };
        let mirror = caches(false, "")
            .bytecode()
            .join(pycache_prefix::mirror(&python));
        let tree_pyc = mirror.join("libs/common/src/dubbing_common/x.cpython-310.pyc");
        let venv_pyc = mirror.join("apps/svc/.venv/lib/site-packages/six.cpython-310.pyc");
        let numpy = job.join("mypy/3.10/numpy.meta.json");
        // A module of the system outside the tree and the interpreter (a plugin beside python/).
        let elsewhere = caches(false, "")
            .bytecode()
            .join(pycache_prefix::mirror(&dir.join("plugins")))
            .join("plugin.cpython-310.pyc");
        let make = || {
            for path in [&tree_pyc, &venv_pyc, &numpy, &elsewhere] {
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, "").unwrap();
            }
        };
        make();
        caches(false, "i1").record();
        caches(true, "i1").prepare();
        assert!(!tree_pyc.exists(), "--no-cache kept the tree's bytecode");
        assert!(
            !elsewhere.exists(),
            "the bytecode of a file elsewhere was kept"
        );
        assert!(venv_pyc.exists() && numpy.exists());
        make();
        // A run: the tree's bytecode never outlives one (a compile warning it hid); the venv's
        // and mypy's entries stay.
        caches(false, "i1").prepare();
        assert!(!tree_pyc.exists() && venv_pyc.exists() && numpy.exists());
        make();
        caches(false, "i2").prepare();
        assert!(!venv_pyc.exists() && !numpy.exists() && !tree_pyc.exists());
        // The settings alone (after `+`): every bytecode goes, mypy's entries of the tree too,
        // not those of the installed packages.
        let common = job.join("mypy/3.10/dubbing_common.meta.json");
        let with_common = |install: &str| {
            ToolCaches::new(
                job.clone(),
                python.clone(),
                vec![vec![file("libs/common/src/dubbing_common/x.py", "aa", 1, 1)].into()],
                false,
                install.into(),
                &dir.join("seeds"),
            )
        };
        let snapshot = job.join("mypy/3.10/@plugins_snapshot.json");
        make();
        fs::write(&common, "").unwrap();
        fs::write(&snapshot, "{}").unwrap();
        with_common("i2+s1").record();
        with_common("i2+s2").prepare();
        assert!(!venv_pyc.exists() && !tree_pyc.exists() && !common.exists());
        assert!(
            numpy.exists(),
            "a change of the settings forgot an installed package's entry"
        );
        // With a plugin, whose helper modules mypy does not check: every entry goes.
        make();
        fs::write(&snapshot, "{\"plug\": \"none:ab12\"}").unwrap();
        with_common("i2+s2").record();
        with_common("i2+s3").prepare();
        assert!(
            !numpy.exists(),
            "a plugin's settings changed, an entry stayed"
        );
        // Errors reported in installed packages: every entry goes too.
        make();
        fs::write(&snapshot, "{}").unwrap();
        fs::write(
            python.join("pyproject.toml"),
            "[tool.mypy]\nno_silence_site_packages = true\n",
        )
        .unwrap();
        with_common("i2+s3").record();
        with_common("i2+s4").prepare();
        assert!(
            !numpy.exists(),
            "site-packages' errors reported, an entry stayed"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
    /// The seed of the tools folder grows by what a later job's caches hold and it lacks, and
    /// names every venv its entries were made in; entries made with other mypy plugins stay out.
    #[test]
    fn a_seed_grows_by_what_it_lacks() {
        let dir = std::env::temp_dir().join(format!("xtask-caches-g-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let python = dir.join("python");
        let seeds = dir.join("seeds");
        let job = |service: &str, files: &[(&str, &str)]| {
            let venv = python.join("apps").join(service).join(".venv");
            fs::create_dir_all(&venv).unwrap();
            fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
            // The standard library, as the interpreter would name it (no interpreter here).
            let key = crate::digest::hash(b"home = /usr/bin\n");
            fs::create_dir_all(venv.join("xtask-cache")).unwrap();
            fs::write(
                venv.join("xtask-cache/stdlib"),
                format!("{key}\n/usr/lib\n/usr/lib\n"),
            )
            .unwrap();
            let caches = ToolCaches::new(
                venv.join("xtask-cache/mypy-x"),
                python.clone(),
                vec![],
                false,
                "i1".into(),
                &seeds,
            );
            for (rel, text) in files {
                let path = caches.dir.join(rel);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, text).unwrap();
            }
            // Its entries its own (a first run with no seed to start from records that).
            Origins::default().write(&caches.dir);
            caches.record();
            (caches.seed_dir().unwrap(), venv)
        };
        let (seed, a) = job(
            "a",
            &[("mypy/3.10/os.meta.ff", "a"), ("pyc/usr/lib/os.pyc", "a")],
        );
        let (same, b) = job(
            "b",
            &[
                ("mypy/3.10/os.meta.ff", "b"),
                ("mypy/3.10/json.meta.ff", "b"),
            ],
        );
        assert_eq!(seed, same, "one interpreter, one tool: one seed");
        let read = |rel: &str| fs::read_to_string(seed.join(rel)).ok();
        assert_eq!(read("mypy/3.10/os.meta.ff").as_deref(), Some("a"));
        assert_eq!(read("mypy/3.10/json.meta.ff").as_deref(), Some("b"));
        assert_eq!(read("pyc/usr/lib/os.pyc").as_deref(), Some("a"));
        let venvs = made_in(&seed);
        assert_eq!(venvs, [a, b].map(|v| v.to_string_lossy().into_owned()));
        let plugin = [
            ("mypy/3.10/@plugins_snapshot.json", "{\"p\": 1}"),
            ("mypy/3.10/re.meta.ff", "c"),
        ];
        job("c", &plugin);
        assert_eq!(read("mypy/3.10/re.meta.ff"), None);
        assert_eq!(made_in(&seed).len(), 2);
        let leftovers: Vec<_> = fsutil::entries(&seeds).into_iter().map(|e| e.1).collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
        // A seed an older xtask grew with a plugin's bytecode (beside python/): the next job
        // rewrites it without, though it adds nothing.
        fs::create_dir_all(seed.join("pyc/tmp/t")).unwrap();
        fs::write(seed.join("pyc/tmp/t/plugin.pyc"), "old").unwrap();
        job("d", &[("mypy/3.10/os.meta.ff", "d")]);
        assert_eq!(read("pyc/tmp/t/plugin.pyc"), None);
        assert_eq!(read("pyc/usr/lib/os.pyc").as_deref(), Some("a"));
        // A venv whose interpreter cannot say where its standard library is (no Python there,
        // no record): the seed's bytecode stays as it is; mypy's entries still grow.
        let broken = python.join("apps/e/.venv");
        fs::create_dir_all(&broken).unwrap();
        fs::write(broken.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        let caches = ToolCaches::new(
            broken.join("xtask-cache/mypy-x"),
            python.clone(),
            vec![],
            false,
            "i1".into(),
            &seeds,
        );
        for rel in ["mypy/3.10/zlib.meta.ff", "pyc/usr/lib/zz.pyc"] {
            let path = caches.dir.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "e").unwrap();
        }
        Origins::default().write(&caches.dir);
        caches.record();
        assert_eq!(read("mypy/3.10/zlib.meta.ff").as_deref(), Some("e"));
        assert_eq!(read("pyc/usr/lib/os.pyc").as_deref(), Some("a"));
        assert_eq!(read("pyc/usr/lib/zz.pyc"), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A seed made in a venv at this path seeds none of its installed packages' entries: named
    /// as mypy names them, a stub-only package's (`bar-stubs/` types `bar`) and those of folders
    /// a `.pth` file adds to the path too.
    #[test]
    fn the_installed_names_are_those_mypy_gives_the_entries() {
        let dir = std::env::temp_dir().join(format!("xtask-caches-n-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let venv = dir.join("python/apps/svc/.venv");
        let site = venv.join("lib/python3.10/site-packages");
        for folder in ["bar-stubs", "extra/inner", "six-1.17.0.dist-info"] {
            fs::create_dir_all(site.join(folder)).unwrap();
        }
        fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        fs::write(site.join("six.py"), "").unwrap();
        fs::write(site.join("extra/plugged.py"), "").unwrap();
        fs::write(site.join("x.pth"), "# comment\nextra\nimport os\nnowhere\n").unwrap();
        let caches = ToolCaches::new(
            venv.join("xtask-cache/mypy-x"),
            dir.join("python"),
            vec![],
            false,
            "i1".into(),
            &dir.join("seeds"),
        );
        let names: BTreeSet<String> = caches.installed_names().into_iter().collect();
        for name in ["bar", "six", "plugged", "inner"] {
            assert!(names.contains(name), "{name}: {names:?}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Seeding into a job's caches that already hold links to the seed's files (an earlier
    /// seeding linked them; a change of the settings keeps them) leaves both whole: a copy onto a
    /// link of itself would empty the file, here and in every tree that links it.
    #[test]
    fn seeding_over_links_to_the_seed_leaves_its_files_whole() {
        let dir = std::env::temp_dir().join(format!("xtask-caches-l-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let python = dir.join("python");
        let venv = python.join("apps/svc/.venv");
        let (sibling, job) = (
            venv.join("xtask-cache/mypy-a"),
            venv.join("xtask-cache/mypy-b"),
        );
        let entry = Path::new("mypy/3.10/builtins.data.ff");
        fs::create_dir_all(sibling.join(entry).parent().unwrap()).unwrap();
        fs::create_dir_all(job.join(entry).parent().unwrap()).unwrap();
        fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        fs::write(sibling.join(entry), "builtins' entry").unwrap();
        fs::hard_link(sibling.join(entry), job.join(entry)).unwrap();
        fs::write(job.join("mypy/3.10/@plugins_snapshot.json"), "{}").unwrap();
        // An entry of the job's own, half written (a run stopped between its files); the
        // sibling's whole.
        for part in ["meta.ff", "data.ff", "meta_ex.ff"] {
            fs::write(sibling.join(format!("mypy/3.10/half.{part}")), "theirs").unwrap();
        }
        fs::write(job.join("mypy/3.10/half.meta.ff"), "ours").unwrap();
        // A sibling whose caches are its own, and one more entry it has that the job lacks.
        Origins::default().write(&sibling);
        fs::write(sibling.join("mypy/3.10/whole.meta.ff"), "theirs").unwrap();
        let caches = |dir: &Path, install: &str| {
            ToolCaches::new(
                dir.to_path_buf(),
                python.clone(),
                vec![],
                false,
                install.into(),
                &dir.join("seeds"),
            )
        };
        caches(&sibling, "i+s2").record();
        caches(&job, "i+s1").record();
        caches(&job, "i+s2").prepare();
        for cache in [&sibling, &job] {
            assert_eq!(
                fs::read_to_string(cache.join(entry)).unwrap(),
                "builtins' entry"
            );
        }
        assert!(
            !job.join("mypy/3.10/half.meta_ex.ff").exists(),
            "a seeded part beside a part of the job's own"
        );
        assert!(
            job.join("mypy/3.10/whole.meta.ff").exists(),
            "nothing seeded"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// An entry a job received by seeding keeps its maker's name when the job publishes it: the
    /// seed removed (`clean`) and made again from another venv's caches, the venv that made the
    /// entry still leaves it out once its install changed (at its own path mypy would trust it).
    #[test]
    fn a_republished_entry_is_still_its_makers() {
        let dir = std::env::temp_dir().join(format!("xtask-caches-p-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let python = dir.join("python");
        let seeds = dir.join("seeds");
        let job = |service: &str, install: &str| {
            let venv = python.join("apps").join(service).join(".venv");
            fs::create_dir_all(venv.join("lib/python3.10/site-packages/numpy")).unwrap();
            fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
            ToolCaches::new(
                venv.join("xtask-cache/mypy-x"),
                python.clone(),
                vec![],
                false,
                install.into(),
                &seeds,
            )
        };
        let entry = "mypy/3.10/numpy/core.meta.ff";
        // The first venv makes numpy's entry; the second receives it, as a first run does.
        let maker = job("maker", "i1");
        maker.prepare();
        fs::create_dir_all(maker.dir.join(entry).parent().unwrap()).unwrap();
        fs::write(maker.dir.join(entry), "maker's").unwrap();
        maker.record();
        let other = job("other", "i1");
        other.prepare();
        assert!(other.dir.join(entry).is_file(), "nothing seeded");
        other.record();
        // The seed removed, then made again from the second venv's caches.
        fs::remove_dir_all(&seeds).unwrap();
        other.record();
        let seed = other.seed_dir().unwrap();
        assert!(seed.join(entry).is_file(), "not published again");
        // The maker's install changed: its caches start again from the seed, without numpy's.
        job("maker", "i2").prepare();
        assert!(
            !maker.dir.join(entry).exists(),
            "the maker's own entry came back to it"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A seed's copy leaves out the tree modules' entries: the bytecode of the files under
    /// `python/` outside a venv (no folder made for them) and of files that are not the
    /// interpreter's, mypy's entries named like a tree module.
    #[test]
    fn a_seed_copies_all_but_the_trees_entries() {
        let dir = std::env::temp_dir().join(format!("xtask-caches-s-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let python = dir.join("python");
        fs::create_dir_all(python.join("apps/svc/.venv")).unwrap();
        fs::write(
            python.join("apps/svc/.venv/pyvenv.cfg"),
            "home = /usr/bin\n",
        )
        .unwrap();
        let mirror = pycache_prefix::mirror(&python);
        let (from, to) = (dir.join("from"), dir.join("to"));
        let tree = mirror.join("libs/common/src/dubbing_common/x.cpython-310.pyc");
        let files = [
            (Path::new("pyc").join(&tree), false),
            (
                Path::new("pyc").join(mirror.join("y.cpython-310.pyc")),
                false,
            ),
            (
                Path::new("pyc").join(mirror.join("apps/svc/.venv/lib/six.cpython-310.pyc")),
                true,
            ),
            (
                PathBuf::from("pyc/usr/lib/python3.10/os.cpython-310.pyc"),
                true,
            ),
            // A plugin beside python/: not the interpreter's.
            (
                Path::new("pyc").join(mirror.parent().unwrap().join("plugin.cpython-310.pyc")),
                false,
            ),
            (PathBuf::from("mypy/3.10/dubbing_common/x.meta.ff"), false),
            (PathBuf::from("mypy/3.10/x.data.ff"), false),
            (PathBuf::from("mypy/3.10/numpy.meta.ff"), true),
            (PathBuf::from("mypy/.gitignore"), true),
        ];
        for (rel, _) in &files {
            fs::create_dir_all(from.join(rel).parent().unwrap()).unwrap();
            fs::write(from.join(rel), "").unwrap();
        }
        let names: BTreeSet<String> = ["dubbing_common", "x"].map(str::to_owned).into();
        copy_tree(&from.join("mypy"), &to.join("mypy"), &|rel, _| {
            mypy_entries(rel, &names)
        });
        copy_tree(&from.join("pyc"), &to.join("pyc"), &|rel, is_dir| {
            bytecode_but_the_tree(
                rel,
                is_dir,
                &mirror,
                &python,
                &[PathBuf::from("usr/lib/python3.10")],
            )
        });
        for (rel, copied) in &files {
            assert_eq!(to.join(rel).is_file(), *copied, "{}", rel.display());
        }
        assert!(!to.join("pyc").join(tree.parent().unwrap()).exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
