//! The proof of a context: installed exactly as its Dockerfile installs it (the context's own
//! `install.py`, with the pinned uv the Dockerfile copies in) into a fresh venv outside the tree,
//! then checked from inside that venv: every import package of the install set imports from the
//! venv (not from the source tree); nothing is installed that neither the lock nor a wheel names;
//! no dev tool and no other service; the service's smoke command exits 0.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::cmd::Cmd;
use crate::digest::Hasher;
use crate::env::installer::{self, UV_VERSION};
use crate::env::interpreter::Interpreter;
use crate::env::lock;
use crate::env::venv::{Platform, Venv};
use crate::output::json_string;
use crate::workspace::{Package, REQUIRED_TOOLS, Workspace, normalize, requirement_name};

const PROBE_PY: &str = include_str!("probe.py");

/// What the check of one service's context reads besides the context itself, listed in one
/// place: with the manifest's digest, the key of a remembered pass.
pub struct CheckInputs {
    /// The imports that must work, the names allowed and forbidden (the probe's argument).
    pub spec: String,
    pub smoke: Vec<String>,
    /// The interpreter the check's venv is made from: what decides it (see
    /// [`crate::env::interpreter::Request::choice_key`]).
    pub python: String,
    pub installer_env: String,
}

impl CheckInputs {
    /// `python`: the key of the Python's choice (the check's venv is made from it).
    pub fn of(
        ws: &Workspace,
        service: &Package,
        set: &[&Package],
        lock_file: &Path,
        python: String,
    ) -> Self {
        CheckInputs {
            spec: probe_spec(ws, service, set, lock_file),
            smoke: service.deploy.smoke.clone(),
            python,
            installer_env: installer::environment_digest(),
        }
    }

    pub fn key(&self, manifest_digest: &str) -> String {
        let mut h = Hasher::new();
        for part in [
            // The xtask's build: the probe, how its answer is judged, and how the context is
            // installed are all this build's (see `own_binary`).
            &crate::own_binary::key_part(),
            UV_VERSION,
            manifest_digest,
            &self.spec,
            &self.smoke.join("\0"),
            &self.python,
            &self.installer_env,
        ] {
            h.write(part.as_bytes());
            h.write(b"\n\0");
        }
        h.finish()
    }
}

/// The probe's argument: what must import, what may and may not be installed.
fn probe_spec(ws: &Workspace, service: &Package, set: &[&Package], lock_file: &Path) -> String {
    let text = fs::read_to_string(lock_file).unwrap_or_default();
    let mut allowed: Vec<String> = lock::pins(&text)
        .iter()
        .map(|p| normalize(requirement_name(p)))
        .chain(set.iter().map(|p| p.name.clone()))
        .collect();
    allowed.sort();
    allowed.dedup();
    let mut forbidden = BTreeMap::new();
    let dev = service.dev.iter().flat_map(|d| &d.requirements);
    for tool in dev
        .map(|r| requirement_name(r))
        .chain(REQUIRED_TOOLS.iter().copied())
    {
        let name = normalize(tool);
        if !allowed.contains(&name) {
            forbidden.insert(name, "a dev tool, not the service's runtime".to_owned());
        }
    }
    let mut forbidden_imports = BTreeMap::new();
    for other in ws.services().filter(|s| s.name != service.name) {
        forbidden.insert(
            other.name.clone(),
            format!("{} is another service", other.dist),
        );
        for import in other.import_names() {
            forbidden_imports.insert(import, format!("it belongs to {}", other.dist));
        }
    }
    let imports: Vec<String> = set.iter().flat_map(|p| p.import_names()).collect();
    let tracked = tracked_files(&ws.root);
    let super::data_files::Contents { data, modules } =
        super::data_files::of(set, tracked.as_ref());
    json_object(
        &imports,
        &allowed,
        &forbidden,
        &forbidden_imports,
        &data,
        &modules,
    )
}

/// The files git tracks under the root (a symlinked data folder under `python/` may lead
/// elsewhere in it); None outside a repository (every file then counts).
fn tracked_files(root: &Path) -> Option<super::data_files::Tracked> {
    let listed = crate::cmd::git_paths(root, &["ls-files", "-z"], "").ok()?;
    Some(super::data_files::Tracked::new(root, listed))
}

fn json_object(
    imports: &[String],
    allowed: &[String],
    forbidden: &BTreeMap<String, String>,
    forbidden_imports: &BTreeMap<String, String>,
    data: &BTreeMap<String, Vec<String>>,
    modules: &BTreeMap<String, Vec<String>>,
) -> String {
    let list = |items: &[String]| -> String {
        let quoted: Vec<String> = items.iter().map(|s| json_string(s)).collect();
        format!("[{}]", quoted.join(","))
    };
    let lists = |m: &BTreeMap<String, Vec<String>>| -> String {
        let pairs: Vec<String> = m
            .iter()
            .map(|(import, items)| format!("{}:{}", json_string(import), list(items)))
            .collect();
        format!("{{{}}}", pairs.join(","))
    };
    let map = |m: &BTreeMap<String, String>| -> String {
        let pairs: Vec<String> = m
            .iter()
            .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
            .collect();
        format!("{{{}}}", pairs.join(","))
    };
    format!(
        "{{\"imports\":{},\"allowed\":{},\"forbidden\":{},\"forbidden_imports\":{},\"data\":{},\"modules\":{}}}",
        list(imports),
        list(allowed),
        map(forbidden),
        map(forbidden_imports),
        lists(data),
        lists(modules)
    )
}

/// What a passed check found.
pub struct Passed {
    pub installed: usize,
    pub platform: String,
    pub python: String,
}

/// Installs the context `dir` into a fresh venv made from `python` with `uv`, and checks it. The
/// venv is removed afterwards.
pub fn run(
    dir: &Path,
    inputs: &CheckInputs,
    service: &Package,
    python: &Interpreter,
    uv: &Path,
) -> Result<Passed> {
    let scratch = scratch_dir(service)?;
    let result = install_and_probe(dir, inputs, python, uv, &scratch);
    let _ = fs::remove_dir_all(&scratch);
    result.with_context(|| {
        format!(
            "{}: the deployable in {} does not install or work as its Dockerfile would have it",
            service.folder_name(),
            dir.display()
        )
    })
}

fn scratch_dir(service: &Package) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "xtask-dist-{}-{}",
        service.folder_name(),
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("cwd"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

fn install_and_probe(
    dir: &Path,
    inputs: &CheckInputs,
    python: &Interpreter,
    uv: &Path,
    scratch: &Path,
) -> Result<Passed> {
    let venv = Venv::of_dir(scratch.join("venv"));
    let cwd = scratch.join("cwd");
    // As the image's build runs them: without the caller's `UV_INDEX_URL`, `UV_FIND_LINKS` and
    // the like, which a lock installable only through them would need, and no image has.
    let callers = installer::where_from_vars();
    Cmd::new(uv)
        .args(["venv", "--quiet", "--no-config", "--python"])
        .arg(&python.path)
        .arg(&venv.dir)
        .without(&callers)
        .run()?;
    let mut install = Cmd::new(venv.python())
        .arg("-I")
        .arg(dir.join(crate::workspace::deploy::context::INSTALL))
        .env("UV", uv)
        .without(&callers)
        .cwd(&cwd);
    for (name, value) in image_install_env(dir)? {
        install = install.env(name, value);
    }
    install.run()?;
    let probe = Cmd::new(venv.python())
        .args(["-I", "-c", PROBE_PY, &inputs.spec])
        .cwd(&cwd)
        .output()?;
    let problems: Vec<&str> = probe
        .output
        .lines()
        .filter_map(|l| l.strip_prefix("problem: "))
        .collect();
    if !problems.is_empty() || !probe.success() {
        let shown = if problems.is_empty() {
            probe.output.trim().to_owned()
        } else {
            problems.join("\n  ")
        };
        bail!("the installed deployable is not what it should be:\n  {shown}");
    }
    smoke(&venv, &inputs.smoke, &cwd)?;
    let installed = probe
        .output
        .lines()
        .find_map(|l| l.strip_prefix("installed: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    Ok(Passed {
        installed,
        platform: this_platform(),
        python: python.version.to_string(),
    })
}

/// The installer variables the Dockerfile of the context `dir` gives its `RUN` of `install.py`
/// (an `ENV UV_INDEX_URL=...` before it, say): the image's install sees them, so the check's
/// does too. Those that change nothing installed (caches, link mode, bytecode) are left out:
/// they change only how long it takes. (The manifest's digest, the check's key, covers the
/// Dockerfile.) A value that cannot be told from the file is an error, not a guess.
fn image_install_env(dir: &Path) -> Result<Vec<(String, String)>> {
    let path = dir.join(crate::workspace::deploy::context::DOCKERFILE);
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let set =
        crate::workspace::deployable::install_env(&text, &installer::changes_what_is_installed);
    set.into_iter()
        .map(|(name, value)| {
            value.ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: {name} is set for the RUN of install.py to a value that cannot be told \
                     from the file (a variable of the base image, or a form this reading does not \
                     follow), so dist's check cannot install as the image would; give it a plain \
                     value, or set it in install.py's RUN line",
                    path.display()
                )
            })
            .map(|value| (name, value))
        })
        .collect()
}

/// The smoke command, run from an empty folder: its program from the venv's scripts when it is
/// one of them.
fn smoke(venv: &Venv, argv: &[String], cwd: &Path) -> Result<()> {
    let Some((program, args)) = argv.split_first() else {
        return Ok(());
    };
    let bin = Platform::current().bin_dir(&venv.dir);
    let in_venv = bin.join(Platform::current().exe(program));
    let program: PathBuf = if in_venv.is_file() {
        in_venv
    } else {
        PathBuf::from(program)
    };
    Cmd::new(&program).args(args).cwd(cwd).run().context(
        "the smoke command ([tool.xtask.dist] smoke) failed in the installed deployable",
    )?;
    Ok(())
}

/// This machine's platform, as the check installs for it: `linux/amd64`.
pub fn this_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}/{arch}", std::env::consts::OS)
}
