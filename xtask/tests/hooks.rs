//! The git hooks judge what git will hold, never the work tree: pre-commit checks the staged
//! content (a partial stage as it will be committed) and leaves the work tree and the index as
//! they were; pre-push verifies each pushed commit, in place when the work tree is that commit,
//! else in a checkout of it. Real commits and real pushes (to a bare repository) run the installed
//! hooks, as a person's would.
#![cfg(unix)] // the hooks are sh scripts, and so is the stand-in for cargo

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TempDir, committed_tree, git, run, write, xtask};

/// A folder holding a `cargo` that runs the xtask under test: the installed hooks run `cargo
/// xtask hooks run ...` from the repository's top, where this repository's alias would run it.
fn cargo_stand_in() -> TempDir {
    let dir = TempDir::new("cargo");
    let exe = env!("CARGO_BIN_EXE_xtask").replace('\'', r"'\''");
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = xtask ] || {{ echo \"unexpected: cargo $*\" >&2; exit 97; }}\nshift\nexec '{exe}' --root \"$(pwd)\" \"$@\"\n"
    );
    let path = dir.path().join("cargo");
    fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// git as a person runs it, hooks and all (the stand-in `cargo` first on PATH): its exit code and
/// everything it and the hooks printed.
fn git_as_person(root: &Path, cargo: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["-c", "user.email=test@example.com", "-c", "user.name=test"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .env("PATH", path_with(cargo))
        .env("RUST_BACKTRACE", "1") // as `xtask()` sets it: the same environment
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// PATH with the stand-in for cargo first.
fn path_with(cargo: &Path) -> String {
    format!(
        "{}:{}",
        cargo.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// What git prints for `args`, which must succeed.
fn git_output(root: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file of the work tree but git's own and the venvs (which setup may refresh), by content.
fn work_tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != ".git" && name != ".venv" {
                    walk(&path, out);
                }
            } else {
                out.insert(path.clone(), fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, &mut out);
    out
}

/// The index as git holds it: each entry's mode, blob, stage and path.
fn index(root: &Path) -> String {
    git_output(root, &["ls-files", "--stage", "-z"])
}

/// A committed seed tree with the media-service venv and its lock committed, the hooks installed.
fn tree_with_hooks(label: &str) -> TempDir {
    let tmp = committed_tree(label);
    let root = tmp.path();
    run(xtask(root).arg("setup-stream")).assert_ok();
    git(root, &["add", "python/apps/media-service"]);
    git(root, &["commit", "-q", "-m", "media-service lock"]);
    git(root, &["branch", "-M", "main"]);
    run(xtask(root).args(["hooks", "install"])).assert_ok();
    tmp
}

#[test]
fn pre_commit_checks_what_is_staged_and_touches_nothing() {
    let tmp = tree_with_hooks("pre-commit");
    let root = tmp.path();
    let cargo = cargo_stand_in();
    let file = "python/apps/media-service/src/media_service/staged.py";
    // Stages `staged`, then `git commit -m what` as a person: refused, the output naming `named`.
    let commit_refused = |staged: &str, what: &str, named: &str| {
        git(root, &["add", staged]);
        let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", what]);
        assert_ne!(code, 0, "{what}: committed:\n{out}");
        assert!(out.contains(named), "{out}");
    };

    // A partial stage (what `git add -p` leaves): the staged version has a lint error, the work
    // tree's is clean. The commit is stopped, naming the repository's path.
    write(root, file, "import os\n");
    git(root, &["add", file]);
    write(root, file, "VALUE = 1\n");
    let (index_before, tree_before) = (index(root), work_tree(root));
    let head = git_output(root, &["rev-parse", "HEAD"]);
    let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", "lint error staged"]);
    assert_ne!(code, 0, "the staged lint error was committed:\n{out}");
    assert!(
        out.contains("F401") && out.contains(&format!("--> {file}:1:8")),
        "{out}"
    );
    assert_eq!(git_output(root, &["rev-parse", "HEAD"]), head);
    assert_eq!(index(root), index_before, "the index changed");
    assert!(work_tree(root) == tree_before, "the work tree changed");
    // The system's temporary folder under an `.ignore` that the repository is not under (ruff
    // honours one in every folder above what it checks): the copy goes elsewhere, and the
    // staged error is found all the same.
    let temp = TempDir::new("ignoring temp");
    fs::write(temp.path().join(".ignore"), "media_service/\n").unwrap();
    let out = run(xtask(root)
        .args(["hooks", "run", "pre-commit"])
        .env("TMPDIR", temp.path()));
    assert!(
        out.code != 0 && out.stdout.contains("F401"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(index(root), index_before, "the index changed");

    // The same for the formatter: the staged version is unformatted, the work tree's is not.
    write(root, file, "VALUE=1\n");
    git(root, &["add", file]);
    write(root, file, "VALUE = 1\n");
    let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", "unformatted staged"]);
    assert_ne!(code, 0, "the unformatted file was committed:\n{out}");
    assert!(
        out.contains("would be reformatted") && out.contains(&format!("--> {file}")),
        "{out}"
    );

    // The reverse: clean staged, broken in the work tree; beside it an untracked file with an
    // error (never staged) and a tracked one that .gitignore names (ruff skips it in the
    // repository, and so in the copy): the commit passes, and the work tree keeps its edits.
    write(root, file, "VALUE = 1\n");
    git(root, &["add", file]);
    write(root, file, "import os\n");
    write(
        root,
        "python/apps/media-service/src/media_service/untracked.py",
        "import sys\n",
    );
    let ignored = "python/apps/media-service/build/generated.py";
    write(root, ignored, "import sys\n");
    git(root, &["add", "--force", ignored]);
    let tree_before = work_tree(root);
    let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", "clean staged"]);
    assert_eq!(code, 0, "the clean staged content was refused:\n{out}");
    assert!(out.contains("pre-commit: 2 jobs ok"), "{out}");
    assert_eq!(
        git_output(root, &["show", &format!("HEAD:{file}")]),
        "VALUE = 1\n"
    );
    assert!(work_tree(root) == tree_before, "the work tree changed");
    // In place, ruff sees the work tree's error: the hook did not.
    let lint = run(xtask(root).args(["lint", "-p", "media-service"]));
    assert!(
        lint.code != 0 && lint.stdout.contains("F401"),
        "{}",
        lint.stdout
    );
    // `git commit -a` and `git commit PATH` take the work tree's error: git gives the hook their
    // own index, which the hook checks, and its rerun line says the repository's holds less.
    for args in [
        &["commit", "-a", "-m", "all"][..],
        &["commit", "-m", "path", file],
    ] {
        let (code, out) = git_as_person(root, cargo.path(), args);
        assert_ne!(code, 0, "{args:?} committed the error:\n{out}");
        assert!(
            out.contains("F401")
                && out.contains("`git commit -a` or `git commit PATH` made")
                && out.contains("# what ruff can fix: ")
                && out.contains(" fmt -p media-service in the work tree, then stage it"),
            "{out}"
        );
    }

    // A folder added to one package makes an import of another first-party (ruff's `src` has
    // `libs/*`): the import order of common, which nothing staged touches, is now wrong.
    write(root, file, "VALUE = 1\n");
    let plug = "python/libs/common/tests/unit/test_plug.py";
    write(
        root,
        plug,
        "\"\"\"Imports.\"\"\"\n\nimport pluggy\n\nimport dubbing_common\n\n\ndef test_plug() -> None:\n    assert pluggy.HookimplMarker(\"x\") is not None\n    assert dubbing_common.__version__\n",
    );
    git(root, &["add", plug]);
    let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", "imports"]);
    assert_eq!(code, 0, "{out}");
    // The staged `.gitattributes` decides how the commit's files are written out, not the work
    // tree's: `eol=crlf` staged, then edited away unstaged, is refused (a clone writes CRLF,
    // which ruff's `line-ending = "lf"` rejects); an untracked one with `eol=crlf` is no file
    // of the commit, and a clean edit passes beside it.
    write(root, ".gitattributes", "*.py text eol=crlf\n");
    git(root, &["add", ".gitattributes"]);
    write(root, ".gitattributes", "# nothing yet\n");
    let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", "attributes"]);
    assert_ne!(
        code, 0,
        "the staged eol=crlf was judged by the work tree's:\n{out}"
    );
    assert!(out.contains("would be reformatted"), "{out}");
    git(root, &["rm", "-q", "--cached", "--force", ".gitattributes"]);
    write(root, ".gitattributes", "*.py text eol=crlf\n");
    write(root, file, "VALUE = 2\n");
    git(root, &["add", file]);
    let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", "beside attributes"]);
    assert_eq!(
        code, 0,
        "an untracked .gitattributes decided the commit:\n{out}"
    );
    fs::remove_file(root.join(".gitattributes")).unwrap();
    // git ran the hook with its exec-path first on PATH, where no Python is: the venvs are as
    // fresh as before for the shell (no interpreter looked for again).
    let doctor = run(xtask(root)
        .arg("doctor")
        .env("PATH", path_with(cargo.path())));
    assert!(
        doctor.stdout.contains("media-service: venv") && !doctor.stdout.contains("stale"),
        "{}",
        doctor.stdout
    );
    let notes = "python/libs/contracts/pluggy/notes.txt";
    write(root, notes, "notes\n");
    git(root, &["add", notes]);
    let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", "a folder"]);
    assert_ne!(
        code, 0,
        "the commit that breaks common's import order passed:\n{out}"
    );
    assert!(out.contains("I001") && out.contains(plug), "{out}");
    git(root, &["rm", "-q", "--cached", notes]);
    fs::remove_file(root.join(notes)).unwrap();
    // The same folder from a branch that git merges without a conflict: the merge's index is
    // checked (git runs pre-merge-commit, not pre-commit).
    git(root, &["checkout", "-q", "-b", "folder"]);
    write(root, notes, "notes\n");
    git(root, &["add", notes]);
    commit_unverified(root, "a folder, on a branch");
    git(root, &["checkout", "-q", "main"]);
    write(root, "NOTES.md", "notes\n");
    git(root, &["add", "NOTES.md"]);
    commit_unverified(root, "notes on main");
    let (code, out) = git_as_person(root, cargo.path(), &["merge", "--no-edit", "folder"]);
    assert_ne!(
        code, 0,
        "the merge that breaks common's import order passed:\n{out}"
    );
    assert!(out.contains("I001") && out.contains(plug), "{out}");
    git(root, &["merge", "--abort"]);
    assert!(!root.join(notes).exists());
    // The same folder from a patch: `git am` runs pre-applypatch with the patch in the index.
    let patch = root.join(".git/folder.patch");
    fs::write(
        &patch,
        git_output(root, &["format-patch", "-1", "--stdout", "folder"]),
    )
    .unwrap();
    let (code, out) = git_as_person(root, cargo.path(), &["am", &patch.to_string_lossy()]);
    assert_ne!(
        code, 0,
        "the patch that breaks common's import order passed:\n{out}"
    );
    assert!(out.contains("I001") && out.contains(plug), "{out}");
    git(root, &["am", "--abort"]);
    assert!(!root.join(notes).exists());
    // Hooks an older xtask installed, without pre-merge-commit: each run says how to add it.
    let merge_hook = root.join(".git/hooks/pre-merge-commit");
    fs::remove_file(&merge_hook).unwrap();
    let out = run(xtask(root).args(["hooks", "run", "pre-commit"]));
    assert!(
        out.stdout.contains("pre-merge-commit is not installed")
            && out.stdout.contains("hooks install"),
        "{}",
        out.stdout
    );
    run(xtask(root).args(["hooks", "install"])).assert_ok();
    assert!(merge_hook.is_file());

    // A ruff configuration outside python/ that python/'s extends: exported with the commit
    // (or every commit would fail, the file missing), and a staged change to it is checked.
    extend_ruff_from_outside(root);
    git(root, &["add", "python/pyproject.toml", "ruff-base.toml"]);
    let (code, out) = git_as_person(
        root,
        cargo.path(),
        &["commit", "-m", "shared ruff settings"],
    );
    assert_eq!(code, 0, "{out}");
    write(root, "ruff-base.toml", "line-length = 40\n");
    commit_refused(
        "ruff-base.toml",
        "shorter lines",
        "ruff-base.toml is staged",
    );
    git(root, &["checkout", "HEAD", "--", "ruff-base.toml"]);
    // The same, while the work tree's python/ configuration (not staged) no longer extends it:
    // the commit's does, so nothing under python/ being staged does not mean nothing to check.
    let config = "python/pyproject.toml";
    let extending = fs::read_to_string(root.join(config)).unwrap();
    let alone = extending.replacen("extend = \"../ruff-base.toml\"\n", "line-length = 100\n", 1);
    assert_ne!(alone, extending);
    write(root, config, &alone);
    write(root, "ruff-base.toml", "line-length = 40\n");
    commit_refused(
        "ruff-base.toml",
        "shorter, unseen",
        "ruff-base.toml is staged",
    );
    git(root, &["checkout", "HEAD", "--", "ruff-base.toml", config]);
    // The extended file as a symlink to a file elsewhere in the repository: committed through
    // the hook (the copy holds what the link leads to), and a staged change to the file it
    // leads to is checked.
    fs::remove_file(root.join("ruff-base.toml")).unwrap();
    write(root, "configs/ruff.toml", "line-length = 100\n");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("configs/ruff.toml", root.join("ruff-base.toml")).unwrap();
        git(root, &["add", "-A", "ruff-base.toml", "configs"]);
        let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", "linked"]);
        assert_eq!(code, 0, "{out}");
        write(root, "configs/ruff.toml", "line-length = 40\n");
        commit_refused(
            "configs/ruff.toml",
            "linked, shorter",
            "configs/ruff.toml is staged",
        );
        git(root, &["checkout", "HEAD", "--", "configs/ruff.toml"]);
    }
    // A .gitattributes staged alone: a checkout of the commit writes every module with CRLF,
    // which the `line-ending = "lf"` of python/'s configuration refuses.
    write(root, ".gitattributes", "*.py text eol=crlf\n");
    commit_refused(".gitattributes", "crlf", ".gitattributes is staged");
    git(root, &["rm", "-q", "--cached", ".gitattributes"]);
    fs::remove_file(root.join(".gitattributes")).unwrap();

    // A package's ruff configuration that another package's extends: a rule staged in common's
    // concerns contracts too, whose commented-out code it finds.
    let append = |rel: &str, text: &str| {
        let old = fs::read_to_string(root.join(rel)).unwrap();
        write(root, rel, &format!("{old}{text}"));
    };
    let common_config = "python/libs/common/pyproject.toml";
    let contracts_init = "python/libs/contracts/src/dubbing_contracts/__init__.py";
    append(
        common_config,
        "\n[tool.ruff]\nextend = \"../../pyproject.toml\"\n",
    );
    append(
        "python/libs/contracts/pyproject.toml",
        "\n[tool.ruff]\nextend = \"../common/pyproject.toml\"\n",
    );
    append(contracts_init, "# x = 1\n");
    git(root, &["add", "python/libs"]);
    commit_unverified(root, "contracts extends common's ruff settings");
    append(
        common_config,
        "\n[tool.ruff.lint]\nextend-select = [\"ERA\"]\n",
    );
    git(root, &["add", common_config]);
    let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", "stricter"]);
    assert_ne!(code, 0, "a rule that fails contracts was committed:\n{out}");
    assert!(
        out.contains("ERA001") && out.contains(contracts_init),
        "{out}"
    );
    git(root, &["checkout", "HEAD", "--", common_config]);

    // A `src` folder outside python/ that only the staged configuration names (the work
    // tree's is back to the old list): the copy holds it, as the commit does, so `pytest` is
    // first-party there and the import order below is wrong.
    write(root, "vendor/pytest/__init__.py", "\"\"\"Vendored.\"\"\"\n");
    git(root, &["add", "vendor"]);
    commit_unverified(root, "vendored");
    let order = "python/libs/common/tests/unit/test_order.py";
    write(
        root,
        order,
        "\"\"\"Order.\"\"\"\n\nimport os\n\nimport _pytest\nimport pytest\n\n\ndef test_order() -> None:\n    assert os and _pytest and pytest\n",
    );
    let config = "python/pyproject.toml";
    let text = fs::read_to_string(root.join(config)).unwrap();
    assert!(text.contains("src = ["), "{text}");
    write(
        root,
        config,
        &text.replacen("src = [", "src = [\"../vendor\", ", 1),
    );
    git(root, &["add", config, order]);
    write(root, config, &text);
    let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", "vendored src"]);
    assert_ne!(
        code, 0,
        "an order wrong beside the staged src was committed:\n{out}"
    );
    assert!(out.contains("I001") && out.contains(order), "{out}");

    // A module added with `git add -N` is in the index, not in the commit: the copy lacks it
    // (git would write it out empty), so `zzmod` is third-party there, as in a fresh lint of
    // the commit, and the blank line that makes it first-party below is wrong.
    git(root, &["reset", "-q", "--hard", "HEAD"]);
    let intent = "python/libs/common/src/zzmod.py";
    write(root, intent, "X = 1\n");
    git(root, &["add", "-N", intent]);
    let user = "python/libs/common/tests/unit/test_intent.py";
    write(
        root,
        user,
        "\"\"\"Intent.\"\"\"\n\nimport os\n\nimport pytest\n\nimport zzmod\n\n\ndef test_intent() -> None:\n    assert os and pytest and zzmod\n",
    );
    git(root, &["add", user]);
    let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", "intent to add"]);
    assert_ne!(
        code, 0,
        "an order right only beside an unstaged module was committed:\n{out}"
    );
    assert!(out.contains("I001") && out.contains(user), "{out}");

    // A file of common that contracts holds through a symlink is checked under contracts'
    // configuration too (ruff reads it there): an edit staged in common alone concerns it.
    #[cfg(unix)]
    {
        git(root, &["reset", "-q", "--hard", "HEAD"]);
        git(root, &["clean", "-q", "-f", "python"]);
        write(
            root,
            "python/libs/contracts/ruff.toml",
            "extend = \"../../pyproject.toml\"\n\n[lint]\nextend-select = [\"T20\"]\n",
        );
        let shared = "python/libs/common/src/dubbing_common/shared.py";
        let clean = "\"\"\"Shared by path.\"\"\"\n\n\ndef greet() -> str:\n    return \"hi\"\n";
        let printing = clean.replace("    return", "    print(\"greeting\")\n    return");
        let contracts = root.join("python/libs/contracts/src/dubbing_contracts");
        // Commits the links as they are, then stages the print in common: refused, naming T201.
        let print_refused = |links: &str| {
            git(root, &["add", "-A", "python"]);
            if root.join("shared").exists() {
                git(root, &["add", "shared"]);
            }
            commit_unverified(root, links);
            write(root, shared, &printing);
            git(root, &["add", shared]);
            let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", "print"]);
            assert_ne!(code, 0, "the print was committed through {links}:\n{out}");
            assert!(out.contains("T201"), "{out}");
        };
        write(root, shared, clean);
        std::os::unix::fs::symlink(
            "../../../common/src/dubbing_common/shared.py",
            contracts.join("shared.py"),
        )
        .unwrap();
        print_refused("a relative link");
        // The same through an absolute link, which leads into the work tree: in the copy it
        // leads to the staged file. Staged with the print, clean in the work tree: refused.
        git(root, &["reset", "-q", "--hard", "HEAD"]);
        fs::remove_file(contracts.join("shared.py")).unwrap();
        std::os::unix::fs::symlink(root.join(shared), contracts.join("absolute.py")).unwrap();
        git(root, &["add", "-A", "python"]);
        commit_unverified(root, "an absolute link");
        write(root, shared, &printing);
        git(root, &["add", shared]);
        write(root, shared, clean);
        let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", "print"]);
        assert_ne!(
            code, 0,
            "the print was committed through an absolute link:\n{out}"
        );
        assert!(out.contains("T201"), "{out}");
        // The reverse: the print in the work tree alone, a clean edit of common staged.
        git(root, &["reset", "-q", "--hard", "HEAD"]);
        write(root, shared, &printing);
        let init = "python/libs/common/src/dubbing_common/__init__.py";
        let text = fs::read_to_string(root.join(init)).unwrap();
        write(root, init, &format!("{text}# staged\n"));
        git(root, &["add", init]);
        let (code, out) = git_as_person(root, cargo.path(), &["commit", "-m", "clean"]);
        assert_eq!(code, 0, "the work tree's print was judged:\n{out}");
        // A relative link through a folder outside python/ (which the copy lacks).
        write(root, shared, clean);
        fs::remove_file(contracts.join("absolute.py")).unwrap();
        std::os::unix::fs::symlink("python/libs/common/src/dubbing_common", root.join("shared"))
            .unwrap();
        std::os::unix::fs::symlink("../../../../../shared/shared.py", contracts.join("via.py"))
            .unwrap();
        print_refused("a link through a folder outside python/");
    }
}

#[test]
fn pre_push_verifies_the_pushed_commits_not_the_work_tree() {
    let tmp = tree_with_hooks("pre-push");
    let root = tmp.path();
    let cargo = cargo_stand_in();
    let remote = TempDir::new("remote");
    git(remote.path(), &["init", "-q", "--bare"]);
    git(
        root,
        &["remote", "add", "origin", remote.path().to_str().unwrap()],
    );
    git(root, &["push", "-q", "--no-verify", "origin", "main"]);
    let remote_main = || git_output(remote.path(), &["rev-parse", "main"]);
    // `git push origin main` as a person: refused, the remote as it was, the output naming each
    // of `named`; the output, and what the remote holds.
    let push_refused = |what: &str, named: &[&str]| {
        let pushed = remote_main();
        let (code, out) = git_as_person(root, cargo.path(), &["push", "origin", "main"]);
        assert_ne!(code, 0, "{what} was pushed:\n{out}");
        assert!(named.iter().all(|n| out.contains(n)), "{named:?}:\n{out}");
        assert_eq!(remote_main(), pushed);
        (out, pushed)
    };
    let failing = "python/apps/media-service/tests/unit/test_fails.py";
    let broken = "def test_fails() -> None:\n    assert 1 + 1 == 3, \"arithmetic is broken\"\n";
    let fixed = "def test_fails() -> None:\n    assert 1 + 1 == 2\n";

    // Another branch whose tip fails a test, pushed from a green main: stopped, verified in the
    // kept checkout; the work tree and the remote are as they were.
    git(root, &["checkout", "-q", "-b", "broken"]);
    write(root, failing, broken);
    git(root, &["add", failing]);
    commit_unverified(root, "a failing test");
    git(root, &["checkout", "-q", "main"]);
    let tree_before = work_tree(root);
    let (code, out) = git_as_person(root, cargo.path(), &["push", "origin", "broken"]);
    assert_ne!(code, 0, "the failing branch was pushed:\n{out}");
    assert!(
        out.contains("pre-push: verifying refs/heads/broken")
            && out.contains("in the kept checkout")
            && out.contains("arithmetic is broken")
            && out.contains("fails verify"),
        "{out}"
    );
    let remote_refs = git_output(remote.path(), &["branch", "--list"]);
    assert!(!remote_refs.contains("broken"), "{remote_refs}");
    assert!(work_tree(root) == tree_before, "the work tree changed");
    assert_eq!(git_output(root, &["status", "--porcelain"]), "");

    // The framework's variables name the same range: stopped the same way.
    let tip = git_output(root, &["rev-parse", "broken"]);
    let out = run(xtask(root)
        .args(["hooks", "run", "pre-push"])
        .env("PRE_COMMIT", "1")
        .env("PRE_COMMIT_FROM_REF", "main")
        .env("PRE_COMMIT_TO_REF", tip.trim()));
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("arithmetic is broken"),
        "{}",
        out.stdout
    );
    // A deletion needs nothing.
    let line = format!("(delete) {} refs/heads/gone {}", "0".repeat(40), tip.trim());
    let out = run(xtask(root)
        .args(["hooks", "run", "pre-push", "origin", "url"])
        .stdin(fs::File::open(write_temp(&cargo, &line)).unwrap()));
    out.assert_ok();
    assert!(out.stdout.contains("nothing to verify"), "{}", out.stdout);

    // A commit whose fix is only in the work tree: stopped, though the work tree passes.
    write(root, failing, broken);
    git(root, &["add", failing]);
    commit_unverified(root, "a failing test on main");
    write(root, failing, fixed);
    push_refused(
        "the failing commit",
        &["in the kept checkout", "arithmetic is broken"],
    );
    assert_eq!(fs::read_to_string(root.join(failing)).unwrap(), fixed);
    // The same fix hidden from `git status` (assume-unchanged; a sparse checkout's
    // skip-worktree hides a whole folder the same way): not in place, so still stopped.
    git(root, &["update-index", "--assume-unchanged", failing]);
    assert_eq!(git_output(root, &["status", "--porcelain"]), "");
    push_refused(
        "the failing commit behind assume-unchanged",
        &[
            "is marked assume-unchanged",
            "in the kept checkout",
            "arithmetic is broken",
        ],
    );
    git(root, &["update-index", "--no-assume-unchanged", failing]);
    // A sparse checkout without the failing test's service: verified whole in the kept
    // checkout, which a sparse repository's new worktree would otherwise leave sparse too.
    git(root, &["checkout", "--", failing]);
    git(
        root,
        &[
            "sparse-checkout",
            "set",
            "--no-cone",
            "/*",
            "!/python/apps/media-service/",
        ],
    );
    assert!(!root.join(failing).exists());
    push_refused(
        "the failing commit outside the sparse checkout",
        &[
            "is skip-worktree",
            "in the kept checkout",
            "arithmetic is broken",
        ],
    );
    git(root, &["sparse-checkout", "disable"]);
    // core.trustctime false: an edit that keeps the file's size and time (as `cp -p` or `tar`
    // leave it) changes only the change time, which git then ignores: hidden the same way.
    git(root, &["config", "core.trustctime", "false"]);
    let padded = format!("{fixed}# {}\n", "x".repeat(broken.len() - fixed.len() - 3));
    assert_eq!(padded.len(), broken.len());
    let old_time =
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600);
    let set_time = |path: &Path| {
        let file = fs::File::options().write(true).open(path).unwrap();
        file.set_modified(old_time).unwrap();
    };
    write(root, failing, broken);
    set_time(&root.join(failing));
    assert_eq!(git_output(root, &["status", "--porcelain"]), "");
    fs::write(root.join(failing), &padded).unwrap();
    set_time(&root.join(failing));
    assert_eq!(git_output(root, &["status", "--porcelain"]), "");
    push_refused(
        "the failing commit behind an edit of the same size and time",
        &[
            "core.trustctime is false",
            "in the kept checkout",
            "arithmetic is broken",
        ],
    );
    git(root, &["config", "--unset", "core.trustctime"]);
    write(root, failing, fixed);

    // The fix committed: HEAD is the pushed commit and the tree is clean, so it runs in place,
    // where the passes of a verify from the shell (same PATH) answer: git's own variables and
    // its exec-path on PATH are not the verify's.
    git(root, &["commit", "-q", "--no-verify", "-am", "the fix"]);
    run(xtask(root)
        .args(["verify", "--changed-since", "origin/main"])
        .env("PATH", path_with(cargo.path())))
    .assert_ok();
    let (code, out) = git_as_person(root, cargo.path(), &["push", "origin", "main"]);
    assert_eq!(code, 0, "the green commit was refused:\n{out}");
    assert!(
        out.contains("pre-push: verifying refs/heads/main")
            && out.contains("in place")
            && out.contains("selected: media-service")
            && out.contains("cached  pytest media-service (media-service venv)"),
        "{out}"
    );
    assert_eq!(remote_main(), git_output(root, &["rev-parse", "HEAD"]));
    // A tag at the commit under it, which the remote holds but no push verified (the hook
    // verifies tips): verified whole, and stopped. Not "nothing changed since the merge base",
    // which is that commit itself.
    git(root, &["tag", "v-broken", "HEAD~1"]);
    let (code, out) = git_as_person(root, cargo.path(), &["push", "origin", "v-broken"]);
    assert_ne!(code, 0, "a tag at a failing commit was pushed:\n{out}");
    assert!(
        out.contains("under the tip of") && out.contains("arithmetic is broken"),
        "{out}"
    );
    git(root, &["tag", "-d", "v-broken"]);
    // Notes hold no tree of the gate's: nothing to verify, and pushed.
    git(root, &["notes", "add", "-m", "reviewed", "HEAD"]);
    let (code, out) = git_as_person(
        root,
        cargo.path(),
        &["push", "origin", "refs/notes/commits"],
    );
    assert_eq!(code, 0, "notes were refused:\n{out}");
    assert!(
        out.contains("holds notes") && out.contains("nothing to verify"),
        "{out}"
    );
    // A .gitattributes committed after the modules were checked out: git calls the work tree
    // clean, yet a checkout of the commit writes them with CRLF, which ruff refuses. Verified
    // in the kept checkout, and stopped.
    write(root, ".gitattributes", "*.py text eol=crlf\n");
    git(root, &["add", ".gitattributes"]);
    commit_unverified(root, "crlf");
    assert_eq!(git_output(root, &["status", "--porcelain"]), "");
    let (out, _) = push_refused(
        "line endings that fail ruff",
        &[
            "has other line endings than its .gitattributes give a checkout",
            "in the kept checkout",
        ],
    );
    assert!(
        out.contains("line-ending") || out.contains("reformatted"),
        "{out}"
    );
    git(root, &["reset", "-q", "--hard", "HEAD~1"]);
    // The kept checkout now holds its modules with CRLF. Its index refreshed a second later, so
    // git trusts their times (none is racily clean) and calls them unchanged under any
    // attributes: the next checkout there, of a commit without `eol=crlf`, rewrites them all.
    let kept_module = root.join(".git/xtask-push/tree").join(failing);
    assert!(fs::read(&kept_module).unwrap().contains(&b'\r'));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let kept_tree = root.join(".git/xtask-push/tree");
    git(&kept_tree, &["update-index", "-q", "--refresh"]);
    // `ident` committed with a module holding `$Id$`: git calls the work tree clean (its `$Id$`
    // converts back to itself), yet a checkout expands it to the blob's id, a line too long.
    let revision = "python/libs/common/src/dubbing_common/revision.py";
    write(
        root,
        revision,
        &format!("REVISION = \"$Id$\"  # {}\n", "x".repeat(70)),
    );
    write(root, "python/.gitattributes", "revision.py ident\n");
    git(root, &["add", revision, "python/.gitattributes"]);
    commit_unverified(root, "ident");
    assert_eq!(git_output(root, &["status", "--porcelain"]), "");
    push_refused(
        "a line that a checkout makes too long",
        &["by its `ident` attribute", "in the kept checkout", "E501"],
    );
    assert!(
        !fs::read(&kept_module).unwrap().contains(&b'\r'),
        "the kept checkout kept the CRLF of an earlier commit's attributes"
    );
    git(root, &["reset", "-q", "--hard", "HEAD~1"]);
    // An empty folder in the work tree, which the commit cannot hold, is an input of the keys:
    // the same push is verified in the kept checkout, not in place.
    let empty = root.join("python/libs/common/pluggy");
    fs::create_dir(&empty).unwrap();
    let parent = git_output(root, &["rev-parse", "HEAD~1"]);
    let line = format!(
        "refs/heads/main {} refs/heads/main {}",
        remote_main().trim(),
        parent.trim()
    );
    // The hook run as git runs it for `line`, with the shell's PATH.
    let pre_push = |line: &str| {
        run(xtask(root)
            .args(["hooks", "run", "pre-push", "origin", "url"])
            .env("PATH", path_with(cargo.path()))
            .stdin(fs::File::open(write_temp(&cargo, line)).unwrap()))
    };
    let out = pre_push(&line);
    assert!(
        out.stdout.contains("in the kept checkout")
            && out
                .stdout
                .contains("python/libs/common/pluggy/ is an empty folder"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    fs::remove_dir(&empty).unwrap();
    // An `*.egg-info` git ignores in a `src/` folder, of no local package (an old `pip install`
    // of another distribution): `importlib.metadata` reads its entry points from there, and the
    // commit lacks it, so it is no tool's leftover: the kept checkout.
    let egg = root.join("python/libs/common/src/dubbing_checks.egg-info");
    fs::create_dir(&egg).unwrap();
    fs::write(
        egg.join("entry_points.txt"),
        "[dubbing.checks]\nbasic = x:y\n",
    )
    .unwrap();
    let out = pre_push(&line);
    assert!(
        out.stdout.contains("in the kept checkout")
            && out
                .stdout
                .contains("dubbing_checks.egg-info/ is there, which git ignores"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    fs::remove_dir_all(&egg).unwrap();
    // A branch whose commit changes nothing `verify` reads, pushed from a work tree at another
    // commit that reads the same: nothing to verify, and no checkout was needed to know it.
    let kept_head = || git_output(&root.join(".git/xtask-push/tree"), &["rev-parse", "HEAD"]);
    let kept_before = kept_head();
    git(root, &["checkout", "-q", "-b", "notes"]);
    write(root, "NOTES.md", "notes\n");
    git(root, &["add", "NOTES.md"]);
    commit_unverified(root, "notes");
    git(root, &["checkout", "-q", "main"]);
    let notes = git_output(root, &["rev-parse", "notes"]);
    let line = format!(
        "refs/heads/notes {} refs/heads/main {}",
        notes.trim(),
        remote_main().trim()
    );
    let out = run(xtask(root)
        .args(["hooks", "run", "pre-push", "origin", "url"])
        .stdin(fs::File::open(write_temp(&cargo, &line)).unwrap()));
    out.assert_ok();
    assert!(out.stdout.contains("nothing to verify"), "{}", out.stdout);
    assert_eq!(kept_head(), kept_before);

    // A test that reads a fixture git ignores: it passes in the work tree, yet the commit lacks
    // the fixture, so the push is verified in the kept checkout, where the test fails. (Ignored
    // by the tests' own .gitignore, which only media-service's jobs read: `info/exclude`, which
    // every job reads, is the case below.)
    let fixture = "python/apps/media-service/tests/unit/fixture.local";
    let ignore = "python/apps/media-service/tests/unit/.gitignore";
    write(root, ignore, "fixture.local\n");
    write(root, fixture, "local\n");
    let reads = "python/apps/media-service/tests/unit/test_fixture.py";
    write(
        root,
        reads,
        "from pathlib import Path\n\n\ndef test_fixture() -> None:\n    assert (Path(__file__).parent / \"fixture.local\").read_text() == \"local\\n\"\n",
    );
    git(root, &["add", reads, ignore]);
    commit_unverified(root, "a test reading an ignored fixture");
    let (_, pushed) = push_refused(
        "a commit without its fixture",
        &["in the kept checkout", "fixture.local"],
    );
    // The same file left in the kept checkout (a test's output there, say) is no part of the
    // commit either: removed before the verify there, so the push is refused again.
    let kept_fixture = root.join(".git/xtask-push/tree").join(fixture);
    fs::write(&kept_fixture, "local\n").unwrap();
    push_refused(
        "a commit without its fixture, beside one left in the kept checkout",
        &["in the kept checkout", "fixture.local"],
    );
    assert!(!kept_fixture.exists());
    git(root, &["reset", "-q", "--hard", pushed.trim()]);
    fs::remove_file(root.join(fixture)).unwrap();

    // A module git ignores in a ruff `src` folder outside python/ (`../shared`): the work tree
    // reads it, the commit lacks it. An import order that holds only beside it is committed:
    // verified in the kept checkout, where it fails.
    let config = root.join("python/pyproject.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, text.replace("src = [", "src = [\"../shared\", ")).unwrap();
    write(root, "shared/notes.txt", "notes\n");
    let info = root.join(".git/info/exclude");
    let exclude = fs::read_to_string(&info).unwrap_or_default();
    fs::write(&info, format!("{exclude}shared/pluggy.py\n")).unwrap();
    write(root, "shared/pluggy.py", "\"\"\"Shadows pluggy.\"\"\"\n");
    let plug = "python/libs/common/tests/unit/test_plug.py";
    write(
        root,
        plug,
        "\"\"\"One block: both first-party beside shared/pluggy.py.\"\"\"\n\nimport dubbing_common\nimport pluggy\n\n\ndef test_plug() -> None:\n    assert pluggy.HookimplMarker(\"x\") is not None\n    assert dubbing_common.__version__\n",
    );
    git(
        root,
        &["add", "python/pyproject.toml", "shared/notes.txt", plug],
    );
    commit_unverified(root, "an order that needs an ignored module");
    push_refused(
        "a commit whose import order needs a module git ignores",
        &[
            "in the kept checkout",
            "shared/pluggy.py is there, which git ignores",
            "I001",
        ],
    );
    git(root, &["reset", "-q", "--hard", pushed.trim()]);
    fs::remove_file(root.join("shared/pluggy.py")).unwrap();

    // A ruff configuration outside python/ that python/'s extends is watched as python/ is: a
    // commit that changes only it is verified, and fails.
    extend_ruff_from_outside(root);
    git(root, &["add", "python/pyproject.toml", "ruff-base.toml"]);
    commit_unverified(root, "shared ruff settings");
    git(root, &["push", "-q", "--no-verify", "origin", "main"]);
    write(root, "ruff-base.toml", "line-length = 40\n");
    git(
        root,
        &["commit", "-q", "--no-verify", "-am", "shorter lines"],
    );
    let (out, _) = push_refused("a setting that fails ruff", &[]);
    assert!(!out.contains("nothing to verify"), "{out}");
    // The same push from a work tree whose python/ extends nothing (a commit before the shared
    // settings): what the pushed commit reads outside python/ is found in that commit, not in
    // the work tree, so the change to ruff-base.toml is still verified.
    git(root, &["checkout", "-q", "--detach", "main~2"]);
    assert!(
        !fs::read_to_string(root.join("python/pyproject.toml"))
            .unwrap()
            .contains("ruff-base.toml")
    );
    let (out, _) = push_refused("a setting that fails ruff, from another commit", &[]);
    assert!(
        !out.contains("nothing to verify") && out.contains("in the kept checkout"),
        "{out}"
    );
    git(root, &["checkout", "-q", "main"]);
    git(root, &["reset", "-q", "--hard", remote_main().trim()]);

    // The CI workflow and hadolint's configuration at the top are watched too: verify checks
    // the one (`ci workflow`) and its deploy jobs read the other. A commit that changes only
    // the workflow, by hand, is verified and fails; one that changes only the configuration is
    // verified.
    run(xtask(root).arg("ci")).assert_ok();
    git(root, &["add", ".github"]);
    commit_unverified(root, "the workflow");
    git(root, &["push", "-q", "--no-verify", "origin", "main"]);
    let workflow = root.join(".github/workflows/python.yml");
    let text = fs::read_to_string(&workflow).unwrap();
    assert!(text.contains("run: cargo xtask verify"), "{text}");
    fs::write(
        &workflow,
        text.replace("run: cargo xtask verify", "run: echo skipped"),
    )
    .unwrap();
    git(root, &["commit", "-q", "--no-verify", "-am", "skip"]);
    let (out, _) = push_refused("a workflow edited by hand", &["ci workflow"]);
    assert!(!out.contains("nothing to verify"), "{out}");
    git(root, &["reset", "-q", "--hard", remote_main().trim()]);
    write(root, ".hadolint.yaml", "failure-threshold: warning\n");
    git(root, &["add", ".hadolint.yaml"]);
    commit_unverified(root, "hadolint settings");
    let (code, out) = git_as_person(root, cargo.path(), &["push", "origin", "main"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains("nothing to verify") && out.contains("pre-push: verifying refs/heads/main"),
        "{out}"
    );

    // An unsaved edit of a file verify reads outside python/ (hadolint's configuration): the
    // work tree is not the pushed commit there, so the push is verified in the kept checkout.
    write(root, ".hadolint.yaml", "failure-threshold: error\n");
    write(
        root,
        "python/apps/sts-service/src/sts_service/edit.py",
        "\"\"\"An edit.\"\"\"\n",
    );
    git(root, &["add", "python/apps/sts-service"]);
    commit_unverified(root, "an edit of sts-service");
    let (code, out) = git_as_person(root, cargo.path(), &["push", "origin", "main"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("in the kept checkout") && out.contains("(the work tree has changes)"),
        "{out}"
    );
    git(root, &["checkout", "--", ".hadolint.yaml"]);

    // A new branch whose upstream is a local branch: no push verified that branch's commits,
    // so the base is what the remote holds, and the failing test there is found.
    git(root, &["checkout", "-q", "-b", "experiment"]);
    write(root, failing, broken);
    git(root, &["add", failing]);
    commit_unverified(root, "a failing test, never pushed");
    git(
        root,
        &["checkout", "-q", "-b", "feature", "--track", "experiment"],
    );
    write(
        root,
        "python/apps/sts-service/src/sts_service/touch.py",
        "\"\"\"A touch.\"\"\"\n",
    );
    git(root, &["add", "python/apps/sts-service"]);
    commit_unverified(root, "a touch of sts-service");
    let (code, out) = git_as_person(root, cargo.path(), &["push", "origin", "feature"]);
    assert_ne!(code, 0, "a never-verified failing test was pushed:\n{out}");
    assert!(out.contains("arithmetic is broken"), "{out}");
    assert!(
        out.contains("(the merge base with refs/remotes/origin/") && !out.contains("@{upstream}"),
        "{out}"
    );
    git(root, &["checkout", "-q", "main"]);

    // A change of the xtask itself: only that commit's xtask can judge it, and every package.
    // In place (the hook's `cargo xtask` builds the work tree's) it is verified whole; pushed
    // from a work tree at another commit, refused with how to verify it.
    write(root, "xtask/notes.md", "The xtask's notes.\n");
    git(root, &["add", "xtask"]);
    commit_unverified(root, "an xtask change");
    let (code, out) = git_as_person(root, cargo.path(), &["push", "origin", "main"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("with its own xtask, every package: xtask/notes.md changed")
            && out.contains("pytest sts-service"),
        "{out}"
    );
    git(root, &["checkout", "-q", "-b", "tooling"]);
    write(root, "xtask/notes.md", "More notes.\n");
    git(
        root,
        &["commit", "-q", "--no-verify", "-am", "more xtask notes"],
    );
    git(root, &["checkout", "-q", "main"]);
    let (code, out) = git_as_person(root, cargo.path(), &["push", "origin", "tooling"]);
    assert_ne!(
        code, 0,
        "an xtask change judged by another xtask was pushed:\n{out}"
    );
    assert!(out.contains("changes the xtask (xtask/notes.md)"), "{out}");
    // A branch of its own history without python/ (`gh-pages`): nothing to verify, and pushed.
    git(root, &["checkout", "-q", "--orphan", "pages"]);
    git(root, &["rm", "-rqf", "--cached", "."]);
    fs::write(root.join("index.html"), "<p>docs</p>\n").unwrap();
    git(root, &["add", "index.html"]);
    commit_unverified(root, "pages");
    let (code, out) = git_as_person(root, cargo.path(), &["push", "origin", "pages"]);
    assert_eq!(code, 0, "a branch without python/ was refused:\n{out}");
    assert!(out.contains("has no python/"), "{out}");
    git(root, &["checkout", "-q", "-f", "main"]);
    assert!(root.join("python").is_dir() && !root.join("index.html").exists());
    // One with python/ and another xtask: with no base to compare with, what differs from the
    // work tree's xtask (the one running) is an xtask change, refused from here.
    git(root, &["checkout", "-q", "--orphan", "lonely"]);
    write(root, "xtask/notes.md", "Lonely notes.\n");
    git(root, &["add", "-A"]);
    commit_unverified(root, "a history of its own");
    git(root, &["checkout", "-q", "-f", "main"]);
    let (code, out) = git_as_person(root, cargo.path(), &["push", "origin", "lonely"]);
    assert_ne!(
        code, 0,
        "another xtask's commit, with no base, was pushed:\n{out}"
    );
    assert!(out.contains("changes the xtask (xtask/notes.md)"), "{out}");

    // uninstall removes the kept checkout with the hooks.
    let out = run(xtask(root).args(["hooks", "uninstall"]));
    out.assert_ok();
    assert!(!root.join(".git/xtask-push").exists(), "{}", out.stdout);
    assert_eq!(git_output(root, &["worktree", "list"]).lines().count(), 1);
}

/// Moves `python/pyproject.toml`'s ruff line length to `ruff-base.toml` at the root, which it
/// then extends: a ruff configuration outside `python/`.
fn extend_ruff_from_outside(root: &Path) {
    let config = root.join("python/pyproject.toml");
    let text = fs::read_to_string(&config).unwrap();
    assert!(text.contains("line-length = 100\n"), "{text}");
    let extended = text.replacen("line-length = 100\n", "extend = \"../ruff-base.toml\"\n", 1);
    fs::write(&config, extended).unwrap();
    write(root, "ruff-base.toml", "line-length = 100\n");
}

/// A file holding `line`, for a hook's standard input.
fn write_temp(dir: &TempDir, line: &str) -> PathBuf {
    let path = dir.path().join("stdin.txt");
    fs::write(&path, format!("{line}\n")).unwrap();
    path
}

/// `git commit -q --no-verify -m MESSAGE`: a commit the hooks under test do not see.
fn commit_unverified(root: &Path, message: &str) {
    git(root, &["commit", "-q", "--no-verify", "-m", message]);
}
