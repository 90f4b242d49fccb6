//! The pre-commit hook: ruff's checks (`ruff check`, `ruff format --check`) on what the commit
//! will hold, for the packages with staged changes, never on the work tree.
//!
//! `git checkout-index` writes the index's copy of `python/`, and of the files above it that ruff
//! reads (its configuration, the ignore files), to a temporary folder outside the work tree, laid
//! out as in the repository; ruff runs there with `--no-cache`, from the folder that stands for
//! the root, so the paths it prints are the repository's (`python/...`). The work tree and the
//! index are only read: a partial stage (`git add -p`) is judged as it will be committed, and no
//! stash, checkout or restore can lose or touch work.
//!
//! Why all of `python/` and not the staged files alone: ruff tells first-party imports from the
//! folders its `src` setting names, so a package's import order depends on the other packages'
//! files. Why a folder and not `ruff --stdin-filename` per file: one ruff process per tool rather
//! than per file, and ruff finds its configuration and its excludes as it does in the repository.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::{checked, gate_args, untrimmed};
use crate::cmd::Cmd;
use crate::engine::gate::Gate;
use crate::engine::jobs::Job;
use crate::engine::outside;
use crate::env::lock;
use crate::env::session::{Session, State};
use crate::env::venv::{LockMode, Venv, VenvLock};
use crate::flags::EnvArgs;
use crate::output::say;
use crate::project::{self, PYTHON_DIR};
use crate::workspace::{Package, Workspace};

/// The files above `python/` that ruff reads, at every level from the repository's top down to
/// the root: its configuration, and the ignore files it honours; and `.gitattributes`, by which
/// a checkout writes the files ruff reads (`eol=crlf`).
const READ_ABOVE: &[&str] = &[
    "pyproject.toml",
    "ruff.toml",
    ".ruff.toml",
    ".gitignore",
    ".ignore",
    ".gitattributes",
];

/// The repository the root is in, and the index the commit is made from.
struct Repo {
    top: PathBuf,
    /// The root's path from the top: `""`, or `sub/dir/`.
    prefix: String,
    /// `GIT_INDEX_FILE`, absolute: `git commit -a` and `git commit PATH` make their commit from an
    /// index of their own, and git names it to the hook relative to the folder the hook starts in
    /// (the top), so a git command run from the root would read another file.
    index: Option<PathBuf>,
}

impl Repo {
    fn of(root: &Path) -> Result<Repo> {
        let top = super::git(root, &["rev-parse", "--show-toplevel"])
            .context("the pre-commit hook needs a git repository")?;
        let prefix = super::git(root, &["rev-parse", "--show-prefix"])?;
        let index = std::env::var_os("GIT_INDEX_FILE")
            .filter(|f| !f.is_empty())
            .map(|f| {
                let file = PathBuf::from(f);
                match std::env::current_dir() {
                    Ok(cwd) if file.is_relative() => cwd.join(file),
                    _ => file,
                }
            });
        Ok(Repo {
            top: PathBuf::from(top),
            prefix,
            index,
        })
    }

    /// Whether the commit is made from an index of its own (`git commit -a`, `git commit PATH`:
    /// `index.lock`, `next-index-*.lock`), not the repository's `index`: a check run again later
    /// reads the repository's, which holds less.
    fn own_index(&self) -> bool {
        self.index
            .as_ref()
            .and_then(|i| i.file_name())
            .is_some_and(|name| name != "index")
    }

    /// `git -C dir`, reading the commit's index.
    fn git(&self, dir: &Path) -> Cmd {
        let cmd = Cmd::new("git").arg("-C").arg(dir);
        match &self.index {
            Some(index) => cmd.env("GIT_INDEX_FILE", index),
            None => cmd,
        }
    }

    /// The staged paths under the root, relative to it: added, changed and deleted, and both
    /// sides of a move (so both packages count).
    fn staged(&self, root: &Path) -> Result<Vec<String>> {
        self.staged_names(root, &["--relative"])
    }

    /// The staged paths under the root that are added or deleted (a move is both).
    fn added_or_deleted(&self, root: &Path) -> Result<Vec<String>> {
        self.staged_names(root, &["--relative", "--diff-filter=AD"])
    }

    /// Whether a file of ruff's configuration in the work tree is not the index's: changed or
    /// deleted and not staged, or there and not in the index. The configuration under `python/`,
    /// and `outside` (pathspecs from the top: what the work tree's configuration reads outside
    /// it). Not a configuration file that git ignores: looking for one would walk every venv.
    fn configuration_differs(&self, root: &Path, outside: &[String]) -> Result<bool> {
        let mut cmd =
            self.git(root)
                .args(["status", "--porcelain", "-z", "--untracked-files=all", "--"]);
        for name in outside::RUFF_CONFIGS {
            cmd = cmd.arg(format!(":(glob){PYTHON_DIR}/**/{name}"));
        }
        cmd = cmd.args(outside);
        Ok(!untrimmed(cmd)?.is_empty())
    }

    /// The first staged path among `specs` (pathspecs from the top), if any.
    fn staged_at(&self, specs: &[String]) -> Result<Option<String>> {
        if specs.is_empty() {
            return Ok(None);
        }
        let mut args = vec!["--"];
        args.extend(specs.iter().map(String::as_str));
        Ok(self.staged_names(&self.top, &args)?.into_iter().next())
    }

    /// What `git diff --cached --name-only` run in `dir` with `args` lists: moves as a deletion
    /// and an addition, names as they are (`-z`).
    fn staged_names(&self, dir: &Path, args: &[&str]) -> Result<Vec<String>> {
        let cmd = self
            .git(dir)
            .args(["diff", "--cached", "--name-only", "-z", "--no-renames"])
            .args(args);
        let listed = untrimmed(cmd)?;
        Ok(listed
            .split('\0')
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect())
    }
}

/// What the hook checks: the packages with staged changes; with `shared` (a staged file under
/// `python/` in no package: the shared configuration, `conftest.py`, a new package's files; a
/// file at the root that ruff reads, [`READ_ABOVE`]; or a file added or deleted anywhere under
/// `python/`: ruff calls an import first-party by the folders and files in its `src` roots, the
/// other packages' folders among them), all of `python/`, since every package is concerned.
struct Targets<'a> {
    packages: Vec<&'a Package>,
    shared: Option<String>,
}

fn targets<'a>(ws: &'a Workspace, staged: &[String], added_or_deleted: &[String]) -> Targets<'a> {
    let in_package = |file: &str, p: &Package| file.starts_with(&format!("{}/", p.rel));
    let under_python = |f: &String| f.starts_with(&format!("{PYTHON_DIR}/"));
    // A package's ruff configuration is shared too: another package's may `extend` it.
    let is_config = |f: &str| {
        let name = f.rsplit('/').next().unwrap_or(f);
        outside::RUFF_CONFIGS.contains(&name)
    };
    let shared = staged
        .iter()
        .find(|f| {
            (under_python(f) && !ws.packages.iter().any(|p| in_package(f, p)))
                || (under_python(f) && is_config(f))
                || READ_ABOVE.contains(&f.as_str())
        })
        .or_else(|| added_or_deleted.iter().find(|f| under_python(f)))
        .cloned();
    let packages = ws
        .packages
        .iter()
        .filter(|p| shared.is_some() || staged.iter().any(|f| in_package(f, p)))
        .collect();
    Targets { packages, shared }
}

/// `cargo xtask hooks run pre-commit`.
pub fn pre_commit(root: &Path) -> Result<()> {
    let started = Instant::now();
    let repo = Repo::of(root)?;
    let staged = repo.staged(root)?;
    let ws = Workspace::load(root)?;
    let mut targets = targets(&ws, &staged, &repo.added_or_deleted(root)?);
    // What ruff reads outside python/ that the commit holds: exported with it, and a staged
    // change there concerns every package.
    let outside = outside::repo_pathspecs(root);
    concern_every_package_if_staged(&mut targets, &ws, &repo, &outside)?;
    let nothing = |t: &Targets| t.packages.is_empty() && t.shared.is_none();
    // The list of what ruff reads outside python/ comes from the work tree's configuration: it
    // is the commit's only while no configuration differs from the index.
    if nothing(&targets) && !repo.configuration_differs(root, &outside)? {
        say("pre-commit: nothing ruff reads is staged (nothing under python/)");
        return Ok(());
    }
    let export = Export::new(&repo, &outside)?;
    let staged_reads = export.copy_what_the_staged_configuration_reads(&repo, &outside)?;
    concern_every_package_if_staged(&mut targets, &ws, &repo, &staged_reads)?;
    if nothing(&targets) {
        say("pre-commit: nothing ruff reads is staged (the staged configuration reads none of it)");
        return Ok(());
    }
    add_linking_packages(&mut targets, &ws, &export.root);
    match &targets.shared {
        Some(file) => say(format!(
            "pre-commit: the staged python/ ({file} is staged and concerns every package)"
        )),
        None => say("pre-commit: the staged content of the packages with staged changes"),
    }
    let names = targets.packages.iter().map(|p| p.name.clone()).collect();
    let args = gate_args(names);
    let gate = Gate::new(&ws, &args)?;
    let (venv, _lock) = ruff_venv(&gate, &args.env)?;
    same_ruff(root, &export, venv)?;
    let jobs = ruff_jobs(&gate, &export, venv, &targets, repo.own_index());
    gate.run("pre-commit", jobs, started)
}

/// Adds every package whose staged files hold a symlink that leads into a target's folder (in
/// the copy, as the commit holds them): ruff checks the file there under the linking package's
/// configuration too. A link is followed in the copy and, from the same place, in the work tree
/// (an absolute link leads there, and a relative one through a folder outside `python/`, which
/// the copy lacks). Followed until none is added (a link into a package added so).
fn add_linking_packages<'a>(targets: &mut Targets<'a>, ws: &'a Workspace, copy: &Path) {
    loop {
        let into: Vec<PathBuf> = targets
            .packages
            .iter()
            .flat_map(|p| [copy.join(&p.rel), p.dir.clone()])
            .filter_map(|dir| fs::canonicalize(dir).ok())
            .collect();
        let places = Places {
            copy,
            work: &ws.root,
            into: &into,
        };
        let added: Vec<&Package> = ws
            .packages
            .iter()
            .filter(|p| !targets.packages.iter().any(|t| t.name == p.name))
            .filter(|p| places.links_into(Path::new(&p.rel)))
            .collect();
        if added.is_empty() {
            return;
        }
        targets.packages.extend(added);
    }
}

/// Where [`add_linking_packages`] follows links: the copy and the work tree (roots standing for
/// the same folder), and the folders (canonical) a link may lead into.
struct Places<'p> {
    copy: &'p Path,
    work: &'p Path,
    into: &'p [PathBuf],
}

impl Places<'_> {
    /// Whether a symlink below `rel` (from the root) in the copy leads into one of the folders.
    fn links_into(&self, rel: &Path) -> bool {
        crate::fsutil::kinds(&self.copy.join(rel))
            .into_iter()
            .any(|(_, name, kind)| {
                let rel = rel.join(name);
                if kind.is_symlink() {
                    [self.copy.join(&rel), self.work.join(&rel)]
                        .iter()
                        .filter_map(|link| fs::canonicalize(link).ok())
                        .any(|real| self.into.iter().any(|f| real.starts_with(f)))
                } else {
                    kind.is_dir() && self.links_into(&rel)
                }
            })
    }
}

/// Every package becomes a target when a file at `specs` (pathspecs from the top: what ruff
/// reads outside `python/`) is staged, and none concerned every package yet.
fn concern_every_package_if_staged<'a>(
    targets: &mut Targets<'a>,
    ws: &'a Workspace,
    repo: &Repo,
    specs: &[String],
) -> Result<()> {
    if targets.shared.is_none()
        && let Some(file) = repo.staged_at(specs)?
    {
        targets.packages = ws.packages.iter().collect();
        targets.shared = Some(file);
    }
    Ok(())
}

/// The venv ruff runs in: the one `lint` of the same packages runs it in (the first venv of the
/// selection), set up if it needs to be (nothing to do when it is fresh: no file is written),
/// and held shared while ruff runs. The packages' other venvs are left alone: ruff is all the
/// hook runs.
fn ruff_venv<'a>(gate: &Gate<'a>, env: &EnvArgs) -> Result<(&'a Package, VenvLock)> {
    let Some(owner) = gate.needed_venvs().first().copied() else {
        bail!(
            "no package under {}: ruff runs in a package's venv; add one (see `cargo xtask scaffold`)",
            gate.ws.root.join(PYTHON_DIR).display()
        );
    };
    let name = owner.folder_name();
    if owner.missing_tools().contains(&"ruff") {
        bail!(
            "{}/pyproject.toml: the dev tools of {name} lack ruff, which the pre-commit hook runs in its venv; add it to [dependency-groups] dev",
            owner.rel
        );
    }
    let session = Session::new(gate.ws, env)?;
    for _attempt in 0..3 {
        session.setup(owner)?;
        let lock = Venv::of(owner).lock(LockMode::Shared, name)?;
        // Another setup may have changed it between the two.
        if matches!(session.state(owner)?, State::Fresh) {
            return Ok((owner, lock));
        }
    }
    bail!(
        "{name}: its venv kept changing while the pre-commit hook waited to run ruff: is another setup running in a loop?"
    )
}

/// `ruff check` and `ruff format --check` on the exported copy, from the folder that stands for
/// the root. Never remembered, and `--no-cache`: no earlier answer stands in for this content.
fn ruff_jobs(
    gate: &Gate<'_>,
    export: &Export,
    venv: &Package,
    targets: &Targets<'_>,
    own_index: bool,
) -> Vec<Job> {
    // The venv's ruff executable itself when it is there: a Python start-up less per job, most
    // of the hook's time.
    let ruff = || Venv::of(venv).ruff();
    let rerun = gate.xtask(&["hooks", "run", "pre-commit"]);
    // A shell comment after the command: what fixes it, and how the index came to be.
    let rerun_of = |label: &str| {
        let fmt = match targets.shared {
            Some(_) => gate.xtask(&["fmt"]),
            None => gate.xtask(&["fmt", "-p", label]),
        };
        let mut line = format!(
            "{rerun}  # what ruff can fix: {fmt} in the work tree, then stage it \
             (`git add -p` keeps a partial stage)"
        );
        if own_index {
            line += "; `git commit -a` or `git commit PATH` made the index this check read";
        }
        line
    };
    let paths: Vec<(&str, &str)> = match targets.shared {
        Some(_) => vec![("python/", PYTHON_DIR)],
        None => targets
            .packages
            .iter()
            .map(|p| (p.folder_name(), p.rel.as_str()))
            .collect(),
    };
    let mut jobs = Vec::new();
    for (label, rel) in paths {
        if !export.root.join(rel).exists() {
            say(format!(
                "pre-commit: {rel} is not in the index (its removal is staged): nothing to check there"
            ));
            continue;
        }
        let tools: [(&'static str, &[&str]); 2] = [
            ("ruff check", &["check", "--no-cache"]),
            ("ruff format", &["format", "--check", "--no-cache"]),
        ];
        for (tool, args) in tools {
            let cmd = ruff().args(args).arg(rel).cwd(&export.root);
            let mut job = Job::command(
                tool,
                Some(label),
                Some(venv.folder_name()),
                cmd,
                rerun_of(label),
            );
            job.command += "  # in a copy of the staged files, removed when the hook ends";
            jobs.push(job);
        }
    }
    jobs
}

/// The venv runs the ruff that the work tree's lock pins. When the staged lock pins another, the
/// verdict would not be the commit's: say so rather than judge with the wrong ruff.
fn same_ruff(root: &Path, export: &Export, owner: &Package) -> Result<()> {
    let rel = format!("{}/{}", owner.rel, lock::DEV);
    let ruff_pins = |body: &str| -> Vec<String> {
        lock::pins(body)
            .into_iter()
            .filter(|pin| {
                let name = pin.split("==").next().unwrap_or_default().trim();
                name.eq_ignore_ascii_case("ruff")
            })
            .collect()
    };
    let staged = fs::read_to_string(export.root.join(&rel));
    let here = fs::read_to_string(root.join(&rel));
    let (Ok(staged), Ok(here)) = (staged, here) else {
        return Ok(());
    };
    let (staged, here) = (ruff_pins(&staged), ruff_pins(&here));
    if staged != here {
        bail!(
            "{rel}: the staged lock pins {}, the working tree's {} (what the venv of {} runs): ruff's verdict would not be the commit's; \
             stage the working tree's lock (`git add {}`), or make the working tree's the staged one and run `{}`",
            staged.join(", "),
            here.join(", "),
            owner.folder_name(),
            project::quote(&rel),
            project::xtask_command(root, &["setup", owner.folder_name()])
        );
    }
    Ok(())
}

/// A temporary folder outside the work tree ([`export_base`]) with the index's copy of `python/`
/// and of the files above it that ruff reads, laid out as in the repository; removed when dropped
/// (a symlink in it is removed, never followed).
struct Export {
    dir: PathBuf,
    /// The folder that stands for the root.
    root: PathBuf,
}

impl Drop for Export {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Export {
    /// The index's copy of `python/`, of the files above it that ruff reads, and of `outside`
    /// (pathspecs from the top: what `python/` reads elsewhere in the repository).
    fn new(repo: &Repo, outside: &[String]) -> Result<Export> {
        let dir = fresh_dir(&export_base(repo)?)?;
        let root = match repo.prefix.as_str() {
            "" => dir.clone(),
            prefix => dir.join(prefix),
        };
        let export = Export { root, dir };
        // Literal pathspecs: a folder's name may hold `*` or `[`.
        let mut specs = vec![format!(":(literal){}{PYTHON_DIR}/", repo.prefix)];
        for level in levels(&repo.prefix) {
            for name in READ_ABOVE {
                specs.push(format!(":(literal){level}{name}"));
            }
        }
        specs.extend(outside.iter().cloned());
        export.copy(repo, &specs)?;
        #[cfg(unix)]
        relink_into_the_copy(&export.dir, &repo.top, &export.dir);
        // ruff applies .gitignore only inside a git work tree: a `.git` marks the copy as one, so
        // a tracked file that an ignore file names is skipped there as in the repository.
        let marker = export.dir.join(".git");
        fs::create_dir_all(&marker)
            .with_context(|| format!("cannot create {}", marker.display()))?;
        Ok(export)
    }

    /// Writes the index's files at `specs` (pathspecs from the top) into the copy.
    fn copy(&self, repo: &Repo, specs: &[String]) -> Result<()> {
        let listed = untrimmed(
            repo.git(&repo.top)
                .args(["ls-files", "-z", "--"])
                .args(specs),
        )
        .context("cannot list the staged files")?;
        // An entry added with `git add -N` is in the index but not in the commit (git writes it
        // out as an empty file): the work tree's diff with the index shows exactly those as added.
        let intent_to_add = untrimmed(
            repo.git(&repo.top)
                .args([
                    "diff",
                    "--name-only",
                    "-z",
                    "--no-renames",
                    "--diff-filter=A",
                    "--",
                ])
                .args(specs),
        )
        .context("cannot list the files added with `git add -N`")?;
        let intent_to_add: Vec<&str> = intent_to_add
            .split('\0')
            .filter(|p| !p.is_empty())
            .collect();
        let listed: Vec<&str> = listed
            .split('\0')
            .filter(|p| !p.is_empty() && !intent_to_add.contains(p))
            .collect();
        // Files with the skip-worktree bit (a sparse checkout) are committed all the same. The
        // copy stands for the work tree: git takes the attributes by which it writes each file
        // (`eol=crlf`, filters) from the work tree's `.gitattributes` first, which may not be
        // the staged one (edited, unstaged, untracked); in the copy, only the index's are.
        let write = repo
            .git(&repo.top)
            .arg("--work-tree")
            .arg(&self.dir)
            .args([
                "checkout-index",
                "-z",
                "--stdin",
                "--ignore-skip-worktree-bits",
            ])
            .arg(format!("--prefix={}/", self.dir.display()))
            .stdin(crate::cmd::nul_separated(&listed));
        checked(write).context("cannot write the staged files to a temporary folder")?;
        Ok(())
    }

    /// What the staged configuration reads outside `python/` that `known` (found in the work
    /// tree) lacks, copied in too: the work tree's configuration may name other places than the
    /// one the commit holds (a `src` folder or an `extend` staged and not saved). Followed until
    /// nothing new is found (an extended file may extend another).
    fn copy_what_the_staged_configuration_reads(
        &self,
        repo: &Repo,
        known: &[String],
    ) -> Result<Vec<String>> {
        let mut added: Vec<String> = Vec::new();
        for _ in 0..8 {
            let new: Vec<String> = outside::pathspecs_under(&self.dir, &self.root)
                .into_iter()
                .filter(|spec| !known.contains(spec) && !added.contains(spec))
                .collect();
            if new.is_empty() {
                break;
            }
            self.copy(repo, &new)?;
            added.extend(new);
        }
        Ok(added)
    }
}

/// Points every symlink below `dir` in the copy (`copy`, standing for the repository's `top`)
/// that leads into the repository at the same place in the copy: ruff, which follows it, then
/// reads the staged file, not the work tree's (an absolute link), and finds it at all (a
/// relative link through a folder outside `python/`, which the copy lacks). A link that leads
/// into the copy stays; for another, where it leads is read from the same link in the work tree
/// (the copy's dangles), else from its own absolute target; one leading elsewhere stays.
#[cfg(unix)]
fn relink_into_the_copy(dir: &Path, top: &Path, copy: &Path) {
    let real_top = fs::canonicalize(top).unwrap_or_else(|_| top.to_path_buf());
    let real_copy = fs::canonicalize(copy).unwrap_or_else(|_| copy.to_path_buf());
    relink_below(dir, &[top, &real_top], (copy, &real_copy));
}

#[cfg(unix)]
fn relink_below(dir: &Path, tops: &[&Path; 2], (copy, real_copy): (&Path, &Path)) {
    for (path, _, kind) in crate::fsutil::kinds(dir) {
        if kind.is_dir() {
            relink_below(&path, tops, (copy, real_copy));
            continue;
        }
        let Ok(rel) = path.strip_prefix(copy) else {
            continue;
        };
        if !kind.is_symlink() {
            continue;
        }
        // The staged link already leads into the copy: as it is.
        if fs::canonicalize(&path).is_ok_and(|real| real.starts_with(real_copy)) {
            continue;
        }
        let in_work_tree = fs::canonicalize(tops[0].join(rel)).ok();
        let target = in_work_tree.or_else(|| fs::read_link(&path).ok().filter(|t| t.is_absolute()));
        let inside = target.as_deref().and_then(|t| {
            tops.iter()
                .find_map(|top| t.strip_prefix(top).ok())
                .map(|r| copy.join(r))
        });
        if let Some(inside) = inside
            && fs::symlink_metadata(&inside).is_ok()
            && fs::remove_file(&path).is_ok()
        {
            let _ = std::os::unix::fs::symlink(inside, &path);
        }
    }
}

/// The folders from the repository's top down to the root, each with a trailing `/` (the top:
/// `""`).
fn levels(prefix: &str) -> Vec<String> {
    let mut levels = vec![String::new()];
    let mut path = String::new();
    for part in prefix.split('/').filter(|p| !p.is_empty()) {
        path += part;
        path.push('/');
        levels.push(path.clone());
    }
    levels
}

/// Where the copy goes. ruff honours the `.ignore` file of every folder above the files it
/// checks, so the folders above the copy must hold the `.ignore` files that those above the
/// repository hold, no more (`TMPDIR=~/tmp` under a ripgrep user's `~/.ignore` would hide files
/// from the check) and no fewer. The first of these where that holds:
/// - the system's temporary folder;
/// - the repository's git folder (`<top>/.git`: above it are the top and what is above the
///   top; the top's own `.ignore` is the copy's too, so it must be tracked and unchanged);
/// - the folder that holds the repository (a linked worktree's git folder is in the main
///   checkout): the copy is a folder of its own beside the repository while the hook runs.
fn export_base(repo: &Repo) -> Result<PathBuf> {
    let top = fs::canonicalize(&repo.top).unwrap_or_else(|_| repo.top.clone());
    let Some(beside) = top.parent().map(Path::to_path_buf) else {
        return Ok(std::env::temp_dir());
    };
    let wanted = ignore_files_over(&beside);
    let temp = std::env::temp_dir();
    let temp = fs::canonicalize(&temp).unwrap_or(temp);
    if ignore_files_over(&temp) == wanted {
        return Ok(temp);
    }
    let git_dir = super::git(&repo.top, &["rev-parse", "--absolute-git-dir"])
        .map(PathBuf::from)
        .ok()
        .and_then(|dir| fs::canonicalize(dir).ok());
    if let Some(git_dir) = git_dir {
        let top_ignore = top.join(".ignore");
        let over_git: Vec<PathBuf> = ignore_files_over(&git_dir)
            .into_iter()
            .filter(|f| *f != top_ignore || !as_staged(repo, ".ignore"))
            .collect();
        if over_git == wanted {
            return Ok(git_dir);
        }
    }
    Ok(beside)
}

/// Whether a file at the repository's top is tracked and the same in the work tree as staged.
fn as_staged(repo: &Repo, name: &str) -> bool {
    let tracked = repo
        .git(&repo.top)
        .args(["ls-files", "--error-unmatch", "--", name])
        .output()
        .is_ok_and(|o| o.success());
    let same = repo
        .git(&repo.top)
        .args(["diff", "--quiet", "--", name])
        .output()
        .is_ok_and(|o| o.success());
    tracked && same
}

/// The `.ignore` files in `dir` and every folder above it.
fn ignore_files_over(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .map(|d| d.join(".ignore"))
        .filter(|f| f.is_file())
        .collect()
}

/// A new, empty folder of this process in `base`.
fn fresh_dir(base: &Path) -> Result<PathBuf> {
    for n in 0..1000 {
        let dir = base.join(format!("xtask-staged-{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot create a temporary folder in {} (set TMPDIR to a writable one)",
                        base.display()
                    )
                });
            }
        }
    }
    bail!(
        "cannot create a temporary folder in {}: xtask-staged-{}-* are all taken; remove them",
        base.display(),
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::levels;

    #[test]
    fn levels_run_from_the_top_to_the_root() {
        assert_eq!(levels(""), vec![""]);
        assert_eq!(levels("a b/c/"), vec!["", "a b/", "a b/c/"]);
    }
}
