//! What a job's result depends on: its inputs, listed here and nowhere else. A remembered pass is
//! reused only while every input hashes as it did, so the rule is soundness first: a remembered
//! verdict must equal what `--no-cache` would give on the same tree, venv and environment.
//!
//! The inputs of a job, and why each is one:
//! - **its command line and working folder**: the tool, its flags, its targets;
//! - **the files of its package and of every local package that package needs**: what the tool
//!   checks and what it imports (mypy follows imports, pytest runs them); other packages are left
//!   out, which is what lets an edit in one service keep the other service's passes;
//! - **every file under `python/` outside the packages**: `conftest.py` at any level, `ruff.toml`,
//!   `.ruff.toml`, `mypy.ini`, `setup.cfg`, `pytest.ini`, `tox.ini`, `python/pyproject.toml`,
//!   `tests/e2e/`: tools read configuration from the folders above a package, and which files
//!   they read is theirs to decide, so all of them count;
//! - for both: build leftovers too (`build/`, `*.egg-info`), and a symlink by its target's
//!   content; only what the tools write while they run (caches, bytecode, coverage data) and the
//!   venvs are left out ([`digest::tree_files`]);
//! - **the venv as it is now**: its `pyvenv.cfg` (the interpreter), the listing of site-packages,
//!   every `.pth` file (editable paths) and each distribution's RECORD and METADATA (which
//!   versions of the tools and libraries are installed) ([`Venv::installed`]);
//! - **the environment**: every variable the tools see, except the short list of volatile ones
//!   below, which describe the terminal or the session and no tool's verdict. Hashing all but a
//!   few (rather than running the tools in a controlled environment) keeps what a person exports
//!   visible to their tests, as they expect, and a test that reads any variable stays sound.
//!
//! Each file is read and hashed once per run, whatever the number of jobs that depend on it.

use std::cell::OnceCell;
use std::collections::HashMap;

use crate::cmd::RETARGETING_VARS;
use crate::digest::{self, Fnv};
use crate::engine::memo::KeySpec;
use crate::env::venv::Venv;
use crate::project::PYTHON_DIR;
use crate::workspace::{Package, Workspace};

/// Variables that describe the terminal, the shell session or the process that started the
/// xtask, not anything a tool checks: left out of the key, so that another terminal window, a
/// resized one or `cargo xtask` instead of the bare binary still finds the remembered passes.
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
];

/// Whether a variable is left out of the key (see [`VOLATILE_VARS`]); variables the xtask removes
/// before running a tool are left out too, since no tool sees them.
pub fn is_volatile(name: &str) -> bool {
    VOLATILE_VARS.contains(&name)
        || RETARGETING_VARS.contains(&name)
        || name == "CARGO"
        || VOLATILE_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The digest of the environment the tools see.
fn environment() -> String {
    digest::variables(|name| !is_volatile(name))
}

/// The digests of the files under `python/`: one per package, one for everything else.
struct Files {
    packages: HashMap<String, String>,
    outside: String,
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
        let mut hashers: HashMap<&str, Fnv> = HashMap::new();
        let mut outside = Fnv::new();
        for (rel, content) in digest::tree_files(&python) {
            let h = match owners.iter().find(|(prefix, _)| rel.starts_with(prefix)) {
                Some((_, name)) => hashers.entry(name).or_insert_with(Fnv::new),
                None => &mut outside,
            };
            h.write(rel.as_bytes());
            h.write(&[0]);
            h.write(content.as_bytes());
        }
        Files {
            packages: ws
                .packages
                .iter()
                .map(|p| {
                    let h = hashers
                        .get(p.name.as_str())
                        .map_or_else(|| Fnv::new().finish(), Fnv::finish);
                    (p.name.clone(), h)
                })
                .collect(),
            outside: outside.finish(),
        }
    }
}

/// The inputs of the jobs of one run: read lazily, each once.
pub struct Inputs<'a> {
    ws: &'a Workspace,
    env: String,
    files: OnceCell<Files>,
    venvs: std::cell::RefCell<HashMap<std::path::PathBuf, String>>,
}

impl<'a> Inputs<'a> {
    pub fn new(ws: &'a Workspace) -> Inputs<'a> {
        Inputs {
            ws,
            env: environment(),
            files: OnceCell::new(),
            venvs: std::cell::RefCell::default(),
        }
    }

    fn files(&self) -> &Files {
        self.files.get_or_init(|| Files::scan(self.ws))
    }

    fn venv(&self, venv: &Venv) -> String {
        self.venvs
            .borrow_mut()
            .entry(venv.dir.clone())
            .or_insert_with(|| venv.installed().digest)
            .clone()
    }

    /// The key of a job: `command` (its command line and folder, as printed), run in `venv`,
    /// reading the files of `packages` (the package and the local packages it needs; none for a
    /// job that checks only what lies outside the packages) and everything outside the packages.
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
        let mut parts = vec![
            ("the command".to_owned(), digest::hash(command.as_bytes())),
            ("the venv's installed packages".to_owned(), self.venv(venv)),
            ("the environment variables".to_owned(), self.env.clone()),
            (
                "the files under python/ outside the packages".to_owned(),
                files.outside.clone(),
            ),
        ];
        if reads_layout {
            let mut h = Fnv::new();
            for package in &self.ws.packages {
                h.write(package.rel.as_bytes());
                h.write(package.layout.source_root.to_string_lossy().as_bytes());
                for name in package.import_names() {
                    h.write(name.as_bytes());
                    h.write(&[0]);
                }
            }
            parts.push((
                "the import packages of the workspace".to_owned(),
                h.finish(),
            ));
        }
        for package in packages {
            let digest = files
                .packages
                .get(&package.name)
                .cloned()
                .unwrap_or_default();
            parts.push((format!("the files of {}", package.folder_name()), digest));
        }
        let mut h = Fnv::new();
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
}

impl Inputs<'_> {
    /// The key a [`KeySpec`] describes.
    pub fn key_of(&self, spec: &KeySpec) -> Key {
        let venv = self
            .ws
            .get(&spec.venv)
            .map_or_else(|| Venv::of_dir(std::path::PathBuf::new()), Venv::of);
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
            "DUBBING_MODE",
            "PYTHONHASHSEED",
            "LD_LIBRARY_PATH",
        ] {
            assert!(!is_volatile(name), "{name}");
        }
    }
}
