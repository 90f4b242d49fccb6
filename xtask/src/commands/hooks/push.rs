//! The pre-push hook: `verify` on what each push sends, never on the work tree.
//!
//! git gives the hook a line per pushed ref on its standard input (`<local ref> <local sha>
//! <remote ref> <remote sha>`). For each, the commit at its tip is verified with `verify
//! --changed-since BASE`: BASE is what the remote holds there (its sha) or, for a new branch, the
//! merge base with the branch's upstream or the remote's default branch (none: everything is
//! verified). The tip, not every pushed commit: the tip is what the branch will hold and what CI
//! builds; an intermediate commit is not verified. A deletion needs nothing, nor a push that
//! changes nothing that `verify` reads (under `python/`, `uv.toml`, an ignore file, what the gates
//! read outside `python/` that the repository holds, as the pushed commit's configuration names
//! it: found in the tree where the verify runs, below).
//!
//! The verify runs in place when the work tree is that commit (HEAD is it, and `git status` shows
//! no change there, untracked files included): the common case, and the fastest. Otherwise it
//! runs in a checkout of the commit that the xtask keeps (see [`KEPT_DIR`]), with `--root`.
//!
//! The pre-commit framework reads the lines itself and gives a hook the first pushed ref's range
//! in `PRE_COMMIT_FROM_REF` and `PRE_COMMIT_TO_REF` (or, for a branch whose every commit is new,
//! `PRE_COMMIT_LOCAL_BRANCH` alone): those are used when set. Run by hand (no line, no remote),
//! the hook verifies HEAD as a push of the current branch would be.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{checked, git, untrimmed};
use crate::cmd::Cmd;
use crate::commands::ci::plan::TOOLING;
use crate::engine::{outside, select};
use crate::env::hadolint;
use crate::env::installer::CONFIG_FILES;
use crate::leftovers::{self, Place};
use crate::output::{self, say};
use crate::project::{self, PYTHON_DIR};
use crate::workspace;

/// Under git's common folder: the kept checkout (a detached git worktree, `tree/`) and its lock.
/// Inside `.git`, git never tracks it and `cargo xtask clean` never reaches it; its venvs stay
/// there between pushes, so verifying there again is fast. `hooks uninstall` removes it.
const KEPT_DIR: &str = "xtask-push";

/// Settings under which `git status` misses a change to a file (name, value, why): an edit that
/// keeps the size and the time (`cp -p`, `rsync -t`, `tar`) changes the change time alone, which
/// git then ignores; or the executable bit is not compared; or git never looks.
const STAT_SETTINGS: &[(&str, &str, &str)] = &[
    (
        "core.fileMode",
        "false",
        "git does not compare executable bits",
    ),
    (
        "core.trustctime",
        "false",
        "git does not see an edit that keeps a file's size and time",
    ),
    (
        "core.checkStat",
        "minimal",
        "git does not see an edit that keeps a file's size and time",
    ),
    (
        "core.ignoreStat",
        "true",
        "git does not look at the files it tracks",
    ),
];

/// Which of [`STAT_SETTINGS`] holds here, and why it matters; read in one git (the last value
/// of a name counts, as git reads it).
fn stat_setting(root: &Path) -> Option<String> {
    let out = Cmd::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "config",
            "-z",
            "--get-regexp",
            r"^core\.(filemode|trustctime|checkstat|ignorestat)$",
        ])
        .output()
        .ok()?;
    // `name\nvalue` entries, each ended by a NUL; `name` alone when set with no `=` (true).
    let mut values = std::collections::HashMap::new();
    for entry in out.output.split('\0').filter(|e| !e.is_empty()) {
        let (name, value) = entry.split_once('\n').unwrap_or((entry, "true"));
        values.insert(name.to_ascii_lowercase(), value.trim().to_ascii_lowercase());
    }
    STAT_SETTINGS.iter().find_map(|(name, value, why)| {
        let set = values.get(&name.to_ascii_lowercase())?;
        // A boolean may be written `no`, `off`, `0` or empty, and `yes`, `on` or `1`.
        let holds = match *value {
            "false" => matches!(set.as_str(), "false" | "no" | "off" | "0" | ""),
            "true" => matches!(set.as_str(), "true" | "yes" | "on" | "1"),
            other => set == other,
        };
        holds.then(|| format!("{name} is {value}, so {why}"))
    })
}

/// Variables git sets for a hook that name one repository's files (a child run elsewhere must not
/// read them). They, and the pre-commit framework's `PRE_COMMIT*`, are removed for the verify,
/// and PATH is given back as it was (see [`path_before_git`]): every variable is an input of a
/// remembered pass, and the verify of a push should find the passes of a `verify` from the shell.
const HOOK_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_EXEC_PATH",
    // `git -c NAME=VALUE push`: configuration of that push, not of the verify.
    "GIT_CONFIG_PARAMETERS",
];

/// A pushed commit to verify: the ref it is pushed as, and what it is compared with.
struct Push {
    name: String,
    sha: String,
    base: Option<Base>,
}

/// The commit the remote already has, or the one a new branch starts from, and how it was found.
struct Base {
    sha: String,
    why: String,
}

/// `cargo xtask hooks run pre-push [REMOTE URL]`.
pub fn pre_push(root: &Path, git_args: &[String]) -> Result<()> {
    let mut pushes = pushes(root, git_args)?;
    // Two refs pushed at one commit, from one base, are one verify.
    let mut seen = std::collections::BTreeSet::new();
    pushes.retain(|p| seen.insert((p.sha.clone(), p.base.as_ref().map(|b| b.sha.clone()))));
    if pushes.is_empty() {
        say("pre-push: nothing to verify (no commit is pushed)");
    }
    for push in &pushes {
        verify(root, push)?;
    }
    Ok(())
}

/// What is pushed: the pre-commit framework's variables, else git's lines, else (run by hand)
/// HEAD.
fn pushes(root: &Path, git_args: &[String]) -> Result<Vec<Push>> {
    if let Some(push) = from_pre_commit_framework(root)? {
        return Ok(vec![push]);
    }
    let remote = git_args.first().map_or("origin", String::as_str);
    let mut stdin = String::new();
    if !std::io::stdin().is_terminal() {
        std::io::stdin()
            .read_to_string(&mut stdin)
            .context("cannot read the pushed refs git gives the pre-push hook")?;
    }
    let mut pushes = Vec::new();
    for line in stdin.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(push) = from_line(root, remote, line)? {
            pushes.push(push);
        }
    }
    if stdin.trim().is_empty() && git_args.is_empty() {
        let sha = git(root, &["rev-parse", "--verify", "HEAD^{commit}"])
            .context("run by hand, the pre-push hook verifies HEAD, and there is none")?;
        say("pre-push: no pushed refs given (run by hand): HEAD, as a push of it would be");
        let base = new_branch_base(root, remote, "HEAD", &sha);
        return Ok(vec![Push {
            name: "HEAD".into(),
            sha,
            base,
        }]);
    }
    Ok(pushes)
}

/// One line of git's: `<local ref> <local sha> <remote ref> <remote sha>`.
fn from_line(root: &Path, remote: &str, line: &str) -> Result<Option<Push>> {
    let mut words = line.trim().rsplitn(4, ' ');
    let (Some(remote_sha), Some(remote_ref), Some(local_sha), Some(local_ref)) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        bail!("the pre-push hook cannot read this line from git: {line:?}");
    };
    if is_zero(local_sha) {
        return Ok(None); // a deletion
    }
    if local_ref.starts_with("refs/notes/") {
        say(format!(
            "pre-push: {local_ref} holds notes, not the tree: nothing to verify"
        ));
        return Ok(None);
    }
    let Some(sha) = commit(root, local_sha) else {
        say(format!(
            "pre-push: {local_ref} is not a commit: nothing to verify"
        ));
        return Ok(None);
    };
    let base = match commit(root, remote_sha) {
        Some(known) if !is_zero(remote_sha) => Some(Base {
            sha: known,
            why: format!("what {remote} has at {remote_ref}"),
        }),
        // A new branch, or one whose remote commit this repository does not have.
        _ => new_branch_base(root, remote, local_ref, &sha),
    };
    Ok(Some(Push {
        name: local_ref.to_owned(),
        sha,
        base,
    }))
}

/// The pre-commit framework's range, when it ran the hook.
fn from_pre_commit_framework(root: &Path) -> Result<Option<Push>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (name, to, from) = match (var("PRE_COMMIT_TO_REF"), var("PRE_COMMIT_LOCAL_BRANCH")) {
        (Some(to), local) => (
            local.unwrap_or_else(|| to.clone()),
            to,
            var("PRE_COMMIT_FROM_REF"),
        ),
        // Its push of a branch whose every commit is new, the first one included: everything.
        (None, Some(local)) if var("PRE_COMMIT").is_some() => (local.clone(), local, None),
        _ => return Ok(None),
    };
    let Some(sha) = commit(root, &to) else {
        bail!(
            "PRE_COMMIT_TO_REF={to} (the pushed commit, from the pre-commit framework) names no commit of this repository"
        );
    };
    let base = match from {
        Some(from) => Some(Base {
            sha: commit(root, &from).with_context(|| {
                format!("PRE_COMMIT_FROM_REF={from} names no commit of this repository")
            })?,
            why: "PRE_COMMIT_FROM_REF, from the pre-commit framework".into(),
        }),
        None => None,
    };
    Ok(Some(Push { name, sha, base }))
}

/// Where a new branch starts: the merge base with the branch's upstream when that is a branch
/// of the remote pushed to, else with the remote's default branch. None when there is neither:
/// then everything is verified. Only what the remote holds: a local branch as upstream, or
/// another remote's, may hold commits no push ever verified.
fn new_branch_base(root: &Path, remote: &str, local_ref: &str, sha: &str) -> Option<Base> {
    let mut candidates = Vec::new();
    let upstream = if local_ref == "HEAD" {
        Some("HEAD@{upstream}".to_owned())
    } else {
        local_ref
            .strip_prefix("refs/heads/")
            .map(|branch| format!("{branch}@{{upstream}}"))
    };
    let remote_refs = format!("refs/remotes/{remote}/");
    let of_remote = |rev: &String| {
        git(root, &["rev-parse", "--symbolic-full-name", rev])
            .is_ok_and(|full| full.starts_with(&remote_refs))
    };
    candidates.extend(upstream.filter(of_remote));
    for branch in ["HEAD", "main", "master"] {
        candidates.push(format!("refs/remotes/{remote}/{branch}"));
    }
    let (candidate, rev, base) = candidates.iter().find_map(|candidate| {
        let rev = commit(root, candidate)?;
        let base = git(root, &["merge-base", sha, &rev]).ok()?;
        Some((candidate, rev, base))
    })?;
    if base == sha && rev != sha {
        // A tag or a branch at a commit the remote holds under its tip: no push verified it
        // (the hook verifies tips), so nothing under it is known to pass.
        say(format!(
            "pre-push: {local_ref} is at a commit under the tip of {candidate}, which no push verified as a tip: everything is verified"
        ));
        return None;
    }
    Some(Base {
        sha: base,
        why: format!("the merge base with {candidate}"),
    })
}

/// The commit `rev` names (a tag's, for a tag), if any.
fn commit(root: &Path, rev: &str) -> Option<String> {
    git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .ok()
}

fn is_zero(sha: &str) -> bool {
    sha.chars().all(|c| c == '0')
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(10)]
}

/// What `verify` reads that git holds, from the root: `python/`, the installer's configuration,
/// the ignore files (SC-007 checks them), the CI workflow and hadolint's configuration, and
/// `outside`: what else the gates read outside
/// `python/` that is in the repository (a ruff configuration that one under `python/` extends, a
/// symlink's target), as [`outside::repo_pathspecs`] finds it in a tree of the pushed commit.
fn watched(outside: Vec<String>) -> Vec<String> {
    // `.gitattributes`: a checkout writes the files by it (`eol=crlf`), which ruff reads.
    let mut paths = vec![
        format!("{PYTHON_DIR}/"),
        ".gitignore".into(),
        ":(top).gitignore".into(),
        ".ignore".into(),
        ":(top).ignore".into(),
        ".gitattributes".into(),
        ":(top).gitattributes".into(),
    ];
    paths.extend(CONFIG_FILES.iter().map(|f| (*f).to_owned()));
    // verify's `ci workflow` job checks the workflow; every deploy job reads hadolint's
    // configuration at the root when no nearer one is there.
    paths.push(crate::commands::ci::workflow::PATH.to_owned());
    paths.extend(hadolint::CONFIG_NAMES.iter().map(|f| (*f).to_owned()));
    paths.extend(outside);
    paths
}

/// Where a push is verified: the work tree when it is the commit, else the kept checkout of it;
/// and what `verify` reads there that git holds ([`watched`]) as the pushed commit names it: a
/// work tree at another commit may extend nothing that the pushed one extends.
struct VerifyAt {
    /// Why the work tree is not the commit; none: in place.
    not_here: Option<String>,
    /// The kept checkout, once made.
    kept: Option<Kept>,
    watched: Vec<String>,
}

impl VerifyAt {
    /// The list is found in the work tree when it reads as the commit ([`reads_as`]), else in
    /// the kept checkout, made now: a push that changes nothing `verify` reads needs no checkout
    /// in the common cases.
    fn of(root: &Path, sha: &str) -> Result<VerifyAt> {
        let here = watched(outside::repo_pathspecs(root));
        let not_here = not_in_place(root, sha, &here)?;
        if not_here.is_none() || reads_as(root, sha, &here)? {
            return Ok(VerifyAt {
                not_here,
                kept: None,
                watched: here,
            });
        }
        let kept = Kept::checkout(root, sha)?;
        Ok(VerifyAt {
            not_here,
            watched: kept.watched.clone(),
            kept: Some(kept),
        })
    }

    /// The folder to verify in: the work tree, or the kept checkout (made now if need be).
    fn dir(&mut self, root: &Path, sha: &str) -> Result<PathBuf> {
        if self.not_here.is_none() {
            return Ok(root.to_path_buf());
        }
        let kept = match self.kept.take() {
            Some(kept) => kept,
            None => Kept::checkout(root, sha)?,
        };
        let dir = kept.root.clone();
        self.kept = Some(kept);
        Ok(dir)
    }
}

/// Whether the work tree reads as the commit where `verify` reads (`here`, found in the work
/// tree): nothing there changed or untracked, and HEAD the same as `sha` at every path of `here`.
/// The list is found from those paths alone (`python/` and the files it leads to), so the one
/// found in the work tree is the commit's; a file git ignores can only add to it.
fn reads_as(root: &Path, sha: &str, here: &[String]) -> Result<bool> {
    let mut args = vec!["status", "--porcelain", "-z", "--untracked-files=all", "--"];
    args.extend(here.iter().map(String::as_str));
    if !git(root, &args)?.is_empty() {
        return Ok(false);
    }
    Ok(changes(root, "HEAD", sha, here).is_ok_and(|changed| !changed))
}

/// Verifies one push, in place when the work tree is its commit, else in the kept checkout.
fn verify(root: &Path, push: &Push) -> Result<()> {
    let name = &push.name;
    let at = short(&push.sha);
    if push.base.is_none() && commit_lacks(root, &push.sha, PYTHON_DIR)? {
        // A branch of its own history (`gh-pages`): nothing there is the gate's.
        say(format!(
            "pre-push: {name} at {at} has no {PYTHON_DIR}/ and no base: nothing to verify"
        ));
        return Ok(());
    }
    let mut place = VerifyAt::of(root, &push.sha)?;
    if let Some(file) = tooling_change(root, push)? {
        return verify_with_its_xtask(root, push, &place, &file);
    }
    let since = match &push.base {
        Some(base) => {
            if !changes(root, &base.sha, &push.sha, &place.watched)? {
                say(format!(
                    "pre-push: {name} at {at}: nothing verify reads ({PYTHON_DIR}/ and what it uses) changed since {} ({}): nothing to verify",
                    short(&base.sha),
                    base.why
                ));
                return Ok(());
            }
            format!("changed since {} ({})", short(&base.sha), base.why)
        }
        None => "everything: no base to compare with".to_owned(),
    };
    let dir = &place.dir(root, &push.sha)?;
    match &place.not_here {
        None => say(format!(
            "pre-push: verifying {name} at {at} in place (the work tree is that commit), {since}"
        )),
        Some(why) => say(format!(
            "pre-push: verifying {name} at {at} in the kept checkout {} ({why}), {since}",
            dir.display()
        )),
    }
    let base = push.base.as_ref().map(|b| b.sha.as_str());
    if run_verify(dir, base)? {
        return Ok(());
    }
    let mut rerun = vec!["verify"];
    if let Some(base) = base {
        rerun.extend(["--changed-since", base]);
    }
    Err(stopped(name, at, dir, &rerun))
}

/// The error that stops a push whose verify failed, with the command that runs it again.
fn stopped(name: &str, at: &str, dir: &Path, rerun: &[&str]) -> anyhow::Error {
    anyhow::anyhow!(
        "{name} at {at} fails verify (above), so the hook stops the push; fix it in a new commit (or amend) and push again. \
         The same verify: {}",
        project::xtask_command(dir, rerun)
    )
}

/// The xtask's own files (its crate, the Cargo workspace, the alias): what `ci plan` counts as
/// changing every verdict, but the workflow, which `verify` checks like any other input.
fn xtask_files() -> Vec<String> {
    TOOLING
        .iter()
        .filter(|t| **t != crate::commands::ci::workflow::PATH)
        .map(|t| (*t).to_owned())
        .collect()
}

/// Whether the commit has nothing at `rel` (from the root).
fn commit_lacks(root: &Path, sha: &str, rel: &str) -> Result<bool> {
    let out = Cmd::new("git")
        .arg("-C")
        .arg(root)
        .args(["cat-file", "-e", &format!("{sha}:./{rel}")])
        .output()?;
    Ok(!out.success())
}

/// The first of the xtask's own files that the push changes since its base; with no base (a
/// branch of its own history), the first where the commit differs from the work tree, whose
/// xtask runs.
fn tooling_change(root: &Path, push: &Push) -> Result<Option<String>> {
    let specs = xtask_files();
    let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
    let range: Vec<&str> = match &push.base {
        Some(base) => vec![&base.sha, &push.sha],
        None => vec![&push.sha],
    };
    let changed = git(
        root,
        &[&["diff", "--name-only"][..], &range, &["--"], &specs].concat(),
    )?;
    Ok(changed.lines().next().map(str::to_owned))
}

/// A push that changes the xtask: only that commit's xtask can judge it, and it judges every
/// package. That is the running one when the work tree is the commit, the xtask's own files
/// included (the hook runs `cargo xtask`, which builds the work tree's); else the push is
/// refused, naming how to verify it.
fn verify_with_its_xtask(root: &Path, push: &Push, place: &VerifyAt, file: &str) -> Result<()> {
    let (name, at) = (&push.name, short(&push.sha));
    let specs = xtask_files();
    let mut args = vec!["status", "--porcelain", "--untracked-files=all", "--"];
    args.extend(specs.iter().map(String::as_str));
    let tooling_clean = git(root, &args)?.is_empty();
    if place.not_here.is_some() || !tooling_clean {
        bail!(
            "{name} at {at} changes the xtask ({file}), which only that commit's xtask can judge, \
             and the work tree is not that commit; check it out (`git checkout {}`, with \
             nothing changed) and push again",
            push.sha
        );
    }
    say(format!(
        "pre-push: verifying {name} at {at} in place with its own xtask, every package: {file} changed"
    ));
    if run_verify(root, None)? {
        return Ok(());
    }
    Err(stopped(name, at, root, &["verify"]))
}

/// Whether anything `verify` reads changed between the two commits.
fn changes(root: &Path, base: &str, sha: &str, watched: &[String]) -> Result<bool> {
    let cmd = Cmd::new("git")
        .arg("-C")
        .arg(root)
        .args(["diff", "--quiet", base, sha, "--"])
        .args(watched);
    let out = cmd.output()?;
    match out.code {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        _ => bail!("`{}` failed: {}", cmd.display(), out.output.trim()),
    }
}

/// Why the work tree is not the commit `sha` where a build reads it (`python/`, the
/// `.gitattributes` a checkout writes by, what `python/`'s configuration names outside it), as
/// [`not_in_place`] tells; None when it is. What `dist` records as the provenance of a build.
pub fn work_tree_differs(root: &Path, sha: &str) -> Result<Option<String>> {
    let mut read = vec![
        format!("{PYTHON_DIR}/"),
        ".gitattributes".to_owned(),
        ":(top).gitattributes".to_owned(),
    ];
    read.extend(outside::repo_pathspecs(root));
    not_in_place(root, sha, &read)
}

/// Why the work tree is not the commit, as far as `verify` reads it; None when it is: HEAD is
/// it, nothing there is changed, staged or untracked, and there (under `python/` and what it
/// reads outside it) no file git ignores is there but what tools and builds write (a fixture
/// kept out of git would be read in place, never in the commit).
fn not_in_place(root: &Path, sha: &str, watched: &[String]) -> Result<Option<String>> {
    if commit(root, "HEAD").as_deref() != Some(sha) {
        return Ok(Some("the work tree is not that commit".into()));
    }
    if let Some(why) = hidden_from_status(root, watched)? {
        return Ok(Some(why));
    }
    let mut args = vec!["status", "--porcelain", "-z", "--untracked-files=all", "--"];
    args.extend(watched.iter().map(String::as_str));
    if !git(root, &args)?.is_empty() {
        return Ok(Some("the work tree has changes".into()));
    }
    if let Some(why) = not_as_checked_out(root, watched)? {
        return Ok(Some(why));
    }
    if let Some(folder) = select::empty_folders(root).into_iter().next() {
        return Ok(Some(format!(
            "{folder} is an empty folder, which the commit cannot hold"
        )));
    }
    Ok(ignored_inputs(root, watched)?
        .into_iter()
        .next()
        .map(|path| format!("{path} is there, which git ignores and the commit lacks")))
}

/// The first tracked file under `pathspecs` (every one when empty) whose bytes in the work tree
/// are not those a checkout writes by its attributes (line endings, `ident`, a filter), which
/// `git status` calls unchanged; None when there is none.
fn not_as_checked_out(root: &Path, pathspecs: &[String]) -> Result<Option<String>> {
    // Every tracked file, each with its line endings: `i/lf w/lf attr/...`.
    let mut args = vec!["ls-files", "--eol", "-z", "--"];
    args.extend(pathspecs.iter().map(String::as_str));
    let listed = untrimmed(Cmd::new("git").arg("-C").arg(root).args(&args))?;
    let listed: Vec<(&str, &str)> = listed
        .split('\0')
        .filter_map(|entry| entry.split_once('\t'))
        .collect();
    if let Some(path) = eol_not_as_checked_out(root, &listed)? {
        return Ok(Some(format!(
            "{path} has other line endings than its .gitattributes give a checkout"
        )));
    }
    Ok(
        converted_not_as_checked_out(root, &listed)?.map(|(path, attribute)| {
            format!(
                "{path} is not what a checkout of the commit writes by its `{attribute}` attribute"
            )
        }),
    )
}

/// Why `git status` cannot tell whether the work tree is the commit where `verify` reads: an
/// entry marked assume-unchanged, or skip-worktree (outside a sparse checkout: not on disk at
/// all), a submodule (a clone of the commit, CI's among them, does not fill it), or a setting
/// that makes git trust less than a file's change time ([`STAT_SETTINGS`]). None: status can
/// tell.
fn hidden_from_status(root: &Path, watched: &[String]) -> Result<Option<String>> {
    if let Some(why) = stat_setting(root) {
        return Ok(Some(why));
    }
    let mut args = vec!["ls-files", "-v", "-s", "-z", "--"];
    args.extend(watched.iter().map(String::as_str));
    let listed = untrimmed(Cmd::new("git").arg("-C").arg(root).args(&args))?;
    for entry in listed.split('\0').filter(|e| !e.is_empty()) {
        // `H 100644 <object> 0\tpath`: a lower-case tag is assume-unchanged, `S` skip-worktree.
        let Some((meta, path)) = entry.split_once('\t') else {
            continue;
        };
        let tag = meta.chars().next().unwrap_or('H');
        let why = if tag.is_ascii_lowercase() {
            "is marked assume-unchanged, so git status does not compare it"
        } else if tag == 'S' {
            "is skip-worktree (outside the sparse checkout), so the work tree lacks it"
        } else if meta.split(' ').nth(1) == Some("160000") {
            "is a submodule, which a clone of the commit does not fill"
        } else {
            continue;
        };
        return Ok(Some(format!("{path} {why}")));
    }
    Ok(None)
}

/// The first file of `listed` (each tracked file where `verify` reads, with its line endings as
/// `git ls-files --eol` gives them) whose line endings in the work tree are not those a
/// checkout of the commit writes: git calls the file unchanged (its content is the index's once
/// normalised), yet a clone holds other bytes, which ruff reads (a `.gitattributes` committed
/// after the file was checked out, or one removed). The other converting attributes:
/// [`converted_not_as_checked_out`].
fn eol_not_as_checked_out(root: &Path, listed: &[(&str, &str)]) -> Result<Option<String>> {
    // With core.autocrlf, a file with no attribute is checked out by it: not told here.
    let autocrlf = git(root, &["config", "--get", "core.autocrlf"]).is_ok_and(|v| v == "true");
    for &(info, path) in listed {
        let work = eol_field(info, "w/");
        if let Some(wanted) = checkout_ending(info, autocrlf)
            && matches!(work, "lf" | "crlf" | "mixed")
            && work != wanted
        {
            return Ok(Some(path.to_owned()));
        }
    }
    Ok(None)
}

/// The attributes by which a checkout writes other bytes than the commit holds, beyond line
/// endings: `$Id$` expanded, a filter's smudge, another encoding. git calls such a file unchanged
/// when converting it back gives the commit's content, which holds for a file checked out before
/// the attribute came (`$Id$` left as it is), and then a clone's bytes, which the tools read,
/// differ.
const CONVERTING_ATTRIBUTES: &[&str] = &["ident", "filter", "working-tree-encoding"];

/// The first file of `listed` that one of [`CONVERTING_ATTRIBUTES`] applies to and whose bytes
/// in the work tree are not those a checkout of HEAD writes ([`checked_out_contents`]), with
/// the attribute; None when there is none.
fn converted_not_as_checked_out(
    root: &Path,
    listed: &[(&str, &str)],
) -> Result<Option<(String, String)>> {
    if listed.is_empty() {
        return Ok(None);
    }
    let files: Vec<&str> = listed.iter().map(|(_, path)| *path).collect();
    let attrs = untrimmed(
        Cmd::new("git")
            .arg("-C")
            .arg(root)
            .args(["check-attr", "-z", "--stdin"])
            .args(CONVERTING_ATTRIBUTES)
            .stdin(crate::cmd::nul_separated(&files)),
    )?;
    // `-z`: path, attribute, value, each ended by a NUL.
    let fields: Vec<&str> = attrs.split('\0').collect();
    let converted: Vec<(&str, &str)> = fields
        .chunks_exact(3)
        .filter(|t| !matches!(t[2], "unspecified" | "unset"))
        .map(|t| (t[0], t[1]))
        .collect();
    if converted.is_empty() {
        return Ok(None);
    }
    // One git for every file (a folder of fixtures under a filter is hundreds of them).
    let paths: Vec<&str> = converted.iter().map(|(path, _)| *path).collect();
    let checked_out = checked_out_contents(root, &paths)?;
    for ((path, attribute), checked_out) in converted.iter().zip(checked_out) {
        let here = fs::read(root.join(path)).ok();
        if checked_out.is_none() || here != checked_out {
            return Ok(Some(((*path).to_owned(), (*attribute).to_owned())));
        }
    }
    Ok(None)
}

/// What a checkout of HEAD writes at each of `paths` (from the root), converted by their
/// attributes as a checkout converts: `git checkout-index` of the index (which is HEAD's
/// where status shows nothing staged) into a temporary folder, one git for every file; None
/// for a path it did not write.
fn checked_out_contents(root: &Path, paths: &[&str]) -> Result<Vec<Option<Vec<u8>>>> {
    let temp = std::env::temp_dir().join(format!("xtask-pre-push-{}", std::process::id()));
    let _ = fs::remove_dir_all(&temp);
    fs::create_dir_all(&temp).with_context(|| format!("cannot create {}", temp.display()))?;
    let mut prefix = temp.to_string_lossy().into_owned();
    prefix.push('/');
    let written = untrimmed(
        Cmd::new("git")
            .arg("-C")
            .arg(root)
            .args(["checkout-index", "-z", "--stdin", "--force"])
            .arg(format!("--prefix={prefix}"))
            .stdin(crate::cmd::nul_separated(paths)),
    );
    // checkout-index writes each file at its path from the top.
    let below_top = git(root, &["rev-parse", "--show-prefix"]).unwrap_or_default();
    let contents = paths
        .iter()
        .map(|path| fs::read(temp.join(&below_top).join(path)).ok())
        .collect();
    let _ = fs::remove_dir_all(&temp);
    written?;
    Ok(contents)
}

/// The line ending a checkout writes a text file with, from one line of `git ls-files --eol`
/// (`i/lf    w/crlf  attr/text eol=crlf`): the attribute's `eol=`, else (no attribute, or
/// `-text`) the index's own; None when the configuration decides (`text` alone) or the index
/// holds no single ending.
fn checkout_ending(info: &str, autocrlf: bool) -> Option<&'static str> {
    let attr = info.split_once("attr/").map_or("", |(_, a)| a.trim());
    let index = eol_field(info, "i/");
    if attr.contains("eol=crlf") && matches!(index, "lf" | "none") {
        Some("crlf")
    } else if attr.contains("eol=lf") && matches!(index, "lf" | "none") {
        Some("lf")
    } else if (attr.is_empty() && !autocrlf) || attr.contains("-text") {
        match index {
            "lf" => Some("lf"),
            "crlf" => Some("crlf"),
            _ => None,
        }
    } else {
        None
    }
}

/// One word of a `git ls-files --eol` line, without its prefix (`i/`: the index's ending, `w/`:
/// the work tree's).
fn eol_field<'a>(info: &'a str, prefix: &str) -> &'a str {
    info.split_whitespace()
        .find_map(|f| f.strip_prefix(prefix))
        .unwrap_or("")
}

/// Every path where `verify` reads (`watched`: `python/` and what it reads outside it, see
/// [`watched`]) that git ignores and that no tool or build wrote (a fixture of one's own, a
/// test's output, a module in a ruff `src` folder outside `python/`), from the repository's top;
/// a folder ends in `/`. The commit lacks them, yet a verify there would read them.
fn ignored_inputs(root: &Path, watched: &[String]) -> Result<Vec<String>> {
    let top = PathBuf::from(git(root, &["rev-parse", "--show-toplevel"])?);
    let mut args = vec![
        "status",
        "--porcelain",
        "-z",
        "--ignored=matching",
        "--untracked-files=all",
        "--",
    ];
    args.extend(watched.iter().map(String::as_str));
    let listed = git(root, &args)?;
    // Where tools run and write (python/ and each package's folder), from the top.
    let prefix = root
        .strip_prefix(&top)
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default();
    let at_top = |rel: &str| match prefix.as_str() {
        "" => rel.to_owned(),
        prefix => format!("{prefix}/{rel}"),
    };
    let tool_roots: Vec<String> = workspace::tool_roots(root)
        .iter()
        .map(|rel| at_top(format!("{PYTHON_DIR}/{rel}").trim_end_matches('/')))
        .collect();
    Ok(listed
        .split('\0')
        .filter_map(|entry| entry.strip_prefix("!! "))
        .filter(|path| !written_by_a_tool(&top, &tool_roots, path))
        .map(str::to_owned)
        .collect())
}

/// Removes from the kept checkout (`top`, holding `root`) what git ignores where verify reads
/// and no tool wrote ([`ignored_inputs`]): a file an earlier verify there left is no part of the
/// commit. `git clean -x` would take the venvs too, which the checkout keeps between pushes.
fn remove_ignored_inputs(top: &Path, root: &Path, watched: &[String]) -> Result<()> {
    for rel in ignored_inputs(root, watched)? {
        let path = top.join(rel.trim_end_matches('/'));
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        // Never through a symlink: a link is removed, not what it leads to.
        let removed = if meta.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed
            .with_context(|| format!("cannot remove {} from the kept checkout", path.display()))?;
    }
    Ok(())
}

/// Whether a path (from the repository's top) is in or is what a tool writes, by where it
/// stands as [`leftovers::is_tool_output`] tells it: bytecode anywhere; caches, reports, venvs
/// and their locks and removal leftovers in a folder where tools run. Deeper, such a name is a
/// fixture. Not what a build leaves (`build/`, `dist/`, `*.egg-info`): tools read those where
/// they are (a test can import `build.lib...` from its package's folder, and
/// `importlib.metadata` reads an egg-info's entry points from a `src/` folder on the path, a
/// pytest plugin among them), and a clone of the commit lacks them.
fn written_by_a_tool(top: &Path, tool_roots: &[String], rel: &str) -> bool {
    let mut at = top.to_path_buf();
    let mut parent = String::new();
    let parts: Vec<&str> = rel.trim_end_matches('/').split('/').collect();
    // git lists a folder with a `/` at its end; every part but the last is one.
    let last_is_dir = rel.ends_with('/');
    parts.iter().enumerate().any(|(i, &part)| {
        at.push(part);
        let is_dir = i + 1 < parts.len() || last_is_dir || at.is_dir();
        let place = if tool_roots.contains(&parent) {
            Place::ToolRoot
        } else {
            Place::Below
        };
        parent = if parent.is_empty() {
            part.to_owned()
        } else {
            format!("{parent}/{part}")
        };
        leftovers::is_tool_output(&at, part, is_dir, place)
    })
}

/// Runs this xtask's `verify` on the tree at `dir`, its output shown as it comes; whether it
/// passed.
fn run_verify(dir: &Path, base: Option<&str>) -> Result<bool> {
    let exe = std::env::current_exe().context("cannot find the running xtask to run verify")?;
    let mut args: Vec<OsString> = vec!["--root".into(), dir.into(), "--color".into()];
    args.push(if output::color() { "always" } else { "never" }.into());
    if output::verbose() {
        args.push("-v".into());
    }
    args.push("verify".into());
    if let Some(base) = base {
        args.extend(["--changed-since".into(), base.into()]);
    }
    let mut cmd = duct::cmd(&exe, &args).dir(dir).unchecked();
    for (var, _) in std::env::vars_os() {
        let name = var.to_string_lossy();
        if HOOK_VARS.contains(&name.as_ref()) || name.starts_with("PRE_COMMIT") {
            cmd = cmd.env_remove(&var);
        }
    }
    if let Some(path) = path_before_git() {
        cmd = cmd.env("PATH", path);
    }
    let out = cmd
        .run()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    Ok(out.status.success())
}

/// PATH as it was before git ran the hook: the verify should see what a `verify` from the
/// shell sees (PATH is an input of every remembered pass). None when git did not change it.
fn path_before_git() -> Option<OsString> {
    let before = crate::env::interpreter::path_before_git()?;
    (Some(&before) != std::env::var_os("PATH").as_ref()).then_some(before)
}

/// The kept checkout at a pushed commit, locked for as long as it lives.
struct Kept {
    /// The root in it (the repository's top, or the root's folder under it).
    root: PathBuf,
    /// What `verify` reads there that git holds ([`watched`]), as the commit names it.
    watched: Vec<String>,
    _lock: File,
}

impl Kept {
    /// Checks the commit out in the kept checkout, creating it the first time: detached, its
    /// tracked files the commit's, nothing untracked left but what tools wrote (its venvs).
    fn checkout(root: &Path, sha: &str) -> Result<Kept> {
        let dir = kept_dir(root)?;
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let lock = lock(&dir.join("lock"))?;
        let tree = dir.join("tree");
        // No hook of the repository runs there: a post-checkout hook is the person's, for theirs.
        let no_hooks = format!("core.hooksPath={}", dir.join("no-hooks").display());
        let in_tree = || kept_git(&tree).args(["-c", &no_hooks]);
        if tree.join(".git").is_file() {
            checked(in_tree().args(["checkout", "-q", "--detach", "--force", sha]))?;
            checked(in_tree().args(["clean", "-q", "-f", "-d"]))?;
            // A file the two commits hold alike is not written again, though their attributes
            // may write it otherwise (`eol=crlf` added or gone): then every file is.
            let status = checked(in_tree().args(["status", "--porcelain"]))?;
            if !status.is_empty()
                || not_as_checked_out(&tree, &[])?.is_some()
                || skip_worktree(&tree)?.is_some()
            {
                checked(in_tree().args(["rm", "-r", "-q", "--cached", "--", "."]))?;
                checked(in_tree().args(["reset", "-q", "--hard", sha]))?;
            }
        } else {
            // A checkout that did not finish, or one git no longer knows: made again.
            if fs::symlink_metadata(&tree).is_ok() {
                fs::remove_dir_all(&tree)
                    .with_context(|| format!("cannot remove {}", tree.display()))?;
            }
            let add = kept_git(root)
                .args([
                    "-c", &no_hooks, "worktree", "add", "-q", "--force", "--detach",
                ])
                .arg(&tree)
                .arg(sha);
            checked(add).context("cannot make the pre-push hook's checkout")?;
        }
        let prefix = git(root, &["rev-parse", "--show-prefix"])?;
        let kept_root = tree.join(prefix);
        let kept_root = kept_root
            .canonicalize()
            .with_context(|| format!("the pushed commit has no {}", kept_root.display()))?;
        let watched = watched(outside::pathspecs_under(&tree, &kept_root));
        remove_ignored_inputs(&tree, &kept_root, &watched)?;
        let head = checked(in_tree().args(["rev-parse", "HEAD"]))?;
        let mut status =
            checked(in_tree().args(["status", "--porcelain", "--untracked-files=all"]))?;
        // Skip-worktree entries a sparse repository's new worktree started with: status cannot
        // see that they are not on disk.
        if let Some(why) = skip_worktree(&tree)? {
            status.push_str(&why);
        }
        if head != sha || !status.is_empty() {
            bail!(
                "the pre-push hook's checkout {} is not the commit {sha} after checking it out ({status}); remove it (`git worktree remove --force {}`) and push again",
                tree.display(),
                project::quote(&tree.to_string_lossy())
            );
        }
        Ok(Kept {
            root: kept_root,
            watched,
            _lock: lock,
        })
    }
}

/// `git -C dir`, without the variables that would point it at the hook's repository files.
fn kept_git(dir: &Path) -> Cmd {
    // Never sparse: a new worktree takes the repository's sparse patterns, and the commit is
    // verified whole, as a clone holds it.
    Cmd::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "core.sparseCheckout=false"])
        .without(HOOK_VARS)
}

/// The first entry of the kept checkout marked skip-worktree, if any.
fn skip_worktree(tree: &Path) -> Result<Option<String>> {
    let listed = untrimmed(kept_git(tree).args(["ls-files", "-v", "-z"]))?;
    Ok(listed
        .split('\0')
        .find(|e| e.starts_with("S "))
        .map(|e| format!("{} is skip-worktree", &e[2..])))
}

/// `<git common dir>/xtask-push`.
fn kept_dir(root: &Path) -> Result<PathBuf> {
    let common = git(
        root,
        &["rev-parse", "--path-format=absolute", "--git-common-dir"],
    )
    .context("the pre-push hook needs a git repository")?;
    Ok(PathBuf::from(common).join(KEPT_DIR))
}

/// Holds the lock of the kept checkout: one push verifies there at a time.
fn lock(path: &Path) -> Result<File> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            say(format!(
                "pre-push: waiting for another push's verify in the kept checkout (lock {})",
                path.display()
            ));
            file.lock()
                .with_context(|| format!("cannot lock {}", path.display()))?;
        }
        Err(fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    Ok(file)
}

/// Removes the kept checkout (its venvs too), if there is one; where it was.
pub fn remove_kept_checkout(root: &Path) -> Result<Option<PathBuf>> {
    let Ok(dir) = kept_dir(root) else {
        return Ok(None);
    };
    if !dir.exists() {
        return Ok(None);
    }
    let _lock = lock(&dir.join("lock"))?;
    let tree = dir.join("tree");
    if tree.join(".git").is_file() {
        checked(
            kept_git(root)
                .args(["worktree", "remove", "--force"])
                .arg(&tree),
        )?;
    }
    drop(_lock);
    fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    Ok(Some(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ending a checkout writes: the attribute's, else the index's; git's `ls-files --eol`
    /// lines as it prints them.
    #[test]
    fn a_checkout_writes_the_attributes_ending_else_the_indexs() {
        let ending = |info: &str| checkout_ending(info, false);
        assert_eq!(
            ending("i/lf    w/lf    attr/text eol=crlf      "),
            Some("crlf")
        );
        assert_eq!(ending("i/lf    w/crlf  attr/                 "), Some("lf"));
        assert_eq!(
            ending("i/crlf  w/crlf  attr/-text            "),
            Some("crlf")
        );
        assert_eq!(ending("i/lf    w/lf    attr/text             "), None);
        assert_eq!(ending("i/-text w/-text attr/                 "), None);
        assert_eq!(
            checkout_ending("i/lf    w/crlf  attr/                 ", true),
            None
        );
    }

    #[test]
    fn tool_output_is_told_by_where_it_stands_and_a_fixture_named_like_it_is_not() {
        let top = std::env::temp_dir().join(format!("xtask-push-{}", std::process::id()));
        let _ = fs::remove_dir_all(&top);
        fs::create_dir_all(top.join("python/libs/a/.venv")).unwrap();
        fs::write(top.join("python/libs/a/.venv/pyvenv.cfg"), "").unwrap();
        fs::create_dir_all(top.join("python/libs/a/tests/fixtures/dist")).unwrap();
        fs::create_dir_all(top.join("python/libs/a/src/dubbing_a.egg-info")).unwrap();
        fs::create_dir_all(top.join("python/libs/a/src/other.egg-info")).unwrap();
        let roots = ["python".to_owned(), "python/libs/a".to_owned()];
        let tool = |rel: &str| written_by_a_tool(&top, &roots, rel);
        assert!(tool("python/libs/a/.venv/"));
        assert!(tool("python/libs/a/coverage.xml"));
        assert!(tool("python/.mypy_cache/"));
        // What a build leaves is read where it is (`importlib.metadata` reads an egg-info's entry
        // points from `src/`; a test imports from `build/lib`), and a clone lacks it.
        assert!(!tool("python/libs/a/src/dubbing_a.egg-info/"));
        assert!(!tool("python/libs/a/src/other.egg-info/"));
        fs::create_dir_all(top.join("python/libs/a/build/lib")).unwrap();
        assert!(!tool("python/libs/a/build/"));
        assert!(tool("python/libs/a/tests/__pycache__/x.pyc"));
        assert!(!tool("python/libs/a/tests/fixtures/coverage.xml"));
        assert!(!tool("python/libs/a/tests/fixtures/dist/"));
        assert!(!tool("python/libs/a/.env"));
        fs::remove_dir_all(&top).unwrap();
    }
}
