//! Setting up venvs: each service (and each library no service installs) gets its own venv with
//! the packages of its install set installed editable. A re-run with nothing changed reads a few
//! files and a stamp, and runs nothing.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cmd::{self, Cmd};
use crate::digest::file_meta;
use crate::env::hadolint;
use crate::env::installer::{self, Installer};
use crate::env::interpreter::{self, Discovery, Interpreter, Request, Want};
use crate::env::lock;
use crate::env::pycache_prefix;
use crate::env::requirements::{self, Read};
use crate::env::stamp::{self, Fingerprint, RECIPE_VERSION};
use crate::env::venv::{Installed, LockMode, Remember, Venv};
use crate::flags::{EnvArgs, InstallerChoice};
use crate::output::duration;
use crate::project;
use crate::workspace::{MetadataSource, Package, Workspace};

/// The keys whose change means the venv's content must change: the recipe, every file the install
/// reads (`file:`, `listing:`, `tree:`, `git:`), the interpreter, the installer and its variables,
/// the venv's own location, and `unfinished` (an install that did not end). The others (how the
/// interpreter and installer were asked for and found: PATH among them) only decide whether a
/// re-run may skip looking. The installed set (`venv.installed`) is checked apart, by reading
/// the venv.
const CONTENT_KEYS: &[&str] = &[
    "recipe",
    "file:",
    "listing:",
    "tree:",
    "git:",
    "sources:",
    "imports:",
    "python.path",
    "python.version",
    "installer.name",
    "installer.version",
    "installer.env",
    "venv.dir",
    "unfinished",
];

/// What a setup does with a lock its inputs no longer make (a pyproject edited by hand).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaleLock {
    /// An error naming the input and `cargo xtask lock`: the gates, whose verdict must be on the
    /// committed lock (a stale one fails CI), never on one they made.
    Refuse,
    /// Lock it again, keeping every pin the inputs still allow, and say so: `setup`, as `uv
    /// sync` does.
    Relock,
    /// `setup --locked`: an error, and a missing lock is one too.
    Locked,
}

/// What every setup in one run shares: the request, the installer choice, and the interpreters
/// (probed at most once, and only when a venv is not fresh).
pub struct Session<'a> {
    pub ws: &'a Workspace,
    pub args: &'a EnvArgs,
    request: Request,
    discovery: OnceCell<Discovery>,
    stale_lock: StaleLock,
    /// What each venv's last setup was asked for (the `asked.*` keys of its stamp), read once:
    /// a setup in this run records the same values again (see [`Session::record_asked`]).
    asked: RefCell<HashMap<PathBuf, Fingerprint>>,
}

impl<'a> Session<'a> {
    pub fn new(ws: &'a Workspace, args: &'a EnvArgs) -> Result<Session<'a>> {
        let request = Request::resolve(args.python.as_deref(), &ws.root)?;
        Ok(Session {
            ws,
            args,
            request,
            discovery: OnceCell::new(),
            stale_lock: StaleLock::Refuse,
            asked: RefCell::default(),
        })
    }

    /// The same session, with `policy` for a lock its inputs no longer make.
    pub fn on_stale_lock(mut self, policy: StaleLock) -> Session<'a> {
        self.stale_lock = policy;
        self
    }

    /// Every interpreter found, probed on first use.
    pub fn discovery(&self) -> &Discovery {
        self.discovery.get_or_init(interpreter::discover)
    }

    /// The interpreter a setup of `service` would choose now, and why.
    pub fn would_choose(&self, service: &Package) -> Result<(Interpreter, String)> {
        let set = self.ws.closure(service)?;
        let request = self.request_for(service)?;
        let discovery = match request.want {
            Want::Path(_) => &Discovery::default(),
            _ => self.discovery(),
        };
        interpreter::choose(discovery, &request, &requirements(&set))
    }

    /// The pinned uv that locks resolve with: found without looking for interpreters when it is
    /// there already; else installed with the Python `owner`'s venv would be built with.
    pub fn pinned_uv(&self, owner: &Package) -> Result<std::path::PathBuf> {
        let tools = project::tools_dir();
        if let Some(uv) = installer::find_pinned_uv(&tools) {
            return Ok(uv);
        }
        let (python, _) = self
            .would_choose(owner)
            .with_context(|| format!("{}: cannot choose a Python", owner.folder_name()))?;
        installer::pinned_uv(&python, &tools)
    }

    /// What locks `owner`'s venv resolve with: the pinned uv and the interpreter its venv is
    /// (or would be) built with, when one can be chosen (see [`lock::lock`]).
    pub fn resolver(&self, owner: &Package) -> Result<(PathBuf, Option<PathBuf>)> {
        let uv = self.pinned_uv(owner)?;
        let python = self.would_choose(owner).ok().map(|(python, _)| python.path);
        Ok((uv, python))
    }

    /// The pinned hadolint: found in the tools folder, else installed there with the Python
    /// `owner`'s venv would be built with (like [`Session::pinned_uv`]).
    pub fn pinned_hadolint(&self, owner: &Package) -> Result<hadolint::Hadolint> {
        let tools = project::tools_dir();
        let hadolint = match hadolint::find(&tools) {
            Some(found) => found,
            None => {
                let (python, _) = self
                    .would_choose(owner)
                    .with_context(|| format!("{}: cannot choose a Python", owner.folder_name()))?;
                hadolint::install(&python.path, &tools)?
            }
        };
        hadolint.prepared()
    }

    /// What the venv's last setup was asked for (`--python`, `--installer`), from its stamp.
    fn asked(&self, owner: &Package) -> Option<Fingerprint> {
        let stamp = Venv::of(owner).stamp();
        if let Some(asked) = self.asked.borrow().get(&stamp) {
            return Some(asked.clone());
        }
        let read = Fingerprint::read(&stamp);
        self.remember_asked(&stamp, read.as_ref());
        read
    }

    /// Keeps what a stamp read says was asked for.
    fn remember_asked(&self, stamp: &Path, read: Option<&Fingerprint>) {
        let asked = read.map_or_else(Fingerprint::default, |s| s.only(&["asked."]));
        self.asked.borrow_mut().insert(stamp.to_path_buf(), asked);
    }

    /// The Python to build `owner`'s venv with: `--python` or `XTASK_PYTHON` when given; else
    /// what its last setup was asked for, while `python/.python-version` is as it was then; else
    /// `.python-version`. A venv made with `--python 3.11` stays so until asked otherwise.
    pub fn request_for(&self, owner: &Package) -> Result<Request> {
        if self.request.strict {
            return Ok(self.request.clone());
        }
        if let Some(stamp) = self.asked(owner)
            && let Some(asked) = stamp.get("asked.python")
            && stamp.get("asked.python_file") == Some(version_file_digest(&self.ws.root).as_str())
        {
            let mut request = Request::resolve(Some(asked), &self.ws.root)?;
            request.source = format!("--python {asked} at the venv's last setup");
            return Ok(request);
        }
        Ok(self.request.clone())
    }

    /// The installer for `owner`'s venv: `--installer` when given, else the one its last setup
    /// was asked for, else `auto`.
    pub fn installer_for(&self, owner: &Package) -> InstallerChoice {
        if let Some(choice) = self.args.installer {
            return choice;
        }
        match self
            .asked(owner)
            .and_then(|s| s.get("asked.installer").map(str::to_owned))
            .as_deref()
        {
            Some("uv") => InstallerChoice::Uv,
            Some("pip") => InstallerChoice::Pip,
            _ => InstallerChoice::Auto,
        }
    }

    /// What to record of what was asked, so the next plain setup keeps it.
    fn record_asked(&self, owner: &Package, fp: &mut Fingerprint) -> Result<()> {
        let request = self.request_for(owner)?;
        // Only what --python asked for sticks; XTASK_PYTHON holds while it is set.
        if (request.source == "--python" || request.source.starts_with("--python "))
            && let Some(value) = request.asked()
        {
            fp.set("asked.python", value);
            fp.set("asked.python_file", version_file_digest(&self.ws.root));
        }
        match self.installer_for(owner) {
            InstallerChoice::Auto => {}
            choice => fp.set("asked.installer", format!("{choice:?}").to_lowercase()),
        }
        Ok(())
    }

    /// The inputs that are cheap to read: what the install reads (the pyprojects, the requirement
    /// files and what they include, the sources of dynamic metadata, the root's installer
    /// configuration and variables), where the venv is, the recipe, and what was asked for.
    fn cheap_fingerprint(
        &self,
        owner: &Package,
        set: &[&Package],
        venv: &Venv,
    ) -> Result<Fingerprint> {
        let request = self.request_for(owner)?;
        let root = &self.ws.root;
        let mut fp = Fingerprint::default();
        fp.set("recipe", RECIPE_VERSION);
        // The install reads the owner's lock (which covers the whole set) and every pyproject.
        for file in lock::files(owner) {
            // A lock counts by its pins: a re-lock that moves no pin changes no venv.
            let text = fp.add_pins(root, &file)?;
            // What else a requirement line can make the installer read: local paths, includes.
            if requirements::may_name_files(&text) {
                for read in requirements::reads(root, root, &file)? {
                    match read {
                        Read::File(path) => fp.add_file(root, &path)?,
                        Read::Listing(dir) => fp.add_listing(root, &dir),
                        Read::Tree(dir) => fp.add_tree(root, &dir),
                    }
                }
            }
        }
        for package in set {
            fp.add_file(root, &package.pyproject())?;
            fp.add_build_inputs(root, package)?;
            for source in &package.metadata_sources {
                match source {
                    MetadataSource::File(path) => fp.add_file(root, path)?,
                    MetadataSource::Tree(dir) => fp.add_tree(root, dir),
                    MetadataSource::Git(dir) => fp.add_git(root, dir),
                }
            }
        }
        for name in installer::CONFIG_FILES {
            let path = root.join(name);
            if path.is_file() {
                fp.add_file(root, &path)?;
            }
        }
        fp.set("installer.env", installer::environment_digest());
        fp.set("venv.dir", venv.dir.to_string_lossy());
        fp.set("python.request", request.key());
        if !matches!(request.want, Want::Path(_)) {
            fp.set("python.discovery", interpreter::discovery_key());
        }
        fp.set(
            "installer.choice",
            format!("{:?}", self.installer_for(owner)).to_lowercase(),
        );
        Ok(fp)
    }

    /// Sets up one service; says what it did on stdout, one line a step.
    pub fn setup(&self, service: &Package) -> Result<()> {
        let started = Instant::now();
        let name = service.folder_name();
        let set = self.ws.closure(service)?;
        let venv = Venv::of(service);
        let _lock = venv.lock(LockMode::Exclusive, name)?;
        finish_removals(&self.ws.root, &venv, name)?;
        self.ensure_lock(service)?;
        let old = Fingerprint::read(&venv.stamp());
        self.remember_asked(&venv.stamp(), old.as_ref());
        let cheap = self.cheap_fingerprint(service, &set, &venv)?;
        let installed = venv.installed();
        if !self.args.force
            && let Some(old) = &old
            && is_fresh(&venv, &cheap, old, &installed, !self.args.inexact)
        {
            crate::output::say(format!("{name}: up to date"));
            return Ok(());
        }
        let (python, installer) = self.choose_tools(service)?;
        let mut full = self.full_fingerprint(service, cheap, &python, &installer)?;
        let force = self.args.force;
        let exact = !self.args.inexact;
        let action = decide(&venv, old.as_ref(), &full, &installed, force, exact)?;
        if action == Action::RefreshStamp {
            record_installed(&mut full, &installed);
            full.write(&venv.stamp())?;
            crate::output::say(format!(
                "{name}: up to date (the interpreter and installer are the same as before)"
            ));
            return Ok(());
        }
        self.prepare_venv(
            service,
            &venv,
            &action,
            old.as_ref(),
            &full,
            (&python, &installer),
        )?;
        let rebuild = to_rebuild(&self.ws.root, &set, old.as_ref(), &full, force);
        self.install(service, &set, &rebuild, &venv, (&python, &installer))?;
        record_installed(&mut full, &venv.installed());
        full.write(&venv.stamp())?;
        crate::output::say(format!(
            "{name}: ready in {} ({}, Python {})",
            duration(started),
            installer.label(),
            python.version
        ));
        Ok(())
    }

    /// The venv holds its lock: a missing lock is made now (the first setup of a tree), unless
    /// `--locked`; one that its inputs no longer make is made again or is an error, as the
    /// session's [`StaleLock`] says; one edited by hand is a person's, and always an error.
    pub fn ensure_lock(&self, service: &Package) -> Result<()> {
        let name = service.folder_name();
        let status = lock::status(self.ws, service)?;
        let what = match (&status, self.stale_lock) {
            (lock::Status::Fresh, _) => return Ok(()),
            (lock::Status::Edited(_), _)
            | (lock::Status::Stale(_), StaleLock::Refuse)
            | (_, StaleLock::Locked) => {
                let message = lock::stale_message(self.ws, service, &status);
                if self.stale_lock == StaleLock::Locked {
                    bail!("--locked: {message}");
                }
                bail!("{message}");
            }
            (lock::Status::Missing(_), _) => {
                format!("no lock yet: locked {} and {}", lock::RUNTIME, lock::DEV)
            }
            (lock::Status::Stale(_), StaleLock::Relock) => {
                format!("{}: relocked", status.describe(&self.ws.root))
            }
        };
        let step = Instant::now();
        let before = lock::pinned(service);
        let locked = lock::lock(
            self.ws,
            service,
            &|| self.resolver(service),
            &lock::Upgrade::None,
        )?;
        let changes = lock::changes(&before, &lock::pinned(service));
        let mut changes = if changes.is_empty() || before.is_empty() {
            String::new()
        } else {
            format!(": {}", changes.join(", "))
        };
        if let lock::Locked::Written {
            from_cache: Some(why),
            ..
        } = locked
        {
            changes +=
                &format!(" (from uv's cache, which may not hold the newest versions: {why})");
        }
        crate::output::say(format!("{name}: {what} ({}){changes}", duration(step)));
        Ok(())
    }

    /// The interpreter and the installer, each said with why.
    fn choose_tools(&self, service: &Package) -> Result<(Interpreter, Installer)> {
        let name = service.folder_name();
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
            Installer::resolve(self.installer_for(service), &python, &project::tools_dir())
                .with_context(|| format!("{name}: no installer"))?;
        crate::output::say(format!(
            "{name}: installer {}: {how} ({})",
            installer.label(),
            duration(step)
        ));
        Ok((python, installer))
    }

    /// The cheap inputs, what was asked for, and the interpreter and installer as files.
    fn full_fingerprint(
        &self,
        service: &Package,
        cheap: Fingerprint,
        python: &Interpreter,
        installer: &Installer,
    ) -> Result<Fingerprint> {
        let mut full = cheap;
        self.record_asked(service, &mut full)?;
        full.set("python.path", python.path.to_string_lossy());
        full.set("python.version", python.version.to_string());
        full.set("python.meta", file_meta(&python.path));
        full.set("installer.name", installer.name());
        full.set("installer.version", installer.label());
        full.set("installer.path", installer.identity().to_string_lossy());
        full.set("installer.meta", file_meta(installer.identity()));
        Ok(full)
    }

    /// Makes the venv ready for the install: a new one (the old moved aside and deleted), or the
    /// same one. From here on its stamp says it is being changed until the install is whole; it
    /// keeps the inputs of the last install that finished (or, for a first one, these), so a
    /// failed install is finished in place next time when they are the same again, rather than
    /// rebuilt from nothing.
    fn prepare_venv(
        &self,
        service: &Package,
        venv: &Venv,
        action: &Action,
        old: Option<&Fingerprint>,
        full: &Fingerprint,
        (python, installer): (&Interpreter, &Installer),
    ) -> Result<()> {
        let name = service.folder_name();
        let mut marked = old.cloned().unwrap_or_else(|| full.clone());
        marked.set("unfinished", "the last install did not finish");
        match action {
            Action::Create | Action::Recreate(_) => {
                remove_stamp(venv)?;
                if let Action::Recreate(why) = action {
                    crate::output::say(format!("{name}: recreating the venv: {why}"));
                    venv.remove()?;
                }
                let step = Instant::now();
                installer
                    .create_venv(&self.ws.root, python, venv)
                    .run()
                    .with_context(|| format!("{name}: cannot create the venv"))?;
                crate::output::say(format!(
                    "{name}: venv created at {} ({})",
                    venv.dir.display(),
                    duration(step)
                ));
            }
            Action::Reinstall(why) => {
                crate::output::say(format!("{name}: reinstalling: {why}"));
            }
            Action::RefreshStamp => unreachable!("a fresh venv needs no preparing"),
        }
        marked.write(&venv.stamp())
    }

    /// Installs the install set, then checks that every package imports from its source.
    fn install(
        &self,
        service: &Package,
        set: &[&Package],
        rebuild: &[&Package],
        venv: &Venv,
        (python, installer): (&Interpreter, &Installer),
    ) -> Result<()> {
        let name = service.folder_name();
        let step = Instant::now();
        let before = egg_infos(set);
        installer
            .install(
                &self.ws.root,
                venv,
                (set, rebuild),
                service,
                python,
                !self.args.inexact,
            )
            .with_context(|| {
                format!(
                    "{name}: the install failed; fix the cause above, then run {}",
                    project::xtask_command(&self.ws.root, &["setup", name])
                )
            })?;
        // setuptools' editable build leaves `<name>.egg-info` beside the sources; the venv holds
        // the installed metadata. Left there, it would be one more distribution on the path and
        // a file a fresh clone lacks (so remembered passes would not survive one): it goes.
        for dir in egg_infos(set).into_iter().filter(|d| !before.contains(d)) {
            let _ = std::fs::remove_dir_all(&dir);
        }
        let names: Vec<String> = set
            .iter()
            .map(|p| {
                let version = p.known_version.as_ref().map(|v| v.text.as_str());
                format!("{} {}", p.dist, version.unwrap_or("(dynamic version)"))
            })
            .collect();
        crate::output::say(format!(
            "{name}: installed {} ({})",
            names.join(", "),
            duration(step)
        ));
        let step = Instant::now();
        post_check(self.ws, service, venv)?;
        crate::output::say(format!(
            "{name}: post-check: every package imports from its source folder, no other service imports ({})",
            duration(step)
        ));
        Ok(())
    }
}

/// Deletes what an interrupted removal of the venv left (a folder moved aside, or a venv an
/// older xtask half deleted in place), saying so: the next setup starts from a clean place.
fn finish_removals(root: &Path, venv: &Venv, name: &str) -> Result<()> {
    for path in venv.finish_removals()? {
        crate::output::say(format!(
            "{name}: deleted {}, left by an interrupted removal of the venv",
            crate::fsutil::display_rel(root, &path)
        ));
    }
    Ok(())
}

/// The cheap inputs that differ from the stamp's: changed, new, or (a file) gone from the set.
fn changed_inputs(cheap: &Fingerprint, old: &Fingerprint) -> Vec<String> {
    let keys: Vec<&str> = cheap.0.keys().map(String::as_str).collect();
    let mut changed = cheap.changed_since(&old.only(&keys));
    // An input that is gone (a file no longer included, a metadata source removed) is a change.
    changed.extend(
        old.0
            .keys()
            .filter(|k| {
                ["file:", "listing:", "tree:", "git:", "sources:", "imports:"]
                    .iter()
                    .any(|p| k.starts_with(p))
                    && !cheap.0.contains_key(*k)
            })
            .cloned(),
    );
    changed
}

/// Records what is installed now, so that a hand-made change to the venv is noticed.
fn record_installed(fp: &mut Fingerprint, installed: &Installed) {
    fp.set("venv.installed", &installed.digest);
    fp.set("venv.listing", installed.listing());
}

/// What was changed in the venv by hand since the stamp: (removed, added) distributions and
/// `.pth` files. Empty when it is as setup left it.
fn hand_made(old: &Fingerprint, installed: &Installed) -> Option<(Vec<String>, Vec<String>)> {
    // A stamp of an older recipe has no record: its recipe key reinstalls and records one.
    let recorded = old.get("venv.installed")?;
    if recorded == installed.digest {
        return None;
    }
    Some(installed.diff(old.get("venv.listing").unwrap_or_default()))
}

/// Fresh without running anything: the cheap inputs are those of the stamp, the interpreter and
/// installer it names are the same files as then, and the venv holds what setup installed.
/// `exact`: a package added by hand makes the venv stale (setup removes it); with `--inexact`
/// only what is missing does.
fn is_fresh(
    venv: &Venv,
    cheap: &Fingerprint,
    old: &Fingerprint,
    installed: &Installed,
    exact: bool,
) -> bool {
    let same_file = |path_key: &str, meta_key: &str| match (old.get(path_key), old.get(meta_key)) {
        (Some(path), Some(meta)) => file_meta(Path::new(path)) == meta,
        _ => false,
    };
    changed_inputs(cheap, old).is_empty()
        && old.get("unfinished").is_none()
        && same_file("python.path", "python.meta")
        && same_file("installer.path", "installer.meta")
        && venv.python_works()
        && match hand_made(old, installed) {
            None => true,
            Some((removed, _)) => !exact && removed.is_empty(),
        }
}

/// The local packages whose editable install must be built again, though uv would reuse its
/// build (it looks at `pyproject.toml`, `setup.py` and `setup.cfg` only): those whose build
/// inputs besides the pyproject changed since the venv's stamp (see
/// [`Fingerprint::add_build_inputs`]), and with `--force` every one, so that a rebuilt venv is
/// what a fresh one would be.
fn to_rebuild<'p>(
    root: &Path,
    set: &[&'p Package],
    old: Option<&Fingerprint>,
    new: &Fingerprint,
    force: bool,
) -> Vec<&'p Package> {
    set.iter()
        .filter(|package| {
            force
                || old.is_some_and(|old| {
                    Fingerprint::build_input_keys(root, package)
                        .iter()
                        .any(|key| old.get(key) != new.get(key))
                })
        })
        .copied()
        .collect()
}

/// `numpy-1.26.4 was removed, leak.pth was added` (by hand, since setup).
fn describe_hand_made(removed: &[String], added: &[String]) -> String {
    let mut parts = Vec::new();
    if !removed.is_empty() {
        parts.push(format!("{} removed", removed.join(", ")));
    }
    if !added.is_empty() {
        parts.push(format!("{} added", added.join(", ")));
    }
    if parts.is_empty() {
        parts.push("installed files changed".into());
    }
    format!("{} by hand since setup", parts.join(" and "))
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
    installed: &Installed,
    force: bool,
    exact: bool,
) -> Result<Action> {
    if !venv.dir.exists() {
        return Ok(Action::Create);
    }
    if let Some(action) = unusable(venv, old, new, force)? {
        return Ok(action);
    }
    let Some(old) = old else {
        return Ok(Action::Recreate(
            "it has no stamp: an earlier setup did not finish".into(),
        ));
    };
    let mut why = install_changes(old, new);
    // uv syncs a venv to exactly the lock in place; pip only adds and upgrades, and would keep
    // what the inputs no longer ask for, so a changed input gets it a new venv.
    let syncs = exact && new.get("installer.name") == Some("uv");
    if !why.is_empty() {
        let why = why.join(", ");
        return Ok(if syncs {
            Action::Reinstall(why)
        } else {
            Action::Recreate(why)
        });
    }
    // An install that did not finish, with the inputs of the last one that did: finish it in
    // place (what it left is part of what the inputs ask for).
    if old.get("unfinished").is_some() {
        return Ok(Action::Reinstall("the last install did not finish".into()));
    }
    if let Some((removed, added)) = hand_made(old, installed) {
        let what = describe_hand_made(&removed, &added);
        // A sync removes a distribution added by hand; no installer removes a file that belongs
        // to none (a .pth, a module): that goes only with a new venv.
        let stray = installed.adds_strays(old.get("venv.listing").unwrap_or_default())
            || (added.is_empty() && removed.is_empty());
        if stray || (!added.is_empty() && !syncs) {
            return Ok(Action::Recreate(what));
        }
        why.push(what);
    }
    if why.is_empty() {
        return Ok(Action::RefreshStamp);
    }
    Ok(Action::Reinstall(why.join(", ")))
}

/// An existing folder that is no venv (an error: not ours to replace), or a venv that cannot be
/// kept whatever its inputs: `--force`, its interpreter gone or changed, or made at another path.
fn unusable(
    venv: &Venv,
    old: Option<&Fingerprint>,
    new: &Fingerprint,
    force: bool,
) -> Result<Option<Action>> {
    if !venv.is_venv() {
        bail!(
            "{} exists but is not a virtualenv (no pyvenv.cfg), nor what a removal of one left (it \
             holds files no venv holds, or no mark of a venv): it is not ours to replace; move it \
             away (or delete it, if it is what is left of a venv), then run setup again",
            venv.dir.display()
        );
    }
    if force {
        return Ok(Some(Action::Recreate("--force".into())));
    }
    if !venv.python_works() {
        return Ok(Some(Action::Recreate(format!(
            "its interpreter {} is gone",
            venv.python().display()
        ))));
    }
    let Some(old) = old else {
        return Ok(None);
    };
    for key in ["python.path", "python.version"] {
        if old.get(key) != new.get(key) {
            return Ok(Some(Action::Recreate(format!(
                "the interpreter changed from {} {} to {} {}",
                old.get("python.version").unwrap_or("?"),
                old.get("python.path").unwrap_or("?"),
                new.get("python.version").unwrap_or("?"),
                new.get("python.path").unwrap_or("?"),
            ))));
        }
    }
    if let Some(made_at) = old.get("venv.dir")
        && Some(made_at) != new.get("venv.dir")
    {
        return Ok(Some(Action::Recreate(format!(
            "it was made at {made_at}: the tree was copied or moved, and its scripts and editable paths still point there"
        ))));
    }
    Ok(None)
}

/// What changed among the install's inputs since the stamp, each said once.
fn install_changes(old: &Fingerprint, new: &Fingerprint) -> Vec<String> {
    let mut why: Vec<String> = Vec::new();
    for key in new
        .only(CONTENT_KEYS)
        .changed_since(&old.only(CONTENT_KEYS))
    {
        if key == "unfinished" {
            continue;
        }
        let text = if key.starts_with("installer.") && key != "installer.env" {
            format!(
                "the installer changed from {} to {}",
                old.get("installer.version").unwrap_or("?"),
                new.get("installer.version").unwrap_or("?")
            )
        } else {
            stamp::describe(&key)
        };
        if !why.contains(&text) {
            why.push(text);
        }
    }
    why
}

fn remove_stamp(venv: &Venv) -> Result<()> {
    match fs::remove_file(venv.stamp()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove the stamp {}", venv.stamp().display()))
        }
        _ => Ok(()),
    }
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
            problems.append(f"missing {name} cannot be imported: {type(e).__name__}: {e}")
            continue
        # A namespace package (PEP 420) has no file: its folders are its __path__.
        file = getattr(module, "__file__", None)
        places = [file] if file else list(getattr(module, "__path__", []))
        where = [os.path.realpath(p) for p in places]
        if not any(w.startswith(src + os.sep) for w in where):
            problems.append(f"elsewhere {name} is imported from {', '.join(where) or 'nowhere'}, not from its source folder {src}: not an editable install")
    else:
        i += 1
        if importlib.util.find_spec(name) is not None:
            problems.append(f"leak {name} can be imported, but it belongs to another service")
print("\n".join(problems))
sys.exit(1 if problems else 0)
"#;

/// Where the post-check keeps its bytecode.
fn post_check_prefix(venv: &Venv) -> std::path::PathBuf {
    venv.dir.join("xtask-cache").join("post-check")
}

/// Before the post-check runs: only the venv's bytecode and the standard library's stay. The
/// packages it imports from source run their code, and an edit that keeps a file's size and
/// time would meet its old bytecode.
pub fn forget_post_check_bytecode(venv: &Venv) {
    pycache_prefix::keep_only(&post_check_prefix(venv), &[&venv.dir], venv);
}

/// The arguments of the post-check for a service: `+import src` for each package it must import
/// from source, `-import` for each it must not import.
pub fn post_check_cmd(ws: &Workspace, service: &Package, venv: &Venv) -> Result<Cmd> {
    let set = ws.closure(service)?;
    // Its bytecode (the venv's start-up files, the editable finders) in a folder of its own in
    // the venv, never in the tree: without any, every check would parse them anew. What it
    // keeps there is forgotten before it runs ([`forget_post_check_bytecode`]).
    let prefix = post_check_prefix(venv);
    let mut cmd = Cmd::new(venv.python())
        .arg("-I")
        .arg("-X")
        .arg(format!("pycache_prefix={}", prefix.display()))
        .args(["-c", POST_CHECK])
        .cwd(&venv.dir);
    for package in &set {
        for import in &package.layout.imports {
            cmd = cmd
                .arg(format!("+{}", import.name))
                .arg(&package.layout.source_root);
        }
    }
    for other in ws.services().filter(|s| s.name != service.name) {
        for import in other.import_names() {
            cmd = cmd.arg(format!("-{import}"));
        }
    }
    Ok(cmd)
}

/// The post-check's problems as a person reads them, each with the fix that really fixes it. The
/// check runs right after an install, so rebuilding the venv (`--force`) would only repeat it: the
/// cause is in the packages' declarations or in what the requirements install.
pub fn explain_post_check(output: &str, service: &Package) -> Vec<String> {
    output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (kind, text) = line.split_once(' ').unwrap_or(("", line));
            let fix = match kind {
                "missing" => "its pyproject.toml does not make the build install that import package: check the package's layout (src/<import>/__init__.py) and its build configuration",
                "elsewhere" => "another installed distribution provides the same import name: remove or rename it in the requirements",
                "leak" => "a package of the install set depends on that service, or a file in the venv adds it: services must not depend on each other; see `cargo xtask doctor`",
                _ => return line.to_owned(),
            };
            format!("{text}\n    fix: {fix} ({})", service.folder_name())
        })
        .collect()
}

pub fn post_check(ws: &Workspace, service: &Package, venv: &Venv) -> Result<()> {
    let cmd = post_check_cmd(ws, service, venv)?;
    forget_post_check_bytecode(venv);
    let out = cmd.output()?;
    if out.success() {
        return Ok(());
    }
    let problems = explain_post_check(&out.output, service);
    let detail = if problems.is_empty() {
        cmd::failure_message("the post-check", &out)
    } else {
        problems.join("\n  ")
    };
    bail!(
        "{}: the post-check of the venv {} failed:\n  {detail}",
        service.folder_name(),
        venv.dir.display(),
    )
}

/// A digest of `python/.python-version`: a choice made with `--python` holds while it is the same.
fn version_file_digest(root: &Path) -> String {
    let path = root
        .join(crate::project::PYTHON_DIR)
        .join(interpreter::VERSION_FILE);
    crate::digest::hash(&fs::read(path).unwrap_or_default())
}

/// What the interpreter must satisfy: each package's `requires-python`, with its folder.
fn requirements<'p>(
    set: &[&'p Package],
) -> Vec<(&'p str, &'p crate::workspace::pep440::Specifiers)> {
    set.iter()
        .filter_map(|p| p.requires_python.as_ref().map(|s| (p.rel.as_str(), s)))
        .collect()
}

impl Session<'_> {
    /// The state of a service's venv without changing it (for `doctor`).
    pub fn state(&self, service: &Package) -> Result<State> {
        Ok(self
            .look(service, Remember::ReadOnly)?
            .err()
            .unwrap_or(State::Fresh))
    }

    /// What is installed in a fresh service venv (read once: a gate's job keys take it from
    /// here), else the venv's state. `remember` says whether the digests learned while reading
    /// the installed set may be kept in the venv.
    pub fn look(&self, service: &Package, remember: Remember) -> Result<Result<Installed, State>> {
        let venv = Venv::of(service);
        if let Some(state) = broken_state(&venv) {
            return Ok(Err(state));
        }
        let Some(old) = Fingerprint::read(&venv.stamp()) else {
            let why = "no stamp: an earlier setup did not finish";
            return Ok(Err(State::Broken(why.into())));
        };
        let set = self.ws.closure(service)?;
        let cheap = self.cheap_fingerprint(service, &set, &venv)?;
        let installed = venv.read_installed(remember);
        if is_fresh(&venv, &cheap, &old, &installed, !self.args.inexact) {
            return Ok(Ok(installed));
        }
        Ok(Err(stale_state(&cheap, &old, &installed)))
    }
}

/// A venv that is missing or that no setup made whole: its state; None for one to compare.
fn broken_state(venv: &Venv) -> Option<State> {
    if !venv.dir.exists() {
        return Some(State::Missing);
    }
    let why = if venv.is_half_removed() {
        "what an interrupted removal left of the venv: setup deletes it and makes a new one"
            .to_owned()
    } else if !venv.is_venv() {
        format!("{} is not a virtualenv (no pyvenv.cfg)", venv.dir.display())
    } else if !venv.python_works() {
        format!("its interpreter {} is gone", venv.python().display())
    } else {
        return None;
    };
    Some(State::Broken(why))
}

/// A venv that is not fresh: what changed since its stamp, as far as can be told.
fn stale_state(cheap: &Fingerprint, old: &Fingerprint, installed: &Installed) -> State {
    let mut changed: Vec<String> = changed_inputs(cheap, old)
        .iter()
        .filter(|k| CONTENT_KEYS.iter().any(|c| k.starts_with(c)))
        .map(|k| stamp::describe(k))
        .collect();
    // What an install that did not finish (Ctrl-C) left is no hand's doing.
    if old.get("unfinished").is_some() {
        changed.push("the last install did not finish".into());
    } else if let Some((removed, added)) = hand_made(old, installed) {
        changed.push(describe_hand_made(&removed, &added));
    }
    if changed.is_empty() {
        changed.push("the interpreter, the installer or how they are found may have changed: setup looks again".into());
    }
    State::Stale(changed.join(", "))
}

#[derive(Debug)]
pub enum State {
    Missing,
    Fresh,
    Stale(String),
    Broken(String),
}

impl State {
    /// `missing`, `fresh`, `stale (why)`, `broken (why)`.
    pub fn describe(&self) -> String {
        match self {
            State::Missing => "missing".into(),
            State::Fresh => "fresh".into(),
            State::Stale(why) => format!("stale ({why})"),
            State::Broken(why) => format!("broken ({why})"),
        }
    }
}

/// The `*.egg-info` folders in the packages' folders and source roots: where a setuptools build
/// writes them.
fn egg_infos(set: &[&Package]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for package in set {
        for dir in [&package.dir, &package.layout.source_root] {
            for (path, name, meta) in crate::fsutil::entries(dir) {
                if meta.is_dir() && name.ends_with(".egg-info") && !out.contains(&path) {
                    out.push(path);
                }
            }
        }
    }
    out
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
            platform: crate::env::venv::Platform::current(),
        };
        let _ = fs::remove_dir_all(&dir);
        let installed = Installed {
            entries: [
                "numpy",
                "numpy-1.26.4.dist-info",
                "ruff-0.17.6.dist-info",
                "_common.pth",
            ]
            .map(str::to_owned)
            .to_vec(),
            digest: "d1".into(),
        };
        let mut base = fp(&[
            ("recipe", "1"),
            ("file:a/pyproject.toml", "1"),
            ("python.path", "/py"),
            ("python.version", "3.10.1"),
            ("venv.dir", "/tree/.venv"),
        ]);
        record_installed(&mut base, &installed);
        let decide =
            |old: Option<&Fingerprint>, new: &Fingerprint, installed: &Installed, force| {
                decide(&venv, old, new, installed, force, true)
            };
        assert_eq!(
            decide(None, &base, &installed, false).unwrap(),
            Action::Create
        );

        fs::create_dir_all(&venv.dir).unwrap();
        let err = decide(Some(&base), &base, &installed, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a virtualenv"), "{err}");

        fs::write(venv.dir.join("pyvenv.cfg"), "").unwrap();
        let python = venv.python();
        fs::create_dir_all(python.parent().unwrap()).unwrap();
        assert!(
            matches!(decide(Some(&base), &base, &installed, false).unwrap(), Action::Recreate(w) if w.contains("is gone"))
        );
        fs::write(&python, "").unwrap();
        assert!(
            matches!(decide(None, &base, &installed, false).unwrap(), Action::Recreate(w) if w.contains("no stamp"))
        );
        assert_eq!(
            decide(Some(&base), &base, &installed, false).unwrap(),
            Action::RefreshStamp
        );
        assert!(
            matches!(decide(Some(&base), &base, &installed, true).unwrap(), Action::Recreate(w) if w == "--force")
        );

        // A new PATH (how the interpreter is found) changes no content.
        let mut edited = base.clone();
        edited.set("file:a/pyproject.toml", "2");
        edited.set("python.discovery", "other");
        assert_eq!(
            decide(Some(&base), &edited, &installed, false).unwrap(),
            Action::Recreate("a/pyproject.toml changed".into())
        );
        let mut looked_again = base.clone();
        looked_again.set("python.discovery", "other");
        assert_eq!(
            decide(Some(&base), &looked_again, &installed, false).unwrap(),
            Action::RefreshStamp
        );
        let mut other_python = base.clone();
        other_python.set("python.version", "3.10.2");
        assert!(
            matches!(decide(Some(&base), &other_python, &installed, false).unwrap(), Action::Recreate(w) if w.contains("3.10.2"))
        );
        let mut moved = base.clone();
        moved.set("venv.dir", "/copy/.venv");
        assert!(
            matches!(decide(Some(&base), &moved, &installed, false).unwrap(), Action::Recreate(w) if w.contains("made at /tree/.venv"))
        );
        // uv syncs in place, exactly.
        let mut with_uv = base.clone();
        with_uv.set("installer.name", "uv");
        let mut edited_uv = edited.clone();
        edited_uv.set("installer.name", "uv");
        assert_eq!(
            decide(Some(&with_uv), &edited_uv, &installed, false).unwrap(),
            Action::Reinstall("a/pyproject.toml changed".into())
        );
        let mut unfinished = base.clone();
        unfinished.set("unfinished", "yes");
        assert_eq!(
            decide(Some(&unfinished), &base, &installed, false).unwrap(),
            Action::Reinstall("the last install did not finish".into())
        );

        // By hand: a removed distribution is reinstalled, an added one needs a new venv.
        let removed = Installed {
            entries: ["ruff-0.17.6.dist-info", "_common.pth"]
                .map(str::to_owned)
                .to_vec(),
            digest: "d2".into(),
        };
        assert_eq!(
            decide(Some(&base), &base, &removed, false).unwrap(),
            Action::Reinstall("numpy-1.26.4 removed by hand since setup".into())
        );
        // What an interrupted install left is said as that, not as a hand's doing.
        let State::Stale(why) = stale_state(&base, &unfinished, &removed) else {
            panic!("not stale")
        };
        assert_eq!(why, "the last install did not finish");
        let mut added = installed.clone();
        added.entries.push("leak.pth".into());
        added.digest = "d3".into();
        assert_eq!(
            decide(Some(&base), &base, &added, false).unwrap(),
            Action::Recreate("leak.pth added by hand since setup".into())
        );
        let mut module = installed.clone();
        module.entries.push("sitecustomize.py".into());
        module.digest = "d4".into();
        assert_eq!(
            decide(Some(&base), &base, &module, false).unwrap(),
            Action::Recreate("sitecustomize.py added by hand since setup".into())
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
