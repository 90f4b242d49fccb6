//! Truthful state: a remembered pass, or an `up to date` stamp, always means what a fresh run
//! would give. Each test changes one input and shows that the verdict follows a fresh run's
//! (`--no-cache` for remembered passes, a new venv for stamps).

use crate::common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{
    TempDir, agrees_with_fresh, committed_set_up_tree, python_in, run, set_up_tree, site_packages,
    write, xtask,
};

fn remove(root: &Path, rel: &str) {
    let path = root.join(rel);
    if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
        fs::remove_dir_all(path).unwrap();
    } else {
        fs::remove_file(path).unwrap();
    }
}

/// `args` passes from its memo: nothing ran.
#[track_caller]
fn assert_cached_pass(root: &Path, args: &[&str], envs: &[(&str, &str)]) {
    let out = run(xtask(root).args(args).envs(envs.iter().copied()));
    out.assert_ok();
    assert!(
        (out.stdout.contains(" jobs ok") || out.stdout.contains(" job ok"))
            && out.stdout.contains("\ncached  "),
        "expected remembered passes:\n{}",
        out.stdout
    );
    assert!(
        out.stdout
            .lines()
            .filter(|l| ["ok ", "cached ", "FAILED ", "none "]
                .iter()
                .any(|s| l.starts_with(s)))
            .filter(|l| !l.contains("  imports "))
            .all(|l| l.starts_with("cached ")),
        "a job ran:\n{}",
        out.stdout
    );
}

/// One change at a time to what a job can read; after each, the remembered verdict equals the
/// fresh one, and both see the change.
#[test]
fn remembered_passes_follow_every_input_a_tool_can_read() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    let outside = TempDir::new("memo outside");
    // One venv's jobs (`--venv`): the keys are made alike in every venv.
    let test_common = ["test", "-p", "common", "--venv", "media-service"];
    let lint_common = ["lint", "-p", "common", "--venv", "media-service"];
    run(xtask(root).args(test_common)).assert_ok();
    run(xtask(root).args(lint_common)).assert_ok();
    assert_cached_pass(root, &test_common, &[]);

    // A conftest.py above the package, at python/, python/libs/ (pytest loads them).
    for conftest in ["python/conftest.py", "python/libs/conftest.py"] {
        write(
            root,
            conftest,
            "import pytest\n\n\n@pytest.fixture(autouse=True)\ndef _broken() -> None:\n    raise RuntimeError(\"a conftest above the package\")\n",
        );
        let out = agrees_with_fresh(root, &test_common, &[]);
        assert_eq!(out.code, 1, "{conftest}:\n{}", out.stdout);
        assert!(
            out.stdout.contains("a conftest above the package"),
            "{}",
            out.stdout
        );
        remove(root, conftest);
        assert_eq!(agrees_with_fresh(root, &test_common, &[]).code, 0);
    }

    // A ruff.toml between python/ and the package: ruff applies the closest one.
    write(root, "python/libs/ruff.toml", "[lint]\nselect = [\"D\"]\n");
    let out = agrees_with_fresh(root, &lint_common, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("D10"), "{}", out.stdout);
    remove(root, "python/libs/ruff.toml");
    assert_eq!(agrees_with_fresh(root, &lint_common, &[]).code, 0);

    // A module in a source folder named `build` (a leftover's name, but source).
    let build = "python/libs/common/src/dubbing_common/build/__init__.py";
    write(
        root,
        build,
        "\"\"\"Built things.\"\"\"\n\nVALUE: int = \"not an int\"\n",
    );
    let out = agrees_with_fresh(root, &lint_common, &[]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("Incompatible types"), "{}", out.stdout);
    remove(root, "python/libs/common/src/dubbing_common/build");

    // An environment variable a test reads, outside any tool's prefix.
    write(
        root,
        "python/libs/common/tests/unit/test_mode.py",
        "import os\n\n\ndef test_mode_is_live() -> None:\n    assert os.environ.get(\"DUBBING_MODE\", \"live\") == \"live\"\n",
    );
    run(xtask(root).args(test_common)).assert_ok();
    assert_cached_pass(root, &test_common, &[]);
    let out = agrees_with_fresh(root, &test_common, &[("DUBBING_MODE", "replay")]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert_cached_pass(root, &test_common, &[]);

    // A symlinked file counts by its target's content.
    #[cfg(unix)]
    {
        let target = outside.path().join("test_linked.py");
        fs::write(&target, "def test_linked() -> None:\n    assert True\n").unwrap();
        std::os::unix::fs::symlink(
            &target,
            root.join("python/libs/common/tests/unit/test_linked.py"),
        )
        .unwrap();
        run(xtask(root).args(test_common)).assert_ok();
        assert_cached_pass(root, &test_common, &[]);
        fs::write(&target, "def test_linked() -> None:\n    assert 1 == 2\n").unwrap();
        let out = agrees_with_fresh(root, &test_common, &[]);
        assert_eq!(out.code, 1, "{}", out.stdout);
        remove(root, "python/libs/common/tests/unit/test_linked.py");
    }

    // PATH is an input of a job (a test may run a program found on it), but of no venv: a new
    // PATH changes no venv (nothing is reinstalled), and the pass from the old PATH is kept.
    run(xtask(root).args(test_common)).assert_ok();
    let path = format!(
        "{}:{}",
        outside.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = run(xtask(root).args(test_common).arg("-v").env("PATH", &path));
    out.assert_ok();
    assert!(
        out.stdout
            .contains("ran again: changed since its last pass: the environment variables"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("reinstalling"), "{}", out.stdout);
    assert_cached_pass(root, &test_common, &[]);
}

/// One change at a time to what an install reads or to the venv itself; after each, setup and
/// doctor see it, and what the venv then holds is what a new venv would.
#[test]
fn the_stamp_follows_every_input_of_the_install_and_the_venv_itself() {
    let tmp = set_up_tree();
    let root = tmp.path();
    run(xtask(root).arg("setup-stream")).assert_ok();
    let up_to_date = |label: &str| {
        eprintln!("{label}");
        run(xtask(root).arg("setup-stream")).assert_up_to_date("media-service");
    };
    up_to_date("after setup");

    // The lock is what the install reads: `add` relocks and the venv follows; a lock edited by
    // hand is refused, naming it.
    run(xtask(root).args(["add", "media-service", "six==1.16.0"])).assert_ok();
    up_to_date("after add");
    assert!(python_in(root, "media-service", "import six").0);
    let requirements = root.join("python/apps/media-service/requirements.txt");
    let locked = fs::read_to_string(&requirements).unwrap();
    fs::write(&requirements, format!("{locked}colorama==0.4.6\n")).unwrap();
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_clean_error();
    assert!(
        out.stderr.contains(
            "python/apps/media-service/requirements.txt was not written by `lock`, or was edited since"
        ),
        "{}",
        out.stderr
    );
    fs::write(&requirements, &locked).unwrap();
    up_to_date("the lock put back");

    // A dynamic version read from the source (setuptools `attr:`): bumping it is seen.
    common::make_common_version_dynamic(root);
    run(xtask(root).arg("setup-stream")).assert_ok();
    up_to_date("after making the version dynamic");
    let init = root.join("python/libs/common/src/dubbing_common/__init__.py");
    let text = fs::read_to_string(&init).unwrap();
    fs::write(&init, text.replace("0.1.0", "0.2.0")).unwrap();
    let doctor = run(xtask(root).arg("doctor"));
    assert!(
        doctor
            .stdout
            .contains("stale (python/libs/common/src/dubbing_common/__init__.py changed)"),
        "{}",
        doctor.stdout
    );
    // The version test compares the source with the installed metadata: it passes, as in a
    // new venv, because the gate brings the venv up to date first.
    // In the venv set up above, alone (`--venv`).
    let out = agrees_with_fresh(
        root,
        &["test", "-p", "common", "--venv", "media-service"],
        &[],
    );
    out.assert_ok();
    let (_, version) = python_in(
        root,
        "media-service",
        "from importlib.metadata import version; print(version('dubbing-common'))",
    );
    assert_eq!(version.trim(), "0.2.0");

    // Configuration in the caller's folder is never read; the installer's variables are recorded.
    let caller = TempDir::new("caller");
    fs::write(caller.path().join("uv.toml"), "this is [not toml\n").unwrap();
    fs::write(
        caller.path().join("pip.conf"),
        "[global]\nindex-url = http://127.0.0.1:9/\n",
    )
    .unwrap();
    let out = run(xtask(root)
        .args(["setup-stream", "--force"])
        .current_dir(caller.path()));
    out.assert_ok();
    let doctor = run(xtask(root)
        .arg("doctor")
        .env("UV_INDEX_URL", "http://127.0.0.1:9/simple"));
    assert!(
        doctor
            .stdout
            .contains("the installer's variables (UV_*, PIP_*) changed"),
        "{}",
        doctor.stdout
    );
    up_to_date("the variable unset again");

    // A distribution removed by hand: doctor names it, setup puts it back.
    let site = site_packages(root, "media-service");
    let dist = fs::read_dir(&site)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("six-"))
        .unwrap();
    fs::remove_dir_all(&dist).unwrap();
    let doctor = run(xtask(root).arg("doctor"));
    assert!(
        doctor
            .stdout
            .contains("six-1.16.0 removed by hand since setup"),
        "{}",
        doctor.stdout
    );
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_ok();
    assert!(
        out.stdout
            .contains("reinstalling: six-1.16.0 removed by hand"),
        "{}",
        out.stdout
    );
    assert!(dist.is_dir(), "setup did not repair the venv");
    // A file added by hand (a .pth that makes the other service importable): a new venv.
    fs::write(
        site.join("leak.pth"),
        format!("{}\n", root.join("python/apps/sts-service/src").display()),
    )
    .unwrap();
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_ok();
    assert!(
        out.stdout
            .contains("recreating the venv: leak.pth added by hand since setup"),
        "{}",
        out.stdout
    );
    assert!(!python_in(root, "media-service", "import sts_service").0);

    // A failed reinstall is reinstalled next time, not rebuilt from nothing: a build
    // requirement that does not exist fails the editable build of common.
    let pyproject = root.join("python/libs/common/pyproject.toml");
    let good = fs::read_to_string(&pyproject).unwrap();
    fs::write(
        &pyproject,
        good.replace(
            "requires = [\"setuptools>=68\"]",
            "requires = [\"setuptools>=68\", \"this-package-does-not-exist-xtask-test\"]",
        ),
    )
    .unwrap();
    run(xtask(root).arg("setup-stream")).assert_clean_error();
    let doctor = run(xtask(root).arg("doctor"));
    assert!(
        doctor.stdout.contains("the last install did not finish"),
        "{}",
        doctor.stdout
    );
    fs::write(&pyproject, &good).unwrap();
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_ok();
    assert!(
        out.stdout.contains("reinstalling:")
            && out.stdout.contains("the last install did not finish"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("venv created"), "{}", out.stdout);
}

/// What a venv holds is known by the content of its RECORDs and top-level modules, each digest
/// remembered by the file's identity (xtask-digests.txt in the venv): an edit that keeps a file's
/// size and modification time, and putting it back, are seen as by a run that remembers nothing.
#[cfg(unix)]
#[test]
fn installed_files_edited_keeping_size_and_time_are_seen() {
    let tmp = set_up_tree();
    let root = tmp.path();
    run(xtask(root).arg("setup-stream")).assert_ok();
    let venv = root.join("python/apps/media-service/.venv");
    let table = venv.join("xtask-digests.txt");
    let site = site_packages(root, "media-service");
    // uv links a wheel's files from its cache, so another install of the same wheel anywhere
    // moves their ctime (rightly: a miss); the module gets a file of its own, the same content.
    let module = site.join("typing_extensions.py");
    let own = site.join("typing_extensions.py.copy");
    fs::copy(&module, &own).unwrap();
    fs::rename(&own, &module).unwrap();
    // Only a file changed at least 3 s before it is read is remembered (file_digests::SETTLED).
    std::thread::sleep(std::time::Duration::from_millis(3200));
    let out = run(xtask(root).arg("setup-stream"));
    assert_eq!(out.stdout.trim(), "media-service: up to date");
    let record = fs::read_dir(&site)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("pytest-")
        })
        .unwrap()
        .join("RECORD");
    let remembered = fs::read_to_string(&table).unwrap();
    for file in [&record, &module] {
        let key = file
            .strip_prefix(&venv)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            remembered.contains(&format!(" {key}\n")),
            "{key}:\n{remembered}"
        );
    }
    let media_line = |label: &str| {
        let out = run(xtask(root).arg("doctor"));
        let line = out
            .stdout
            .lines()
            .find(|l| l.starts_with("media-service: venv "));
        line.unwrap_or_else(|| panic!("{label}: {}", out.stdout))
            .to_owned()
    };
    // Each verdict twice: as remembered, then with nothing remembered (the table moved aside;
    // doctor, a look that changes nothing, writes none), then the table is put back.
    let aside = venv.with_file_name("digests aside");
    let both = |label: &str| {
        let remembered = media_line(label);
        fs::rename(&table, &aside).unwrap();
        let fresh = media_line(label);
        assert!(!table.exists(), "doctor wrote {}", table.display());
        fs::rename(&aside, &table).unwrap();
        assert_eq!(remembered, fresh, "{label}");
        remembered
    };
    for file in [&record, &module] {
        let original = fs::read(file).unwrap();
        let mtime = fs::metadata(file).unwrap().modified().unwrap();
        let at = original.iter().position(|&b| b == b'a').unwrap();
        let mut edited = original.clone();
        edited[at] = b'b';
        let keep_time = |bytes: &[u8]| {
            fs::write(file, bytes).unwrap();
            let handle = fs::File::options().write(true).open(file).unwrap();
            handle.set_modified(mtime).unwrap();
        };
        keep_time(&edited);
        let verdict = both(&format!("{} edited", file.display()));
        assert!(verdict.contains(": stale ("), "{verdict}");
        keep_time(&original);
        let verdict = both(&format!("{} put back", file.display()));
        assert!(verdict.ends_with(": fresh"), "{verdict}");
    }

    // `--no-cache` trusts nothing remembered: a table that lies (another content's digest under
    // a settled RECORD's identity) misleads doctor, never a `--no-cache` gate.
    let text = fs::read_to_string(&table).unwrap();
    let lie: String = text
        .lines()
        .map(|line| match line.split_once(' ') {
            Some((_, rest)) if line.contains("/pluggy-") => format!("{} {rest}\n", "0".repeat(64)),
            _ => format!("{line}\n"),
        })
        .collect();
    assert_ne!(lie, text, "pluggy's RECORD is remembered:\n{text}");
    fs::write(&table, lie).unwrap();
    assert!(media_line("the lie").contains(": stale ("));
    let out = run(xtask(root).args(["test", "-p", "media-service", "--no-cache"]));
    out.assert_ok();
    assert!(
        !out.stdout.contains("reinstalling") && !out.stdout.contains("recreating"),
        "{}",
        out.stdout
    );
}

/// A copy of a tree with its venvs (`cp -a`) rebuilds them: the copy's tests import the copy's
/// code, never the original's.
#[cfg(unix)]
#[test]
fn a_copied_tree_gets_its_own_venvs() {
    let tmp = set_up_tree();
    let root = tmp.path();
    run(xtask(root).args(["test", "-p", "media-service"])).assert_ok();
    let copy_parent = TempDir::new("copy to");
    let copy = copy_parent.path().join("tree");
    let ok = Command::new("cp")
        .arg("-a")
        .arg(root)
        .arg(&copy)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    // Break the copy only.
    write(
        &copy,
        "python/apps/media-service/tests/unit/test_copy.py",
        "import media_service\n\n\ndef test_the_copy_is_tested() -> None:\n    assert media_service.__file__.startswith(\"nowhere\")\n",
    );
    let out = run(xtask(&copy).args(["test", "-p", "media-service"]));
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("recreating the venv: it was made at"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(
            &copy
                .join("python/apps/media-service/src")
                .display()
                .to_string()
        ),
        "the copy's code was not the one tested:\n{}",
        out.stdout
    );
    run(xtask(root).args(["test", "-p", "media-service"])).assert_ok();
}

/// A setup waits for the jobs running in its venv, and jobs never run in a venv being rebuilt.
#[test]
fn setup_waits_for_running_jobs() {
    let tmp = set_up_tree();
    let root = tmp.path();
    write(
        root,
        "python/libs/contracts/tests/unit/test_slow.py",
        "import pathlib\nimport time\n\n\ndef test_slow() -> None:\n    pathlib.Path(\"started\").touch()\n    time.sleep(3)\n",
    );
    run(xtask(root).arg("setup-stream")).assert_ok();
    let jobs = xtask(root)
        .args(["test", "-p", "contracts"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The slow test has started: the jobs hold their lock.
    let started = root.join("python/libs/contracts/started");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !started.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(started.exists(), "the slow test never started");
    let setup = run(xtask(root).args(["setup-stream", "--force"]));
    let jobs = jobs.wait_with_output().unwrap();
    let jobs_out = String::from_utf8_lossy(&jobs.stdout);
    assert!(jobs.status.success(), "{jobs_out}");
    setup.assert_ok();
    assert!(
        setup
            .stdout
            .contains("waiting for another setup of this venv, or for jobs running in it"),
        "{}",
        setup.stdout
    );
}
