//! The daily loop: focused tests, one-pass fmt, short output with failures last, a venv that
//! keeps how it was made, `run`, the editor workspace, git hooks, `--version` and `help`.

use crate::common;

use std::fs;

use common::{committed_set_up_tree, git, python_in, run, scaffolded, set_up_tree, write, xtask};

/// The job lines of a run: `ok      pytest common (media-service venv)  230 ms`.
fn job_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| {
            ["ok ", "cached ", "FAILED ", "none "]
                .iter()
                .any(|s| l.starts_with(s))
        })
        .collect()
}

#[test]
fn focused_tests_filters_and_the_output_of_a_day() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();

    // An end-to-end test under python/tests/e2e: no gate runs it (the plan runs them by hand),
    // and a whole verify says so, with the command that runs it, which fails as it should.
    let e2e = "python/tests/e2e/test_flow.py";
    write(
        root,
        e2e,
        "def test_flow() -> None:\n    assert 1 + 1 == 3\n",
    );
    run(xtask(root).arg("setup")).assert_ok();
    let out = run(xtask(root).arg("verify"));
    out.assert_ok();
    // A passing verify is short: a line a job, the note, and a summary.
    assert!(
        out.stdout.lines().count() <= 45,
        "{} lines:\n{}",
        out.stdout.lines().count(),
        out.stdout
    );
    assert!(
        !out.stdout.contains("$ "),
        "no command lines on success:\n{}",
        out.stdout
    );
    let note = out
        .stdout
        .lines()
        .find(|l| l.starts_with("note: 1 end-to-end test file(s) under python/tests/e2e"))
        .unwrap_or_else(|| panic!("no note:\n{}", out.stdout));
    let words = common::shell_words(note.split_once("release): ").unwrap().1);
    assert_eq!(words[..2], ["cargo", "xtask"], "{note}");
    let by_hand = run(std::process::Command::new(env!("CARGO_BIN_EXE_xtask")).args(&words[2..]));
    assert!(
        by_hand.code != 0 && by_hand.stdout.contains("1 failed"),
        "{}{}",
        by_hand.stdout,
        by_hand.stderr
    );
    let out = run(xtask(root).args(["test", e2e]));
    out.assert_clean_error();
    assert!(
        out.stderr.contains("end-to-end tests run by hand"),
        "{}",
        out.stderr
    );
    fs::remove_file(root.join(e2e)).unwrap();

    // -k with matches in some packages only: the others match nothing, which is no failure.
    let out = run(xtask(root).args(["test", "--", "-k", "shared"]));
    out.assert_ok();
    assert!(
        out.stdout
            .contains("none    pytest common (media-service venv)")
            && out
                .stdout
                .contains("ok      pytest media-service (media-service venv)")
            && out.stdout.contains("focused run: the coverage floor"),
        "{}",
        out.stdout
    );
    // A filter that matches nothing anywhere checked nothing.
    let out = run(xtask(root).args(["test", "--", "-k", "no_such_test_anywhere"]));
    out.assert_clean_error();
    assert!(
        out.stderr.contains("no test matched in any package"),
        "{}",
        out.stderr
    );
    // Neither would a package named in a venv that does not install it.
    let out = run(xtask(root).args(["test", "-p", "sts-service", "--venv", "media-service"]));
    out.assert_clean_error();
    assert!(
        out.stderr.contains(
            "sts-service (named) is installed in no venv that `--venv media-service` names, so \
             none of its jobs would run"
        ) && out.stderr.contains("Name one (`--venv sts-service`)"),
        "{}",
        out.stderr
    );
    // Nor the package the current folder is in.
    let out = run(xtask(root)
        .args(["test", "--venv", "media-service"])
        .current_dir(root.join("python/apps/sts-service/tests")));
    out.assert_clean_error();
    assert!(
        out.stderr
            .contains("sts-service (the current folder is in it) is installed in no venv"),
        "{}",
        out.stderr
    );

    // A test file named from the repository root runs alone (the tests run from elsewhere).
    let file = "python/libs/common/tests/unit/test_version.py";
    let out = run(xtask(root).args(["test", "-v", file]));
    out.assert_ok();
    assert!(
        out.stdout.contains("selected: common (named)"),
        "{}",
        out.stdout
    );
    let jobs = job_lines(&out.stdout);
    assert!(
        out.stdout.contains("1 passed") && !out.stdout.contains("--cov="),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("--- pytest common (media-service venv) ok")
            && !out.stdout.contains("pytest contracts"),
        "{jobs:?}\n{}",
        out.stdout
    );
    let node = format!("{file}::test_version_matches_distribution_metadata");
    run(xtask(root).args(["test", &node])).assert_ok();

    // In a package's folder, test works on that package.
    let out = run(xtask(root)
        .arg("test")
        .current_dir(root.join("python/libs/contracts")));
    out.assert_ok();
    assert!(
        out.stdout
            .contains("selected: contracts (the current folder is in it"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("pytest common"), "{}", out.stdout);

    // A failing test: its assertion in the last 40 lines, a path from the root, and a rerun
    // command for just that test.
    let failing = "python/libs/common/tests/unit/test_fails.py";
    write(
        root,
        failing,
        "def test_fails() -> None:\n    assert 1 + 1 == 3, \"arithmetic is broken\"\n",
    );
    let out = run(xtask(root).arg("verify"));
    assert_eq!(out.code, 1, "{}", out.stdout);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    assert!(tail.contains("arithmetic is broken"), "{tail}");
    assert!(
        tail.contains(&format!("{failing}:2")),
        "paths from the root: {tail}"
    );
    assert!(
        tail.contains("rerun: cargo xtask --root")
            && tail.contains(&format!("test {failing}::test_fails")),
        "{tail}"
    );
    fs::remove_file(root.join(failing)).unwrap();

    // fmt once: fixes first, then the formatter, and lint passes.
    let messy = "python/libs/common/src/dubbing_common/messy.py";
    write(
        root,
        messy,
        "import os\nimport sys\n\n\n\nVALUE:list[str]=[  sys.platform ]\n",
    );
    run(xtask(root).args(["fmt", "-p", "common"])).assert_ok();
    let out = run(xtask(root).args(["lint", "-p", "common"]));
    out.assert_ok();
    fs::remove_file(root.join(messy)).unwrap();

    // Colour only when asked for (or on a terminal): never in a pipe, never with NO_COLOR.
    let plain = run(xtask(root).args(["lint", "-p", "common"]));
    assert!(!plain.stdout.contains('\u{1b}'), "{}", plain.stdout);
    let coloured = run(xtask(root).args(["lint", "-p", "common", "--color", "always"]));
    assert!(coloured.stdout.contains("\u{1b}["), "{}", coloured.stdout);
    let off = run(xtask(root)
        .args(["lint", "-p", "common"])
        .env("NO_COLOR", "1")
        .env("CLICOLOR_FORCE", "1"));
    assert!(!off.stdout.contains('\u{1b}'), "{}", off.stdout);
}

/// A venv built with `--python 3.11` stays so for plain commands.
#[test]
fn a_venv_keeps_the_python_and_installer_it_was_made_with() {
    let tmp = scaffolded("sticky");
    let root = tmp.path();
    run(xtask(root).args(["setup-stream", "--python", "3.11"])).assert_ok();
    let version = || {
        python_in(
            root,
            "media-service",
            "import sys; print(sys.version_info[:2])",
        )
        .1
    };
    assert_eq!(version().trim(), "(3, 11)");
    let out = run(xtask(root).args(["test", "-p", "media-service"]));
    out.assert_ok();
    assert!(!out.stdout.contains("recreating"), "{}", out.stdout);
    assert_eq!(version().trim(), "(3, 11)");
    let doctor = run(xtask(root).arg("doctor"));
    assert!(
        doctor
            .stdout
            .contains("--python 3.11 at the venv's last setup"),
        "{}",
        doctor.stdout
    );
    // Another --python is a new choice.
    let out = run(xtask(root).args(["setup-stream", "--python", "3.10"]));
    out.assert_ok();
    assert_eq!(version().trim(), "(3, 10)");
    // The installer stays the same way: see
    // layouts::the_pip_installer_builds_a_working_venv_with_a_hatchling_library.
}

/// `run`, `ide`, `hooks`, `--version`, `help`, and options a command cannot honour.
#[test]
fn run_ide_hooks_and_the_command_line() {
    // What these commands read is a set-up tree's: none of them makes a venv of its own.
    let tmp = set_up_tree();
    let root = tmp.path();
    let out = run(xtask(root).args([
        "run",
        "media-service",
        "--",
        "python",
        "-c",
        "import media_service, os; print(os.environ['VIRTUAL_ENV'])",
    ]));
    out.assert_ok();
    assert!(
        out.stdout.contains("python/apps/media-service/.venv"),
        "{}",
        out.stdout
    );
    let out = run(xtask(root).args(["run", "common", "--", "python", "-c", "raise SystemExit(7)"]));
    assert_eq!(out.code, 7, "{}", out.stderr);

    run(xtask(root).arg("setup")).assert_ok();
    let out = run(xtask(root).arg("ide"));
    out.assert_ok();
    let workspace = fs::read_to_string(root.join("python/dubbing.code-workspace")).unwrap();
    for package in [
        "apps/media-service",
        "apps/sts-service",
        "libs/common",
        "libs/contracts",
    ] {
        assert!(workspace.contains(&format!("\"{package}\"")), "{workspace}");
    }
    let settings =
        fs::read_to_string(root.join("python/libs/common/.vscode/settings.json")).unwrap();
    assert!(
        settings.contains(
            "\"python.defaultInterpreterPath\": \"${workspaceFolder}/../../apps/media-service/.venv/bin/python\""
        ),
        "{settings}"
    );
    let pyright = fs::read_to_string(root.join("python/pyrightconfig.json")).unwrap();
    assert!(
        pyright.contains("\"root\": \"apps/sts-service\""),
        "{pyright}"
    );
    run(xtask(root).args(["ide", "--check"])).assert_ok();
    fs::write(root.join("python/pyrightconfig.json"), "{}").unwrap();
    let out = run(xtask(root).args(["ide", "--check"]));
    out.assert_clean_error();
    assert!(
        out.stderr.contains("python/pyrightconfig.json differs"),
        "{}",
        out.stderr
    );
    // A person's file is never overwritten.
    let out = run(xtask(root).arg("ide"));
    out.assert_clean_error();
    assert!(
        out.stderr.contains("was not written by `cargo xtask ide`"),
        "{}",
        out.stderr
    );
    assert_eq!(
        fs::read_to_string(root.join("python/pyrightconfig.json")).unwrap(),
        "{}"
    );

    git(root, &["init", "-q"]);
    let hooks = root.join(".git/hooks");
    fs::create_dir_all(&hooks).unwrap();
    fs::write(hooks.join("pre-commit"), "#!/bin/sh\necho mine\n").unwrap();
    let out = run(xtask(root).args(["hooks", "install"]));
    out.assert_clean_error();
    assert!(
        out.stderr
            .contains("pre-commit is a hook the xtask did not write"),
        "{}",
        out.stderr
    );
    assert_eq!(
        fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    assert!(
        !hooks.join("pre-push").exists(),
        "nothing is installed when one is refused"
    );
    fs::remove_file(hooks.join("pre-commit")).unwrap();
    run(xtask(root).args(["hooks", "install"])).assert_ok();
    let pre_push = fs::read_to_string(hooks.join("pre-push")).unwrap();
    assert!(
        pre_push.contains("cargo xtask hooks run pre-push"),
        "{pre_push}"
    );
    run(xtask(root).args(["hooks", "uninstall"])).assert_ok();
    assert!(!hooks.join("pre-push").exists());

    let out = run(xtask(root).arg("--version"));
    out.assert_ok();
    assert!(out.stdout.starts_with("cargo xtask "), "{}", out.stdout);
    let out = run(xtask(root).args(["help", "verify"]));
    out.assert_ok();
    for criterion in 1..=8 {
        assert!(
            out.stdout.contains(&format!("SC-00{criterion}:")),
            "{}",
            out.stdout
        );
    }
    for refused in [&["fmt", "--junit", "x"][..], &["doctor", "--force"]] {
        let out = run(xtask(root).args(refused));
        assert_eq!(out.code, 2, "{refused:?} was accepted: {}", out.stderr);
    }
}
