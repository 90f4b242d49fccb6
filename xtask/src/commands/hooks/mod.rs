//! `cargo xtask hooks install|uninstall`: git hooks that judge what git will hold, never the work
//! tree. The pre-commit hook runs ruff's checks on the staged content of the packages with staged
//! changes ([`staged`]); the pre-push hook runs `verify` on each pushed commit ([`push`]). A hook
//! the xtask did not write is never replaced nor removed: the command refuses, naming the file.
//! `cargo xtask hooks run pre-commit|pre-push` is what the hooks (and the pre-commit framework's
//! local hooks in `.pre-commit-config.yaml`) call.

mod push;
pub(crate) use push::work_tree_differs;
mod staged;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;
use crate::flags::{GateArgs, HookAction, HookName, MessageFormat};
use crate::fsutil;
use crate::output::say;

/// The line that marks a hook as the xtask's.
const MARK: &str =
    "# Written by `cargo xtask hooks install`; `cargo xtask hooks uninstall` removes it.";

/// `git -C root ARGS`: what it printed, trimmed; an error names the command and what git said.
fn git(root: &Path, args: &[&str]) -> Result<String> {
    checked(Cmd::new("git").arg("-C").arg(root).args(args))
}

/// Runs a git command: what it printed, trimmed, or an error with the command and git's words.
fn checked(cmd: Cmd) -> Result<String> {
    Ok(untrimmed(cmd)?.trim().to_owned())
}

/// [`checked`], with the output as it is: NUL-separated paths (`-z`) may begin or end with spaces.
fn untrimmed(cmd: Cmd) -> Result<String> {
    let out = cmd.output()?;
    if !out.success() {
        bail!("`{}` failed: {}", cmd.display(), out.output.trim());
    }
    Ok(out.output)
}

/// The hooks folder git uses (`core.hooksPath` counts).
fn hooks_dir(root: &Path) -> Result<PathBuf> {
    let dir =
        git(root, &["rev-parse", "--git-path", "hooks"]).context("hooks need a git repository")?;
    let dir = PathBuf::from(dir);
    Ok(if dir.is_absolute() {
        dir
    } else {
        root.join(dir)
    })
}

/// The hooks installed: each file's name, and the hook it runs. A merge that git makes without
/// a conflict runs `pre-merge-commit`, not `pre-commit`, and `git am` runs `pre-applypatch` once
/// the patch is in the index: each index is checked the same way. (`cherry-pick` and `rebase`
/// run none; the pre-push hook verifies what they made.)
const HOOKS: &[(&str, &str)] = &[
    ("pre-commit", "pre-commit"),
    ("pre-merge-commit", "pre-commit"),
    ("pre-applypatch", "pre-commit"),
    ("pre-push", "pre-push"),
];

fn script(which: &str) -> String {
    // "$@": git gives pre-push the remote's name and URL.
    format!(
        "#!/bin/sh\n{MARK}\ncd \"$(git rev-parse --show-toplevel)\" || exit 1\nexec cargo xtask hooks run {which} \"$@\"\n"
    )
}

pub fn run(root: &Path, action: &HookAction) -> Result<()> {
    match action {
        HookAction::Install => {
            let dir = hooks_dir(root)?;
            fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let hooks: Vec<(PathBuf, String)> = HOOKS
                .iter()
                .map(|(file, runs)| (dir.join(file), script(runs)))
                .collect();
            for (path, _) in &hooks {
                // There (even unreadable, or a link that leads nowhere) and not ours: refused.
                let ours = fs::read_to_string(path).is_ok_and(|text| text.contains(MARK));
                if fs::symlink_metadata(path).is_ok() && !ours {
                    bail!(
                        "{} is a hook the xtask did not write: nothing was installed; call `cargo xtask hooks run {}` from it, or move it away",
                        path.display(),
                        path.file_name()
                            .map(|n| n.to_string_lossy())
                            .unwrap_or_default()
                    );
                }
            }
            for (path, content) in hooks {
                fsutil::write_atomic(&path, content.as_bytes())?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                        .with_context(|| format!("cannot make {} executable", path.display()))?;
                }
                say(format!("installed {}", path.display()));
            }
            Ok(())
        }
        HookAction::Uninstall => {
            let dir = hooks_dir(root)?;
            for (name, _) in HOOKS {
                let path = dir.join(name);
                match fs::read_to_string(&path) {
                    Ok(text) if text.contains(MARK) => {
                        fs::remove_file(&path)
                            .with_context(|| format!("cannot remove {}", path.display()))?;
                        say(format!("removed {}", path.display()));
                    }
                    Ok(_) => say(format!(
                        "kept {}: the xtask did not write it",
                        path.display()
                    )),
                    Err(_) => {}
                }
            }
            if let Some(removed) = push::remove_kept_checkout(root)? {
                say(format!(
                    "removed {} (the pre-push hook's checkout and its venvs)",
                    removed.display()
                ));
            }
            Ok(())
        }
        HookAction::Run { hook, git_args } => {
            say_missing_hooks(root);
            match hook {
                HookName::PreCommit => staged::pre_commit(root),
                HookName::PrePush => push::pre_push(root, git_args),
            }
        }
    }
}

/// When the hooks an older xtask installed lack one of [`HOOKS`] (`pre-merge-commit`: merges
/// git makes go unchecked), says so and how to add it. Nothing when no hook is the xtask's (the
/// pre-commit framework runs these commands from its own).
fn say_missing_hooks(root: &Path) {
    let Ok(dir) = hooks_dir(root) else {
        return;
    };
    let ours = |name: &str| fs::read_to_string(dir.join(name)).is_ok_and(|t| t.contains(MARK));
    if !HOOKS.iter().any(|(name, _)| ours(name)) {
        return;
    }
    let absent = |name: &str| fs::symlink_metadata(dir.join(name)).is_err();
    for (name, _) in HOOKS.iter().filter(|(name, _)| absent(name)) {
        say(format!(
            "hooks: {} is not installed (an older xtask installed the others); add it with {}",
            dir.join(name).display(),
            crate::project::xtask_command(root, &["hooks", "install"])
        ));
    }
}

/// A gate's options for the named packages, every other one its default.
fn gate_args(packages: Vec<String>) -> GateArgs {
    GateArgs {
        packages,
        changed_since: None,
        venvs: Vec::new(),
        tree: false,
        jobs: None,
        no_setup: false,
        no_cache: false,
        message_format: MessageFormat::Human,
        junit: None,
        env: crate::flags::EnvArgs::default(),
        pytest_args: Vec::new(),
    }
}
