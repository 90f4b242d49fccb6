//! The quality gates `lint`, `fmt` and `test`: jobs of (tool, package, venv) derived from the
//! workspace, run in the venvs that own the packages.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;
use crate::engine::inputs::Inputs;
use crate::engine::jobs::{self, Job};
use crate::engine::memo::{KeySpec, Memo};
use crate::engine::select::{self, Selection};
use crate::env::lock;
use crate::env::session::{Session, State};
use crate::env::venv::{LockMode, Venv, VenvLock};
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
    /// Whether pytest chooses what to run from its cache (`--lf`, `--ff`, `--sw`, `--nf`).
    pub fn reads_pytest_cache(&self) -> bool {
        self.pytest_args.iter().any(|a| {
            [
                "--lf",
                "--last-failed",
                "--ff",
                "--failed-first",
                "--sw",
                "--stepwise",
                "--nf",
                "--new-first",
            ]
            .contains(&a.as_str())
        })
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

/// The coverage every package's tests must reach (the seed's gate).
pub const COVERAGE_FLOOR: u32 = 80;

/// Everything a gate needs: the workspace, what is selected, and where reports go.
pub struct Gate<'a> {
    pub ws: &'a Workspace,
    pub selection: Selection<'a>,
    pub args: &'a GateArgs,
    junit: Option<PathBuf>,
    /// What the jobs' results depend on: read once per run.
    inputs: Inputs<'a>,
}

impl<'a> Gate<'a> {
    pub fn new(ws: &'a Workspace, args: &'a GateArgs) -> Result<Gate<'a>> {
        if args.message_format == MessageFormat::Json {
            output::progress_to_stderr();
        }
        let selection =
            select::select(ws, &args.packages, args.changed_since.as_deref(), here(ws))?;
        output::say(selection.describe());
        let junit = match &args.junit {
            Some(dir) => {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("cannot create the --junit folder {}", dir.display())
                })?;
                Some(
                    dir.canonicalize()
                        .with_context(|| format!("cannot resolve {}", dir.display()))?,
                )
            }
            None => None,
        };
        Ok(Gate {
            ws,
            selection,
            args,
            junit,
            inputs: Inputs::new(ws),
        })
    }

    /// The memo of a job that runs in `venv` and reads the files of `packages` (see
    /// [`Inputs`]). None with `--no-cache`, or when reports are to be written (`--junit`).
    fn memo(&self, job: &Job, venv: &Package, packages: &[&Package]) -> Option<Memo> {
        let reads_layout = job.tool.starts_with("ruff");
        if self.args.no_cache || self.junit.is_some() {
            return None;
        }
        let v = Venv::of(venv);
        let id: String = job
            .name()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let spec = KeySpec {
            command: job.command.clone(),
            venv: venv.name.clone(),
            packages: packages.iter().map(|p| p.name.clone()).collect(),
            reads_layout,
        };
        Some(Memo {
            dir: v.dir.join("xtask-results"),
            id,
            key: self.inputs.key_of(&spec),
            spec,
        })
    }

    /// A job that is not run again while its inputs are those of its last pass.
    fn remembered(&self, job: Job, venv: &Package, packages: &[&Package]) -> Job {
        let memo = self.memo(&job, venv, packages);
        job.remembered(memo)
    }

    /// The packages whose files mypy and pytest of `package` read: it and every local package it
    /// needs.
    fn closure(&self, package: &'a Package) -> Vec<&'a Package> {
        self.ws.closure(package).unwrap_or_else(|_| vec![package])
    }

    fn config(&self) -> PathBuf {
        self.ws.root.join(PYTHON_DIR).join("pyproject.toml")
    }

    /// The venvs the jobs of the selection run in; ruff runs in the first.
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
        venvs
    }

    /// Brings every needed venv up to date (free when its stamp is fresh), or with `--no-setup`,
    /// fails on one that is not; then holds a shared lock on each for as long as the returned
    /// locks live, so no setup in another terminal rebuilds a venv under running jobs.
    ///
    /// Shared locks are taken only after every setup is done (never one held while waiting for
    /// an exclusive one, which could deadlock against another gate), and each venv is checked
    /// fresh again under its lock, since another setup may have run in between.
    pub fn prepare(&self) -> Result<(Vec<&'a Package>, Vec<VenvLock>)> {
        let venvs = self.needed_venvs();
        if venvs.is_empty() {
            bail!(
                "no package under {}: the tools run in a package's venv; add one (see `cargo xtask scaffold`)",
                self.ws.root.join(PYTHON_DIR).display()
            );
        }
        // Every job needs the tools: say which are missing before any venv is touched.
        for owner in &venvs {
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
        // A lock that its inputs no longer make fails before anything runs, offline: installing
        // it would not give what the pyprojects ask for (a missing one, setup makes).
        for owner in &venvs {
            match lock::status(self.ws, owner)? {
                lock::Status::Fresh => {}
                lock::Status::Missing(_) if !self.args.no_setup => {}
                status => bail!("{}", lock::stale_message(self.ws, owner, &status)),
            }
        }
        let session = Session::new(self.ws, &self.args.env)?;
        for _attempt in 0..3 {
            if !self.args.no_setup {
                for service in &venvs {
                    session.setup(service)?;
                }
            }
            let mut locks = Vec::new();
            let mut stale = None;
            for service in &venvs {
                let venv = Venv::of(service);
                locks.push(venv.lock(LockMode::Shared, service.folder_name())?);
                let state = session.state(service)?;
                if !matches!(state, State::Fresh) {
                    stale = Some((*service, state));
                    break;
                }
            }
            match stale {
                None => {
                    for service in &venvs {
                        compile_bytecode(&Venv::of(service), service.folder_name())?;
                    }
                    return Ok((venvs, locks));
                }
                Some((service, state)) if self.args.no_setup => {
                    let name = service.folder_name();
                    bail!(
                        "{name}: its venv is {}, and --no-setup forbids setting it up; run {}",
                        state.describe(),
                        self.xtask(&["setup", name])
                    );
                }
                Some(_) => {} // changed by another setup meanwhile: set up again
            }
        }
        bail!(
            "the venvs kept changing while this command waited to run its jobs: is another setup running in a loop?"
        )
    }

    /// `ruff check` and `ruff format --check` for each selected package, and for the rest of
    /// `python/` when everything is selected.
    pub fn ruff_jobs(&self, ruff_venv: &Package) -> Vec<Job> {
        let python = Venv::of(ruff_venv).python();
        // From the root, so that the paths ruff prints open from there.
        let ruff = |args: &[&str]| {
            Cmd::new(&python)
                .args(["-m", "ruff"])
                .args(args)
                .cwd(&self.ws.root)
        };
        let (check, format): (&[&str], &[&str]) = (&["check"], &["format", "--check"]);
        let mut jobs = Vec::new();
        let venv = Some(ruff_venv.folder_name());
        for package in &self.selection.packages {
            let name = Some(package.folder_name());
            let rerun = self.xtask(&["lint", "-p", package.folder_name()]);
            let job = Job::command(
                "ruff check",
                name,
                venv,
                ruff(check).arg(&package.rel),
                rerun.clone(),
            );
            jobs.push(self.remembered(job, ruff_venv, &[package]));
            let job = Job::command(
                "ruff format",
                name,
                venv,
                ruff(format).arg(&package.rel),
                rerun,
            );
            jobs.push(self.remembered(job, ruff_venv, &[package]));
        }
        if self.selection.all {
            // Everything outside the packages: tests/e2e and any other Python under python/.
            let mut rest: Vec<String> = Vec::new();
            for package in &self.ws.packages {
                rest.push("--extend-exclude".into());
                rest.push(package.rel.clone());
            }
            let rest_args = |base: &[&str]| ruff(base).args(&rest).arg(PYTHON_DIR);
            let rerun = self.xtask(&["lint"]);
            let job = Job::command(
                "ruff check",
                Some("(rest of python/)"),
                venv,
                rest_args(check),
                rerun.clone(),
            );
            jobs.push(self.remembered(job, ruff_venv, &[]));
            let job = Job::command(
                "ruff format",
                Some("(rest of python/)"),
                venv,
                rest_args(format),
                rerun,
            );
            jobs.push(self.remembered(job, ruff_venv, &[]));
        }
        jobs
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
                // The local packages of the venv are found by their source, whatever editable
                // form their backend chose (setuptools serves a flat layout through an import
                // hook, which mypy cannot follow); their own jobs report their errors, so
                // imports are followed silently.
                let mut roots = vec![std::ffi::OsString::from(own_root)];
                for other in self.closure(venv) {
                    if other.name != package.name {
                        roots.push(other.layout.source_root.clone().into_os_string());
                    }
                }
                let mypypath = std::env::join_paths(roots).unwrap_or_default();
                let mut cmd = Cmd::new(Venv::of(venv).python())
                    .env("MYPYPATH", mypypath)
                    .args(["-m", "mypy", "--config-file"])
                    .arg(self.config())
                    .args(["--explicit-package-bases", "--follow-imports=silent"])
                    .arg("--cache-dir")
                    .arg(Path::new(".mypy_cache").join(venv.folder_name()))
                    .args(&targets)
                    .cwd(&package.dir);
                if let Some(dir) = &self.junit {
                    cmd = cmd.arg("--junit-xml").arg(dir.join(format!(
                        "mypy-{}-{}.xml",
                        package.folder_name(),
                        venv.folder_name()
                    )));
                }
                let job = Job::command(
                    "mypy",
                    Some(package.folder_name()),
                    Some(venv.folder_name()),
                    cmd,
                    self.xtask(&["lint", "-p", package.folder_name()]),
                )
                .based(&package.dir, &package.rel);
                jobs.push(self.remembered(job, venv, &self.closure(package)));
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
            if targets.is_none() && !package.dir.join("tests").is_dir() {
                let name = package.folder_name().to_owned();
                let rel = package.rel.clone();
                let rerun = self.xtask(&["test", "--package", &name]);
                jobs.push(Job::check(
                    "pytest",
                    Some(package.folder_name()),
                    rerun,
                    move || {
                        Err(format!(
                            "{name}: {rel}/tests/ does not exist, so nothing tests it; a package's tests live in its tests/ folder"
                        ))
                    },
                ));
                continue;
            }
            for venv in self.ws.venvs_of(package) {
                let mut cmd = Cmd::new(Venv::of(venv).python())
                    .env("COVERAGE_FILE", format!(".coverage.{}", venv.folder_name()))
                    .args(["-m", "pytest", "-c"])
                    .arg(self.config())
                    .args(["--rootdir", "."])
                    .arg("-o")
                    .arg(format!("cache_dir=.pytest_cache/{}", venv.folder_name()))
                    .cwd(&package.dir);
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
                if let Some(dir) = &self.junit {
                    cmd = cmd.arg(format!(
                        "--junitxml={}",
                        dir.join(format!(
                            "pytest-{}-{}.xml",
                            package.folder_name(),
                            venv.folder_name()
                        ))
                        .display()
                    ));
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
                // --lf, --ff, --sw and --nf choose tests from pytest's own cache, which is no
                // input of the key: such a run is never remembered.
                if focus.reads_pytest_cache() {
                    jobs.push(job);
                } else {
                    jobs.push(self.remembered(job, venv, &self.closure(package)));
                }
            }
        }
        jobs
    }

    pub fn parallelism(&self) -> usize {
        self.args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// Runs the jobs and closes with the summary; an error when one failed.
    pub fn run(&self, command: &str, jobs: Vec<Job>, started: Instant) -> Result<()> {
        let report = jobs::Report {
            format: self.args.message_format,
            verbose: output::verbose(),
        };
        let outcomes = jobs::run_all(jobs, self.parallelism(), report);
        self.remember(&outcomes);
        jobs::finish(command, &outcomes, started, report)?;
        // A filter that matched no test in any package checked nothing.
        let pytest: Vec<&jobs::Outcome> = outcomes.iter().filter(|o| o.tool == "pytest").collect();
        if !pytest.is_empty() && pytest.iter().all(|o| o.empty) {
            bail!(
                "no test matched in any package ({} pytest runs collected nothing): check the paths, -k or -m",
                pytest.len()
            );
        }
        Ok(())
    }

    /// Files the passes of the jobs that ran, each only if its inputs are still what they were
    /// when it started: a file saved while a job ran may not be what the job read, so that pass
    /// is not remembered. The inputs are read once more for all of them.
    fn remember(&self, outcomes: &[jobs::Outcome]) {
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
                && now.key_of(&memo.spec).digest == memo.key.digest
            {
                memo.write(&outcome.output);
            }
        }
    }
}

/// Byte-compiles the venv's site-packages once per install. The installers skip it to install
/// fast, and where `PYTHONDONTWRITEBYTECODE` is set Python never writes it, so every tool run
/// would compile pytest and its plugins anew: this halves a pytest run's start-up.
fn compile_bytecode(venv: &Venv, name: &str) -> Result<()> {
    // Keyed by what is installed, not by the stamp: a new PATH rewrites the stamp, and changes
    // no installed file.
    let marker = venv.dir.join("xtask-bytecode");
    let key = venv.installed().digest;
    if std::fs::read_to_string(&marker).is_ok_and(|k| k == key) {
        return Ok(());
    }
    let started = Instant::now();
    for site in venv.site_packages() {
        Cmd::new(venv.python())
            .args(["-m", "compileall", "-q", "-j", "0"])
            .arg(&site)
            .output()
            .and_then(|out| {
                if out.success() {
                    Ok(())
                } else {
                    bail!("{}", crate::cmd::failure_message("compileall", &out))
                }
            })
            .with_context(|| format!("{name}: cannot byte-compile {}", site.display()))?;
    }
    crate::fsutil::write_atomic(&marker, key.as_bytes())?;
    output::say(format!(
        "{name}: byte-compiled site-packages once ({})",
        crate::output::duration(started)
    ));
    Ok(())
}

/// `ruff check --fix`, then `ruff format`, over the selection (all of `python/` when everything
/// is selected), in `venv`, from the root. Fixes first: removing an unused import can leave
/// blank lines that only the formatter puts right, so one run leaves a tree `lint` passes. They
/// write files: one at a time, before any check. What ruff cannot fix it reports, and `lint`
/// fails on.
pub fn apply_fixes(gate: &Gate<'_>, venv: &Package) -> Result<()> {
    let paths: Vec<&str> = if gate.selection.all {
        vec![PYTHON_DIR]
    } else {
        gate.selection
            .packages
            .iter()
            .map(|p| p.rel.as_str())
            .collect()
    };
    if paths.is_empty() {
        return Ok(());
    }
    let python = Venv::of(venv).python();
    for action in [&["check", "--fix", "--exit-zero"][..], &["format"][..]] {
        let out = Cmd::new(&python)
            .args(["-m", "ruff"])
            .args(action)
            .args(&paths)
            .cwd(&gate.ws.root)
            .run()?;
        print!("{}", out.output);
    }
    Ok(())
}
