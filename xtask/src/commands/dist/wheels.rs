//! The wheels of a deployable: one non-editable wheel per local package of the service's install
//! set, built by the package's own build backend (through the pinned uv's `uv build`, in an
//! isolated build environment) from a copy of its source tree, reproducibly.
//!
//! Why a copy: setuptools writes `build/` and `*.egg-info` beside the sources and reuses them, so a
//! module deleted from the tree could live on in the next wheel; and the tree stays untouched.
//! Why reproducible: `SOURCE_DATE_EPOCH` is the time of the last commit that touched the package
//! (so a commit elsewhere rebuilds nothing), the copy holds only what the key lists, and the
//! backend writes the archive in sorted order: the same inputs give the same bytes.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;
use crate::digest::{self, Hasher, TreeFile};
use crate::env::build_bytecode::BuildBytecode;
use crate::env::installer::{self, Installer};
use crate::env::interpreter::Interpreter;
use crate::workspace::Package;

/// The epoch when nothing better is known (no git, a package never committed): 1980-01-01, the
/// earliest time a zip archive can hold.
pub const ZIP_EPOCH: u64 = 315_532_800;

/// How wheels are built is this file (the build's command, its variables, what is read): its own
/// source stands in the key, so a wheel an xtask that built otherwise remembered is built again.
const RECIPE_SOURCE: &str = include_str!("wheels.rs");

/// Everything a package's wheel is made from, listed in one place: the key of a built wheel is
/// the digest of exactly this.
#[derive(Debug, Clone)]
pub struct WheelInputs {
    /// The files of the package folder that the build sees (its copy holds exactly these), each
    /// with its content digest and whether it is executable (the archive keeps the mode).
    pub files: Vec<(TreeFile, bool)>,
    /// The files of the package folder that git ignores, left out (relative to the folder).
    pub left_out: Vec<String>,
    /// `SOURCE_DATE_EPOCH`: the time of the last commit that touched the package.
    pub epoch: u64,
    /// The builder: the pinned uv's version (it picks the backend's build environment).
    pub builder: String,
    /// The Python the backend runs on: the one the service's setup would choose, as its
    /// request and what discovery finds say (see [`super::check::CheckInputs`]). A backend may
    /// write other metadata on another version (`setup.py`, markers it evaluates).
    pub python: String,
    /// The installers' variables that can change what a build environment gets (`UV_INDEX_URL`).
    pub installer_env: String,
    /// The root's `uv.toml`, if any: its digest.
    pub uv_config: String,
}

impl WheelInputs {
    /// `ignored`: what git ignores under the root, relative to it (see
    /// [`super::context::ignored_paths`]): left out, as a clone of the commit lacks it; a file
    /// is judged by its path through the package folder and by where it really is (through a
    /// symlinked folder).
    pub fn of(
        root: &Path,
        package: &Package,
        (epoch, python): (u64, &str),
        ignored: &[String],
    ) -> WheelInputs {
        let listed = |path: &str| {
            ignored
                .iter()
                .any(|i| *i == path || (i.ends_with('/') && path.starts_with(i.as_str())))
        };
        let real_root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let is_ignored = |rel: &str| {
            let real = fs::canonicalize(package.dir.join(rel)).ok();
            let real_rel = real
                .as_deref()
                .and_then(|r| r.strip_prefix(&real_root).ok())
                .map(|r| r.to_string_lossy().replace('\\', "/"));
            listed(&format!("{}/{rel}", package.rel)) || real_rel.is_some_and(|r| listed(&r))
        };
        let (left_out, kept): (Vec<TreeFile>, Vec<TreeFile>) = digest::build_sources(&package.dir)
            .into_iter()
            .partition(|f| is_ignored(&f.rel));
        let files = kept
            .into_iter()
            .map(|f| {
                let executable = is_executable(&package.dir.join(&f.rel));
                (f, executable)
            })
            .collect();
        WheelInputs {
            left_out: left_out.into_iter().map(|f| f.rel).collect(),
            files,
            epoch,
            builder: format!("uv {}", installer::UV_VERSION),
            python: python.to_owned(),
            installer_env: installer::environment_digest(),
            uv_config: digest::file_content(&root.join("uv.toml")),
        }
    }

    pub fn key(&self) -> String {
        let mut h = Hasher::new();
        for part in [
            &digest::hash(RECIPE_SOURCE.as_bytes()),
            &self.epoch.to_string(),
            &self.builder,
            &self.python,
            &self.installer_env,
            &self.uv_config,
        ] {
            h.write(part.as_bytes());
            h.write(b"\0");
        }
        for (file, executable) in &self.files {
            h.write(file.rel.as_bytes());
            h.write(if *executable { b"\0x\0" } else { b"\0-\0" });
            h.write(file.digest.as_bytes());
        }
        h.finish()
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    false
}

/// Builds the package's wheel in `staging` (emptied first) and returns its path there: the copy
/// of the sources in `staging/source`, the wheel in `staging/out`.
pub fn build(
    root: &Path,
    package: &Package,
    inputs: &WheelInputs,
    (uv, python): (&Path, &Interpreter),
    staging: &Path,
) -> Result<PathBuf> {
    let _ = fs::remove_dir_all(staging);
    let source = staging.join("source");
    let out = staging.join("out");
    copy_sources(package, inputs, &source)?;
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    // The backend runs on the service's Python, never on whichever `python3` is first on PATH
    // (a pyenv shim of another version, say). Its bytecode kept as setup's builds keep it.
    let bytecode = BuildBytecode::new(Some(&python.path));
    let cmd = Cmd::new(uv)
        .args(["build", "--wheel", "--quiet"])
        .args(Installer::uv_config(root))
        .arg("--python")
        .arg(&python.path)
        .arg("--out-dir")
        .arg(&out)
        .arg(&source)
        .env("SOURCE_DATE_EPOCH", inputs.epoch.to_string())
        .cwd(root);
    let one = installer::one_source(Some(root), !package.indexes.is_empty());
    installer::from_cache_first(&bytecode.apply(cmd), one).with_context(|| {
        format!(
            "{}: its build backend could not build a wheel",
            package.folder_name()
        )
    })?;
    let wheels: Vec<PathBuf> = fs::read_dir(&out)
        .with_context(|| format!("cannot read {}", out.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    match wheels.as_slice() {
        [wheel] => Ok(wheel.clone()),
        _ => bail!(
            "{}: the build left {} wheels in {}, not one",
            package.folder_name(),
            wheels.len(),
            out.display()
        ),
    }
}

/// Copies exactly the files the inputs list into `to`, keeping the executable bit.
fn copy_sources(package: &Package, inputs: &WheelInputs, to: &Path) -> Result<()> {
    for (file, _) in &inputs.files {
        let from = package.dir.join(&file.rel);
        let dest = to.join(&file.rel);
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        fs::copy(&from, &dest)
            .with_context(|| format!("cannot copy {} to {}", from.display(), dest.display()))?;
    }
    Ok(())
}
