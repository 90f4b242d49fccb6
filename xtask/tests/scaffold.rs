//! `cargo xtask scaffold` against real temporary roots.

use crate::common;

use std::fs;

use common::{TempDir, run, snapshot, xtask};

/// Some files of the seed tree (the team owns them once seeded: the repository's may differ).
fn seed_files() -> Vec<&'static str> {
    vec![
        "python/pyproject.toml",
        "python/README.md",
        "python/.python-version",
        "python/apps/media-service/pyproject.toml",
        "python/apps/media-service/README.md",
        "python/apps/media-service/src/media_service/__init__.py",
        "python/apps/media-service/src/media_service/py.typed",
        "python/apps/media-service/src/media_service/pipelines/__init__.py",
        "python/apps/media-service/tests/unit/__init__.py",
        "python/apps/media-service/tests/integration/__init__.py",
        "python/apps/sts-service/pyproject.toml",
        "python/apps/sts-service/README.md",
        "python/apps/sts-service/src/sts_service/__init__.py",
        "python/apps/sts-service/src/sts_service/asr/__init__.py",
        "python/apps/sts-service/src/sts_service/translation/__init__.py",
        "python/apps/sts-service/src/sts_service/tts/__init__.py",
        "python/apps/sts-service/tests/unit/__init__.py",
        "python/apps/sts-service/tests/integration/__init__.py",
        "python/libs/common/pyproject.toml",
        "python/libs/common/README.md",
        "python/libs/common/src/dubbing_common/__init__.py",
        "python/libs/common/tests/unit/__init__.py",
        "python/libs/contracts/pyproject.toml",
        "python/libs/contracts/README.md",
        "python/libs/contracts/src/dubbing_contracts/__init__.py",
        "python/libs/contracts/tests/unit/__init__.py",
        "python/tests/e2e/__init__.py",
    ]
}

#[test]
fn empty_root_gets_the_whole_seed_tree() {
    let tmp = TempDir::new("empty");
    let out = run(xtask(tmp.path()).arg("scaffold"));
    out.assert_ok();
    let tree = snapshot(tmp.path());
    for file in seed_files() {
        assert!(tree.contains_key(file), "{file} was not created");
    }
    assert!(
        tree.keys()
            .any(|k| k.starts_with("python/deploy/media-service/"))
    );
    assert!(
        tree.keys()
            .any(|k| k.starts_with("python/deploy/sts-service/"))
    );
    for (path, bytes) in &tree {
        assert!(
            String::from_utf8(bytes.clone()).is_ok_and(|s| !s.contains('\r')),
            "{path}: not UTF-8 with LF"
        );
        assert!(
            out.stdout.contains(&format!("created {path}")),
            "{path} not reported:\n{}",
            out.stdout
        );
    }
    // No temporary file is left behind by the atomic writes.
    assert!(tree.keys().all(|k| !k.ends_with(".tmp")));
}

#[test]
fn second_run_changes_nothing_and_an_edited_file_is_kept_byte_for_byte() {
    let tmp = TempDir::new("rerun");
    run(xtask(tmp.path()).arg("scaffold")).assert_ok();
    let edited = tmp.path().join("python/libs/common/README.md");
    fs::write(&edited, "my own notes\r\nno LF here").unwrap();
    let before = snapshot(tmp.path());

    let out = run(xtask(tmp.path()).arg("scaffold"));
    out.assert_ok();
    assert_eq!(
        snapshot(tmp.path()),
        before,
        "a second run changed the tree"
    );
    assert!(
        out.stdout
            .contains("kept python/libs/common/README.md (differs from the template)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("kept python/pyproject.toml (same as the template)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("0 created"), "{}", out.stdout);
}

#[test]
fn check_names_a_deleted_file_and_exits_1_and_fixes_nothing() {
    let tmp = TempDir::new("check");
    run(xtask(tmp.path()).arg("scaffold")).assert_ok();
    run(xtask(tmp.path()).args(["scaffold", "--check"])).assert_ok();

    fs::remove_file(
        tmp.path()
            .join("python/apps/sts-service/src/sts_service/tts/__init__.py"),
    )
    .unwrap();
    let before = snapshot(tmp.path());
    let out = run(xtask(tmp.path()).args(["scaffold", "--check"]));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    out.assert_clean_error();
    assert!(
        out.stdout
            .contains("missing python/apps/sts-service/src/sts_service/tts/__init__.py"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("cargo xtask --root") && out.stderr.contains("scaffold"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot(tmp.path()), before, "--check wrote something");
}

#[test]
fn dry_run_writes_nothing() {
    let tmp = TempDir::new("dry");
    let out = run(xtask(tmp.path()).args(["scaffold", "--dry-run"]));
    out.assert_ok();
    assert!(
        out.stdout
            .contains("would create python/apps/media-service/pyproject.toml"),
        "{}",
        out.stdout
    );
    assert!(
        fs::read_dir(tmp.path()).unwrap().next().is_none(),
        "--dry-run created something"
    );
}

#[test]
fn a_file_where_a_folder_belongs_fails_and_writes_nothing() {
    let tmp = TempDir::new("wrong kind");
    fs::create_dir_all(tmp.path().join("python/libs")).unwrap();
    fs::write(tmp.path().join("python/libs/common"), "not a folder").unwrap();
    let before = snapshot(tmp.path());
    let out = run(xtask(tmp.path()).arg("scaffold"));
    out.assert_clean_error();
    assert!(
        out.stderr
            .contains("python/libs/common is a file where the seed tree has a folder"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot(tmp.path()), before, "something was written");
    assert!(!tmp.path().join("python/apps").exists());
}

#[test]
fn a_folder_where_a_file_belongs_fails_and_writes_nothing() {
    let tmp = TempDir::new("dir for file");
    fs::create_dir_all(tmp.path().join("python/pyproject.toml")).unwrap();
    let out = run(xtask(tmp.path()).arg("scaffold"));
    out.assert_clean_error();
    assert!(
        out.stderr
            .contains("python/pyproject.toml is a folder where the seed tree has a file"),
        "{}",
        out.stderr
    );
    assert!(!tmp.path().join("python/apps").exists());
}

#[cfg(unix)]
#[test]
fn a_symlink_leading_outside_the_root_is_refused() {
    let tmp = TempDir::new("symlink");
    let outside = TempDir::new("outside");
    fs::create_dir_all(tmp.path().join("python/apps")).unwrap();
    std::os::unix::fs::symlink(outside.path(), tmp.path().join("python/libs")).unwrap();
    let out = run(xtask(tmp.path()).arg("scaffold"));
    out.assert_clean_error();
    assert!(out.stderr.contains("outside the root"), "{}", out.stderr);
    assert!(
        fs::read_dir(outside.path()).unwrap().next().is_none(),
        "wrote through the symlink"
    );
    assert!(
        fs::read_dir(tmp.path().join("python/apps"))
            .unwrap()
            .next()
            .is_none(),
        "wrote elsewhere"
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_inside_the_root_is_followed() {
    let tmp = TempDir::new("inner link");
    fs::create_dir_all(tmp.path().join("elsewhere")).unwrap();
    fs::create_dir_all(tmp.path().join("python")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("elsewhere"), tmp.path().join("python/libs"))
        .unwrap();
    run(xtask(tmp.path()).arg("scaffold")).assert_ok();
    assert!(tmp.path().join("elsewhere/common/pyproject.toml").is_file());
}

#[test]
fn bad_input_gets_a_clear_error() {
    let tmp = TempDir::new("bad input");
    let missing = tmp.path().join("no such folder");
    let out = run(xtask(&missing).arg("scaffold"));
    out.assert_clean_error();
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);

    let out = run(xtask(tmp.path()).args(["scaffold", "--check", "--dry-run"]));
    assert_eq!(out.code, 2, "clap's usage error: {}", out.stderr);
    let out = run(xtask(tmp.path()).arg("no-such-command"));
    assert_eq!(out.code, 2, "{}", out.stderr);

    // A misspelt package: the cause first, the likely name, then the flag.
    run(xtask(tmp.path()).arg("scaffold")).assert_ok();
    let out = run(xtask(tmp.path()).args(["test", "-p", "comon", "--no-setup"]));
    out.assert_clean_error();
    assert!(
        out.stderr
            .starts_with("error: no package `comon` (did you mean `common`?); the packages are:")
            && out.stderr.contains("(--package comon)"),
        "{}",
        out.stderr
    );
}

#[test]
fn help_lists_the_commands() {
    let tmp = TempDir::new("help");
    for args in [&["--help"][..], &[][..]] {
        let out = run(xtask(tmp.path()).args(args));
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(
            text.contains("scaffold") && text.contains("Usage: cargo xtask"),
            "{text}"
        );
    }
}

/// A reader that went away (`cargo xtask scaffold | head -1`) ends the xtask quietly, as a shell's
/// SIGPIPE would (141): no panic, no backtrace, whatever RUST_BACKTRACE says.
#[test]
fn a_closed_stdout_ends_quietly() {
    let tmp = TempDir::new("closed stdout");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = xtask(tmp.path())
        .arg("scaffold")
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

/// Copies the xtask's sources (and the workspace's manifest and lock) of this repository into
/// `to`, as another checkout of it holds them.
fn copy_xtask_sources(to: &std::path::Path) {
    let repo = common::repo_root();
    for rel in [
        "Cargo.toml",
        "Cargo.lock",
        ".cargo/config.toml",
        "xtask/Cargo.toml",
    ] {
        fs::create_dir_all(to.join(rel).parent().unwrap()).unwrap();
        fs::copy(repo.join(rel), to.join(rel)).unwrap();
    }
    let ok = std::process::Command::new("cp")
        .arg("-R")
        .arg(repo.join("xtask/src"))
        .arg(to.join("xtask/src"))
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// `cargo xtask` in a second checkout whose cargo target folder is the first's: cargo runs the
/// first's build (it does not rebuild for files it never looked at), with `CARGO_MANIFEST_DIR`
/// naming the second. The root is the second checkout; when its xtask sources differ, the
/// build is not its code: an error that says so and how to fix it, before anything runs.
#[test]
fn a_build_run_for_another_checkout_works_there_or_says_it_is_not_its_code() {
    let tmp = TempDir::new("other checkout");
    let other = tmp.path().join("checkout two");
    copy_xtask_sources(&other);
    fs::create_dir_all(other.join("python")).unwrap();
    let run_there = |args: &[&str]| {
        run(std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(args)
            .env("CARGO_MANIFEST_DIR", other.join("xtask"))
            .env("RUST_BACKTRACE", "1"))
    };
    run_there(&["scaffold"]).assert_ok();
    assert!(
        other
            .join("python/apps/media-service/pyproject.toml")
            .is_file()
    );
    let main = other.join("xtask/src/main.rs");
    let text = fs::read_to_string(&main).unwrap();
    fs::write(&main, format!("{text}// another commit\n")).unwrap();
    let out = run_there(&["scaffold", "--check"]);
    out.assert_clean_error();
    assert!(
        out.stderr.contains("whose xtask sources differ")
            && out.stderr.contains(&other.display().to_string())
            && out.stderr.contains("cargo clean -p xtask && cargo xtask"),
        "{}",
        out.stderr
    );
    // Another project's `xtask` crate (no python/ beside it), its variable left by an IDE or
    // that project's cargo: not a checkout of this one, so nothing is refused for it.
    let elsewhere = tmp.path().join("another project");
    copy_xtask_sources(&elsewhere);
    fs::remove_dir_all(elsewhere.join("xtask/src")).unwrap();
    common::write(&elsewhere, "xtask/src/main.rs", "fn main() {}\n");
    let out = run(std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(&other)
        .args(["scaffold", "--check"])
        .env("CARGO_MANIFEST_DIR", elsewhere.join("xtask")));
    out.assert_ok();
}
