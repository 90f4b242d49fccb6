//! `cargo xtask setup`, `setup-stream`, `setup-sts`: each service gets its own venv with the
//! packages of its install set installed editable. A re-run with nothing changed reads a few files
//! and a stamp, and runs nothing.

use std::cell::OnceCell;
use std::fs::{self, File, TryLockError};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cmd::{self, Cmd};
use crate::flags::EnvArgs;
use crate::installer::Installer;
use crate::interpreter::{self, Discovery, Interpreter, Request, Want};
use crate::output::duration;
use crate::project;
use crate::stamp::{self, Fingerprint, RECIPE_VERSION, file_meta};
use crate::venv::Venv;
use crate::workspace::{Package, Workspace};

/// The keys whose change means the venv's content must change. The others (how the interpreter
/// and installer were asked for and found) only decide whether a re-run may skip looking.
const CONTENT_KEYS: &[&str] = &[
    "recipe",
    "file:",
    "python.path",
    "python.version",
    "installer.name",
    "installer.version",
];

/// What every setup in one run shares: the request, the installer choice, and the interpreters
/// (probed at most once, and only when a venv is not fresh).
pub struct Session<'a> {
    pub ws: &'a Workspace,
    pub args: &'a EnvArgs,
    request: Request,
    discovery: OnceCell<Discovery>,
}

impl<'a> Session<'a> {
    pub fn new(ws: &'a Workspace, args: &'a EnvArgs) -> Result<Session<'a>> {
        let request = Request::resolve(args.python.as_deref(), &ws.root)?;
        Ok(Session {
            ws,
            args,
            request,
            discovery: OnceCell::new(),
        })
    }

    /// Every interpreter found, probed on first use.
    pub fn discovery(&self) -> &Discovery {
        self.discovery.get_or_init(interpreter::discover)
    }

    /// The interpreter a setup of `service` would choose now, and why.
    pub fn would_choose(&self, service: &Package) -> Result<(Interpreter, String)> {
        let set = self.ws.closure(service)?;
        let discovery = match self.request.want {
            Want::Path(_) => &Discovery::default(),
            _ => self.discovery(),
        };
        interpreter::choose(discovery, &self.request, &requirements(&set))
    }

    /// The inputs that are cheap to read: file contents, the recipe, what was asked for.
    fn cheap_fingerprint(&self, set: &[&Package]) -> Result<Fingerprint> {
        let mut fp = Fingerprint::default();
        fp.set("recipe", RECIPE_VERSION);
        for package in set {
            fp.add_file(&self.ws.root, &package.pyproject())?;
            for file in package.requirement_files() {
                fp.add_file(&self.ws.root, &file)?;
            }
        }
        fp.set("python.request", self.request.key());
        if !matches!(self.request.want, Want::Path(_)) {
            fp.set("python.discovery", interpreter::discovery_key());
        }
        fp.set(
            "installer.choice",
            format!("{:?}", self.args.installer).to_lowercase(),
        );
        Ok(fp)
    }

    /// Sets up one service; says what it did on stdout, one line a step.
    pub fn setup(&self, service: &Package) -> Result<()> {
        let started = Instant::now();
        let name = service.folder_name();
        let set = self.ws.closure(service)?;
        let venv = Venv::of(service);
        let cheap = self.cheap_fingerprint(&set)?;
        let _lock = lock(&venv, name)?;

        let old = Fingerprint::read(&venv.stamp());
        if !self.args.force
            && let Some(old) = &old
            && is_fresh(&venv, &cheap, old)
        {
            crate::output::say(format!("{name}: up to date"));
            return Ok(());
        }

        let step = Instant::now();
        let (python, why) = self
            .would_choose(service)
            .with_context(|| format!("{name}: cannot choose a Python"))?;
        crate::output::say(format!(
            "{name}: interpreter {python}: {why} ({})",
            duration(step)
        ));

        let step = Instant::now();
        let (installer, how) =
            Installer::resolve(self.args.installer, &python, &project::tools_dir())
                .with_context(|| format!("{name}: no installer"))?;
        crate::output::say(format!(
            "{name}: installer {}: {how} ({})",
            installer.label(),
            duration(step)
        ));

        let mut full = cheap;
        full.set("python.path", python.path.to_string_lossy());
        full.set("python.version", python.version.to_string());
        full.set("python.meta", file_meta(&python.path));
        full.set("installer.name", installer.name());
        full.set("installer.version", installer.label());
        full.set("installer.path", installer.identity().to_string_lossy());
        full.set("installer.meta", file_meta(installer.identity()));

        let action = decide(&venv, old.as_ref(), &full, self.args.force)?;
        let action = match action {
            Action::RefreshStamp => {
                full.write(&venv.stamp())?;
                crate::output::say(format!(
                    "{name}: up to date (the interpreter and installer are the same as before)"
                ));
                return Ok(());
            }
            other => other,
        };
        // From here on the venv is being changed: no stamp until it is whole again.
        remove_stamp(&venv)?;
        match &action {
            Action::Create | Action::Recreate(_) => {
                if let Action::Recreate(why) = &action {
                    crate::output::say(format!("{name}: recreating the venv: {why}"));
                    fs::remove_dir_all(&venv.dir)
                        .with_context(|| format!("cannot remove {}", venv.dir.display()))?;
                }
                let step = Instant::now();
                installer
                    .create_venv(&python, &venv)
                    .run()
                    .with_context(|| format!("{name}: cannot create the venv"))?;
                crate::output::say(format!(
                    "{name}: venv created at {} ({})",
                    venv.dir.display(),
                    duration(step)
                ));
            }
            Action::Reinstall(why) => crate::output::say(format!("{name}: reinstalling: {why}")),
            Action::RefreshStamp => unreachable!("handled above"),
        }
        let step = Instant::now();
        for cmd in installer.install(&venv, &set, service) {
            cmd.run().with_context(|| {
                format!(
                    "{name}: the install failed; fix the cause above, then run {}",
                    project::xtask_command(&self.ws.root, &["setup", name])
                )
            })?;
        }
        let names: Vec<String> = set
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    p.dist,
                    p.version.as_deref().unwrap_or("(dynamic version)")
                )
            })
            .collect();
        crate::output::say(format!(
            "{name}: installed {} ({})",
            names.join(", "),
            duration(step)
        ));

        let step = Instant::now();
        post_check(self.ws, service, &venv)?;
        crate::output::say(format!(
            "{name}: post-check: every package imports from its source folder, no other service imports ({})",
            duration(step)
        ));
        full.write(&venv.stamp())?;
        crate::output::say(format!(
            "{name}: ready in {} ({}, Python {})",
            duration(started),
            installer.label(),
            python.version
        ));
        Ok(())
    }
}

/// The cheap inputs that differ from the stamp's: changed, new, or (a file) gone from the set.
fn changed_inputs(cheap: &Fingerprint, old: &Fingerprint) -> Vec<String> {
    let keys: Vec<&str> = cheap.0.keys().map(String::as_str).collect();
    let mut changed = cheap.changed_since(&old.only(&keys));
    changed.extend(
        old.0
            .keys()
            .filter(|k| k.starts_with("file:") && !cheap.0.contains_key(*k))
            .cloned(),
    );
    changed
}

/// Fresh without running anything: the cheap inputs are those of the stamp, and the interpreter
/// and installer it names are the same files as then.
fn is_fresh(venv: &Venv, cheap: &Fingerprint, old: &Fingerprint) -> bool {
    let same_file = |path_key: &str, meta_key: &str| match (old.get(path_key), old.get(meta_key)) {
        (Some(path), Some(meta)) => file_meta(Path::new(path)) == meta,
        _ => false,
    };
    changed_inputs(cheap, old).is_empty()
        && same_file("python.path", "python.meta")
        && same_file("installer.path", "installer.meta")
        && venv.python_works()
}

#[derive(Debug, PartialEq, Eq)]
enum Action {
    Create,
    Recreate(String),
    Reinstall(String),
    RefreshStamp,
}

fn decide(
    venv: &Venv,
    old: Option<&Fingerprint>,
    new: &Fingerprint,
    force: bool,
) -> Result<Action> {
    if !venv.dir.exists() {
        return Ok(Action::Create);
    }
    if !venv.is_venv() {
        bail!(
            "{} exists but is not a virtualenv (no pyvenv.cfg): it is not ours to replace; move it away, then run setup again",
            venv.dir.display()
        );
    }
    if force {
        return Ok(Action::Recreate("--force".into()));
    }
    if !venv.python_works() {
        return Ok(Action::Recreate(format!(
            "its interpreter {} is gone",
            venv.python().display()
        )));
    }
    let Some(old) = old else {
        return Ok(Action::Recreate(
            "it has no stamp: an earlier setup did not finish".into(),
        ));
    };
    for key in ["python.path", "python.version"] {
        if old.get(key) != new.get(key) {
            return Ok(Action::Recreate(format!(
                "the interpreter changed from {} {} to {} {}",
                old.get("python.version").unwrap_or("?"),
                old.get("python.path").unwrap_or("?"),
                new.get("python.version").unwrap_or("?"),
                new.get("python.path").unwrap_or("?"),
            )));
        }
    }
    let changed = new
        .only(CONTENT_KEYS)
        .changed_since(&old.only(CONTENT_KEYS));
    if changed.is_empty() {
        return Ok(Action::RefreshStamp);
    }
    let why: Vec<String> = changed.iter().map(|k| stamp::describe(k)).collect();
    Ok(Action::Reinstall(why.join(", ")))
}

fn remove_stamp(venv: &Venv) -> Result<()> {
    match fs::remove_file(venv.stamp()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove the stamp {}", venv.stamp().display()))
        }
        _ => Ok(()),
    }
}

/// An exclusive lock on the venv for the rest of the setup: a second setup of the same service
/// waits, then finds the venv fresh.
fn lock(venv: &Venv, name: &str) -> Result<File> {
    let path = venv.lock_file();
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            crate::output::say(format!(
                "{name}: waiting for another setup of this venv to finish (lock {})",
                path.display()
            ));
            file.lock()
                .with_context(|| format!("cannot lock {}", path.display()))?;
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    Ok(file)
}

/// Run inside the venv: each package of the install set imports from its own source folder
/// (editable, SC-002/SC-003); no package of another service can be imported (SC-008).
const POST_CHECK: &str = r#"
import importlib, importlib.util, os, sys
args, problems, i = sys.argv[1:], [], 0
while i < len(args):
    kind, name = args[i][0], args[i][1:]
    if kind == "+":
        src, i = os.path.realpath(args[i + 1]), i + 2
        try:
            module = importlib.import_module(name)
        except Exception as e:
            problems.append(f"{name} cannot be imported: {type(e).__name__}: {e}")
            continue
        where = os.path.realpath(getattr(module, "__file__", None) or "")
        if not where.startswith(src + os.sep):
            problems.append(f"{name} is imported from {where or 'nowhere'}, not from its source folder {src}: not an editable install")
    else:
        i += 1
        if importlib.util.find_spec(name) is not None:
            problems.append(f"{name} can be imported, but it belongs to another service")
print("\n".join(problems))
sys.exit(1 if problems else 0)
"#;

/// The arguments of the post-check for a service: `+import src` for each package it must import
/// from source, `-import` for each it must not import.
pub fn post_check_cmd(ws: &Workspace, service: &Package, venv: &Venv) -> Result<Cmd> {
    let set = ws.closure(service)?;
    let mut cmd = Cmd::new(venv.python())
        .args(["-I", "-B", "-c", POST_CHECK])
        .cwd(&venv.dir);
    for package in &set {
        for import in package.import_names() {
            cmd = cmd.arg(format!("+{import}")).arg(package.src_dir());
        }
    }
    for other in ws.services().filter(|s| s.name != service.name) {
        for import in other.import_names() {
            cmd = cmd.arg(format!("-{import}"));
        }
    }
    Ok(cmd)
}

pub fn post_check(ws: &Workspace, service: &Package, venv: &Venv) -> Result<()> {
    let cmd = post_check_cmd(ws, service, venv)?;
    let out = cmd.output()?;
    if out.success() {
        return Ok(());
    }
    let problems = out.output.trim();
    let detail = if problems.is_empty() {
        cmd::failure_message("the post-check", &out)
    } else {
        problems.replace('\n', "\n  ")
    };
    bail!(
        "{}: the post-check of the venv {} failed:\n  {detail}\n  fix: rebuild it with {}",
        service.folder_name(),
        venv.dir.display(),
        project::xtask_command(&ws.root, &["setup", service.folder_name(), "--force"])
    )
}

/// `setup [SERVICE...]`, `setup-stream`, `setup-sts`.
pub fn run(root: &Path, services: &[String], args: &EnvArgs) -> Result<()> {
    let ws = Workspace::load(root)?;
    let ctx = Session::new(&ws, args)?;
    let chosen: Vec<&Package> = if services.is_empty() {
        ws.services().collect()
    } else {
        services
            .iter()
            .map(|s| ws.service(s))
            .collect::<Result<_>>()?
    };
    for service in chosen {
        ctx.setup(service)?;
    }
    Ok(())
}

/// What the interpreter must satisfy: each package's `requires-python`, with its folder.
fn requirements<'p>(set: &[&'p Package]) -> Vec<(&'p str, &'p crate::pep440::Specifiers)> {
    set.iter()
        .filter_map(|p| p.requires_python.as_ref().map(|s| (p.rel.as_str(), s)))
        .collect()
}

impl Session<'_> {
    /// The state of a service's venv without changing it (for `doctor`).
    pub fn state(&self, service: &Package) -> Result<State> {
        let venv = Venv::of(service);
        if !venv.dir.exists() {
            return Ok(State::Missing);
        }
        if !venv.is_venv() {
            return Ok(State::Broken(format!(
                "{} is not a virtualenv (no pyvenv.cfg)",
                venv.dir.display()
            )));
        }
        if !venv.python_works() {
            return Ok(State::Broken(format!(
                "its interpreter {} is gone",
                venv.python().display()
            )));
        }
        let Some(old) = Fingerprint::read(&venv.stamp()) else {
            return Ok(State::Broken(
                "no stamp: an earlier setup did not finish".into(),
            ));
        };
        let set = self.ws.closure(service)?;
        let cheap = self.cheap_fingerprint(&set)?;
        if is_fresh(&venv, &cheap, &old) {
            return Ok(State::Fresh);
        }
        let mut changed: Vec<String> = changed_inputs(&cheap, &old)
            .iter()
            .filter(|k| k.starts_with("file:"))
            .map(|k| stamp::describe(k))
            .collect();
        if changed.is_empty() {
            changed.push("the interpreter, installer or request may have changed".into());
        }
        Ok(State::Stale(changed.join(", ")))
    }
}

#[derive(Debug)]
pub enum State {
    Missing,
    Fresh,
    Stale(String),
    Broken(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(pairs: &[(&str, &str)]) -> Fingerprint {
        let mut f = Fingerprint::default();
        for (k, v) in pairs {
            f.set(*k, *v);
        }
        f
    }

    #[test]
    fn decisions_follow_what_changed() {
        let dir = std::env::temp_dir().join(format!("xtask-decide-{}", std::process::id()));
        let venv = Venv {
            dir: dir.join(".venv"),
            platform: crate::venv::Platform::current(),
        };
        let _ = fs::remove_dir_all(&dir);
        let base = fp(&[
            ("recipe", "1"),
            ("file:a/pyproject.toml", "1"),
            ("python.path", "/py"),
            ("python.version", "3.10.1"),
        ]);
        assert_eq!(decide(&venv, None, &base, false).unwrap(), Action::Create);

        fs::create_dir_all(&venv.dir).unwrap();
        let err = decide(&venv, Some(&base), &base, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a virtualenv"), "{err}");

        fs::write(venv.dir.join("pyvenv.cfg"), "").unwrap();
        let python = venv.python();
        fs::create_dir_all(python.parent().unwrap()).unwrap();
        assert!(
            matches!(decide(&venv, Some(&base), &base, false).unwrap(), Action::Recreate(w) if w.contains("is gone"))
        );
        fs::write(&python, "").unwrap();
        assert!(
            matches!(decide(&venv, None, &base, false).unwrap(), Action::Recreate(w) if w.contains("no stamp"))
        );
        assert_eq!(
            decide(&venv, Some(&base), &base, false).unwrap(),
            Action::RefreshStamp
        );
        assert!(
            matches!(decide(&venv, Some(&base), &base, true).unwrap(), Action::Recreate(w) if w == "--force")
        );

        let mut edited = base.clone();
        edited.set("file:a/pyproject.toml", "2");
        edited.set("python.discovery", "other");
        assert_eq!(
            decide(&venv, Some(&base), &edited, false).unwrap(),
            Action::Reinstall("a/pyproject.toml changed".into())
        );
        let mut other_python = base.clone();
        other_python.set("python.version", "3.10.2");
        assert!(
            matches!(decide(&venv, Some(&base), &other_python, false).unwrap(), Action::Recreate(w) if w.contains("3.10.2"))
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
