//! The tool that creates venvs and installs into them: uv where it can be had, else pip.
//!
//! Venvs carry no pip of their own (uv's default): creating one with pip costs seconds, and every
//! install goes through the installer from outside the venv (`uv pip install --python`, or
//! `python -m pip --python`).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;
use crate::env::build_bytecode::BuildBytecode;
use crate::env::interpreter::Interpreter;
use crate::env::lock;
use crate::env::tools::{self, HashMismatch};
use crate::env::venv::{Platform, Venv};
use crate::flags::InstallerChoice;
use crate::output::json_string;
use crate::workspace::Package;

/// The uv that `auto` installs when none is on PATH: pinned, so every machine installs alike
/// (by version and by the digests of [`tools::UV`]).
pub const UV_VERSION: &str = tools::UV.version;

/// pip learned `--python` (install into another interpreter) in 22.3.
const PIP_MIN: (u64, u64) = (22, 3);

/// The repository's own installer configuration, at the root: the only configuration file an
/// install reads (uv runs with `--config-file` or `--no-config`). pip reads none at all
/// (`PIP_CONFIG_FILE` set to the null device is pip's documented way; a file there would be read
/// on top of the system's and the site's, which no stamp could follow). The caller's folder,
/// the user's and the system's configuration never count, so where packages come from does not
/// depend on who runs setup from where; the `UV_*` and `PIP_*` variables do, and are recorded.
pub const CONFIG_FILES: &[&str] = &["uv.toml"];

/// The installers' variables that can change what gets installed (`UV_INDEX_URL`,
/// `PIP_EXTRA_INDEX_URL`, `UV_PRERELEASE`, ...), as one digest: recorded in the stamp, so a
/// change reinstalls. Their values are not written anywhere (an index URL can hold a token).
pub fn environment_digest() -> String {
    crate::digest::variables(|name| {
        changes_what_is_installed(name) && !crate::cmd::RETARGETING_VARS.contains(&name)
    })
}

/// Whether a variable can change what gets installed or from where: every installer's `UV_*`
/// and `PIP_*` but the quiet ones (caches, progress, time-outs), and those of the build
/// backends that build the editables in the caller's environment ([`BACKEND_VARS`]).
pub fn changes_what_is_installed(name: &str) -> bool {
    ((name.starts_with("UV_") || name.starts_with("PIP_"))
        && !crate::cmd::is_quiet_installer_var(name))
        || BACKEND_VARS.iter().any(|prefix| name.starts_with(prefix))
}

/// The prefixes of the build backends' own variables, which change the metadata a build writes:
/// `SETUPTOOLS_SCM_PRETEND_VERSION` (setuptools-scm, hatch-vcs) sets the version,
/// `SETUPTOOLS_ENABLE_FEATURES` and `SETUPTOOLS_USE_DISTUTILS` how setuptools builds, and so on
/// for hatch, pdm, flit, maturin and pbr.
const BACKEND_VARS: &[&str] = &[
    "SETUPTOOLS_",
    "HATCH_",
    "PDM_BUILD_",
    "FLIT_",
    "MATURIN_",
    "PBR_",
];

/// The names of this process's variables that [`changes_what_is_installed`]: an image's build
/// has none of the caller's, so an install that stands for one runs without them.
pub fn where_from_vars() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.to_str().is_some_and(changes_what_is_installed))
        .collect()
}

#[derive(Debug, Clone)]
pub enum Installer {
    Uv {
        exe: PathBuf,
        version: String,
    },
    /// The base interpreter's pip; `module` is pip's `__init__.py`, whose change means a new pip.
    Pip {
        python: PathBuf,
        version: String,
        module: PathBuf,
    },
}

impl Installer {
    /// `uv 0.13.9`, `pip 23.0.1`.
    pub fn label(&self) -> String {
        match self {
            Installer::Uv { version, .. } => format!("uv {version}"),
            Installer::Pip { version, .. } => format!("pip {version}"),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Installer::Uv { .. } => "uv",
            Installer::Pip { .. } => "pip",
        }
    }

    /// The file whose change means a different installer.
    pub fn identity(&self) -> &Path {
        match self {
            Installer::Uv { exe, .. } => exe,
            Installer::Pip { module, .. } => module,
        }
    }

    /// Finds (or, for uv, installs) the installer the choice asks for. Returns it and a note on how
    /// it was found.
    pub fn resolve(
        choice: InstallerChoice,
        base: &Interpreter,
        tools: &Path,
    ) -> Result<(Installer, String)> {
        match choice {
            InstallerChoice::Pip => Ok((pip_of(base)?, "asked for with --installer pip".into())),
            InstallerChoice::Uv => find_or_install_uv(base, tools),
            InstallerChoice::Auto => match find_or_install_uv(base, tools) {
                Ok(found) => Ok(found),
                // A download that is not the uv published is an error to face, not a reason
                // to go on quietly with pip.
                Err(e) if e.chain().any(|c| c.is::<HashMismatch>()) => Err(e),
                Err(e) => {
                    let pip = pip_of(base)
                        .with_context(|| format!("uv is not available either: {e:#}"))?;
                    Ok((
                        pip,
                        format!("uv is not available ({e:#}); falling back to pip"),
                    ))
                }
            },
        }
    }

    /// Looks for an installer without installing anything (for `doctor`).
    pub fn find(
        choice: InstallerChoice,
        base: Option<&Interpreter>,
        tools: &Path,
    ) -> Result<(Installer, String)> {
        if choice != InstallerChoice::Pip
            && let Some(found) = existing_uv(tools)
        {
            return Ok(found);
        }
        match (choice, base) {
            (InstallerChoice::Uv, _) => bail!(
                "no uv on PATH or in {}; setup installs uv {UV_VERSION} there",
                tools.display()
            ),
            (_, Some(base)) => Ok((
                pip_of(base)?,
                "uv not installed yet: setup installs it first, else uses pip".into(),
            )),
            (_, None) => bail!("no interpreter, so no pip"),
        }
    }

    /// A command of this installer, run from the root and reading only the root's configuration
    /// (see [`CONFIG_FILES`]).
    fn configured(&self, root: &Path, cmd: Cmd) -> Cmd {
        let cmd = cmd.cwd(root);
        match self {
            Installer::Uv { .. } => cmd,
            Installer::Pip { .. } => cmd.env("PIP_CONFIG_FILE", tools::NULL_DEVICE),
        }
    }

    /// uv's configuration flag: the root's `uv.toml`, or none.
    pub fn uv_config(root: &Path) -> Vec<std::ffi::OsString> {
        let file = root.join("uv.toml");
        if file.is_file() {
            vec!["--config-file".into(), file.into_os_string()]
        } else {
            vec!["--no-config".into()]
        }
    }

    /// The command that creates an empty venv (no pip) from `base`.
    pub fn create_venv(&self, root: &Path, base: &Interpreter, venv: &Venv) -> Cmd {
        let cmd = match self {
            Installer::Uv { exe, .. } => Cmd::new(exe)
                .args(["venv", "--quiet"])
                .args(Installer::uv_config(root))
                .arg("--python")
                .arg(&base.path)
                .arg(&venv.dir),
            Installer::Pip { .. } => Cmd::new(&base.path)
                .args(["-m", "venv", "--without-pip"])
                .arg(&venv.dir),
        };
        self.configured(root, cmd)
    }

    /// Installs the install set of `owner` (the service or library whose venv it is), running
    /// each command with `$ cmd` echoed: the owner's lock (`requirements.txt`,
    /// `requirements-dev.txt`: its third-party packages and dev tools, pinned with hashes) and
    /// every local package of the set as editable, without resolving anything (the lock says
    /// what). `exact`: the venv then holds exactly that, anything else is uninstalled (uv's
    /// `pip sync`); else what is there stays (`--inexact`).
    ///
    /// pip installs the lock hash-checked, then the editables, which pip cannot hash. Before them
    /// it installs the build backends the packages declare and what those backends ask for to
    /// build an editable (`get_requires_for_build_editable`: hatchling's `editables`, for one),
    /// so that it can build every editable without an isolated build environment each (pip has
    /// no build cache; uv does, so uv builds in isolation). pip also skips compiling bytecode, as
    /// uv does: Python writes it on first import. pip has no sync: setup gives it a new venv when
    /// the inputs change.
    pub fn install(
        &self,
        root: &Path,
        venv: &Venv,
        (set, rebuild): (&[&Package], &[&Package]),
        owner: &Package,
        base: &Interpreter,
        exact: bool,
    ) -> Result<()> {
        let locks: Vec<PathBuf> = lock::files(owner)
            .into_iter()
            .filter(|p| p.is_file())
            .collect();
        // The build backends' bytecode, kept for this install's processes (see build_bytecode).
        let bytecode = BuildBytecode::new(Some(&base.path));
        match self {
            Installer::Uv { exe, .. } => {
                let cmd = self.uv_install(root, exe, venv, &locks, (set, rebuild), exact)?;
                let one = one_source(Some(root), names_an_index(&locks)?);
                from_cache_first(&self.configured(root, bytecode.apply(cmd)), one)
            }
            Installer::Pip { python, .. } => {
                let install = || {
                    let cmd = Cmd::new(python)
                        .args(["-m", "pip", "--python"])
                        .arg(venv.python())
                        .args([
                            "install",
                            "--disable-pip-version-check",
                            "--no-input",
                            "--quiet",
                            "--no-compile",
                        ]);
                    self.configured(root, bytecode.apply(cmd))
                };
                pip_install(&install, venv, &locks, set)
            }
        }
    }

    /// uv's command: `pip sync` (exact) or `pip install` of the lock's files and a requirement
    /// file of the editables written beside them.
    fn uv_install(
        &self,
        root: &Path,
        exe: &Path,
        venv: &Venv,
        locks: &[PathBuf],
        (set, rebuild): (&[&Package], &[&Package]),
        exact: bool,
    ) -> Result<Cmd> {
        // The editables, as a requirement file beside the lock's: sync takes files.
        let editables = venv.dir.join("xtask-editables.txt");
        let lines: String = set
            .iter()
            .map(|p| format!("-e {}\n", p.dir.display()))
            .collect();
        fs::write(&editables, lines)
            .with_context(|| format!("cannot write {}", editables.display()))?;
        let mut cmd = Cmd::new(exe).arg("pip");
        cmd = if exact {
            cmd.arg("sync")
        } else {
            cmd.arg("install")
        };
        cmd = cmd
            .args(Installer::uv_config(root))
            .arg("--python")
            .arg(venv.python());
        for file in locks.iter().chain([&editables]) {
            cmd = if exact { cmd } else { cmd.arg("-r") };
            cmd = cmd.arg(file);
        }
        // uv reuses an editable's build while its pyproject.toml is unchanged; metadata read
        // from elsewhere (a version in __init__.py) needs a new build, and so does a change to
        // another file the build reads (`rebuild`).
        let mut again: Vec<&str> = set
            .iter()
            .filter(|p| !p.metadata_sources.is_empty())
            .chain(rebuild)
            .map(|p| p.dist.as_str())
            .collect();
        again.sort_unstable();
        again.dedup();
        for dist in again {
            cmd = cmd.arg("--reinstall-package").arg(dist);
        }
        Ok(cmd)
    }
}

/// Runs a uv command that installs or builds (`pip sync`, `pip install`, `build`) from uv's cache
/// first (`--offline`), then, when the cache lacks something, the same command online. Online
/// only when its packages may come from more than one place (`one_source` false: see
/// [`one_source`]).
///
/// Why: online, uv revalidates each index page it reads (a round trip each), and an index that
/// fails for a moment makes uv retry for seconds, while the cache of a machine that has set up
/// before holds all an install needs. What comes from there: the wheels the lock pins, by hash,
/// so the same files either way; and the build backends (`setuptools>=68`), which uv resolves
/// for every build, offline to the newest version its cache has seen, as the lock's resolution
/// from the cache does (`Compile::one` in `env/lock.rs`). An offline attempt that fails leaves
/// the venv as it was: uv finds, downloads and builds every distribution before it changes the
/// venv. With `UV_OFFLINE` set, the command is offline anyway.
pub fn from_cache_first(cmd: &Cmd, one_source: bool) -> Result<()> {
    if one_source && !lock::offline_env() {
        let offline = cmd.clone().arg("--offline");
        let done = {
            let _alive = crate::output::Alive::start();
            offline.output()?
        };
        if done.success() {
            crate::output::say(offline.echo());
            return Ok(());
        }
    }
    cmd.run()?;
    Ok(())
}

/// Whether uv takes every package from one place (PyPI, or the one index that replaces it), so
/// that its cache answers as that place would. With more (an index of a package's own,
/// `own_indexes`; `UV_INDEX`, `UV_EXTRA_INDEX_URL` or `UV_FIND_LINKS`; a `uv.toml` at `root`,
/// for a command that reads it), uv offline reads a place whose pages it has not cached as one
/// without the package and takes it from the next, where online it stops at the first that has
/// it, and fails when one cannot be reached: other packages, or a failure hidden.
pub fn one_source(root: Option<&Path>, own_indexes: bool) -> bool {
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    let configured = root.is_some_and(|r| CONFIG_FILES.iter().any(|f| r.join(f).exists()));
    !own_indexes
        && !configured
        && !["UV_INDEX", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS"]
            .iter()
            .any(|v| set(v))
}

/// Whether a requirement file names a place to take packages from (`--index-url`,
/// `--extra-index-url`, `--find-links`...: a lock of a package with an index of its own does).
fn names_an_index(files: &[PathBuf]) -> Result<bool> {
    for file in files {
        let text =
            fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        let names = text.lines().map(str::trim_start).any(|l| {
            [
                "--index",
                "--extra-index-url",
                "--default-index",
                "--find-links",
                "-i",
                "-f",
            ]
            .iter()
            .any(|o| l.starts_with(o))
        });
        if names {
            return Ok(true);
        }
    }
    Ok(false)
}

/// pip's steps, each a `pip install` made by `install`: the build backends and what they ask
/// for, then the lock hash-checked, then the editables without build isolation.
fn pip_install(
    install: &dyn Fn() -> Cmd,
    venv: &Venv,
    locks: &[PathBuf],
    set: &[&Package],
) -> Result<()> {
    // The lock and the editables: exactly what they name, nothing resolved.
    let pip = || install().arg("--no-deps");
    let mut backends: Vec<&str> = set
        .iter()
        .flat_map(|p| p.build_requires.iter().map(String::as_str))
        .collect();
    backends.sort_unstable();
    backends.dedup();
    // The backends are resolved (they are not in the lock): no --no-deps here.
    let resolve = install;
    if !backends.is_empty() {
        resolve().args(backends).run()?;
    }
    let dynamic = dynamic_build_requires(venv, set)?;
    if !dynamic.is_empty() {
        resolve().args(dynamic).run()?;
    }
    // The lock last but the editables: its pins win over what a backend pulled in.
    let pinned: Vec<&PathBuf> = locks
        .iter()
        .filter(|f| !lock::pins(&fs::read_to_string(f).unwrap_or_default()).is_empty())
        .collect();
    if !pinned.is_empty() {
        let mut cmd = pip().arg("--require-hashes");
        for file in pinned {
            cmd = cmd.arg("-r").arg(file);
        }
        cmd.run()?;
    }
    let mut cmd = pip().arg("--no-build-isolation");
    for package in set {
        cmd = cmd.arg("-e").arg(&package.dir);
    }
    cmd.run()?;
    Ok(())
}

/// Asks each package's build backend, inside the venv where it is now installed, what else it
/// needs to build an editable (PEP 660's `get_requires_for_build_editable`).
const DYNAMIC_REQUIRES: &str = r#"
import contextlib, importlib, json, os, sys
out = []
for spec in json.loads(sys.argv[1]):
    os.chdir(spec["dir"])
    sys.path[:0] = [os.path.join(spec["dir"], p) for p in spec["path"]]
    module, _, attr = spec["backend"].partition(":")
    backend = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        backend = getattr(backend, part)
    hook = getattr(backend, "get_requires_for_build_editable", None) or getattr(backend, "get_requires_for_build_wheel", None)
    if hook is not None:
        # Backends talk on stdout (setuptools: "running egg_info"): only the marked lines count.
        with contextlib.redirect_stdout(sys.stderr):
            found = hook(None)
        out.extend(r for r in found if r not in out)
for requirement in out:
    print("xtask-requires:", requirement)
"#;

fn dynamic_build_requires(venv: &Venv, set: &[&Package]) -> Result<Vec<String>> {
    let specs: Vec<String> = set
        .iter()
        .map(|p| {
            let backend = p
                .build_backend
                .as_deref()
                .unwrap_or("setuptools.build_meta:__legacy__");
            let path: Vec<String> = p.backend_path.iter().map(|s| json_string(s)).collect();
            format!(
                "{{\"dir\":{},\"backend\":{},\"path\":[{}]}}",
                json_string(&p.dir.to_string_lossy()),
                json_string(backend),
                path.join(",")
            )
        })
        .collect();
    let cmd = Cmd::new(venv.python())
        .args(["-I", "-c", DYNAMIC_REQUIRES])
        .arg(format!("[{}]", specs.join(",")));
    let out = cmd.output()?;
    if !out.success() {
        bail!(
            "{}\n  the build backends could not say what they need to build the editables",
            crate::cmd::failure_message("asking the build backends", &out)
        );
    }
    Ok(out
        .output
        .lines()
        .filter_map(|l| l.strip_prefix("xtask-requires: "))
        .map(|l| l.trim().to_owned())
        .collect())
}

/// The pinned uv ([`UV_VERSION`]), which `lock` resolves with so that every machine writes the
/// same lock: on PATH when it is that version, else in the tools folder, installed there once.
pub fn pinned_uv(base: &Interpreter, tools: &Path) -> Result<PathBuf> {
    if let Some(exe) = find_pinned_uv(tools) {
        return Ok(exe);
    }
    install_uv(base, tools)?;
    Ok(uv_in_tools(tools))
}

/// The pinned uv if it is there already (no interpreter needed to look).
pub fn find_pinned_uv(tools: &Path) -> Option<PathBuf> {
    if uv_at(&uv_in_tools(tools)).is_ok() {
        return Some(uv_in_tools(tools));
    }
    let exe = which::which("uv").ok()?;
    match uv_at(&exe) {
        Ok(Installer::Uv { version, .. }) if version == UV_VERSION => Some(exe),
        _ => None,
    }
}

/// A uv that works, on PATH or in the tools folder, without installing one.
fn existing_uv(tools: &Path) -> Option<(Installer, String)> {
    if let Ok(exe) = which::which("uv")
        && let Ok(uv) = uv_at(&exe)
    {
        return Some((uv, format!("found on PATH at {}", exe.display())));
    }
    let exe = uv_in_tools(tools);
    uv_at(&exe)
        .ok()
        .map(|uv| (uv, format!("installed in {}", tools.display())))
}

fn uv_in_tools(tools: &Path) -> PathBuf {
    let platform = Platform::current();
    platform
        .bin_dir(&tools.join(tools::UV.folder_name()))
        .join(platform.exe("uv"))
}

fn find_or_install_uv(base: &Interpreter, tools: &Path) -> Result<(Installer, String)> {
    if let Some(found) = existing_uv(tools) {
        return Ok(found);
    }
    let started = Instant::now();
    let uv = install_uv(base, tools)?;
    let note = format!(
        "installed uv {UV_VERSION} into {} in {}",
        tools.display(),
        crate::output::duration(started)
    );
    Ok((uv, note))
}

/// Installs the pinned uv into the tools folder with the base interpreter's pip, hash-checked.
fn install_uv(base: &Interpreter, tools: &Path) -> Result<Installer> {
    // Another setup may have put a uv in place meanwhile: that one is kept (it may be running).
    tools::UV.install(&base.path, tools, |_| uv_at(&uv_in_tools(tools)).is_ok())?;
    uv_at(&uv_in_tools(tools))
}

fn uv_at(exe: &Path) -> Result<Installer> {
    let out = Cmd::new(exe).arg("--version").output()?;
    // `uv 0.13.9 (abc 2025-01-01)`
    let version = out
        .output
        .split_whitespace()
        .nth(1)
        .filter(|_| out.success() && out.output.starts_with("uv "));
    match version {
        Some(v) => Ok(Installer::Uv {
            exe: exe.to_path_buf(),
            version: v.to_owned(),
        }),
        None => bail!(
            "{} --version did not answer as uv does: {}",
            exe.display(),
            out.output.trim()
        ),
    }
}

fn pip_of(base: &Interpreter) -> Result<Installer> {
    let out = Cmd::new(&base.path)
        .args([
            "-I",
            "-c",
            "import pip; print(pip.__version__); print(pip.__file__)",
        ])
        .output()?;
    let mut lines = out.output.lines();
    let (Some(version), Some(module)) = (lines.next(), lines.next()) else {
        bail!(
            "{} has no pip: install uv (e.g. `pipx install uv`), or pip for it (`{} -m ensurepip`)",
            base.path.display(),
            base.path.display()
        );
    };
    let version = version.trim().to_owned();
    let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if !out.success() || (major, minor) < PIP_MIN {
        bail!(
            "{} has pip {version}, older than {}.{} which installs into another interpreter; \
             upgrade it (`{} -m pip install --upgrade pip`) or install uv",
            base.path.display(),
            PIP_MIN.0,
            PIP_MIN.1,
            base.path.display()
        );
    }
    Ok(Installer::Pip {
        python: base.path.clone(),
        version,
        module: PathBuf::from(module.trim()),
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// A stand-in for uv that logs each run's last argument, fails when it is `--offline` unless
    /// `cached` is true, and fails when it is `fail`.
    fn stand_in(dir: &Path, cached: bool) -> PathBuf {
        let _ = fs::remove_dir_all(dir);
        fs::create_dir_all(dir).unwrap();
        let uv = dir.join("uv");
        let offline_code = if cached { 0 } else { 2 };
        let log = dir.join("log");
        let script = format!(
            "#!/bin/sh\nfor last in \"$@\"; do :; done\necho \"$last\" >> '{}'\n\
             [ \"$last\" = --offline ] && exit {offline_code}\n[ \"$last\" = fail ] && exit 3\nexit 0\n",
            log.display()
        );
        fs::write(&uv, script).unwrap();
        fs::set_permissions(&uv, fs::Permissions::from_mode(0o755)).unwrap();
        uv
    }

    fn runs(dir: &Path) -> Vec<String> {
        let log = fs::read_to_string(dir.join("log")).unwrap_or_default();
        log.lines().map(str::to_owned).collect()
    }

    /// The cache answers: one offline run. It does not: the same command online after it. (Not
    /// under `UV_OFFLINE`, which the tests' environment does not set.)
    #[test]
    fn an_install_runs_online_only_when_the_cache_cannot_answer() {
        if lock::offline_env() {
            return;
        }
        let base = std::env::temp_dir().join(format!("xtask-cache-first-{}", std::process::id()));
        for (cached, expected) in [
            (true, vec!["--offline"]),
            (false, vec!["--offline", "lock.txt"]),
        ] {
            let dir = base.join(cached.to_string());
            let uv = stand_in(&dir, cached);
            from_cache_first(&Cmd::new(&uv).args(["pip", "sync", "lock.txt"]), true).unwrap();
            assert_eq!(runs(&dir), expected, "cached: {cached}");
        }
        // Failing both ways: the online run's failure is the error.
        let dir = base.join("failing");
        let uv = stand_in(&dir, false);
        let err = from_cache_first(&Cmd::new(&uv).args(["pip", "sync", "fail"]), true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("sync fail` failed with exit code 3"), "{err}");
        assert_eq!(runs(&dir), ["--offline", "fail"]);
        let _ = fs::remove_dir_all(&base);
    }

    /// A lock of a package with an index of its own names it (`--emit-index-url`); the cache
    /// then does not answer for it.
    #[test]
    fn a_lock_that_names_an_index_is_installed_online() {
        let dir = std::env::temp_dir().join(format!("xtask-index-lines-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("requirements.txt");
        fs::write(&plain, "six==1.17.0 \\\n    --hash=sha256:00\n").unwrap();
        let indexed = dir.join("requirements-dev.txt");
        fs::write(
            &indexed,
            "--index-url https://pypi.org/simple\n--extra-index-url http://x/simple\nsix==1.17.0\n",
        )
        .unwrap();
        assert!(!names_an_index(std::slice::from_ref(&plain)).unwrap());
        assert!(names_an_index(&[plain, indexed]).unwrap());
        let _ = fs::remove_dir_all(&dir);
    }
}
