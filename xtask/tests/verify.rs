//! `verify`, `lint`, `test` and `fmt` on a real committed tree with real venvs: the clean tree
//! passes, and each kind of breakage fails naming the package and the check.

use crate::common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Run, committed_set_up_tree, git, run, venv_python, xtask};

/// Writes `content` to `rel` under the root and returns what was there (None: nothing).
fn put(root: &Path, rel: &str, content: &str) -> Option<String> {
    let path = root.join(rel);
    let old = fs::read_to_string(&path).ok();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    old
}

fn restore(root: &Path, rel: &str, old: Option<String>) {
    match old {
        Some(text) => fs::write(root.join(rel), text).unwrap(),
        None => fs::remove_file(root.join(rel)).unwrap(),
    }
}

#[track_caller]
fn assert_fails_naming(out: &Run, jobs: &[&str], detail: &str) {
    assert_eq!(
        out.code, 1,
        "expected exit 1\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    for job in jobs {
        assert!(
            out.stderr.contains(&format!("{job}: rerun with")),
            "{job} is not named as failed:\n{}",
            out.stderr
        );
    }
    assert!(
        out.stdout.contains(detail),
        "missing {detail:?} in:\n{}",
        out.stdout
    );
}

/// Every line is a JSON object (checked by a real JSON parser: the venv's Python), the last the
/// summary; returns the summary's result and its failed job names.
fn parse_json_lines(root: &Path, stdout: &str) -> (String, Vec<String>) {
    let code = "import json, sys\n\
                lines = [json.loads(l) for l in sys.stdin.read().splitlines()]\n\
                assert all(l['reason'] == 'job-finished' for l in lines[:-1]), lines\n\
                jobs = [l for l in lines[:-1]]\n\
                s = lines[-1]\n\
                assert s['reason'] == 'summary' and s['jobs'] == len(jobs), s\n\
                assert s['failed'] == sum(j['result'] == 'failed' for j in jobs)\n\
                assert all(isinstance(j['duration_ms'], int) and j['command'] for j in jobs)\n\
                print(s['result'])\n\
                for f in s['failed_jobs']: print(f)";
    let mut child = Command::new(venv_python(root, "media-service"))
        .args(["-c", code])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdout.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "not valid JSON lines: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let result = lines.next().unwrap().to_owned();
    (result, lines.map(str::to_owned).collect())
}

#[test]
fn verify_passes_on_the_clean_tree_and_names_each_breakage() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();

    let out = run(xtask(root).arg("verify"));
    out.assert_ok();
    for check in [
        "tree (SC-006)",
        "gitignore (SC-007)",
        "environment",
        "readme (SC-005) common",
        "mypy common (sts-service venv)",
        "pytest contracts",
    ] {
        assert!(
            out.stdout.contains(check),
            "{check} did not run:\n{}",
            out.stdout
        );
    }
    // Nothing changed: the tool jobs are remembered passes; --no-cache runs them all again.
    let again = run(xtask(root).arg("verify"));
    again.assert_ok();
    assert!(
        again
            .stdout
            .contains("cached  pytest common (media-service venv)"),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("34 jobs (24 cached)"),
        "{}",
        again.stdout
    );
    // An edit in a service reruns that service's jobs only; a library's, its dependents' too.
    let module = "python/apps/media-service/src/media_service/pipelines/__init__.py";
    let old = put(root, module, "\"\"\"Media pipelines, edited.\"\"\"\n");
    let edited = run(xtask(root).arg("verify"));
    edited.assert_ok();
    let ran = |out: &Run, job: &str| out.stdout.contains(&format!("ok      {job}  "));
    assert!(
        ran(&edited, "pytest media-service (media-service venv)"),
        "{}",
        edited.stdout
    );
    assert!(
        edited
            .stdout
            .contains("cached  mypy common (media-service venv)"),
        "{}",
        edited.stdout
    );
    restore(root, module, old);
    let lib = "python/libs/common/src/dubbing_common/__init__.py";
    let old = put(
        root,
        lib,
        &format!(
            "{}\nEXTRA = 1\n",
            fs::read_to_string(root.join(lib)).unwrap()
        ),
    );
    let edited = run(xtask(root).arg("verify"));
    edited.assert_ok();
    for job in [
        "mypy common (sts-service venv)",
        "pytest sts-service (sts-service venv)",
        "mypy media-service (media-service venv)",
    ] {
        assert!(
            ran(&edited, job),
            "{job} did not run again: {}",
            edited.stdout
        );
    }
    assert!(
        edited
            .stdout
            .contains("cached  pytest contracts (media-service venv)"),
        "{}",
        edited.stdout
    );
    restore(root, lib, old);
    let fresh = run(xtask(root).args(["verify", "--no-cache"]));
    fresh.assert_ok();
    assert!(
        fresh.stdout.contains("34 jobs (0 cached)"),
        "{}",
        fresh.stdout
    );
    let json = run(xtask(root).args(["verify", "--message-format", "json", "--no-setup"]));
    json.assert_ok();
    assert_eq!(
        parse_json_lines(root, &json.stdout),
        ("ok".to_owned(), vec![])
    );

    let common_init = "python/libs/common/src/dubbing_common/__init__.py";
    let text = fs::read_to_string(root.join(common_init)).unwrap();
    let old = put(root, common_init, &format!("import os\n{text}"));
    assert_fails_naming(
        &run(xtask(root).args(["verify", "--package", "common"])),
        &["ruff check common (media-service venv)"],
        "F401",
    );
    restore(root, common_init, old);

    let rel = "python/libs/contracts/src/dubbing_contracts/badly_formatted.py";
    let old = put(root, rel, "VALUE: dict[str, int] = {  'a':1 }\n");
    assert_fails_naming(
        &run(xtask(root).args(["verify", "-p", "contracts"])),
        &["ruff format contracts (media-service venv)"],
        "would be reformatted",
    );
    restore(root, rel, old);

    let rel = "python/apps/media-service/src/media_service/wrong.py";
    let old = put(
        root,
        rel,
        "def answer() -> int:\n    return \"forty-two\"\n",
    );
    let out = run(xtask(root).args(["verify", "--package", "media-service"]));
    assert_fails_naming(
        &out,
        &["mypy media-service (media-service venv)"],
        "Incompatible return value type",
    );
    restore(root, rel, old);

    let rel = "python/apps/sts-service/tests/unit/test_broken.py";
    let old = put(
        root,
        rel,
        "def test_arithmetic() -> None:\n    assert 1 + 1 == 3\n",
    );
    assert_fails_naming(
        &run(xtask(root).args(["test", "-p", "sts-service"])),
        &["pytest sts-service (sts-service venv)"],
        "1 failed",
    );
    restore(root, rel, old);

    let rel = "python/libs/common/src/dubbing_common/untested.py";
    let body = "def scale(values: list[int], factor: int) -> list[int]:\n    out = []\n    for v in values:\n        out.append(v * factor)\n    return out\n\n\ndef total(values: list[int]) -> int:\n    result = 0\n    for v in values:\n        result += v\n    return result\n";
    let old = put(root, rel, body);
    let out = run(xtask(root).args(["verify", "-p", "common"]));
    assert_fails_naming(
        &out,
        &["pytest common (media-service venv)"],
        "Required test coverage of 80% not reached",
    );
    restore(root, rel, old);

    // SC-006 checks structure: a required part is missing (content is the team's). The tree
    // check runs whatever -p selects.
    let rel = "python/libs/contracts/src/dubbing_contracts/py.typed";
    fs::remove_file(root.join(rel)).unwrap();
    assert_fails_naming(
        &run(xtask(root).args(["verify", "-p", "contracts"])),
        &["tree (SC-006)"],
        &format!("missing {rel} (PEP 561's marker"),
    );
    fs::write(root.join(rel), "").unwrap();

    // The media-service venv can import sts_service: a .pth file into its site-packages.
    let site = common::site_packages(root, "media-service");
    let pth = site.join("leak.pth");
    fs::write(
        &pth,
        format!("{}\n", root.join("python/apps/sts-service/src").display()),
    )
    .unwrap();
    // The stamp records what is installed: --no-setup refuses the changed venv, naming the
    // change; a plain verify rebuilds it, and then neither service imports the other.
    let out = run(xtask(root).args(["verify", "--no-setup"]));
    out.assert_clean_error();
    assert!(
        out.stderr
            .contains("media-service: its venv is stale (leak.pth added by hand since setup)"),
        "{}",
        out.stderr
    );
    let out = run(xtask(root).arg("verify"));
    out.assert_ok();
    assert!(
        out.stdout
            .contains("recreating the venv: leak.pth added by hand since setup"),
        "{}",
        out.stdout
    );
    assert!(!pth.exists());

    // Two services that both provide the import package sts_service: the venv's post-check
    // (SC-008's check) fails, naming it. A new import package is an input of the install (an
    // editable served by an import hook knows only the packages it was built with), so the
    // setup that verify runs first is where it fails.
    let rel = "python/apps/media-service/src/sts_service/__init__.py";
    put(root, rel, "\"\"\"Not media's to provide.\"\"\"\n");
    for format in ["human", "json"] {
        let out =
            run(xtask(root).args(["verify", "-p", "media-service", "--message-format", format]));
        assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
        assert!(
            out.stderr
                .contains("sts_service can be imported, but it belongs to another service"),
            "{}",
            out.stderr
        );
    }
    fs::remove_dir_all(root.join("python/apps/media-service/src/sts_service")).unwrap();

    let rel = "python/apps/media-service/README.md";
    let old = put(
        root,
        rel,
        "# media-service\n\nRun the tests with `cargo xtask test`.\n",
    );
    assert_fails_naming(
        &run(xtask(root).args(["verify", "-p", "media-service"])),
        &["readme (SC-005) media-service"],
        "does not name the setup command",
    );
    // Each command it names is read as the xtask reads it: one that does not exist, or a
    // package that does not, fails with its line. (The README check is a check of the tree:
    // `--tree` runs it without setting up the venv, whose install the README is part of.)
    put(
        root,
        rel,
        "# media-service\n\n```sh\ncargo xtask setup-nonexistent\ncargo xtask test --package media-service\n```\n",
    );
    assert_fails_naming(
        &run(xtask(root).args(["verify", "--tree", "-p", "media-service"])),
        &["readme (SC-005) media-service"],
        "README.md:4: `cargo xtask setup-nonexistent` is no command of this xtask",
    );
    put(
        root,
        rel,
        "# media-service\n\n`cargo xtask setup-stream`, then `cargo xtask test -p no-such-pkg`.\n",
    );
    assert_fails_naming(
        &run(xtask(root).args(["verify", "--tree", "-p", "media-service"])),
        &["readme (SC-005) media-service"],
        "README.md:3: `cargo xtask test -p no-such-pkg` names no package: no-such-pkg",
    );
    restore(root, rel, old);

    // SC-007 with the rules a clone has: a rule that hides a module the tools read (`lib/`, as
    // GitHub's Python template has it) fails, naming the module git leaves out of every commit;
    // venvs ignored by .git/info/exclude alone are not ignored in a clone.
    let gitignore = fs::read_to_string(root.join(".gitignore")).unwrap();
    fs::write(root.join(".gitignore"), format!("{gitignore}lib/\n")).unwrap();
    let module = "python/apps/media-service/src/media_service/lib/__init__.py";
    put(root, module, "\"\"\"Helpers.\"\"\"\n");
    assert_fails_naming(
        &run(xtask(root).args(["verify", "--tree"])),
        &["gitignore (SC-007)"],
        &format!("a file the tools read is ignored, so no commit holds it: {module}"),
    );
    fs::remove_dir_all(root.join("python/apps/media-service/src/media_service/lib")).unwrap();
    let without_venvs = |text: &str| -> String {
        text.lines()
            .filter(|l| *l != ".venv/")
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let python_gitignore = fs::read_to_string(root.join("python/.gitignore")).unwrap();
    fs::write(root.join(".gitignore"), without_venvs(&gitignore)).unwrap();
    fs::write(
        root.join("python/.gitignore"),
        without_venvs(&python_gitignore),
    )
    .unwrap();
    fs::write(root.join(".git/info/exclude"), ".venv/\n").unwrap();
    assert_fails_naming(
        &run(xtask(root).args(["verify", "--tree"])),
        &["gitignore (SC-007)"],
        "not ignored by a .gitignore: python/apps/media-service/.venv/pyvenv.cfg",
    );
    fs::write(root.join(".git/info/exclude"), "").unwrap();
    fs::write(root.join(".gitignore"), &gitignore).unwrap();
    fs::write(root.join("python/.gitignore"), &python_gitignore).unwrap();
    // The other way round: a tracked module that a rule of this machine alone ignores. ruff
    // skips it here and checks it in every clone: named, with the rule.
    let scratch = "python/apps/media-service/tests/unit/scratch_a.py";
    put(root, scratch, "\"\"\"Scratch.\"\"\"\n");
    git(root, &["add", scratch]);
    // A rule for a file ruff never reads (a pyenv user's `.python-version`) is no matter.
    fs::write(
        root.join(".git/info/exclude"),
        ".python-version\nscratch_*.py\n",
    )
    .unwrap();
    let out = run(xtask(root).args(["verify", "--tree"]));
    assert_fails_naming(
        &out,
        &["gitignore (SC-007)"],
        &format!(
            "a tracked file is ignored by a rule no clone has (.git/info/exclude:2: scratch_*.py), so ruff skips it here and checks it in a clone: {scratch}"
        ),
    );
    assert!(
        !out.stdout.contains("exclude:1: .python-version"),
        "{}",
        out.stdout
    );
    fs::write(root.join(".git/info/exclude"), "").unwrap();
    git(root, &["rm", "-q", "--cached", scratch]);
    fs::remove_file(root.join(scratch)).unwrap();

    // SC-006: a Dockerfile left in the folder of a service that is no more (renamed) is checked
    // by no deploy job: named.
    let orphan = "python/deploy/stream-service/Dockerfile";
    put(root, orphan, "FROM python:3.10-slim\n");
    assert_fails_naming(
        &run(xtask(root).args(["verify", "--tree"])),
        &["tree (SC-006)"],
        &format!("{orphan} belongs to no service (the services: media-service, sts-service)"),
    );
    fs::remove_dir_all(root.join("python/deploy/stream-service")).unwrap();

    // The README is the installed description: its edit left the venv to set up again, which
    // --no-setup refuses to do; once set up, --no-setup passes.
    let out = run(xtask(root).args(["verify", "--no-setup"]));
    assert!(out.stderr.contains("README.md changed"), "{}", out.stderr);
    run(xtask(root).arg("setup")).assert_ok();
    run(xtask(root).args(["verify", "--no-setup"])).assert_ok();
}

#[test]
fn fmt_fixes_what_lint_reports_and_junit_reports_are_written() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let rel = "python/libs/common/src/dubbing_common/messy.py";
    put(
        root,
        rel,
        "import os\nimport sys\nVALUE: list[str] = [  sys.platform ]\n",
    );
    let out = run(xtask(root).args(["lint", "-p", "common"]));
    assert_fails_naming(
        &out,
        &[
            "ruff check common (media-service venv)",
            "ruff format common (media-service venv)",
        ],
        "F401",
    );

    run(xtask(root).args(["fmt"])).assert_ok();
    assert_eq!(
        fs::read_to_string(root.join(rel)).unwrap(),
        "import sys\n\nVALUE: list[str] = [sys.platform]\n"
    );
    run(xtask(root).args(["lint", "-p", "common", "--no-setup"])).assert_ok();
    // What ruff cannot fix (an undefined name) is fixed around, then fails fmt, saying so.
    put(root, rel, "import os\nVALUE = UNDEFINED\n");
    let out = run(xtask(root).args(["fmt", "-p", "common"]));
    out.assert_clean_error();
    assert!(
        out.stdout.contains("F821") && out.stderr.contains("that it cannot fix"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        fs::read_to_string(root.join(rel)).unwrap(),
        "VALUE = UNDEFINED\n"
    );
    // `lint --fix` fixes, then checks: what is left fails it.
    let out = run(xtask(root).args(["lint", "--fix", "-p", "common"]));
    assert_fails_naming(&out, &["ruff check common (media-service venv)"], "F821");
    // The checks after the fixes are keyed by the files as the fixes left them: a pass
    // remembered for the files before them does not answer.
    put(root, rel, "VALUE = 1\n\n\n\nOTHER = 2\n");
    let out = run(xtask(root).args(["lint", "-p", "common"]));
    assert!(
        out.stdout
            .contains("ok      mypy common (media-service venv)"),
        "{}",
        out.stdout
    );
    let out = run(xtask(root).args(["lint", "--fix", "-p", "common"]));
    out.assert_ok();
    assert!(
        out.stdout
            .contains("ok      mypy common (media-service venv)"),
        "{}",
        out.stdout
    );
    // An untested module would fail the coverage gate below.
    fs::remove_file(root.join(rel)).unwrap();

    let junit = root.join("reports");
    let out = run(xtask(root)
        .args(["test", "-p", "common", "--junit"])
        .arg(&junit)
        .args(["--", "-k", "version"]));
    out.assert_ok();
    let xml = fs::read_to_string(junit.join("pytest-common-media-service.xml")).unwrap();
    assert!(
        xml.contains("<testsuite") && xml.contains("test_version_matches_distribution_metadata"),
        "{xml}"
    );
}
