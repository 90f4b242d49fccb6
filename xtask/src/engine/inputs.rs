//! What a job's result depends on: its inputs, listed here and nowhere else. A remembered pass is
//! reused only while every input hashes as it did, so the rule is soundness first: a remembered
//! verdict must equal what `--no-cache` would give on the same tree, venv and environment.
//!
//! The inputs of a job, and why each is one:
//! - **its command line and working folder**: the tool, its flags, its targets, the variables the
//!   xtask sets for it;
//! - **the files of its package and of every local package its process can load**
//!   ([`Inputs::readers`]): what the tool checks and what it imports. Which packages: the
//!   package; every local package it declares (dependencies, dev tools), transitively; every
//!   local package whose import name its files mention anywhere (an `import` line, but also a
//!   string: `importorskip("dubbing_contracts")`, `import_module(...)`, a `-p` option), with the
//!   same rule applied to those in turn; for pytest, every local package installed in the venv
//!   that registers a `pytest11` entry point (pytest loads every one of them, and their
//!   fixtures); for mypy, the local package of each plugin `python/pyproject.toml` names; every
//!   local package that declares an entry-point group its files name ([`Names`]); every local
//!   package named by a `conftest.py` or a tool's configuration under `python/` outside the
//!   packages, by a variable the tools see, or by the arguments passed on to pytest. Only
//!   packages installed in the job's venv count (no other can be loaded), but one whose folder
//!   holds a folder that pytest's `pythonpath` or mypy's `mypy_path` puts on the path: the tool
//!   reads its modules there by path, in every job. What this cannot see:
//!   an import name built at run time from pieces (`"dubbing_" + "common"`), or read from a file
//!   outside `python/` or an `@file` of arguments, and a file of another package opened by its
//!   path (`open("../../libs/x/data.json")`, no import name): declare such a dependency. Other
//!   packages are left out, which is what lets an edit in one service keep the other service's
//!   passes;
//! - **every file under `python/` outside the packages**: `conftest.py` at any level, `ruff.toml`,
//!   `.ruff.toml`, `mypy.ini`, `setup.cfg`, `pytest.ini`, `tox.ini`, `python/pyproject.toml`,
//!   `.gitignore` files, `tests/e2e/`: tools read configuration from the folders above a
//!   package, and which files they read is theirs to decide, so all of them count;
//! - **files outside `python/` that the tools read** ([`crate::engine::outside`], which lists
//!   them): git's ignore rules (ruff and pytest skip what git ignores: every `.gitignore` from
//!   the root down to `python/`, `.git/info/exclude`, the `core.excludesFile`) and the `.ignore`
//!   files above `python/`; every configuration file that `python/` configuration extends,
//!   wherever it is (ruff's `extend`); the paths held by the `src` folders outside `python/`
//!   that ruff's configuration names; ruff's user configuration; and what a tool option or
//!   variable names ([`crate::engine::option_files`]: pytest's `@file`s, `COVERAGE_RCFILE`,
//!   mypy's `mypy_path` folders by content);
//! - for all files: build leftovers too (`build/`, `*.egg-info`), and a symlink by its target's
//!   content; a folder that holds no file counts by its path (Python imports it as a namespace
//!   package, ruff calls its name first-party); only what tools write, where they write it, is
//!   left out: bytecode (a `__pycache__` that holds nothing else), and the caches, coverage data
//!   and venvs at `python/` and at a package's folder ([`digest::tree_files`]);
//! - **the venv as it is now**: its `pyvenv.cfg` (the interpreter), the listing of site-packages,
//!   every `.pth` file (editable paths) and each distribution's RECORD and METADATA (which
//!   versions of the tools and libraries are installed) ([`Venv::installed`]). Not the files
//!   inside an installed package's folder: an install writes them and a sync replaces them, and
//!   a hand edit of one (a debugging print in site-packages) is not seen (nor does a new venv,
//!   the truly fresh run, hold it); `setup --force` reinstalls;
//! - **the environment**: every variable the tools see. The volatile ones below (the terminal,
//!   the shell session, how the xtask was started) are not seen by the tools at all: the xtask
//!   removes them from every job's environment, and sets `COLUMNS=80` and `LINES=24`, so
//!   `argparse` help and `shutil.get_terminal_size()` read the same in every terminal. Hashing
//!   all the rest (rather than a chosen few) keeps what a person exports visible to their tests,
//!   as they expect, and a test that reads any variable stays sound.
//!
//! Each file is read and hashed once per run, whatever the number of jobs that depend on it. The
//! tools' own caches are kept sound beside this ([`crate::engine::caches`]).

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use crate::cmd::RETARGETING_VARS;
use crate::digest::{self, Hasher, TreeFile};
use crate::engine::memo::KeySpec;
use crate::engine::option_files;
use crate::engine::outside::{self, Outside};
use crate::env::venv::{Installed, Venv};
use crate::project::PYTHON_DIR;
use crate::workspace::imports::referenced_names;
use crate::workspace::{self, Package, Workspace, normalize};

/// Variables that describe the terminal, the shell session or the process that started the
/// xtask: removed from every job's environment (the terminal's size is fixed instead, see
/// [`TERMINAL`]), so they are no input, and another terminal window, a resized one or `cargo
/// xtask` instead of the bare binary still finds the remembered passes.
const VOLATILE_VARS: &[&str] = &[
    "_",
    "PWD",
    "OLDPWD",
    "SHLVL",
    "TERM",
    "COLORTERM",
    "COLUMNS",
    "LINES",
    "TMUX",
    "TMUX_PANE",
    "STY",
    "WINDOWID",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "DBUS_SESSION_BUS_ADDRESS",
    "LS_COLORS",
    "PS1",
    "PS2",
    "PROMPT_COMMAND",
    "HISTFILE",
    "HISTSIZE",
    "HISTFILESIZE",
    "HISTCONTROL",
    "MAIL",
    "GPG_TTY",
    "SSH_AUTH_SOCK",
    "SSH_AGENT_PID",
    "SSH_CLIENT",
    "SSH_CONNECTION",
    "SSH_TTY",
    "MAKEFLAGS",
    "MFLAGS",
    "RUST_RECURSION_COUNT",
    // hyperfine's noise, set anew for each run of a benchmark.
    "HYPERFINE_RANDOMIZED_ENVIRONMENT_OFFSET",
    // CI runners: what differs between two runs of the same job on the same image (a run's id
    // and number, the commit and ref, the event, per-step files, the runner's name and temp
    // folder, the service's tokens), and the markers of running in CI (`CI`, `GITHUB_ACTIONS`,
    // which pytest and other tools read to change their output). Removed, they are no input: a
    // restored venv finds its passes on the next run, and a laptop running the same command sees
    // what the runner's tools saw. What does not change between runs of one image (`HOME`,
    // `PATH`, setup-python's `pythonLocation`, `LD_LIBRARY_PATH`) stays an input. Prefixes:
    // below (GitHub's `GITHUB_`, `RUNNER_`, `ACTIONS_`; GitLab's `CI_`).
    "CI",
    "INVOCATION_ID",
    "JOURNAL_STREAM",
    "SYSTEMD_EXEC_PID",
    "ImageOS",
    "ImageVersion",
    "BUILD_NUMBER",
    "BUILD_ID",
    "BUILD_URL",
    "JOB_NAME",
    "EXECUTOR_NUMBER",
    // Its purpose, no `__pycache__` in the tree, holds without it: a job's bytecode goes to the
    // job's own cache in the venv (`PYTHONPYCACHEPREFIX`). Passed on, it would make every run
    // compile pytest, coverage and every import anew (3 times slower).
    "PYTHONDONTWRITEBYTECODE",
];

/// Prefixes of volatile variables: terminal emulators' and editors' per-window settings, and
/// what `cargo run` sets about the xtask's own package.
const VOLATILE_PREFIXES: &[&str] = &[
    "TERM_",
    "VSCODE_",
    "KITTY_",
    "ITERM_",
    "WT_",
    "KONSOLE_",
    "GNOME_TERMINAL_",
    "XDG_SESSION_",
    "CARGO_PKG_",
    "CARGO_MANIFEST_",
    "CARGO_BIN_",
    "CARGO_CRATE_",
    "CARGO_PRIMARY_",
    "CARGO_MAKEFLAGS",
    "__CF",
    // CI runners (see the list above).
    "GITHUB_",
    "RUNNER_",
    "ACTIONS_",
    "CI_",
];

/// Whether a variable is volatile (see [`VOLATILE_VARS`]): the tools never see it, so it is no
/// input. Variables the xtask removes before running a tool are left out for the same reason,
/// and so are the installer's that change nothing installed (`UV_OFFLINE`: a job runs no
/// installer).
pub fn is_volatile(name: &str) -> bool {
    VOLATILE_VARS.contains(&name)
        || RETARGETING_VARS.contains(&name)
        || crate::cmd::is_quiet_installer_var(name)
        || name == "CARGO"
        || VOLATILE_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The volatile variables set now: what a job's environment drops.
pub fn volatile_now() -> Vec<String> {
    std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .filter(|k| is_volatile(k) && !RETARGETING_VARS.contains(&k.as_str()))
        .collect()
}

/// The fixed terminal size every job sees.
pub const TERMINAL: [(&str, &str); 2] = [("COLUMNS", "80"), ("LINES", "24")];

/// The digest of the environment the tools see.
fn environment() -> String {
    digest::variables(|name| !is_volatile(name))
}

/// The tools a job can run: which local packages its process loads besides its own depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Mypy,
    Pytest,
}

/// The files of one package, as read this run.
struct PackageFiles {
    files: Arc<[TreeFile]>,
    /// Its folders that hold no file (see [`digest::Tree::empty_folders`]).
    empty_folders: Vec<String>,
    digest: String,
    /// The local packages (normalised names) whose import names its files mention.
    names: BTreeSet<String>,
}

/// The files under `python/`: one set per package, one for everything else.
struct Files {
    packages: HashMap<String, PackageFiles>,
    /// The local packages named by the files under `python/` outside the packages (a
    /// `conftest.py` above them, `-p` in the configuration's `addopts`) and by the environment
    /// the tools see (`PYTEST_PLUGINS`, `PYTEST_ADDOPTS`): any job may load them.
    shared_names: BTreeSet<String>,
    names: Names,
    /// Where the symlinks under `python/` lead (see [`digest::Tree::link_targets`]).
    link_targets: Vec<PathBuf>,
    outside: Arc<[TreeFile]>,
    outside_empty_folders: Vec<String>,
    outside_digest: String,
}

impl Files {
    fn scan(ws: &Workspace) -> Files {
        let python = ws.root.join(PYTHON_DIR);
        // Package folders relative to python/, longest first, so the innermost owner wins.
        let mut owners: Vec<(String, &str)> = ws
            .packages
            .iter()
            .map(|p| (format!("{}/", p.python_rel()), p.name.as_str()))
            .collect();
        owners.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        let owner_of = |rel: &str| {
            owners
                .iter()
                .find(|(prefix, _)| rel.starts_with(prefix))
                .map(|(_, name)| *name)
        };
        let matcher = Names::of(ws);
        let mut names: HashMap<&str, BTreeSet<String>> = HashMap::new();
        let mut shared_names = matcher.in_environment();
        let tree = digest::tree_files_reading(
            &python,
            &workspace::tool_roots(&ws.root),
            &mut |rel, content| match owner_of(rel) {
                Some(owner) => names
                    .entry(owner)
                    .or_default()
                    .extend(matcher.in_text(content)),
                None if loaded_by_every_job(rel) => shared_names.extend(matcher.in_text(content)),
                None => {}
            },
        );
        let link_targets = tree.link_targets;
        let mut grouped: HashMap<Option<&str>, (Vec<TreeFile>, Vec<String>)> = HashMap::new();
        for file in tree.files {
            grouped.entry(owner_of(&file.rel)).or_default().0.push(file);
        }
        for folder in tree.empty_folders {
            grouped.entry(owner_of(&folder)).or_default().1.push(folder);
        }
        let packages = ws
            .packages
            .iter()
            .map(|p| {
                let (files, empty) = grouped.remove(&Some(p.name.as_str())).unwrap_or_default();
                let mut named = names.remove(p.name.as_str()).unwrap_or_default();
                named.remove(&p.name);
                let own = PackageFiles {
                    digest: files_digest(&files, &empty),
                    files: files.into(),
                    empty_folders: empty,
                    names: named,
                };
                (p.name.clone(), own)
            })
            .collect();
        let (outside, outside_empty) = grouped.remove(&None).unwrap_or_default();
        Files {
            packages,
            shared_names,
            names: matcher,
            link_targets,
            outside_digest: files_digest(&outside, &outside_empty),
            outside: outside.into(),
            outside_empty_folders: outside_empty,
        }
    }

    /// Every empty folder under `python/` (see [`digest::Tree::empty_folders`]).
    fn empty_folders(&self) -> impl Iterator<Item = &String> {
        let owned = self.packages.values().flat_map(|p| p.empty_folders.iter());
        owned.chain(self.outside_empty_folders.iter())
    }

    /// Every file under `python/`: the packages' and the rest, in no order.
    fn all(&self) -> impl Iterator<Item = &TreeFile> {
        let owned = self.packages.values().flat_map(|p| p.files.iter());
        owned.chain(self.outside.iter())
    }

    /// Every ruff configuration file under `python/` (see [`outside::ruff_configs`]), relative
    /// to `python/`.
    fn ruff_configs(&self) -> Vec<&str> {
        outside::ruff_configs(self.all()).collect()
    }
}

/// Whether a file under `python/` outside the packages (`rel`, from `python/`) is loaded by the
/// tools for any package's job: a `conftest.py` (pytest loads those of the folders above a
/// package's tests) or a tool's configuration (an `addopts` with `-p NAME`). Not the others: a
/// README names every package, and the end-to-end tests are no package's job.
fn loaded_by_every_job(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name == "conftest.py"
        || [
            "pyproject.toml",
            "pytest.ini",
            ".pytest.ini",
            "tox.ini",
            "setup.cfg",
            "mypy.ini",
            ".mypy.ini",
            ".coveragerc",
        ]
        .contains(&name)
}

/// What names a local package in a file's text: one of its import names, or an entry-point
/// group it declares (`[project.entry-points."dubbing.stages"]`): code that loads a group's
/// entry points (`importlib.metadata.entry_points(group=...)`) loads every local package that
/// declares one, and names the group, not them. The scripts' groups are left out: a script is
/// a program, run by its name.
struct Names {
    /// Import name to the package's (normalised) name.
    imports: HashMap<String, String>,
    /// Entry-point group to the packages that declare it.
    groups: HashMap<String, Vec<String>>,
}

impl Names {
    fn of(ws: &Workspace) -> Names {
        let imports = ws
            .packages
            .iter()
            .flat_map(|p| p.import_names().into_iter().map(|n| (n, p.name.clone())))
            .collect();
        let mut groups: HashMap<String, Vec<String>> = HashMap::new();
        for package in &ws.packages {
            for group in entry_point_groups(package) {
                groups.entry(group).or_default().push(package.name.clone());
            }
        }
        Names { imports, groups }
    }

    /// The local packages whose pyproject declares entry points of `group`.
    fn declaring(&self, group: &str) -> &[String] {
        self.groups.get(group).map_or(&[], Vec::as_slice)
    }

    /// The local packages `text` names (see [`Names`]).
    fn in_text(&self, text: &[u8]) -> Vec<String> {
        let known = |token: &str| {
            self.imports
                .get_key_value(token)
                .or_else(|| self.groups.get_key_value(token).map(|(g, _)| (g, g)))
                .map(|(k, _)| k.as_str())
        };
        let mut out = Vec::new();
        for token in referenced_names(text, &known) {
            match self.imports.get(token) {
                Some(name) => out.push(name.clone()),
                None => out.extend(self.groups.get(token).into_iter().flatten().cloned()),
            }
        }
        out
    }

    /// The local packages named by the values of the variables the tools see.
    fn in_environment(&self) -> BTreeSet<String> {
        std::env::vars_os()
            .filter(|(name, _)| !is_volatile(&name.to_string_lossy()))
            .flat_map(|(_, value)| self.in_text(value.as_encoded_bytes()))
            .collect()
    }
}

/// The entry-point groups `package`'s pyproject declares, but the scripts'.
fn entry_point_groups(package: &Package) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(package.pyproject()) else {
        return Vec::new();
    };
    if !text.contains("entry-points") {
        return Vec::new();
    }
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return Vec::new();
    };
    let groups = doc
        .get("project")
        .and_then(|p| p.get("entry-points"))
        .and_then(toml_edit::Item::as_table_like);
    groups
        .into_iter()
        .flat_map(|t| t.iter().map(|(group, _)| group.to_owned()))
        .filter(|g| g != "console_scripts" && g != "gui_scripts")
        .collect()
}

/// One digest of a list of files and empty folders: each file's path and the digest of its
/// content, each folder's path (ending in `/`, so never a file's).
fn files_digest(files: &[TreeFile], empty_folders: &[String]) -> String {
    let mut h = Hasher::new();
    for folder in empty_folders {
        h.write(folder.as_bytes());
        h.write(&[0]);
    }
    for file in files {
        h.write(file.rel.as_bytes());
        h.write(&[0]);
        h.write(file.digest.as_bytes());
        if file.executable {
            h.write(b" executable");
        }
        h.write(&[0]);
    }
    h.finish()
}

/// The inputs of the jobs of one run: read lazily, each once.
pub struct Inputs<'a> {
    ws: &'a Workspace,
    env: String,
    files: OnceCell<Files>,
    outside_python: OnceCell<Outside>,
    layout: OnceCell<String>,
    venvs: RefCell<HashMap<PathBuf, String>>,
    /// Per venv: the local packages installed there that register a pytest plugin.
    plugins: RefCell<HashMap<PathBuf, Vec<String>>>,
    /// The local packages of mypy's plugins, read once a run.
    mypy_plugins: OnceCell<Vec<String>>,
    /// The local packages whose folders hold a folder that pytest's `pythonpath` (first) and
    /// mypy's `mypy_path` (second) put on the path, read once a run.
    path_owners: OnceCell<(Vec<String>, Vec<String>)>,
    /// The arguments a `test` passes on to pytest (see [`Inputs::with_pytest_args`]).
    pytest_args: Vec<String>,
}

impl<'a> Inputs<'a> {
    pub fn new(ws: &'a Workspace) -> Inputs<'a> {
        Inputs {
            ws,
            env: environment(),
            files: OnceCell::new(),
            outside_python: OnceCell::new(),
            layout: OnceCell::new(),
            venvs: RefCell::default(),
            plugins: RefCell::default(),
            mypy_plugins: OnceCell::new(),
            path_owners: OnceCell::new(),
            pytest_args: Vec::new(),
        }
    }

    /// With the arguments a `test` passes on to pytest (`test -- ARGS`): the local packages they
    /// name are its jobs' readers, and the files they name (`@file`, `--cov-config`) inputs.
    pub fn with_pytest_args(mut self, args: &[String]) -> Inputs<'a> {
        self.pytest_args = args.to_vec();
        self
    }

    fn files(&self) -> &Files {
        self.files.get_or_init(|| Files::scan(self.ws))
    }

    /// What a tool's settings are made of beyond the packages' own files: the environment, the
    /// files under `python/` outside the packages (the shared configuration), those outside
    /// `python/` that tools read, and `test`'s pytest arguments. A job's caches are kept only
    /// under the same settings (see [`crate::engine::caches`]): a module's bytecode holds no
    /// trace of the warnings its compilation gave, which `filterwarnings = ["error"]` or
    /// `PYTHONWARNINGS=error` would turn into a failure.
    pub fn settings(&self) -> String {
        let files = self.files();
        let mut h = Hasher::new();
        for part in [
            self.env.as_str(),
            files.outside_digest.as_str(),
            self.outside().digest(),
        ] {
            h.write(part.as_bytes());
            h.write(&[0]);
        }
        for arg in &self.pytest_args {
            h.write(arg.as_bytes());
            h.write(&[0]);
        }
        h.finish()
    }

    /// The keys' walk of `python/` as one [`digest::Tree`] (the files sorted by path): for a
    /// caller that needs what the keys saw, without walking again.
    pub fn tree(&self) -> digest::Tree {
        let files = self.files();
        let mut all: Vec<TreeFile> = files.all().cloned().collect();
        all.sort_by(|a, b| a.rel.cmp(&b.rel));
        let mut empty_folders: Vec<String> = files.empty_folders().cloned().collect();
        empty_folders.sort();
        digest::Tree {
            files: all,
            empty_folders,
            link_targets: files.link_targets.clone(),
        }
    }

    /// What the tools read outside `python/`, read once a run.
    fn outside(&self) -> &Outside {
        let files = self.files();
        self.outside_python
            .get_or_init(|| Outside::read(&self.ws.root, &files.ruff_configs(), &self.pytest_args))
    }

    /// What the gates read outside `python/` (see [`crate::engine::local_inputs`]), each path
    /// with the digest of what is read there: [`Outside`], and the targets of the symlinks under
    /// `python/` (by content).
    pub fn read_outside(&self) -> Vec<(PathBuf, String)> {
        let mut read = self.outside().entries().to_vec();
        for target in &self.files().link_targets {
            read.push((target.clone(), outside::content_digest(target)));
        }
        read
    }

    /// The venv's installed set as a check of its freshness just read it, under a lock that
    /// keeps it so: not read a second time.
    pub fn know_installed(&self, venv: &Venv, installed: Installed) {
        self.venvs
            .borrow_mut()
            .insert(venv.dir.clone(), installed.digest);
    }

    /// The digest of the venv's installed set, read once a run.
    pub fn installed(&self, venv: &Venv) -> String {
        self.venvs
            .borrow_mut()
            .entry(venv.dir.clone())
            .or_insert_with(|| venv.installed().digest)
            .clone()
    }

    /// The local packages a job of `tool` for `package`, run in the venv of `venv`, can load (see
    /// the module's comment), sorted by name.
    pub fn readers(&self, package: &'a Package, venv: &'a Package, tool: Tool) -> Vec<&'a Package> {
        let files = self.files();
        let mut todo = vec![package.name.clone()];
        let (pytest_path, mypy_path) = self.path_owners();
        let on_path = match tool {
            Tool::Pytest => {
                todo.extend(self.pytest_plugins(venv));
                // What the arguments passed on name (`test -- -p NAME`), as the files' names.
                for arg in &self.pytest_args {
                    todo.extend(files.names.in_text(arg.as_bytes()));
                }
                pytest_path
            }
            Tool::Mypy => {
                todo.extend(self.mypy_plugins());
                mypy_path
            }
        };
        todo.extend(files.shared_names.iter().cloned());
        let mut installed = self.ws.closure(venv).unwrap_or_else(|_| vec![venv]);
        installed.push(package);
        // A folder the tool's path setting names is read by path, installed or not.
        for name in on_path {
            todo.push(name.clone());
            installed.extend(self.ws.get(name));
        }
        let mut reached: BTreeSet<String> = BTreeSet::new();
        while let Some(name) = todo.pop() {
            let Some(p) = installed.iter().find(|p| p.name == name) else {
                continue;
            };
            if !reached.insert(name) {
                continue;
            }
            todo.extend(p.local_deps.iter().cloned());
            if let Some(own) = files.packages.get(&p.name) {
                todo.extend(own.names.iter().cloned());
            }
        }
        reached.iter().filter_map(|n| self.ws.get(n)).collect()
    }

    /// The local packages whose folders hold what pytest's `pythonpath` and mypy's `mypy_path`
    /// put on the path (see [`option_files::path_folders_in_python`]).
    fn path_owners(&self) -> &(Vec<String>, Vec<String>) {
        self.path_owners.get_or_init(|| {
            let folders = option_files::path_folders_in_python(&self.ws.root);
            let owners = |folders: &[PathBuf]| -> Vec<String> {
                self.ws
                    .packages
                    .iter()
                    .filter(|p| folders.iter().any(|f| f.starts_with(&p.dir)))
                    .map(|p| p.name.clone())
                    .collect()
            };
            (owners(&folders.pytest), owners(&folders.mypy))
        })
    }

    /// The local packages installed in `venv`'s venv that register a `pytest11` entry point:
    /// pytest loads every one of them in every run, fixtures and hooks included. Those the venv
    /// says so of, and those of its install set whose pyproject declares one (a venv not set up
    /// yet, or not since the declaration: `ci plan`, pre-push).
    fn pytest_plugins(&self, venv: &Package) -> Vec<String> {
        let v = Venv::of(venv);
        self.plugins
            .borrow_mut()
            .entry(v.dir.clone())
            .or_insert_with(|| {
                let local: Vec<&str> = self.ws.packages.iter().map(|p| p.name.as_str()).collect();
                let set = self.ws.closure(venv).unwrap_or_default();
                let mut plugins: Vec<String> = v
                    .entry_point_dists("pytest11")
                    .into_iter()
                    .map(|d| normalize(&d))
                    .filter(|d| local.contains(&d.as_str()))
                    .collect();
                let declared = self.files().names.declaring("pytest11");
                plugins.extend(
                    set.iter()
                        .filter(|p| declared.contains(&p.name))
                        .map(|p| p.name.clone()),
                );
                plugins.sort();
                plugins.dedup();
                plugins
            })
            .clone()
    }

    /// The local packages of the mypy plugins `python/pyproject.toml` names (a module, or a
    /// path from `python/`).
    fn mypy_plugins(&self) -> Vec<String> {
        self.mypy_plugins
            .get_or_init(|| self.read_mypy_plugins())
            .clone()
    }

    fn read_mypy_plugins(&self) -> Vec<String> {
        let python = self.ws.root.join(PYTHON_DIR);
        outside::mypy_plugins(&self.ws.root)
            .iter()
            .filter_map(|plugin| {
                let path = python.join(plugin);
                let module = plugin.split(':').next().unwrap_or(plugin);
                let owns = |p: &&Package| {
                    path.starts_with(&p.dir)
                        || p.import_names()
                            .iter()
                            .any(|n| module == n || module.starts_with(&format!("{n}.")))
                };
                self.ws.packages.iter().find(owns).map(|p| p.name.clone())
            })
            .collect()
    }

    /// The files a job that reads `packages` reads, as this run found them (paths relative to
    /// `python/`): what its tools' caches are checked against ([`crate::engine::caches`]).
    pub fn files_read(&self, packages: &[&Package]) -> Vec<Arc<[TreeFile]>> {
        let files = self.files();
        let mut out = vec![files.outside.clone()];
        for package in packages {
            if let Some(own) = files.packages.get(&package.name) {
                out.push(own.files.clone());
            }
        }
        out
    }

    /// The key of a job: `command` (its command line and folder, as printed), run in `venv`,
    /// reading the files of `packages` (see [`Inputs::readers`]; none for a job that checks only
    /// what lies outside the packages), everything outside the packages, and what tools read
    /// outside `python/`.
    ///
    /// `reads_layout`: the job also depends on where every package's imports live (ruff tells
    /// first-party imports from third-party ones by looking in every package's source folder).
    pub fn key(
        &self,
        command: &str,
        venv: &Venv,
        packages: &[&Package],
        reads_layout: bool,
    ) -> Key {
        let files = self.files();
        let outside_python = self.outside().digest().to_owned();
        let mut parts = vec![
            ("the command".to_owned(), digest::hash(command.as_bytes())),
            (
                "the xtask's build".to_owned(),
                crate::own_binary::key_part(),
            ),
            (
                "the venv's installed packages".to_owned(),
                self.installed(venv),
            ),
            ("the environment variables".to_owned(), self.env.clone()),
            (
                "the files under python/ outside the packages".to_owned(),
                files.outside_digest.clone(),
            ),
            (
                "the files outside python/ that tools read".to_owned(),
                outside_python,
            ),
        ];
        if reads_layout {
            parts.push((
                "the import packages of the workspace".to_owned(),
                self.layout.get_or_init(|| self.layout_digest()).clone(),
            ));
        }
        for package in packages {
            let digest = files
                .packages
                .get(&package.name)
                .map(|p| p.digest.clone())
                .unwrap_or_default();
            parts.push((format!("the files of {}", package.folder_name()), digest));
        }
        let mut h = Hasher::new();
        for (label, digest) in &parts {
            h.write(label.as_bytes());
            h.write(&[0]);
            h.write(digest.as_bytes());
            h.write(&[0]);
        }
        Key {
            digest: h.finish(),
            parts,
        }
    }

    /// Where every package's imports live, and the path of every file under `python/`: ruff
    /// calls a module first-party when a folder or `.py` file of its name is in any of its `src`
    /// roots (`libs/*` among them), so adding `libs/contracts/pluggy/notes.txt` makes
    /// `import pluggy` in common first-party, and so does an empty `libs/contracts/pluggy/`.
    /// Paths, not contents: an edit elsewhere moves no ruff key.
    fn layout_digest(&self) -> String {
        let mut h = Hasher::new();
        for package in &self.ws.packages {
            h.write(package.rel.as_bytes());
            h.write(&[0]);
            h.write(package.layout.source_root.to_string_lossy().as_bytes());
            h.write(&[0]);
            for name in package.import_names() {
                h.write(name.as_bytes());
                h.write(&[0]);
            }
        }
        let files = self.files();
        let mut paths: Vec<&str> = files.all().map(|f| f.rel.as_str()).collect();
        paths.extend(files.empty_folders().map(String::as_str));
        paths.sort_unstable();
        for path in paths {
            h.write(path.as_bytes());
            h.write(&[0]);
        }
        h.finish()
    }
}

impl Inputs<'_> {
    /// The state (size, modification and change times) of every file the job a [`KeySpec`]
    /// describes reads, under `python/` and outside it ([`Outside::states`]), as one digest.
    /// Equal keys before and after a run say the content is what the job started with; equal
    /// states also say nothing was written in between: a file edited while the job ran and put
    /// back before it ended (content A, B, A: `git stash` and `git stash pop` around a run) may
    /// have been read as B.
    pub fn states_of(&self, spec: &KeySpec) -> String {
        let files = self.files();
        let mut h = Hasher::new();
        h.write(self.outside().states().as_bytes());
        let own = spec
            .packages
            .iter()
            .filter_map(|name| files.packages.get(name))
            .map(|p| &p.files);
        for file in std::iter::once(&files.outside)
            .chain(own)
            .flat_map(|f| f.iter())
        {
            file.write_state(&mut h);
        }
        h.finish()
    }

    /// The key a [`KeySpec`] describes.
    pub fn key_of(&self, spec: &KeySpec) -> Key {
        let venv = self
            .ws
            .get(&spec.venv)
            .map_or_else(|| Venv::of_dir(PathBuf::new()), Venv::of);
        let packages: Vec<&Package> = spec
            .packages
            .iter()
            .filter_map(|n| self.ws.get(n))
            .collect();
        self.key(&spec.command, &venv, &packages, spec.reads_layout)
    }
}

/// A job's key: one digest, and the digest of each kind of input, so that a job that runs again
/// can say which input changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub digest: String,
    pub parts: Vec<(String, String)>,
}

impl Key {
    /// The record of the parts: `label=digest` a line.
    pub fn record(&self) -> String {
        self.parts
            .iter()
            .map(|(label, digest)| format!("{label}={digest}\n"))
            .collect()
    }

    /// The inputs that differ from an earlier record: `the files of common`.
    pub fn changed_since(&self, record: &str) -> Vec<String> {
        let before: HashMap<&str, &str> =
            record.lines().filter_map(|l| l.rsplit_once('=')).collect();
        self.parts
            .iter()
            .filter(|(label, digest)| before.get(label.as_str()) != Some(&digest.as_str()))
            .map(|(label, _)| label.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_variables_are_volatile_and_the_rest_count() {
        for name in [
            "PWD",
            "TERM",
            "VSCODE_IPC_HOOK",
            "CARGO_PKG_NAME",
            "VIRTUAL_ENV",
        ] {
            assert!(is_volatile(name), "{name}");
        }
        for name in [
            "PATH",
            "HOME",
            "PYTEST_ADDOPTS",
            "DUBBING_MODE",
            "PYTHONHASHSEED",
            "LD_LIBRARY_PATH",
        ] {
            assert!(!is_volatile(name), "{name}");
        }
    }
}
