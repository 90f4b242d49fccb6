//! `cargo xtask verify`: the whole gate, the seed's success criteria SC-001..SC-008 as jobs.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use crate::cmd::Cmd;
use crate::engine::gate::Gate;
use crate::engine::jobs::Job;
use crate::engine::memo::FileKey;
use crate::env::hadolint::{self, Hadolint};
use crate::env::interpreter::VERSION_FILE;
use crate::env::lock;
use crate::env::session::{self, Session};
use crate::env::venv::Venv;
use crate::flags::GateArgs;
use crate::fsutil;
use crate::project::{self, PYTHON_DIR};
use crate::workspace::blueprint::{self, Kind};
use crate::workspace::deploy;
use crate::workspace::{Package, Workspace};

/// SC-006: the tree has the seed's structure: its folders and files at the top of `python/`, and
/// every package its required parts. Structure only: the team owns the content.
fn seed_tree_job(ws: &Workspace) -> Job {
    let root = ws.root.clone();
    let python = root.join(PYTHON_DIR);
    let mut required: Vec<(std::path::PathBuf, String)> = Vec::new();
    let mut need = |path: std::path::PathBuf, what: &str| required.push((path, what.to_owned()));
    need(
        python.join("pyproject.toml"),
        "the shared tool configuration",
    );
    need(
        python.join(VERSION_FILE),
        "the Python version the venvs are built with",
    );
    for folder in [
        "apps",
        "libs",
        blueprint::E2E_TESTS_DIR,
        blueprint::DEPLOY_DIR,
    ] {
        need(python.join(folder), "a folder of the seed tree");
    }
    for service in blueprint::services() {
        if ws
            .packages
            .iter()
            .any(|p| p.rel == format!("{PYTHON_DIR}/{}", service.dir))
        {
            let dir = python.join(blueprint::DEPLOY_DIR).join(service.name());
            need(dir, "the service's deployment configuration");
        }
    }
    for package in &ws.packages {
        need(
            package.dir.join("README.md"),
            "the package's README (SC-005)",
        );
        need(package.dir.join("tests"), "the package's tests");
        for import in &package.layout.imports {
            if import.path.is_dir() {
                need(
                    import.path.join("py.typed"),
                    "PEP 561's marker: without it mypy ignores the package's types where it is installed",
                );
            }
        }
    }
    let count = required.len();
    let rerun = project::xtask_command(&root, &["verify"]);
    let services: Vec<String> = ws.services().map(|s| s.folder_name().to_owned()).collect();
    Job::check("tree (SC-006)", None, rerun, move || {
        let missing: Vec<String> = required
            .iter()
            .filter(|(path, _)| !path.exists())
            .map(|(path, what)| format!("missing {} ({what})", fsutil::display_rel(&root, path)))
            .collect();
        let mut problems = orphan_dockerfiles(&root, &services);
        if !missing.is_empty() {
            problems.push(format!(
                "{}\nfix: create them (`{}` writes the seed's own files that are missing)",
                missing.join("\n"),
                project::xtask_command(&root, &["scaffold"])
            ));
        }
        if problems.is_empty() {
            Ok(format!(
                "the {count} folders and files the tree needs are there, and each Dockerfile is a service's"
            ))
        } else {
            Err(problems.join("\n"))
        }
    })
}

/// The Dockerfiles under `python/deploy/` whose folder is no service's (`services`: their folder
/// names): no deploy job checks them, and a renamed service leaves its old one behind.
fn orphan_dockerfiles(root: &Path, services: &[String]) -> Vec<String> {
    let deploy = root.join(PYTHON_DIR).join(blueprint::DEPLOY_DIR);
    fsutil::entries(&deploy)
        .into_iter()
        .filter(|(path, name, meta)| {
            meta.is_dir() && path.join("Dockerfile").exists() && !services.contains(name)
        })
        .map(|(path, _, _)| {
            format!(
                "{} belongs to no service (the services: {}), so nothing checks it; move it to \
                 the folder of the service it builds, or remove it",
                fsutil::display_rel(root, &path.join("Dockerfile")),
                services.join(", ")
            )
        })
        .collect()
}

/// The paths [`gitignore_job`] asks git about, from the root: leftovers git must ignore, and
/// source files it must not.
fn gitignore_probes(ws: &Workspace) -> (Vec<String>, Vec<String>) {
    let root = &ws.root;
    // The editor files are this machine's (`cargo xtask ide`): ignored, never compared.
    let mut must_ignore: Vec<String> = vec![
        format!("{PYTHON_DIR}/.ruff_cache/x"),
        format!("{PYTHON_DIR}/pyrightconfig.json"),
        format!("{PYTHON_DIR}/{}", crate::commands::ide::WORKSPACE_FILE),
    ];
    // Source files no pattern may hide: the seed tree's, and a subpackage named like a build
    // leftover (only a package's own build/ and dist/ are leftovers).
    let mut sources: Vec<String> = vec![format!("{PYTHON_DIR}/pyproject.toml")];
    for package in &ws.packages {
        let rel = &package.rel;
        // Any package may own a venv (a library no service installs does).
        must_ignore.push(format!("{rel}/{}/pyvenv.cfg", Venv::DIR));
        must_ignore.push(format!("{rel}/{}", Venv::LOCK));
        must_ignore.push(format!("{rel}/.vscode/settings.json"));
        sources.push(format!("{rel}/pyproject.toml"));
        sources.push(format!("{rel}/README.md"));
        for import in &package.layout.imports {
            let path = fsutil::display_rel(root, &import.path);
            if import.path.is_dir() {
                sources.push(format!("{path}/__init__.py"));
                sources.push(format!("{path}/py.typed"));
            } else {
                sources.push(path);
            }
        }
        for leftover in [
            ".mypy_cache/x",
            ".pytest_cache/x",
            ".coverage",
            "build/x",
            "dist/x",
            "src/x.egg-info/PKG-INFO",
        ] {
            must_ignore.push(format!("{rel}/{leftover}"));
        }
        for import in package.layout.imports.iter().filter(|i| i.path.is_dir()) {
            let path = fsutil::display_rel(root, &import.path);
            must_ignore.push(format!("{path}/__pycache__/x.cpython-310.pyc"));
            sources.push(format!("{path}/build/x.py"));
            sources.push(format!("{path}/dist/x.py"));
        }
    }
    (must_ignore, sources)
}

/// SC-007: git ignores the venvs, caches and build leftovers, and no source file.
fn gitignore_job(ws: &Workspace) -> Job {
    let root = ws.root.clone();
    let (must_ignore, sources) = gitignore_probes(ws);
    let rerun = format!(
        "git -C {} check-ignore --no-index -v <path>",
        project::quote(&root.to_string_lossy())
    );
    let packages: Vec<String> = ws.packages.iter().map(|p| p.rel.clone()).collect();
    Job::check("gitignore (SC-007)", None, rerun, move || {
        let hit = ignored_by_gitignore(&root, &must_ignore)?;
        let mut problems: Vec<String> = must_ignore
            .iter()
            .filter(|p| !hit.contains(p))
            .map(|p| format!("not ignored by a .gitignore: {p}"))
            .collect();
        problems.extend(
            ignored_by_gitignore(&root, &sources)?
                .iter()
                .map(|p| format!("a source file is ignored: {p}")),
        );
        problems.extend(
            ignored_files_read(&root, &must_ignore, &packages)?
                .iter()
                .map(|p| format!("a file the tools read is ignored, so no commit holds it: {p}")),
        );
        problems.extend(tracked_but_ignored_here(&root)?.iter().map(|(path, rule)| {
            format!(
                "a tracked file is ignored by a rule no clone has ({rule}), so ruff skips it here and checks it in a clone: {path}"
            )
        }));
        if problems.is_empty() {
            Ok(format!(
                "{} leftovers ignored, {} source files not ignored, no file the tools read ignored",
                must_ignore.len(),
                sources.len()
            ))
        } else {
            Err(format!(
                "{}\nfix: the patterns in {} (or the .gitignore that `git -C {} check-ignore --no-index -v <path>` names); \
                 a rule in .git/info/exclude or a global excludes file is no clone's",
                problems.join("\n"),
                root.join(".gitignore").display(),
                project::quote(&root.to_string_lossy())
            ))
        }
    })
}

/// Those of `paths` (from the root) that a `.gitignore` of the repository ignores. Not
/// `.git/info/exclude` nor a global excludes file: a clone has neither, so a rule there is no
/// one's but this checkout's. git's own precedence tells which: a `.gitignore` rule that
/// matches decides over those files, so a path whose deciding rule is in another file is
/// ignored by no `.gitignore`.
fn ignored_by_gitignore(root: &Path, paths: &[String]) -> Result<Vec<String>, String> {
    Ok(matching_rules(root, paths)?
        .into_iter()
        .filter(|rule| is_repository_gitignore(&rule.source))
        .map(|rule| rule.path)
        .collect())
}

/// The rule that decides whether git ignores a path, as `git check-ignore --verbose` names it.
struct Rule {
    source: String,
    line: String,
    pattern: String,
    path: String,
}

/// The deciding rule of each of `paths` (from the root) that one matches, tracked or not
/// (`--no-index`).
fn matching_rules(root: &Path, paths: &[impl AsRef<str>]) -> Result<Vec<Rule>, String> {
    let out = Cmd::new("git")
        .arg("-C")
        .arg(root)
        .args(["check-ignore", "--no-index", "--verbose", "-z", "--stdin"])
        .stdin(crate::cmd::nul_separated(paths))
        .output()
        .map_err(|e| format!("{e:#}"))?;
    if !matches!(out.code, Some(0 | 1)) {
        return Err(format!(
            "git check-ignore failed (is {} a git repository?): {}",
            root.display(),
            out.output.trim()
        ));
    }
    // source NUL line NUL pattern NUL path NUL, for each path.
    let fields: Vec<&str> = out.output.split('\0').collect();
    Ok(fields
        .chunks(4)
        .filter(|f| f.len() == 4 && !f[0].is_empty())
        .map(|f| Rule {
            source: f[0].to_owned(),
            line: f[1].to_owned(),
            pattern: f[2].to_owned(),
            path: f[3].to_owned(),
        })
        .collect())
}

/// `git ls-files -z FLAGS -- python/`: the paths it lists, from the root.
fn ls_files(root: &Path, flags: &[&str]) -> Result<Vec<String>, String> {
    let args = [&["ls-files", "-z"], flags, &["--", PYTHON_DIR]].concat();
    crate::cmd::git_paths(root, &args, "is the root a git repository?")
        .map_err(|e| format!("{e:#}"))
}

/// The files ruff checks, found by walking the folders (and so skipped where git ignores them).
const RUFF_SOURCES: &[&str] = &[".py", ".pyi", ".ipynb"];

/// The files under `python/` that git tracks and that a rule of this machine's ignores
/// (`.git/info/exclude`, the global excludes file), each with the rule (`source:line:
/// pattern`): ruff skips what git ignores, whether tracked or not, so they pass here unchecked
/// and are checked in every clone, which has none of those rules.
fn tracked_but_ignored_here(root: &Path) -> Result<Vec<(String, String)>, String> {
    let listed = ls_files(root, &["--cached", "--ignored", "--exclude-standard"])?;
    // What ruff finds by walking (its sources); what else is ignored, it never read anyway (a
    // global `.python-version` rule, README files).
    let tracked: Vec<&str> = listed
        .iter()
        .map(String::as_str)
        .filter(|p| RUFF_SOURCES.iter().any(|ext| p.ends_with(ext)))
        .collect();
    if tracked.is_empty() {
        return Ok(Vec::new());
    }
    Ok(matching_rules(root, &tracked)?
        .into_iter()
        .filter(|rule| !is_repository_gitignore(&rule.source))
        .map(|r| (r.path, format!("{}:{}: {}", r.source, r.line, r.pattern)))
        .collect())
}

/// Whether a rule's source (as `check-ignore --verbose` names it) is a `.gitignore` in the
/// repository: a relative path. A global excludes file is named by its absolute path, even one
/// called `~/.gitignore`.
fn is_repository_gitignore(source: &str) -> bool {
    let relative = !Path::new(source).is_absolute();
    relative && source.rsplit('/').next() == Some(".gitignore")
}

/// The files under `python/` that the tools read (the keys' walk: what lies beside the venvs
/// and caches) and that git ignores by a `.gitignore` without holding them: a module under a
/// folder a rule names (`lib/`) passes in place and is missing from every clone. Not those that
/// must be ignored (`expected`: the editor files) nor the build leftovers of `packages` (their
/// folders, from the root).
fn ignored_files_read(
    root: &Path,
    expected: &[String],
    packages: &[String],
) -> Result<Vec<String>, String> {
    // `--directory`: an ignored folder once (`.venv/`), not its thousands of files.
    let flags = [
        "--others",
        "--ignored",
        "--directory",
        "--exclude-per-directory=.gitignore",
    ];
    // Files, and folders ending in `/`.
    let ignored = ls_files(root, &flags)?;
    if ignored.is_empty() {
        return Ok(Vec::new());
    }
    let is_ignored = |rel: &str| {
        ignored
            .iter()
            .any(|i| rel == *i || (i.ends_with('/') && rel.starts_with(i)))
    };
    let python = root.join(PYTHON_DIR);
    let tree = crate::digest::tree_listing(&python, &crate::workspace::tool_roots(root));
    Ok(tree
        .files
        .iter()
        .map(|f| format!("{PYTHON_DIR}/{}", f.rel))
        .filter(|rel| is_ignored(rel))
        .filter(|rel| !expected.contains(rel) && !in_build_leftover(rel, packages))
        .collect())
}

/// Whether `rel` lies in a package's build leftovers ([`crate::leftovers::is_build_leftover`]),
/// which the tools' walk counts (a tool may read them) and git rightly ignores: a `build/` or
/// `dist/` at the top of a package's folder (`packages`: those folders, from the root), an
/// `*.egg-info` anywhere.
fn in_build_leftover(rel: &str, packages: &[String]) -> bool {
    let mut folder = String::new();
    for part in rel.split('/') {
        let at_top = packages.contains(&folder);
        if crate::leftovers::is_build_leftover(part, true)
            && (at_top || part.ends_with(".egg-info"))
        {
            return true;
        }
        if !folder.is_empty() {
            folder.push('/');
        }
        folder.push_str(part);
    }
    false
}

/// SC-005: the package README names the commands that set it up and test it.
fn readme_job(ws: &Workspace, package: &Package) -> Job {
    let readme = package.dir.join("README.md");
    let rel = format!("{}/README.md", package.rel);
    let name = package.folder_name().to_owned();
    let rerun = project::xtask_command(&ws.root, &["verify", "--package", &name]);
    let mut known: Vec<String> = ws
        .packages
        .iter()
        .flat_map(|p| [p.folder_name().to_owned(), p.name.clone()])
        .collect();
    known.dedup();
    Job::check(
        "readme (SC-005)",
        Some(package.folder_name()),
        rerun,
        move || {
            let text = std::fs::read_to_string(&readme)
                .map_err(|e| format!("{name}: cannot read {rel}: {e}"))?;
            let commands = readme_commands(&text);
            let wrong: Vec<String> = commands
                .iter()
                .filter_map(|(line, words)| {
                    command_problem(words, &known).map(|why| format!("{rel}:{line}: {why}"))
                })
                .collect();
            if !wrong.is_empty() {
                return Err(wrong.join("\n"));
            }
            let names = |first: &str| commands.iter().any(|(_, w)| w[0].starts_with(first));
            let mut missing = Vec::new();
            if !names("setup") {
                missing.push("the setup command (`cargo xtask setup...`)");
            }
            if !names("test") {
                missing.push("the test command (`cargo xtask test`)");
            }
            if missing.is_empty() {
                Ok(format!(
                    "{rel} names the setup and test commands, and each of its {} `cargo xtask` commands is one",
                    commands.len()
                ))
            } else {
                Err(format!(
                    "{name}: {rel} does not name {}",
                    missing.join(" nor ")
                ))
            }
        },
    )
}

/// Every `cargo xtask ...` command in a README (in a code block or in backticks), with its line
/// number: its words after `cargo xtask`, up to a `#` comment or the closing backtick.
fn readme_commands(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    for (number, line) in text.lines().enumerate() {
        for (at, _) in line.match_indices("cargo xtask ") {
            let rest = &line[at + "cargo xtask ".len()..];
            let rest = rest.split('`').next().unwrap_or(rest);
            let words: Vec<String> = rest
                .split_whitespace()
                .take_while(|w| !w.starts_with('#'))
                .map(str::to_owned)
                .collect();
            if !words.is_empty() {
                out.push((number + 1, words));
            }
        }
    }
    out
}

/// Why a README's command (`words` after `cargo xtask`) would not run: not a command of this
/// xtask (as its own parser reads it), or a `--package` that names no package (`known`: every
/// package's folder and distribution name; a `<placeholder>` is left alone).
fn command_problem(words: &[String], known: &[String]) -> Option<String> {
    use clap::Parser;
    let shown = format!("`cargo xtask {}`", words.join(" "));
    let parsed = crate::flags::Cli::try_parse_from(
        std::iter::once("xtask").chain(words.iter().map(String::as_str)),
    );
    let shows_text = |e: &clap::Error| {
        matches!(
            e.kind(),
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
        )
    };
    if let Err(e) = parsed.as_ref()
        && !shows_text(e)
    {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        let first = first.trim_start_matches("error: ");
        return Some(format!("{shown} is no command of this xtask: {first}"));
    }
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        let named = match word.as_str() {
            "-p" | "--package" => rest.next().map(String::as_str),
            w => w.strip_prefix("--package="),
        };
        let exists = |named: &str| {
            named.starts_with('<')
                || known
                    .iter()
                    .any(|k| *k == named || *k == crate::workspace::normalize(named))
        };
        if let Some(named) = named.filter(|n| !exists(n)) {
            return Some(format!(
                "{shown} names no package: {named} (the packages: {})",
                known.join(", ")
            ));
        }
    }
    None
}

/// The selected services whose Dockerfile exists (`python/deploy/<service>/Dockerfile`): each
/// gets a `deploy` job.
fn deployables<'a>(gate: &Gate<'a>) -> Vec<&'a Package> {
    gate.selection
        .packages
        .iter()
        .copied()
        .filter(|p| p.kind == Kind::Service)
        .filter(|p| deploy::dockerfile(&gate.ws.root, p.folder_name()).is_file())
        .collect()
}

/// Everything the `deploy` job of `service` reads, for its remembered pass: the Dockerfile, every
/// place a `.hadolint.yaml` is looked for (which one counts depends on which exist), the
/// service's pyproject (its command) and its runtime lock, hadolint's version; the check's own
/// is the xtask's build, in every key (see `own_binary`).
fn deploy_inputs(ws: &Workspace, service: &Package) -> FileKey {
    let name = service.folder_name();
    let mut files = vec![
        (
            "the Dockerfile".to_owned(),
            deploy::dockerfile(&ws.root, name),
        ),
        (format!("the pyproject of {name}"), service.pyproject()),
        (
            "the tree's Python version".to_owned(),
            ws.root
                .join(PYTHON_DIR)
                .join(crate::env::interpreter::VERSION_FILE),
        ),
        (
            format!("the lock of {name}"),
            service.dir.join(lock::RUNTIME),
        ),
    ];
    for path in hadolint::config_candidates(&ws.root, name) {
        files.push((fsutil::display_rel(&ws.root, &path), path));
    }
    FileKey {
        files,
        fixed: vec![("hadolint".to_owned(), hadolint::VERSION.to_owned())],
    }
}

/// `deploy <service>`: the service's Dockerfile still matches the service (its runtime lock is
/// there; it copies only what dist's build context holds; it runs the service's command), and
/// hadolint passes on it with the team's configuration. Remembered by [`deploy_inputs`]: two
/// hadolint runs were most of a no-op verify's time.
fn deploy_job(ws: &Workspace, service: &Package, hadolint: &Hadolint) -> Job {
    let name = service.folder_name().to_owned();
    let path = deploy::dockerfile(&ws.root, &name);
    let rel = fsutil::display_rel(&ws.root, &path);
    let lock = service.dir.join(lock::RUNTIME);
    let lock_rel = fsutil::display_rel(&ws.root, &lock);
    let config = hadolint::team_config(&ws.root, &name);
    let config_rel = config.as_ref().map(|c| fsutil::display_rel(&ws.root, c));
    let cmd = hadolint.command(&ws.root, &rel, config.as_deref());
    let shown = cmd.display();
    let shown_again = shown.clone();
    let fix_lock = project::xtask_command(&ws.root, &["lock", &name]);
    let rerun = project::xtask_command(&ws.root, &["verify", "--package", &name]);
    let package = service.clone();
    let root = ws.root.clone();
    let mut job = Job::check("deploy", Some(service.folder_name()), rerun, move || {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {rel}: {e}; fix it, or remove it"))?;
        let mut problems = Vec::new();
        if !lock.is_file() {
            problems.push(format!(
                "{rel}: the image installs {name}'s runtime lock, and {lock_rel} is missing; \
                 run {fix_lock}"
            ));
        }
        // Against the Python and uv dist checks the deployable with, which the image's must be.
        problems.extend(crate::commands::dist::dockerfile_problems(
            &root, &package, &rel, &text,
        ));
        let out = cmd.output().map_err(|e| format!("{e:#}"))?;
        let using = config_rel.as_deref().unwrap_or("no .hadolint.yaml");
        if hadolint::config_error(&out.output) {
            problems.push(format!(
                "{}: hadolint cannot read it, and would go on without it:\n{}",
                using,
                out.output.trim()
            ));
        } else if !out.success() {
            problems.push(format!(
                "{}\nhadolint {} ({using}) found the above; fix them, or ignore a rule in a \
                 .hadolint.yaml (python/deploy/{name}/, python/ or the root: the nearest counts) \
                 or on its line (`# hadolint ignore=DL3007`); hadolint alone: {shown}",
                out.output.trim(),
                hadolint::VERSION
            ));
        }
        if problems.is_empty() {
            Ok(format!(
                "{rel} matches {name}, and hadolint {} ({using}) finds nothing",
                hadolint::VERSION
            ))
        } else {
            Err(problems.join("\n"))
        }
    });
    job.command = shown_again;
    job
}

pub fn run(root: &Path, args: &GateArgs) -> Result<()> {
    let started = Instant::now();
    let ws = Workspace::load(root)?;
    let gate = Gate::new(&ws, args)?;
    // SC-001: both environments up to date (or, with --no-setup, an error when one is not).
    let (venvs, _locks) = gate.prepare()?;
    if gate.selection.all {
        crate::commands::test::say_e2e(&ws);
    }
    let mut jobs = vec![seed_tree_job(&ws), gitignore_job(&ws)];
    // Each service's Dockerfile, once there: hadolint is installed only then.
    let deployables = if gate.holds(None) {
        deployables(&gate)
    } else {
        Vec::new()
    };
    if let Some(first) = deployables.first() {
        let hadolint = Session::new(&ws, &args.env)?.pinned_hadolint(first)?;
        for service in deployables {
            let job = deploy_job(&ws, service, &hadolint);
            let memo = gate.check_memo(&job, deploy_inputs(&ws, service));
            jobs.push(job.remembered(memo));
        }
    }
    // SC-002, SC-003, SC-008: editable from source, both libraries importable, isolation.
    for service in &venvs {
        let venv = Venv::of(service);
        let cmd = session::post_check_cmd(&ws, service, &venv)?;
        let job = Job::command(
            crate::engine::gate::ENVIRONMENT,
            Some(service.folder_name()),
            Some(service.folder_name()),
            cmd,
            project::xtask_command(&ws.root, &["verify", "-p", service.folder_name()]),
        )
        .before(move || session::forget_post_check_bytecode(&venv));
        // Remembered by the same inputs as a tool job that reads the whole install set.
        jobs.push(gate.remembered(job, service, &ws.closure(service)?, None));
    }
    for package in &gate.selection.packages {
        jobs.push(readme_job(&ws, package));
    }
    // SC-004: lint and test.
    jobs.extend(gate.ruff_jobs());
    jobs.extend(gate.imports_jobs());
    jobs.extend(gate.mypy_jobs());
    jobs.extend(gate.pytest_jobs(&crate::engine::gate::Focus::default()));
    // The CI workflow, once there: what `cargo xtask ci` writes (its validators run with
    // `ci --check`, not here: they take a second).
    if ws.root.join(crate::commands::ci::workflow::PATH).is_file() {
        let verdict = crate::commands::ci::check(&ws.root).map_err(|e| format!("{e:#}"));
        let rerun = project::xtask_command(&ws.root, &["ci", "--check"]);
        jobs.push(Job::check("ci workflow", None, rerun, move || verdict));
    }
    gate.run("verify", jobs, started)
}
