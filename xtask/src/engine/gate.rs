//! The quality gates `lint`, `fmt` and `test`: jobs of (tool, package, venv) derived from the
//! workspace, run in the venvs that own the packages.

use std::cell::OnceCell;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::cmd::Cmd;
use crate::engine::caches::{self, ToolCaches};
use crate::engine::inputs::{self, Inputs, Tool};
use crate::engine::jobs::{self, Job};
use crate::engine::junit::{self, Junit};
use crate::engine::local_inputs;
use crate::engine::memo::{FileKey, KeySpec, Memo, Rekey};
use crate::engine::option_files;
use crate::engine::select::{self, Selection};
use crate::env::lock;
use crate::env::session::{Session, State};
use crate::env::venv::{LockMode, Remember, Venv, VenvLock};
use crate::flags::{GateArgs, MessageFormat};
use crate::fsutil;
use crate::output;
use crate::project::{self, PYTHON_DIR};
use crate::workspace::imports;
use crate::workspace::{Package, Workspace};

/// The package the current folder is in, if any: a gate run there works on it (as cargo does
/// in a workspace member).
fn here(ws: &Workspace) -> Option<&Package> {
    let cwd = std::env::current_dir().ok()?.canonicalize().ok()?;
    ws.packages
        .iter()
        .filter(|p| cwd.starts_with(&p.dir))
        .max_by_key(|p| p.dir.as_os_str().len())
}

/// What a `test` run is narrowed to: paths and node ids per package (relative to its folder),
/// and the arguments passed on to pytest.
#[derive(Debug, Default)]
pub struct Focus {
    pub targets: std::collections::BTreeMap<String, Vec<String>>,
    pub pytest_args: Vec<String>,
}

impl Focus {
    /// Whether pytest chooses what to run from its cache (`--lf`, `--ff`, `--sw`, `--sw-skip`,
    /// `--nf`), asked for on the command line, in `PYTEST_ADDOPTS`, or in the `addopts` of
    /// `python/pyproject.toml` (the configuration the jobs pass with `-c`), whose `addopts` are
    /// `from_config` (split as pytest splits them, with the arguments of the `@file`s they name).
    pub fn reads_pytest_cache(&self, from_config: &[String]) -> bool {
        let from_env = option_files::env_addopts();
        self.pytest_args
            .iter()
            .chain(&from_env)
            .chain(from_config)
            .map(String::as_str)
            .any(reads_pytest_cache)
    }

    /// Whether the run is narrowed (paths, node ids, `-k`, `-m`): no coverage floor then, and
    /// a package where nothing matches is no failure.
    pub fn focused(&self) -> bool {
        !self.targets.is_empty()
            || self.pytest_args.iter().any(|a| {
                ["-k", "-m", "--deselect", "--lf", "--last-failed"]
                    .iter()
                    .any(|f| a == f || (a.starts_with(f) && f.len() == 2))
            })
    }
}

/// Whether one pytest argument makes it choose tests from its cache; `--opt=value` forms too.
fn reads_pytest_cache(arg: &str) -> bool {
    const READERS: &[&str] = &[
        "--lf",
        "--last-failed",
        "--ff",
        "--failed-first",
        "--sw",
        "--stepwise",
        "--sw-skip",
        "--stepwise-skip",
        "--sw-reset",
        "--stepwise-reset",
        "--nf",
        "--new-first",
    ];
    let name = arg.split('=').next().unwrap_or(arg);
    READERS.contains(&name)
}

/// The tool name of the venv's post-check job.
pub const ENVIRONMENT: &str = "environment (SC-001..3, SC-008)";

/// A job's name as a file name: `pytest-common--media-service-venv-`.
fn job_id(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// The coverage every package's tests must reach (the seed's gate).
pub const COVERAGE_FLOOR: u32 = 80;

/// Everything a gate needs: the workspace, what is selected, and where reports go.
pub struct Gate<'a> {
    pub ws: &'a Workspace,
    pub selection: Selection<'a>,
    pub args: &'a GateArgs,
    junit: Option<Junit>,
    /// What the jobs' results depend on: read once per run.
    inputs: Inputs<'a>,
    /// The volatile variables set now, which every tool job drops: read once per run.
    volatile: Vec<String>,
    /// What the gates read outside `python/` and its history, as the jobs start (read once the
    /// venvs are prepared): a `verify` that passes records it (see [`local_inputs`]).
    local_state: OnceCell<local_inputs::State>,
    /// Which jobs run: all, those in some venvs (`--venv`), or those in none (`--tree`).
    part: Part<'a>,
    /// The `addopts` of `python/pyproject.toml`'s pytest configuration: read once per run.
    addopts: OnceCell<Vec<String>>,
    /// The top-level names of the modules in mypy's `mypy_path` folders outside `python/`: read
    /// once per run.
    mypy_outside: OnceCell<std::collections::BTreeSet<String>>,
}

/// Shared locks on venvs, and the first venv found not fresh, with its state.
type Held<'a> = (Vec<VenvLock>, Option<(&'a Package, State)>);

/// The part of a gate's jobs one run does: what one CI runner of the plan does.
#[derive(Debug, Clone)]
pub enum Part<'a> {
    All,
    /// The jobs that run in these venvs (their owners), and only these venvs set up.
    Venvs(Vec<&'a Package>),
    /// The jobs that run in no venv: the checks of the whole tree. No venv is set up.
    Tree,
}

impl<'a> Part<'a> {
    fn of(ws: &'a Workspace, args: &GateArgs) -> Result<Part<'a>> {
        if args.tree {
            return Ok(Part::Tree);
        }
        if args.venvs.is_empty() {
            return Ok(Part::All);
        }
        let owners = args
            .venvs
            .iter()
            .map(|name| {
                ws.owner(name)
                    .map_err(|e| anyhow::anyhow!("{e:#} (`--venv {name}`)"))
            })
            .collect::<Result<_>>()?;
        Ok(Part::Venvs(owners))
    }

    /// Whether a job that runs in the venv of `venv` (None: in no venv) is part of this run.
    pub fn holds(&self, venv: Option<&str>) -> bool {
        match (self, venv) {
            (Part::All, _) => true,
            (Part::Tree, venv) => venv.is_none(),
            (Part::Venvs(_), None) => false,
            (Part::Venvs(owners), Some(v)) => owners.iter().any(|o| o.folder_name() == v),
        }
    }
}

/// A package asked for (named with `-p`, or the one the current folder is in) that no venv
/// `--venv` names installs: none of its jobs would run, and the gate would say ok having
/// checked nothing of it. An error instead, naming its venvs.
fn named_outside_part(ws: &Workspace, selection: &Selection, part: &Part) -> Result<()> {
    let Part::Venvs(owners) = part else {
        return Ok(());
    };
    for package in &selection.packages {
        let how = match selection.reasons.get(&package.name).map(String::as_str) {
            Some(select::NAMED) => "named",
            Some(select::HERE) => "the current folder is in it",
            _ => continue,
        };
        let venvs: Vec<&str> = ws
            .venvs_of(package)
            .iter()
            .map(|v| v.folder_name())
            .collect();
        if owners.iter().any(|o| venvs.contains(&o.folder_name())) {
            continue;
        }
        let asked: Vec<String> = owners
            .iter()
            .map(|o| format!("--venv {}", o.folder_name()))
            .collect();
        bail!(
            "{} ({how}) is installed in no venv that `{}` names, so none of its jobs would run \
             and nothing of it would be checked; its venvs: {}. Name one (`--venv {}`), or \
             leave `--venv` out",
            package.folder_name(),
            asked.join(" "),
            venvs.join(", "),
            venvs[0]
        );
    }
    Ok(())
}

impl<'a> Gate<'a> {
    pub fn new(ws: &'a Workspace, args: &'a GateArgs) -> Result<Gate<'a>> {
        if args.no_cache {
            crate::file_digests::read_every_file();
        }
        if args.message_format == MessageFormat::Json {
            output::progress_to_stderr();
        }
        let mut selection =
            select::select(ws, &args.packages, args.changed_since.as_deref(), here(ws))?;
        let inputs = Inputs::new(ws).with_pytest_args(&args.pytest_args);
        if let Some(rev) = &args.changed_since {
            selection
                .widen_for_change(ws, rev, &inputs)
                .map_err(|e| anyhow::anyhow!("{e:#} (`--changed-since {rev}`)"))?;
        }
        output::say(selection.describe());
        let part = Part::of(ws, args)?;
        named_outside_part(ws, &selection, &part)?;
        let junit = args.junit.as_deref().map(Junit::prepare).transpose()?;
        Ok(Gate {
            local_state: OnceCell::new(),
            ws,
            selection,
            args,
            junit,
            inputs,
            volatile: inputs::volatile_now(),
            part,
            addopts: OnceCell::new(),
            mypy_outside: OnceCell::new(),
        })
    }

    /// The memo of a job that runs in `venv` and reads the files of `packages` (see
    /// [`Inputs`]). None with `--no-cache`, or when reports are to be written (`--junit`).
    fn memo(&self, job: &Job, venv: &Package, packages: &[&Package]) -> Option<Memo> {
        // ruff, and the venv's post-check (it imports the install set from source and looks for
        // the other services' imports), depend on where every package's imports live.
        let reads_layout = job.tool.starts_with("ruff") || job.tool == ENVIRONMENT;
        if self.args.no_cache || self.junit.is_some() {
            return None;
        }
        let spec = KeySpec {
            command: job.command.clone(),
            venv: venv.name.clone(),
            packages: packages.iter().map(|p| p.name.clone()).collect(),
            reads_layout,
        };
        Some(Memo {
            dir: Venv::of(venv).dir.join("xtask-results"),
            id: job_id(&job.name()),
            key: self.inputs.key_of(&spec),
            spec: Rekey::Inputs(spec),
        })
    }

    /// A job that is not run again while the inputs of `packages` and the rest are those of its
    /// last pass, and whose tool caches (if any) are checked against the same files.
    pub fn remembered(
        &self,
        job: Job,
        venv: &Package,
        packages: &[&Package],
        caches: Option<ToolCaches>,
    ) -> Job {
        let memo = self.memo(&job, venv, packages);
        job.remembered(memo).with_caches(caches)
    }

    /// The caches of the tool job `name` (as [`jobs::job_name`] makes it) that reads the files of
    /// `packages`: in its venv, its own (see [`ToolCaches`]).
    fn caches(&self, name: &str, venv: &Package, packages: &[&Package]) -> ToolCaches {
        let dir = Venv::of(venv).dir.join("xtask-cache").join(job_id(name));
        let files = self.inputs.files_read(packages);
        ToolCaches::new(
            dir,
            self.ws.root.join(PYTHON_DIR),
            files,
            self.args.no_cache,
            // The install and the settings: either changed, every entry is forgotten.
            format!(
                "{}+{}",
                self.inputs.installed(&Venv::of(venv)),
                self.inputs.settings()
            ),
            &project::tools_dir().join(caches::JOB_SEEDS),
        )
    }

    /// A tool's command in `venv`: volatile variables removed and the terminal's size fixed
    /// (see [`inputs::is_volatile`]), and its bytecode in `caches`.
    fn tool(&self, venv: &Package, caches: Option<&ToolCaches>) -> Cmd {
        self.tool_env(Cmd::new(Venv::of(venv).python()), caches)
    }

    /// `cmd` with a tool's environment, as [`Gate::tool`] gives it.
    fn tool_env(&self, cmd: Cmd, caches: Option<&ToolCaches>) -> Cmd {
        let mut cmd = cmd.without(&self.volatile);
        for (name, value) in inputs::TERMINAL {
            cmd = cmd.env(name, value);
        }
        if let Some(caches) = caches {
            cmd = cmd.env("PYTHONPYCACHEPREFIX", caches.bytecode());
        }
        cmd
    }

    fn config(&self) -> PathBuf {
        self.ws.root.join(PYTHON_DIR).join("pyproject.toml")
    }

    /// The venvs the jobs of the selection run in (only those of `--venv`; none with `--tree`).
    pub fn needed_venvs(&self) -> Vec<&'a Package> {
        let mut venvs: Vec<&Package> = Vec::new();
        for package in &self.selection.packages {
            for venv in self.ws.venvs_of(package) {
                if !venvs.iter().any(|v| v.name == venv.name) {
                    venvs.push(venv);
                }
            }
        }
        if venvs.is_empty()
            && let Some(first) = self.ws.venv_owners().next()
        {
            venvs.push(first);
        }
        venvs.retain(|v| self.part.holds(Some(v.folder_name())));
        venvs
    }

    /// The venv a package's ruff jobs run in: the first that installs it (ruff reads files, not
    /// the venv, but one venv must own each job so that each runs in one part of a split gate).
    /// None when that venv is not in this run's part (`--venv`, `--tree`).
    fn ruff_venv(&self, package: Option<&'a Package>) -> Option<&'a Package> {
        let venv = match package {
            Some(p) => self.ws.venvs_of(p).first().copied(),
            None => self.ws.venv_owners().next(),
        };
        venv.filter(|v| self.part.holds(Some(v.folder_name())))
    }

    /// Brings every needed venv up to date, or with `--no-setup`, fails on one that is not; then
    /// holds a shared lock on each for as long as the returned locks live, so no setup in another
    /// terminal rebuilds a venv under running jobs.
    ///
    /// Each venv is checked fresh under its shared lock first: when all are, nothing is set up
    /// (a no-op setup would find the same). Else the shared locks are dropped before the setups
    /// (never one held while waiting for an exclusive one, which could deadlock against another
    /// gate), and the venvs are checked again under them, since another setup may have run in
    /// between.
    pub fn prepare(&self) -> Result<(Vec<&'a Package>, Vec<VenvLock>)> {
        let prepared = self.prepare_venvs()?;
        // Read after any setup (which may write a lock under python/), before any job: what
        // the jobs read, as the keys' own walk will find it.
        self.local_state
            .get_or_init(|| local_inputs::State::now(&self.ws.root, &self.inputs));
        Ok(prepared)
    }

    /// [`Gate::prepare`]'s venvs.
    fn prepare_venvs(&self) -> Result<(Vec<&'a Package>, Vec<VenvLock>)> {
        let venvs = self.needed_venvs();
        if matches!(self.part, Part::Tree) {
            self.check_tree_locks()?;
            return Ok((Vec::new(), Vec::new()));
        }
        if venvs.is_empty() && !matches!(self.part, Part::All) {
            return Ok((Vec::new(), Vec::new())); // nothing selected runs in those venvs
        }
        if venvs.is_empty() {
            bail!(
                "no package under {}: the tools run in a package's venv; add one (see `cargo xtask scaffold`)",
                self.ws.root.join(PYTHON_DIR).display()
            );
        }
        check_dev_tools(&venvs)?;
        // A lock that its inputs no longer make fails before anything runs, offline: installing
        // it would not give what the pyprojects ask for (a missing one, setup makes).
        for owner in &venvs {
            match lock::status(self.ws, owner)? {
                lock::Status::Fresh => {}
                lock::Status::Missing(_) if !self.args.no_setup => {}
                status => bail!("{}", lock::stale_message(self.ws, owner, &status)),
            }
        }
        let locks = self.set_up_until_fresh(&venvs)?;
        Ok((venvs, locks))
    }

    /// CI's tree job uses no venv, but every lock must still be what its inputs make; a missing
    /// one is made by the setup of its venv, as in a whole verify.
    fn check_tree_locks(&self) -> Result<()> {
        for owner in self.ws.venv_owners() {
            match lock::status(self.ws, owner)? {
                lock::Status::Fresh | lock::Status::Missing(_) => {}
                status => bail!("{}", lock::stale_message(self.ws, owner, &status)),
            }
        }
        Ok(())
    }

    /// Sets up the venvs that are not fresh (all of them with `--force`) until each is fresh
    /// under the shared lock taken here; the locks, held until the jobs end.
    fn set_up_until_fresh(&self, venvs: &[&'a Package]) -> Result<Vec<VenvLock>> {
        let session = Session::new(self.ws, &self.args.env)?;
        let set_up_all = || venvs.iter().try_for_each(|service| session.setup(service));
        // `--force` rebuilds fresh venvs too: set up first, as asked.
        let mut set_up = self.args.env.force && !self.args.no_setup;
        if set_up {
            set_up_all()?;
        }
        for _attempt in 0..3 {
            let (locks, stale) = self.hold_if_fresh(&session, venvs)?;
            match stale {
                None => {
                    if !set_up {
                        // What setup says of a fresh venv, which it would have found so too.
                        for service in venvs {
                            output::say(format!("{}: up to date", service.folder_name()));
                        }
                    }
                    return Ok(locks);
                }
                Some((service, state)) if self.args.no_setup => {
                    let name = service.folder_name();
                    bail!(
                        "{name}: its venv is {}, and --no-setup forbids setting it up; run {}",
                        state.describe(),
                        self.xtask(&["setup", name])
                    );
                }
                // Not fresh, or changed by another setup meanwhile: set up, then check again.
                Some(_) => {
                    drop(locks);
                    set_up_all()?;
                    set_up = true;
                }
            }
        }
        bail!(
            "the venvs kept changing while this command waited to run its jobs: is another setup running in a loop?"
        )
    }

    /// Takes a shared lock on each venv and checks it fresh under it: the locks, and the first
    /// venv that is not fresh (its locks are then to be dropped before any setup). A fresh venv
    /// needs no setup, which would take its exclusive lock to find what this finds.
    fn hold_if_fresh(&self, session: &Session<'_>, venvs: &[&'a Package]) -> Result<Held<'a>> {
        let mut locks = Vec::new();
        for service in venvs {
            let venv = Venv::of(service);
            locks.push(venv.lock(LockMode::Shared, service.folder_name())?);
            match session.look(service, Remember::Write)? {
                // What the check read is what the jobs' keys read: the lock keeps it so.
                Ok(installed) => self.inputs.know_installed(&venv, installed),
                Err(state) => return Ok((locks, Some((*service, state)))),
            }
        }
        Ok((locks, None))
    }

    /// `ruff check` and `ruff format --check` for each selected package, and for the rest of
    /// `python/` when everything is selected or the change reaches the install of the venv it
    /// runs in (its ruff may be another); each in the first venv of the package (see
    /// [`Gate::ruff_venv`]), only those of this run's part.
    pub fn ruff_jobs(&self) -> Vec<Job> {
        let mut jobs = Vec::new();
        for package in &self.selection.packages {
            let Some(venv) = self.ruff_venv(Some(package)) else {
                continue;
            };
            let target = [package.rel.clone()];
            let rerun = self.xtask(&["lint", "-p", package.folder_name()]);
            jobs.extend(self.ruff_pair(venv, package.folder_name(), &target, &[package], &rerun));
        }
        if let Some((venv, rest)) = self.rest_targets() {
            let rerun = self.xtask(&["lint"]);
            jobs.extend(self.ruff_pair(venv, "(rest of python/)", &rest, &[], &rerun));
        }
        jobs
    }

    /// When this run checks the rest of `python/` (everything outside the packages: tests/e2e
    /// and any other Python there), the venv whose ruff checks it and ruff's arguments for it.
    fn rest_targets(&self) -> Option<(&'a Package, Vec<String>)> {
        let venv = self.ruff_venv(None)?;
        if !(self.selection.all || self.selection.changed_venvs.contains(&venv.name)) {
            return None;
        }
        let mut rest: Vec<String> = Vec::new();
        for package in &self.ws.packages {
            rest.push("--extend-exclude".into());
            rest.push(package.rel.clone());
        }
        rest.push(PYTHON_DIR.into());
        Some((venv, rest))
    }

    /// `ruff check` and `ruff format --check` of `targets`, run in `venv` from the root (so that
    /// the paths ruff prints open from there), without ruff's cache, which trusts a file's time
    /// (see [`ToolCaches`]).
    fn ruff_pair(
        &self,
        venv: &Package,
        name: &str,
        targets: &[String],
        packages: &[&Package],
        rerun: &str,
    ) -> Vec<Job> {
        let ruff = |args: &[&str]| {
            self.tool_env(Venv::of(venv).ruff(), None)
                .args(args)
                .arg("--no-cache")
                .args(targets)
                .cwd(&self.ws.root)
        };
        let (check, format): (&[&str], &[&str]) = (&["check"], &["format", "--check"]);
        [("ruff check", check), ("ruff format", format)]
            .into_iter()
            .map(|(tool, args)| {
                let job = Job::command(
                    tool,
                    Some(name),
                    Some(venv.folder_name()),
                    ruff(args),
                    rerun.to_owned(),
                );
                self.remembered(job, venv, packages, None)
            })
            .collect()
    }

    /// Whether a job that runs in the venv of `venv` (None: in no venv) is part of this run
    /// (`--venv`, `--tree`).
    pub fn holds(&self, venv: Option<&str>) -> bool {
        self.part.holds(venv)
    }

    /// The memo of a check that reads only `key`'s files (a Dockerfile and its configuration):
    /// in the root's `target/xtask-results`, since such a check runs in no venv. None with
    /// `--no-cache` or `--junit`.
    pub fn check_memo(&self, job: &Job, key: FileKey) -> Option<Memo> {
        if self.args.no_cache || self.junit.is_some() {
            return None;
        }
        Some(Memo {
            dir: self.ws.root.join("target").join("xtask-results"),
            id: job_id(&job.name()),
            key: key.key(),
            spec: Rekey::Files(key),
        })
    }

    /// `cargo xtask ARGS` for this root, as a person pastes it.
    pub fn xtask(&self, args: &[&str]) -> String {
        project::xtask_command(&self.ws.root, args)
    }

    /// For each selected package: its code imports no local package it does not declare (see
    /// [`imports`]). Read here, in Rust, from the files; it always runs.
    pub fn imports_jobs(&self) -> Vec<Job> {
        self.selection
            .packages
            .iter()
            .map(|package| {
                let problems = imports::undeclared(self.ws, package);
                let name = package.folder_name().to_owned();
                let pyproject = format!("{}/pyproject.toml", package.rel);
                let rerun = self.xtask(&["lint", "--package", &name]);
                Job::check("imports", Some(package.folder_name()), rerun, move || {
                    if problems.is_empty() {
                        Ok(format!("{name} imports only the local packages it declares"))
                    } else {
                        Err(format!(
                            "{}\nfix: declare each in {pyproject} (dependencies, or its dev tools for tests), or stop importing it",
                            problems.join("\n")
                        ))
                    }
                })
            })
            .collect()
    }

    /// mypy for each selected package in each venv that installs it, each run from the
    /// package's folder with a cache folder of its own per venv. The targets are the package's
    /// import packages (as its layout says: `src/dubbing_common`, `x/` in the flat layout,
    /// `src/dubbing/ns` for a namespace portion) and its tests; `--explicit-package-bases` with
    /// the source root on MYPYPATH names each module as Python imports it, whatever the layout.
    pub fn mypy_jobs(&self) -> Vec<Job> {
        let mut jobs = Vec::new();
        for package in &self.selection.packages {
            let mut targets: Vec<String> = package
                .layout
                .imports
                .iter()
                .map(|i| fsutil::display_rel(&package.dir, &i.path))
                .collect();
            if package.dir.join("tests").is_dir() {
                targets.push("tests".into());
            }
            let source_root = fsutil::display_rel(&package.dir, &package.layout.source_root);
            let own_root = if source_root.is_empty() {
                "."
            } else {
                &source_root
            };
            for venv in self.ws.venvs_of(package) {
                if !self.part.holds(Some(venv.folder_name())) {
                    continue;
                }
                // The local packages of the venv are found by their source, whatever editable
                // form their backend chose (setuptools serves a flat layout through an import
                // hook, which mypy cannot follow); their own jobs report their errors, so
                // imports are followed silently.
                let mut roots = vec![std::ffi::OsString::from(own_root)];
                for other in self.ws.closure(venv).unwrap_or_else(|_| vec![venv]) {
                    if other.name != package.name {
                        roots.push(other.layout.source_root.clone().into_os_string());
                    }
                }
                let mypypath = std::env::join_paths(roots).unwrap_or_default();
                let readers = self.inputs.readers(package, venv, Tool::Mypy);
                let name = jobs::job_name(
                    "mypy",
                    Some(package.folder_name()),
                    Some(venv.folder_name()),
                );
                let outside = self.mypy_outside.get_or_init(|| {
                    option_files::module_names_in(
                        &option_files::named_by_options(&self.ws.root, &[]).folders,
                    )
                });
                let caches = self
                    .caches(&name, venv, &readers)
                    .forgetting(outside.clone());
                // Files, not one SQLite database: the cache of a module is one file to forget.
                let mut cmd = self
                    .tool(venv, Some(&caches))
                    .env("MYPYPATH", mypypath)
                    .args(["-m", "mypy", "--config-file"])
                    .arg(self.config())
                    .args(["--explicit-package-bases", "--follow-imports=silent"])
                    .arg("--no-sqlite-cache")
                    .arg("--cache-dir")
                    .arg(caches.mypy())
                    .args(&targets)
                    .cwd(&package.dir);
                if let Some(junit) = &self.junit {
                    let name = junit::file_name("mypy", package.folder_name(), venv.folder_name());
                    cmd = cmd.arg("--junit-xml").arg(junit.reports.join(name));
                }
                let job = Job::command(
                    "mypy",
                    Some(package.folder_name()),
                    Some(venv.folder_name()),
                    cmd,
                    self.xtask(&["lint", "-p", package.folder_name()]),
                )
                .based(&package.dir, &package.rel);
                jobs.push(self.remembered(job, venv, &readers, Some(caches)));
            }
        }
        jobs
    }

    /// pytest for each selected package in each venv that installs it (a library is tested in
    /// every service that uses it: their dependencies differ), from the package's folder, with
    /// the coverage gate over every import package. Each venv's run keeps its own coverage data
    /// and pytest cache, so the runs of one package in two venvs can run at once.
    ///
    /// A focused run (paths or node ids, `-k`, `-m`) runs just those, without the coverage
    /// floor, and a package where the filter matches no test is not a failure.
    pub fn pytest_jobs(&self, focus: &Focus) -> Vec<Job> {
        let mut jobs = Vec::new();
        for package in &self.selection.packages {
            let targets = focus.targets.get(&package.name);
            let no_tests = targets.is_none() && !package.dir.join("tests").is_dir();
            for venv in self.ws.venvs_of(package) {
                if !self.part.holds(Some(venv.folder_name())) {
                    continue;
                }
                jobs.push(if no_tests {
                    self.no_tests_job(package, venv)
                } else {
                    self.pytest_job(package, venv, focus, targets)
                });
            }
        }
        jobs
    }

    /// The pytest job of a package without a tests/ folder, in the venv of `venv`: it fails. One
    /// in each venv that would test the package, so that a gate of one venv (`--venv`, a CI
    /// runner's) fails too, rather than running nothing and saying ok.
    fn no_tests_job(&self, package: &Package, venv: &Package) -> Job {
        let name = package.folder_name().to_owned();
        let rel = package.rel.clone();
        let rerun = self.xtask(&["test", "--package", &name]);
        let mut job = Job::check("pytest", Some(package.folder_name()), rerun, move || {
            Err(format!(
                "{name}: {rel}/tests/ does not exist, so nothing tests it; a package's tests live in its tests/ folder"
            ))
        });
        job.venv = Some(venv.folder_name().to_owned());
        job
    }

    /// pytest for `package` in the venv of `venv` (see [`Gate::pytest_jobs`]).
    fn pytest_job(
        &self,
        package: &'a Package,
        venv: &'a Package,
        focus: &Focus,
        targets: Option<&Vec<String>>,
    ) -> Job {
        let readers = self.inputs.readers(package, venv, Tool::Pytest);
        let name = jobs::job_name(
            "pytest",
            Some(package.folder_name()),
            Some(venv.folder_name()),
        );
        let caches = self.caches(&name, venv, &readers);
        // With the arguments of the `@file`s they name: an `--lf` there reads the cache too.
        let addopts = self.addopts.get_or_init(|| {
            let addopts = option_files::config_addopts(&self.config());
            let mut all = option_files::argfile_args(&self.ws.root, &addopts);
            all.extend(addopts);
            all
        });
        let reads_cache = focus.reads_pytest_cache(addopts);
        let mut cmd = self
            .tool(venv, Some(&caches))
            .env("COVERAGE_FILE", caches.coverage())
            .args(["-m", "pytest", "-c"])
            .arg(self.config())
            .args(["--rootdir", "."])
            .cwd(&package.dir);
        // The cache plugin's option exists only while the plugin is loaded.
        cmd = if self.args.no_cache && !reads_cache {
            cmd.args(["-p", "no:cacheprovider"])
        } else {
            cmd.arg("-o")
                .arg(format!("cache_dir={}", caches.pytest().display()))
        };
        if !focus.focused() {
            cmd = cmd
                .args(package.import_names().iter().map(|i| format!("--cov={i}")))
                .arg("--cov-report=term-missing")
                .arg(format!("--cov-fail-under={COVERAGE_FLOOR}"));
        }
        match targets {
            Some(targets) => cmd = cmd.args(targets),
            None => cmd = cmd.arg("tests"),
        }
        if let Some(junit) = &self.junit {
            let name = junit::file_name("pytest", package.folder_name(), venv.folder_name());
            let report = junit.reports.join(name);
            cmd = cmd.arg(format!("--junitxml={}", report.display()));
        }
        let job = Job::command(
            "pytest",
            Some(package.folder_name()),
            Some(venv.folder_name()),
            cmd.args(&focus.pytest_args),
            self.xtask(&["test", "-p", package.folder_name()]),
        )
        .based(&package.dir, &package.rel)
        .tests_rerun(self.xtask(&["test"]))
        .empty_ok(focus.focused());
        // --lf, --ff, --sw, --sw-skip and --nf choose tests from pytest's own cache, which is no
        // input of the key: such a run is never remembered, however the option came.
        if reads_cache {
            job.with_caches(Some(caches))
        } else {
            self.remembered(job, venv, &readers, Some(caches))
        }
    }

    pub fn parallelism(&self) -> usize {
        self.args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// Runs the jobs and closes with the summary; an error when one failed.
    pub fn run(&self, command: &str, mut jobs: Vec<Job>, started: Instant) -> Result<()> {
        // `--venv`, `--tree`: this run's part of the jobs, each job in exactly one part.
        jobs.retain(|j| self.part.holds(j.venv.as_deref()));
        let report = jobs::Report {
            format: self.args.message_format,
            verbose: output::verbose(),
        };
        let outcomes = jobs::run_all(jobs, self.parallelism(), report);
        self.remember(&outcomes);

        if let Some(junit) = &self.junit {
            junit.finish(&outcomes)?;
        }
        // A filter that matched no test in any package checked nothing: the run fails.
        let pytest: Vec<&jobs::Outcome> = outcomes.iter().filter(|o| o.tool == "pytest").collect();
        let problem = (!pytest.is_empty() && pytest.iter().all(|o| o.empty)).then(|| {
            format!(
                "no test matched in any package ({} pytest runs collected nothing): check the paths, -k or -m",
                pytest.len()
            )
        });
        // A verify that passed: the state of what git's history cannot show, for --changed-since.
        if command == "verify"
            && problem.is_none()
            && outcomes.iter().all(|o| o.ok)
            && let Some(state) = self.local_state.get()
        {
            let whole = self.selection.all && matches!(self.part, Part::All);
            local_inputs::record_pass(&self.ws.root, state, whole);
        }
        jobs::finish(command, &outcomes, started, report, problem)
    }

    /// Files the passes of the jobs that ran, each only if its inputs are still what they were
    /// when it started, content and state: a file saved while a job ran may not be what the job
    /// read, so that pass is not remembered, even when the file is back to its old content (see
    /// [`Inputs::states_of`]). The inputs are read once more for all of them.
    fn remember(&self, outcomes: &[jobs::Outcome]) {
        let rekey = |now: &Inputs, spec: &Rekey| match spec {
            Rekey::Inputs(spec) => {
                let untouched = now.states_of(spec) == self.inputs.states_of(spec);
                untouched.then(|| now.key_of(spec).digest)
            }
            Rekey::Files(files) => Some(files.key().digest),
        };
        let passed: Vec<&jobs::Outcome> = outcomes
            .iter()
            // A run that collected no test passed only because its filter allowed it: not a
            // pass to remember (the "nothing matched anywhere" check needs it to run again).
            .filter(|o| o.ok && !o.cached && !o.empty && o.memo.is_some())
            .collect();
        if passed.is_empty() {
            return;
        }
        let now = Inputs::new(self.ws);
        for outcome in passed {
            if let Some(memo) = &outcome.memo
                && rekey(&now, &memo.spec).as_ref() == Some(&memo.key.digest)
            {
                memo.write(&outcome.output);
            }
        }
    }
}

/// `ruff check --fix`, then `ruff format`, over the selection (all of `python/` when everything
/// is selected), in `venv`, from the root. Fixes first: removing an unused import can leave
/// blank lines that only the formatter puts right, so one run leaves a tree `lint` passes. They
/// write files: one at a time, before any check. What ruff cannot fix it reports, and `lint`
/// fails on. Returns the paths when `ruff check` still finds problems after both (those it
/// cannot fix).
pub fn apply_fixes(gate: &Gate<'_>, venv: &Package) -> Result<Option<String>> {
    // What the checks after them read: the selection, and the rest of python/ when they check it.
    // Each with the venv whose ruff checks it (the rest of python/ is its venv's), and its name.
    let mut groups: Vec<(&Package, Vec<String>, String)> = Vec::new();
    if gate.selection.all {
        groups.push((venv, vec![PYTHON_DIR.to_owned()], PYTHON_DIR.to_owned()));
    } else {
        let packages: Vec<String> = gate
            .selection
            .packages
            .iter()
            .map(|p| p.rel.clone())
            .collect();
        let named = packages.join(", ");
        groups.extend(Some((venv, packages, named)).filter(|(_, p, _)| !p.is_empty()));
        if let Some((venv, rest)) = gate.rest_targets() {
            groups.push((venv, rest, "python/ outside the packages".to_owned()));
        }
    }
    let mut left_in = Vec::new();
    for (venv, targets, named) in &groups {
        let env = Venv::of(venv);
        for action in [&["check", "--fix", "--exit-zero"][..], &["format"][..]] {
            // Without ruff's cache, like every ruff the xtask runs: it trusts a file's time alone.
            let out = env
                .ruff()
                .args(action)
                .arg("--no-cache")
                .args(targets)
                .cwd(&gate.ws.root)
                .run()?;
            print!("{}", out.output);
        }
        let check = env
            .ruff()
            .args(["check", "--no-cache", "--quiet"])
            .args(targets)
            .cwd(&gate.ws.root);
        let left = check.output()?;
        // 1: problems found; anything else but 0, ruff itself failed (its configuration, say).
        if !left.success() && left.code != Some(1) {
            bail!("{}", crate::cmd::failure_message(&check.display(), &left));
        }
        if !left.success() {
            left_in.push(named.as_str());
        }
    }
    Ok((!left_in.is_empty()).then(|| left_in.join(", ")))
}

/// Every job needs the tools: says which are missing before any venv is touched.
fn check_dev_tools(venvs: &[&Package]) -> Result<()> {
    for owner in venvs {
        let missing = owner.missing_tools();
        if !missing.is_empty() {
            let declared = owner
                .dev
                .as_ref()
                .map_or("no `dev` dependency group or extra", |d| d.describe());
            bail!(
                "{}/pyproject.toml: the venv of {} runs ruff, mypy and pytest, but its dev tools ({declared}) lack {}; \
                 add them, e.g. [dependency-groups] dev = [\"ruff\", \"mypy\", \"pytest\", \"pytest-cov\"]",
                owner.rel,
                owner.folder_name(),
                missing.join(", ")
            );
        }
    }
    Ok(())
}
