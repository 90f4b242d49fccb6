//! The command line: every subcommand and flag of `cargo xtask`. The doc comments are the `--help`.

use std::path::PathBuf;

use clap::{ArgMatches, Args, FromArgMatches, Parser, Subcommand, ValueEnum};

/// A subcommand's arguments, added to the command line only when that subcommand is the one
/// given (`Command::defer`): clap otherwise builds every subcommand's arguments on every run, a
/// tenth of a no-op setup in the unoptimised xtask. Help, errors and completions are the same:
/// clap builds a deferred part whenever it needs it.
#[derive(Debug)]
pub struct Lazy<T>(pub T);

impl<T: Args> Args for Lazy<T> {
    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }

    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.defer(|cmd| keep_about(cmd, T::augment_args))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd.defer(|cmd| keep_about(cmd, T::augment_args_for_update))
    }
}

/// Adds the arguments, keeping the subcommand's own description: the arguments' struct may
/// bring one of its own (its doc comment), which clap, building them first, would have
/// replaced with the subcommand's.
fn keep_about(cmd: clap::Command, augment: fn(clap::Command) -> clap::Command) -> clap::Command {
    let (about, long_about) = (cmd.get_about().cloned(), cmd.get_long_about().cloned());
    let cmd = augment(cmd);
    match (about, long_about) {
        (Some(about), Some(long)) => cmd.about(about).long_about(long),
        (Some(about), None) => cmd.about(about).long_about(None::<&'static str>),
        (None, _) => cmd,
    }
}

impl<T: FromArgMatches> FromArgMatches for Lazy<T> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(matches).map(Lazy)
    }

    fn from_arg_matches_mut(matches: &mut ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(matches).map(Lazy)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }

    fn update_from_arg_matches_mut(&mut self, matches: &mut ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(matches)
    }
}

/// The task runner of the dubbing platform's Python monorepo.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    arg_required_else_help = true
)]
pub struct Cli {
    /// The repository root whose python/ tree to work on [default: the repository of this xtask]
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Print every job's whole output as it ends, not only the failed ones'
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Colour on a terminal (auto: not in pipes nor CI logs; NO_COLOR and CLICOLOR_FORCE count)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the missing files of the seed tree under python/; never touches an existing file
    Scaffold(Lazy<ScaffoldArgs>),
    /// Set up the venv of apps/media-service (the stream worker)
    SetupStream(Lazy<SetupOneArgs>),
    /// Set up the venv of apps/sts-service (the speech-to-speech service)
    SetupSts(Lazy<SetupOneArgs>),
    /// Set up the venvs of the named services, or of all of them
    Setup(Lazy<SetupArgs>),
    /// Show the interpreters, the installer and the state of every venv; exit 1 if one is broken
    Doctor(Lazy<ChoiceArgs>),
    /// Remove the venvs, the tools folder, caches and build leftovers under python/
    Clean(Lazy<CleanArgs>),
    /// ruff check, ruff format --check, and mypy for every package in every venv that installs it
    Lint(Lazy<LintArgs>),
    /// ruff's fixes (ruff check --fix), then the formatter (ruff format)
    Fmt(Lazy<FmtArgs>),
    /// pytest for every package in its venv, with coverage (at least 80%)
    Test(Lazy<TestArgs>),
    /// The whole gate, for CI and before a push: the seed's success criteria SC-001..SC-008
    ///
    /// SC-001: each service's venv sets up (here: is up to date, from its lock).
    /// SC-002: the shared libraries are installed editable (each imports from its source folder).
    /// SC-003: each service imports the shared libraries.
    /// SC-004: lint (ruff, mypy strict) and tests (pytest, coverage >= 80%) pass, a shared library
    ///         in every venv that installs it.
    /// SC-005: every package's README names its setup and test commands.
    /// SC-006: the tree has the seed's structure (folders, and each package's README, tests/,
    ///         import packages and py.typed).
    /// SC-007: git ignores the venvs, caches and build leftovers, and no source file.
    /// SC-008: neither service can import the other.
    /// Also: every lock is what its inputs make; no package imports a local package it does not
    /// declare; the editor workspace, when there is one, is up to date.
    #[command(verbatim_doc_comment)]
    Verify(Lazy<GateArgs>),
    /// Lock the third-party dependencies of each venv (requirements.txt, requirements-dev.txt)
    Lock(Lazy<LockArgs>),
    /// Add requirements to a package's pyproject.toml, then lock and set up every venv that has it
    Add(Lazy<AddArgs>),
    /// Remove requirements from a package's pyproject.toml, then lock and set up its venvs
    Remove(Lazy<RemoveArgs>),
    /// Run a command in a package's venv (set up first), as if it were activated
    Run(Lazy<RunArgs>),
    /// Create a package (library or service) that passes verify at once, then lock and set it up
    New(Lazy<NewArgs>),
    /// Write the VS Code workspace and pyright's configuration: each package with its own venv
    Ide(Lazy<IdeArgs>),
    /// Install or remove the git hooks: ruff on what is staged, verify on what is pushed
    Hooks(Lazy<HooksArgs>),
    /// Build each service's deployable in target/dist/<service>/ (or $XTASK_DIST_DIR), proven by
    /// installing it as its Dockerfile does into a fresh venv
    ///
    /// The context holds the non-editable wheels of the service and of every local package it
    /// installs, its runtime lock (hashed; never the dev tools), its Dockerfile (written once to
    /// python/deploy/<service>/Dockerfile from a template, the team's file from then on),
    /// install.py (the install steps, which the Dockerfile runs) and manifest.json. Nothing is
    /// rebuilt or installed again when nothing changed. It ends with the `docker build` command.
    Dist(Lazy<DistArgs>),
    /// Write the GitHub Actions workflow that runs the gate on many runners, one job per venv
    /// (.github/workflows/python.yml); `ci plan` prints which venvs a change concerns
    Ci(Lazy<CiArgs>),
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// How finished jobs are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// Each job's output whole when it ends, and a summary table
    Human,
    /// One JSON object per line for each finished job, and a summary object last
    Json,
}

/// What every gate takes: which packages, how many jobs at once, how to report.
#[derive(Debug, Clone, Args)]
pub struct GateArgs {
    /// Only this package (folder or distribution name); repeatable
    #[arg(long = "package", short = 'p', value_name = "NAME")]
    pub packages: Vec<String>,
    /// Only the packages with files changed since the git revision REF, and those that depend on them
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,
    /// Only the jobs that run in this venv (a service, or a library with a venv of its own;
    /// repeatable), and only this venv set up: what one CI runner does (see `cargo xtask ci`)
    #[arg(long = "venv", value_name = "OWNER", conflicts_with = "tree")]
    pub venvs: Vec<String>,
    /// Only the checks of the whole tree, which run in no venv (the seed's structure, READMEs,
    /// .gitignore, locks, imports, Dockerfiles, the CI workflow, editor files): no venv is set up
    #[arg(long)]
    pub tree: bool,
    /// Jobs to run at once [default: the number of cores]
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = clap::value_parser!(usize))]
    pub jobs: Option<usize>,
    /// Fail when a venv is missing or stale instead of setting it up
    #[arg(long)]
    pub no_setup: bool,
    /// Run every job, even one whose inputs are those of its last pass
    #[arg(long)]
    pub no_cache: bool,
    /// How to report finished jobs
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
    /// Write JUnit XML reports (pytest's and mypy's) into DIR
    #[arg(long, value_name = "DIR")]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub env: EnvArgs,
    /// The arguments `test` passes on to pytest (its own `-- ARGS`): no option of the others.
    #[arg(skip)]
    pub pytest_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Only this package (folder or distribution name); repeatable
    #[arg(long = "package", short = 'p', value_name = "NAME")]
    pub packages: Vec<String>,
    /// Only the packages with files changed since the git revision REF, and those that depend on them
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,
    /// Fail when a venv is missing or stale instead of setting it up
    #[arg(long)]
    pub no_setup: bool,
    #[command(flatten)]
    pub env: EnvArgs,
}

impl FmtArgs {
    /// The gate's arguments for the same selection: fmt runs no jobs, so has nothing to report.
    pub fn gate(&self) -> GateArgs {
        GateArgs {
            packages: self.packages.clone(),
            changed_since: self.changed_since.clone(),
            venvs: Vec::new(),
            tree: false,
            jobs: None,
            no_setup: self.no_setup,
            no_cache: false,
            message_format: MessageFormat::Human,
            junit: None,
            env: self.env.clone(),
            pytest_args: Vec::new(),
        }
    }
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Apply ruff's fixes (and format) before checking
    #[arg(long)]
    pub fix: bool,
    #[command(flatten)]
    pub gate: GateArgs,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Only these tests: files, folders or node ids (`file::test`), from the current folder or
    /// the repository root; each selects the package that owns it
    #[arg(value_name = "PATH|NODE")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub gate: GateArgs,
    /// Arguments passed on to pytest (after `--`)
    #[arg(last = true, value_name = "PYTEST_ARGS")]
    pub pytest_args: Vec<String>,
}

/// Which tool creates venvs and installs into them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InstallerChoice {
    /// uv on PATH, else a pinned uv installed once into the tools folder, else pip
    Auto,
    /// uv, or an error
    Uv,
    /// The chosen interpreter's pip
    Pip,
}

/// Which Python and installer.
#[derive(Debug, Clone, Args)]
pub struct ChoiceArgs {
    /// The Python to build venvs with: a path or a version such as 3.11
    /// [default: $XTASK_PYTHON, else python/.python-version]
    #[arg(long, value_name = "PATH|VERSION")]
    pub python: Option<String>,
    /// The installer [default: the one the venv was last set up with, else auto]
    #[arg(long, value_enum)]
    pub installer: Option<InstallerChoice>,
}

impl ChoiceArgs {
    /// As the arguments of a setup that rebuilds nothing and keeps nothing by hand.
    pub fn env(&self) -> EnvArgs {
        EnvArgs {
            python: self.python.clone(),
            installer: self.installer,
            force: false,
            inexact: false,
        }
    }
}

/// How to build a venv. The default: nothing asked for (each choice from its own default).
#[derive(Debug, Clone, Default, Args)]
pub struct EnvArgs {
    /// The Python to build venvs with: a path or a version such as 3.11
    /// [default: $XTASK_PYTHON, else python/.python-version]
    #[arg(long, value_name = "PATH|VERSION")]
    pub python: Option<String>,
    /// The installer [default: the one the venv was last set up with, else auto]
    #[arg(long, value_enum)]
    pub installer: Option<InstallerChoice>,
    /// Rebuild the venv even when its stamp says it is up to date
    #[arg(long)]
    pub force: bool,
    /// Keep packages the lock does not name (installed by hand), as `uv sync --inexact` does
    #[arg(long)]
    pub inexact: bool,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The venvs to set up: services, or libraries no service installs, by folder or
    /// distribution name [default: all]
    #[arg(value_name = "PACKAGE")]
    pub services: Vec<String>,
    /// A lock its inputs no longer make is an error, not relocked (as `uv sync --locked`)
    #[arg(long)]
    pub locked: bool,
    #[command(flatten)]
    pub env: EnvArgs,
}

#[derive(Debug, Args)]
pub struct SetupOneArgs {
    /// A lock its inputs no longer make is an error, not relocked (as `uv sync --locked`)
    #[arg(long)]
    pub locked: bool,
    #[command(flatten)]
    pub env: EnvArgs,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The venvs to lock: services, or libraries no service installs [default: all]
    #[arg(value_name = "PACKAGE")]
    pub owners: Vec<String>,
    /// Resolve every pin anew, to the newest versions the requirements allow
    #[arg(long, conflicts_with = "upgrade_package")]
    pub upgrade: bool,
    /// Move only this package's pin (repeatable); the others stay
    #[arg(long, value_name = "NAME")]
    pub upgrade_package: Vec<String>,
    /// Write nothing and run no resolver: fail, naming the input that changed, when a lock is not
    /// what its inputs make
    #[arg(long, conflicts_with_all = ["upgrade", "upgrade_package"])]
    pub check: bool,
    #[command(flatten)]
    pub env: EnvArgs,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The package to edit: folder or distribution name
    #[arg(value_name = "PACKAGE")]
    pub package: String,
    /// Requirements (PEP 508), such as 'numpy<2' or 'requests[socks]>=2.31'
    #[arg(value_name = "REQUIREMENT", required = true)]
    pub requirements: Vec<String>,
    /// Add them to the dev tools ([dependency-groups] dev, else the dev extra)
    #[arg(long)]
    pub dev: bool,
    #[command(flatten)]
    pub env: EnvArgs,
}

#[derive(Debug, Args)]
pub struct CiArgs {
    #[command(subcommand)]
    pub command: Option<CiCommand>,
    /// Write nothing; fail when the workflow is missing, written by an older xtask, or edited by
    /// hand (naming the edit)
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// The venvs a change concerns, as the matrix of the workflow's venv jobs: for each, its
    /// packages, its command (`cargo xtask verify --venv OWNER`), its runner and its lock
    Plan(PlanArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Only the venvs that files changed since the git revision REF concern [default: all]
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,
    /// How to print the plan
    #[arg(long, value_enum, default_value_t = PlanFormat::Json)]
    pub format: PlanFormat,
}

/// How `ci plan` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// The matrix, `{"include": [...]}`, on one line
    Json,
    /// `matrix=...` and `empty=true|false` lines, for $GITHUB_OUTPUT
    Github,
}

#[derive(Debug, Args)]
pub struct DistArgs {
    /// The services [default: all]
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Build nothing: fail unless the existing context is whole, current with the tree, and
    /// installs and works in a fresh venv (always installed again)
    #[arg(long)]
    pub check: bool,
    /// Build every wheel and check again, even when the context is what its inputs made
    #[arg(long, conflicts_with = "check")]
    pub no_cache: bool,
    /// The Python to check the deployable with: a path or a version such as 3.11
    /// [default: $XTASK_PYTHON, else python/.python-version]
    #[arg(long, value_name = "PATH|VERSION")]
    pub python: Option<String>,
}

impl DistArgs {
    /// As the arguments of a setup: the Python asked for, uv as the installer.
    pub fn env(&self) -> EnvArgs {
        EnvArgs {
            python: self.python.clone(),
            installer: Some(InstallerChoice::Uv),
            force: false,
            inexact: false,
        }
    }
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The package to edit: folder or distribution name
    #[arg(value_name = "PACKAGE")]
    pub package: String,
    /// Distribution names to remove from its dependencies and dev tools
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,
    #[command(flatten)]
    pub env: EnvArgs,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    #[command(subcommand)]
    pub kind: NewKind,
}

#[derive(Debug, Subcommand)]
pub enum NewKind {
    /// A shared library under python/libs/NAME: its own venv (with the workspace's dev tools)
    /// until a service installs it
    Lib {
        #[command(flatten)]
        package: NewPackage,
        /// Services that depend on it at once (their pyproject.toml is edited, then they are
        /// locked and set up); repeatable
        #[arg(long = "into", value_name = "SERVICE")]
        into: Vec<String>,
        #[command(flatten)]
        env: EnvArgs,
    },
    /// A service under python/apps/NAME, with its dev tools, a command line, a venv and a lock
    Service {
        #[command(flatten)]
        package: NewPackage,
        #[command(flatten)]
        env: EnvArgs,
    },
}

#[derive(Debug, Args)]
pub struct NewPackage {
    /// Its name: the folder's and the distribution's (PEP 503-normalised); the import name is
    /// the same with `_` for `-`
    #[arg(value_name = "NAME")]
    pub name: String,
    /// A library of the tree it depends on (folder or distribution name); repeatable
    #[arg(long = "dep", value_name = "LIB")]
    pub deps: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The package: a service, or a library (run in the venv that tests it)
    #[arg(value_name = "PACKAGE")]
    pub package: String,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
    #[command(flatten)]
    pub env: EnvArgs,
}

#[derive(Debug, Args)]
pub struct IdeArgs {
    /// Write nothing; fail when a file is missing or out of date
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct HooksArgs {
    #[command(subcommand)]
    pub action: HookAction,
}

#[derive(Debug, Subcommand)]
pub enum HookAction {
    /// Write .git/hooks/pre-commit and pre-push (never over a hook the xtask did not write)
    Install,
    /// Remove the hooks the xtask wrote, and the pre-push hook's kept checkout
    Uninstall,
    /// What a hook runs: pre-commit checks the staged content, pre-push each pushed commit
    Run {
        #[arg(value_enum)]
        hook: HookName,
        /// What git passes the hook (pre-push: the remote's name and URL)
        #[arg(value_name = "GIT_ARG")]
        git_args: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HookName {
    PreCommit,
    PrePush,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Remove nothing; list what would be removed
    #[arg(long)]
    pub dry_run: bool,
}

/// What a command that can write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    /// Write nothing; fail when something is missing.
    Check,
    /// Write nothing; say what would be written.
    DryRun,
}

#[derive(Debug, Args)]
pub struct ScaffoldArgs {
    /// Write nothing; exit 1 and list what is missing
    #[arg(long, conflicts_with = "dry_run")]
    pub check: bool,
    /// Write nothing; print what would be created
    #[arg(long)]
    pub dry_run: bool,
}

impl ScaffoldArgs {
    pub fn mode(&self) -> Mode {
        match (self.check, self.dry_run) {
            (true, _) => Mode::Check,
            (_, true) => Mode::DryRun,
            _ => Mode::Write,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, Command, Lazy};

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// Each subcommand's arguments are added lazily ([`Lazy`]); its help still starts with its
    /// own description, never its arguments' struct's, and its flags are all there.
    #[test]
    fn lazy_subcommands_keep_their_description_and_flags() {
        let help = |args: &[&str]| {
            let argv = std::iter::once("cargo xtask").chain(args.iter().copied());
            Cli::try_parse_from(argv).unwrap_err().to_string()
        };
        for (args, first, flag) in [
            (
                &["setup", "--help"][..],
                "Set up the venvs of the named services",
                "--inexact",
            ),
            (
                &["setup-stream", "-h"][..],
                "Set up the venv of apps/media-service",
                "--locked",
            ),
            (
                &["verify", "--help"][..],
                "The whole gate, for CI and before a push",
                "--no-cache",
            ),
            (
                &["doctor", "--help"][..],
                "Show the interpreters",
                "--python",
            ),
            (
                &["hooks", "run", "--help"][..],
                "What a hook runs",
                "Usage:",
            ),
        ] {
            let text = help(args);
            assert!(text.starts_with(first), "{args:?}:\n{text}");
            assert!(text.contains(flag), "{args:?}:\n{text}");
        }
        let parsed = Cli::try_parse_from(["cargo xtask", "setup", "--inexact", "media-service"]);
        let Command::Setup(Lazy(args)) = parsed.unwrap().command else {
            panic!("setup parses as setup");
        };
        assert!(args.env.inexact);
        assert_eq!(args.services, ["media-service"]);
    }
}
