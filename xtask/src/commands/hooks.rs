//! `cargo xtask hooks install|uninstall`: git hooks that run the gates, as the seed's
//! constitution has them in pre-commit. The pre-commit hook runs ruff's checks on the packages
//! with staged changes (well under a second); the pre-push hook runs `verify --changed-since`
//! the upstream branch (or the default branch when there is none). A hook the xtask did not
//! write is never replaced nor removed: the command refuses, naming the file.
//! `cargo xtask hooks run pre-commit|pre-push` is what the hooks (and the pre-commit
//! framework's local hooks in `.pre-commit-config.yaml`) call.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::Cmd;
use crate::flags::{GateArgs, HookAction, HookName, MessageFormat};
use crate::fsutil;
use crate::output::say;
use crate::workspace::Workspace;

/// The line that marks a hook as the xtask's.
const MARK: &str =
    "# Written by `cargo xtask hooks install`; `cargo xtask hooks uninstall` removes it.";

fn git(root: &Path, args: &[&str]) -> Result<String> {
    let cmd = Cmd::new("git").arg("-C").arg(root).args(args);
    let out = cmd.output()?;
    if !out.success() {
        bail!("`{}` failed: {}", cmd.display(), out.output.trim());
    }
    Ok(out.output.trim().to_owned())
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

fn script(name: HookName) -> String {
    let which = match name {
        HookName::PreCommit => "pre-commit",
        HookName::PrePush => "pre-push",
    };
    format!(
        "#!/bin/sh\n{MARK}\ncd \"$(git rev-parse --show-toplevel)\" || exit 1\nexec cargo xtask hooks run {which}\n"
    )
}

pub fn run(root: &Path, action: &HookAction) -> Result<()> {
    match action {
        HookAction::Install => {
            let dir = hooks_dir(root)?;
            fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let hooks = [
                (dir.join("pre-commit"), script(HookName::PreCommit)),
                (dir.join("pre-push"), script(HookName::PrePush)),
            ];
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
            for name in ["pre-commit", "pre-push"] {
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
            Ok(())
        }
        HookAction::Run { hook } => match hook {
            HookName::PreCommit => pre_commit(root),
            HookName::PrePush => pre_push(root),
        },
    }
}

fn gate_args(packages: Vec<String>, changed_since: Option<String>) -> GateArgs {
    GateArgs {
        packages,
        changed_since,
        jobs: None,
        no_setup: false,
        no_cache: false,
        message_format: MessageFormat::Human,
        junit: None,
        env: crate::flags::EnvArgs {
            python: None,
            installer: None,
            force: false,
            inexact: false,
        },
    }
}

/// ruff check and ruff format --check on the packages with staged changes.
fn pre_commit(root: &Path) -> Result<()> {
    let staged = git(
        root,
        &["diff", "--cached", "--name-only", "--relative", "-z"],
    )?;
    let ws = Workspace::load(root)?;
    // A staged file under python/ outside every package (the shared ruff configuration) concerns
    // every package.
    let shared = staged.split('\0').any(|f| {
        f.starts_with(&format!("{}/", crate::project::PYTHON_DIR))
            && !ws
                .packages
                .iter()
                .any(|p| f.starts_with(&format!("{}/", p.rel)))
    });
    let packages: Vec<String> = ws
        .packages
        .iter()
        .filter(|p| {
            shared
                || staged
                    .split('\0')
                    .any(|f| f.starts_with(&format!("{}/", p.rel)))
        })
        .map(|p| p.name.clone())
        .collect();
    if packages.is_empty() {
        say("pre-commit: no package has staged changes");
        return Ok(());
    }
    crate::commands::lint::ruff_only(root, &gate_args(packages, None))
}

/// `verify --changed-since` the merge base with the upstream branch, or the default branch.
fn pre_push(root: &Path) -> Result<()> {
    let base = [
        "@{upstream}",
        "origin/HEAD",
        "origin/main",
        "main",
        "origin/master",
        "master",
    ]
    .iter()
    .find_map(|candidate| {
        let rev = git(root, &["rev-parse", "--verify", "--quiet", candidate]).ok()?;
        git(root, &["merge-base", "HEAD", &rev]).ok()
    });
    let Some(base) = base else {
        say("pre-push: no upstream nor default branch to compare with: verifying everything");
        return crate::commands::verify::run(root, &gate_args(Vec::new(), None));
    };
    crate::commands::verify::run(root, &gate_args(Vec::new(), Some(base)))
}
