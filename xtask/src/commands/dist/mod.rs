//! `cargo xtask dist [SERVICE...] [--check]`: a verified deployable per service.
//!
//! For each service, a build context in `<dist dir>/<service>/` (`target/dist`, or
//! `$XTASK_DIST_DIR`): the non-editable wheels of its install set, its runtime lock, its
//! Dockerfile (from `python/deploy/<service>/`, written there once from a template), `install.py`
//! and `manifest.json`. Then the context is installed as the Dockerfile installs it into a fresh
//! venv and checked (`check.rs`). A wheel is rebuilt only when its inputs changed, and a check
//! that passed is remembered by the manifest's digest and the check's inputs: with nothing
//! changed, dist builds and installs nothing. `--check` builds nothing and always installs.

mod check;
mod context;
pub use context::python_version;
mod data_files;
mod state;
mod wheels;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use crate::digest;
use crate::env::session::Session;
use crate::flags::{DistArgs, Mode};
use crate::output::{duration, say};
use crate::project;
use crate::workspace::deploy::context as entries;
use crate::workspace::{Package, Workspace, dockerfile};

use check::CheckInputs;
use context::{Manifest, Provenance};
use state::{Built, State};
use wheels::WheelInputs;

pub fn run(root: &Path, args: &DistArgs) -> Result<()> {
    if args.no_cache {
        crate::file_digests::read_every_file();
    }
    let ws = Workspace::load(root)?;
    let services: Vec<&Package> = if args.services.is_empty() {
        ws.services().collect()
    } else {
        args.services
            .iter()
            .map(|name| service(&ws, name))
            .collect::<Result<_>>()?
    };
    if services.is_empty() {
        bail!("no service under python/apps/: nothing to deploy");
    }
    let env = args.env();
    let session = Session::new(&ws, &env)?;
    let mode = if args.check { Mode::Check } else { Mode::Write };
    for service in services {
        let started = Instant::now();
        // The Dockerfile first: writing it changes what the tree holds, which the manifest says.
        if mode == Mode::Write {
            let (path, written) = context::ensure_dockerfile(&ws, service)?;
            if written {
                say(format!(
                    "{}: wrote {} from the template; it is yours from now on (dist never overwrites it)",
                    service.folder_name(),
                    crate::fsutil::display_rel(root, &path)
                ));
            }
        }
        dockerfile_matches(&ws, service)?;
        let _lock = lock(root, service)?;
        let provenance = Provenance::of(root);
        let dist = Dist::new(&ws, &session, service, &provenance, args.no_cache)?;
        let summary = match mode {
            Mode::Check => dist.check_only()?,
            _ => dist.build()?,
        };
        say(format!(
            "dist {}: {summary} in {}",
            service.folder_name(),
            duration(started)
        ));
        say(format!("  build the image: {}", dist.docker_build()?));
    }
    Ok(())
}

/// The service's Dockerfile must build what dist proves, as verify's deploy job reads it
/// (hadolint aside): a `COPY` of what the context lacks, another command, Python or uv, an
/// image without what install.py installed. Else the `docker build` dist prints fails, or
/// builds an image nothing checked.
fn dockerfile_matches(ws: &Workspace, service: &Package) -> Result<()> {
    let path = crate::workspace::deploy::dockerfile(&ws.root, service.folder_name());
    let rel = crate::fsutil::display_rel(&ws.root, &path);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        // None yet (`--check`): the context's own check says so.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            bail!("cannot read {rel}: {e}; fix it, or move it aside for dist to write the template")
        }
    };
    let problems = dockerfile_problems(&ws.root, service, &rel, &text);
    if problems.is_empty() {
        return Ok(());
    }
    bail!(
        "{rel} does not build what dist proves:\n  {}\nfix it; {} checks it again, with hadolint",
        problems.join("\n  "),
        crate::project::xtask_command(&ws.root, &["verify", "-p", service.folder_name()])
    )
}

/// The problems of a service's Dockerfile `text` (at `rel` from `root`), against what dist
/// checks the deployable with: the tree's Python and the pinned uv. What dist and verify's
/// deploy job both read it for.
pub fn dockerfile_problems(root: &Path, service: &Package, rel: &str, text: &str) -> Vec<String> {
    let python = python_version(root).ok();
    let checked = crate::workspace::deployable::Checked {
        python: python.as_deref(),
        uv: Some(crate::env::installer::UV_VERSION),
    };
    crate::workspace::deployable::problems(service, rel, text, checked)
}

/// One dist of a service at a time: two would share its context, state and staging folder.
fn lock(root: &Path, service: &Package) -> Result<fs::File> {
    let dir = context::dist_dir(root).join(".xtask");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(format!("{}.lock", service.folder_name()));
    let waiting = format!(
        "{}: waiting for another dist of this service to finish (lock {})",
        service.folder_name(),
        path.display()
    );
    crate::fsutil::lock_file(&path, false, &waiting)
}

/// A service by folder or distribution name; a library is not deployed on its own.
fn service<'a>(ws: &'a Workspace, name: &str) -> Result<&'a Package> {
    let package = ws.package(name)?;
    if !ws.services().any(|s| s.name == package.name) {
        bail!(
            "{} is a library: libraries are deployed inside the services that install them; name a service ({})",
            package.folder_name(),
            ws.services()
                .map(Package::folder_name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(package)
}

/// One service's deployable being made or checked.
struct Dist<'a> {
    ws: &'a Workspace,
    session: &'a Session<'a>,
    service: &'a Package,
    set: Vec<&'a Package>,
    provenance: &'a Provenance,
    /// The context folder.
    dir: PathBuf,
    state_path: PathBuf,
    staging: PathBuf,
    no_cache: bool,
}

impl<'a> Dist<'a> {
    fn new(
        ws: &'a Workspace,
        session: &'a Session<'a>,
        service: &'a Package,
        provenance: &'a Provenance,
        no_cache: bool,
    ) -> Result<Dist<'a>> {
        let dist_dir = context::dist_dir(&ws.root);
        Ok(Dist {
            ws,
            session,
            service,
            // What the service runs with: a test kit its dev tools name stays out.
            set: ws.runtime_closure(service)?,
            provenance,
            dir: dist_dir.join(service.folder_name()),
            state_path: State::path(&dist_dir, service.folder_name()),
            staging: dist_dir
                .join(".xtask")
                .join("build")
                .join(service.folder_name()),
            no_cache,
        })
    }

    fn name(&self) -> &str {
        self.service.folder_name()
    }

    /// Makes the context current, then checks it unless a check of this very context passed.
    fn build(&self) -> Result<String> {
        // As setup does: a missing lock is made now, a stale one is an error to review.
        self.session.ensure_lock(self.service)?;
        let lock_file = context::fresh_lock(self.ws, self.service)?;
        let dockerfile = crate::workspace::deploy::dockerfile(&self.ws.root, self.name());
        let mut state = if self.no_cache {
            State::default()
        } else {
            State::read(&self.state_path)
        };
        let uv = self.session.pinned_uv(self.service)?;
        let built = self.wheels(&mut state, &uv)?;
        let copied = self.copy_in(&dockerfile, &lock_file)?;
        let removed = self.remove_strays(&state)?;
        let manifest = self.write_manifest(&state)?;
        state.write(&self.state_path)?;
        let mut changes = Vec::new();
        if !built.is_empty() {
            changes.push(describe_wheels(&built));
        }
        if !copied.is_empty() {
            changes.push(format!("copied in {}", copied.join(", ")));
        }
        if !removed.is_empty() {
            changes.push(format!("removed {}", removed.join(", ")));
        }
        let what = if changes.is_empty() {
            "context up to date".to_owned()
        } else {
            changes.join("; ")
        };
        let inputs = self.check_inputs(&lock_file)?;
        let check_key = inputs.key(&digest::hash(manifest.as_bytes()));
        if state.verified.as_deref() == Some(check_key.as_str()) {
            return Ok(format!("{what}; checked before (same context, same check)"));
        }
        state.verified = None;
        state.write(&self.state_path)?;
        let checked = self.install_check(&inputs, &uv)?;
        state.verified = Some(check_key);
        state.write(&self.state_path)?;
        Ok(format!("{what}; {checked}"))
    }

    /// What each package's wheel is made from, now (the epochs' git commands run at once).
    fn wheel_inputs(&self) -> Result<Vec<(&'a Package, WheelInputs)>> {
        let ignored = context::ignored_started(&self.ws.root);
        let epochs = context::epochs(&self.ws.root, &self.set);
        let ignored = context::ignored_paths(ignored);
        let python = self.session.request_for(self.service)?.choice_key();
        Ok(self
            .set
            .iter()
            .zip(epochs)
            .map(|(package, epoch)| {
                let inputs = WheelInputs::of(&self.ws.root, package, (epoch, &python), &ignored);
                (*package, inputs)
            })
            .collect())
    }

    /// The wheel of every package of the set, reused when its inputs are those it was built from
    /// and the file is still the one built; else built now. Returns the names built.
    fn wheels(&self, state: &mut State, uv: &Path) -> Result<Vec<(String, Option<String>)>> {
        let mut built = Vec::new();
        for (package, inputs) in self.wheel_inputs()? {
            let key = inputs.key();
            if let Some(old) = state.wheels.get(&package.name)
                && old.key == key
                && digest::file_content(&self.wheel_dir().join(&old.file)) == old.sha256
            {
                continue;
            }
            if !inputs.left_out.is_empty() {
                say(format!(
                    "{}: left out of its wheel, as git ignores them (a clone lacks them): {}",
                    package.folder_name(),
                    inputs.left_out.join(", ")
                ));
            }
            let (entry, from) = self.place(package, key, &inputs, uv)?;
            state.wheels.insert(package.name.clone(), entry);
            built.push((package.folder_name().to_owned(), from));
        }
        state
            .wheels
            .retain(|name, _| self.set.iter().any(|p| &p.name == name));
        Ok(built)
    }

    /// Puts the package's wheel into the context: copied from another service's context when
    /// that one was built from the same inputs (and is still the file built), else built now.
    /// Returns its entry and the service it was copied from.
    fn place(
        &self,
        package: &Package,
        key: String,
        inputs: &WheelInputs,
        uv: &Path,
    ) -> Result<(Built, Option<String>)> {
        fs::create_dir_all(self.wheel_dir())
            .with_context(|| format!("cannot create {}", self.wheel_dir().display()))?;
        if let Some((other, built, path)) = self.built_elsewhere(&package.name, &key) {
            let dest = self.wheel_dir().join(&built.file);
            fs::copy(&path, &dest)
                .with_context(|| format!("cannot copy {} into the context", path.display()))?;
            // Another dist may be rewriting it this very moment: what was copied must be it.
            if digest::file_content(&dest) == built.sha256 {
                return Ok((built, Some(other)));
            }
        }
        let staging = self.staging.join(&package.name);
        let (python, _) = self.session.would_choose(self.service)?;
        let wheel = wheels::build(&self.ws.root, package, inputs, (uv, &python), &staging)?;
        let file = wheel
            .file_name()
            .context("a wheel has a name")?
            .to_string_lossy()
            .into_owned();
        let sha256 = digest::file_content(&wheel);
        fs::rename(&wheel, self.wheel_dir().join(&file))
            .with_context(|| format!("cannot move {} into the context", wheel.display()))?;
        let _ = fs::remove_dir_all(&staging);
        Ok((Built { key, file, sha256 }, None))
    }

    /// A wheel of the package with this key in another service's context, still the file built.
    fn built_elsewhere(&self, package: &str, key: &str) -> Option<(String, Built, PathBuf)> {
        let dist_dir = context::dist_dir(&self.ws.root);
        self.ws
            .services()
            .filter(|s| s.name != self.service.name)
            .find_map(|other| {
                let state = State::read(&State::path(&dist_dir, other.folder_name()));
                let built = state.wheels.get(package)?.clone();
                let path = dist_dir
                    .join(other.folder_name())
                    .join(entries::WHEELS)
                    .join(&built.file);
                (built.key == key && digest::file_content(&path) == built.sha256)
                    .then(|| (other.folder_name().to_owned(), built, path))
            })
    }

    fn wheel_dir(&self) -> PathBuf {
        self.dir.join(entries::WHEELS)
    }

    /// The Dockerfile, the lock and install.py, each written only when it differs.
    /// Returns the entries it wrote.
    fn copy_in(&self, dockerfile: &Path, lock_file: &Path) -> Result<Vec<&'static str>> {
        let read = |p: &Path| fs::read(p).with_context(|| format!("cannot read {}", p.display()));
        let mut written = Vec::new();
        for (entry, bytes) in [
            (entries::DOCKERFILE, read(dockerfile)?),
            (entries::LOCK, read(lock_file)?),
            (entries::INSTALL, context::INSTALL_PY.as_bytes().to_vec()),
        ] {
            if context::write_if_changed(&self.dir.join(entry), &bytes)? {
                written.push(entry);
            }
        }
        Ok(written)
    }

    /// Removes what the context should not hold (an old version's wheel, a file put there): the
    /// context is dist's output, rebuilt from the tree.
    fn remove_strays(&self, state: &State) -> Result<Vec<String>> {
        let wheels: Vec<String> = state
            .wheels
            .values()
            .map(|b| format!("{}/{}", entries::WHEELS, b.file))
            .collect();
        let mut removed = Vec::new();
        for rel in context::file_digests(&self.dir).into_keys() {
            let expected = entries::ENTRIES.contains(&rel.as_str()) || wheels.contains(&rel);
            if !expected {
                let path = self.dir.join(&rel);
                fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
                removed.push(rel);
            }
        }
        Ok(removed)
    }

    /// Writes manifest.json (when it changed) and returns its text.
    fn write_manifest(&self, state: &State) -> Result<String> {
        let mut files = context::file_digests(&self.dir);
        files.remove(entries::MANIFEST);
        let manifest = Manifest {
            service: self.service,
            version: self.version(state),
            provenance: self.provenance,
            files: &files,
        }
        .render();
        context::write_if_changed(&self.dir.join(entries::MANIFEST), manifest.as_bytes())?;
        Ok(manifest)
    }

    /// The service's version, as its wheel's name says it.
    fn version(&self, state: &State) -> String {
        state
            .wheels
            .get(&self.service.name)
            .and_then(|b| b.file.split('-').nth(1).map(str::to_owned))
            .unwrap_or_else(|| "0".to_owned())
    }

    fn check_inputs(&self, lock_file: &Path) -> Result<CheckInputs> {
        let python = self.session.request_for(self.service)?.choice_key();
        Ok(CheckInputs::of(
            self.ws,
            self.service,
            &self.set,
            lock_file,
            python,
        ))
    }

    /// Installs the context into a fresh venv and checks it; says what was installed for where.
    fn install_check(&self, inputs: &CheckInputs, uv: &Path) -> Result<String> {
        let (python, _) = self.session.would_choose(self.service)?;
        let passed = check::run(&self.dir, inputs, self.service, &python, uv)?;
        let image = match &self.service.deploy.platform {
            Some(p) if *p != passed.platform => format!(" (the image targets {p})"),
            _ => String::new(),
        };
        Ok(format!(
            "installed into a fresh venv for this machine ({}, Python {}){image} and checked: {} distributions, every import from the venv, no dev tool, no other service{}",
            passed.platform,
            passed.python,
            passed.installed,
            if self.service.deploy.smoke.is_empty() {
                String::new()
            } else {
                format!(", `{}` ok", self.service.deploy.smoke.join(" "))
            }
        ))
    }

    /// `--check`: the context as it is must be whole (every file the manifest names, with its
    /// digest, and nothing else), current (what dist would build now), and must install and work.
    fn check_only(&self) -> Result<String> {
        let fix = project::xtask_command(&self.ws.root, &["dist", self.name()]);
        self.check_whole(&fix)?;
        self.check_current(&fix)?;
        let inputs = self.check_inputs(&self.dir.join(entries::LOCK))?;
        let uv = self.session.pinned_uv(self.service)?;
        self.install_check(&inputs, &uv)
    }

    fn check_whole(&self, fix: &str) -> Result<()> {
        let path = self.dir.join(entries::MANIFEST);
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "{}: no context to check (no {}); run {fix}",
                self.name(),
                path.display()
            )
        })?;
        let mut files = context::file_digests(&self.dir);
        files.remove(entries::MANIFEST);
        let listed = manifest_files(&text);
        if files != listed {
            let mut differ: Vec<String> = Vec::new();
            for (rel, sha) in &listed {
                match files.get(rel) {
                    None => differ.push(format!("{rel}: missing")),
                    Some(s) if s != sha => differ.push(format!("{rel}: not the file it lists")),
                    _ => {}
                }
            }
            differ.extend(
                files
                    .keys()
                    .filter(|r| !listed.contains_key(*r))
                    .map(|r| format!("{r}: not in the manifest")),
            );
            bail!(
                "{}: the context is not what its manifest lists:\n  {}\nrun {fix}",
                self.name(),
                differ.join("\n  ")
            );
        }
        Ok(())
    }

    fn check_current(&self, fix: &str) -> Result<()> {
        let state = State::read(&self.state_path);
        let mut stale = Vec::new();
        for (package, inputs) in self.wheel_inputs()? {
            let key = inputs.key();
            // The wheel built from these inputs must be the one in the context: a context copied
            // back from an older build lists its own files faithfully.
            let built = state.wheels.get(&package.name).filter(|b| {
                b.key == key && digest::file_content(&self.wheel_dir().join(&b.file)) == b.sha256
            });
            if built.is_none() {
                stale.push(package.folder_name().to_owned());
            }
        }
        let lock_now = context::fresh_lock(self.ws, self.service)?;
        if digest::file_content(&lock_now) != digest::file_content(&self.dir.join(entries::LOCK)) {
            stale.push("the lock".to_owned());
        }
        let dockerfile = crate::workspace::deploy::dockerfile(&self.ws.root, self.name());
        if digest::file_content(&dockerfile)
            != digest::file_content(&self.dir.join(entries::DOCKERFILE))
        {
            stale.push("the Dockerfile".to_owned());
        }
        if !stale.is_empty() {
            bail!(
                "{}: the context is older than the tree ({} changed since it was built); run {fix}",
                self.name(),
                stale.join(", ")
            );
        }
        Ok(())
    }

    /// The one command that builds the image from the context, to paste where Docker is.
    fn docker_build(&self) -> Result<String> {
        let state = State::read(&self.state_path);
        let argv = dockerfile::build_argv(
            self.service,
            &self.version(&state),
            &self.dir.to_string_lossy(),
        );
        Ok(argv
            .iter()
            .map(|a| project::quote(a))
            .collect::<Vec<_>>()
            .join(" "))
    }
}

/// `built the wheels of a, b; copied c's from sts-service's context`.
fn describe_wheels(wheels: &[(String, Option<String>)]) -> String {
    let built: Vec<&str> = wheels
        .iter()
        .filter(|(_, from)| from.is_none())
        .map(|(name, _)| name.as_str())
        .collect();
    let mut parts = Vec::new();
    match built.as_slice() {
        [] => {}
        [one] => parts.push(format!("built the wheel of {one}")),
        many => parts.push(format!("built the wheels of {}", many.join(", "))),
    }
    let mut copied: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, from) in wheels {
        if let Some(other) = from {
            copied.entry(other).or_default().push(name);
        }
    }
    for (other, names) in copied {
        parts.push(format!(
            "copied the wheel{} of {} from {other}'s context",
            if names.len() > 1 { "s" } else { "" },
            names.join(", ")
        ));
    }
    parts.join("; ")
}

/// The `files` of a manifest dist wrote: one `"path": "sha"` pair a line.
fn manifest_files(text: &str) -> BTreeMap<String, String> {
    let mut in_files = false;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("\"files\"") {
            in_files = true;
            continue;
        }
        if in_files {
            if line.starts_with('}') {
                break;
            }
            let parts: Vec<&str> = line.trim_end_matches(',').split("\": \"").collect();
            if let [path, sha] = parts.as_slice() {
                out.insert(
                    path.trim_start_matches('"').to_owned(),
                    sha.trim_end_matches('"').to_owned(),
                );
            }
        }
    }
    out
}
