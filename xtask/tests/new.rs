//! `cargo xtask new lib|service` on real trees, real venvs from PyPI; the workspace's dev tools
//! for a library with none of its own; what a library keeps of its venv once a service installs
//! it; and a freshly scaffolded tree that passes its own gate after `git init`.

use crate::common;

use std::fs;
use std::path::Path;

use common::{Run, TempDir, committed_set_up_tree, git, run, scaffolded, snapshot, xtask};

fn read(root: &Path, rel: &str) -> String {
    fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The line of a job in a gate's output.
fn job_line<'a>(out: &'a Run, job: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.contains(job) && !l.starts_with("---"))
        .unwrap_or_else(|| panic!("no line for {job}:\n{}", out.stdout))
}

#[test]
fn a_new_library_into_a_service_and_a_new_service_pass_verify_with_no_other_edit() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    // The editor files exist (they need every venv): `new` refreshes them.
    run(xtask(root).arg("setup")).assert_ok();
    run(xtask(root).arg("ide")).assert_ok();

    let out = run(xtask(root).args(["new", "lib", "audio", "--into", "media-service"]));
    out.assert_ok();
    assert!(
        out.stdout
            .contains("created python/libs/audio/src/audio/py.typed")
            && out
                .stdout
                .contains("edited python/apps/media-service/pyproject.toml")
            && out.stdout.contains("media-service: locked"),
        "{}",
        out.stdout
    );
    let service = read(root, "python/apps/media-service/pyproject.toml");
    assert!(service.contains("    \"audio\",\n"), "{service}");
    let readme = read(root, "python/libs/audio/README.md");
    assert!(
        readme.contains("cargo xtask setup media-service")
            && readme.contains("cargo xtask test --package audio"),
        "{readme}"
    );
    let workspace = read(root, "python/dubbing.code-workspace");
    assert!(workspace.contains("\"libs/audio\""), "{workspace}");
    run(xtask(root).args(["ide", "--check"])).assert_ok();

    let out = run(xtask(root).args([
        "new",
        "service",
        "podcast-service",
        "--dep",
        "audio",
        "--dep",
        "common",
    ]));
    out.assert_ok();
    let pyproject = read(root, "python/apps/podcast-service/pyproject.toml");
    for expected in [
        "name = \"podcast-service\"",
        "    \"audio\",\n    \"dubbing-common\",\n",
        "build-backend = \"setuptools.build_meta\"",
        "\"pytest-cov>=4.0\"",
        "podcast-service = \"podcast_service.__main__:main\"",
        "smoke = [\"podcast-service\", \"--version\"]",
        "podcast_service = [\"py.typed\"]",
    ] {
        assert!(pyproject.contains(expected), "{expected}:\n{pyproject}");
    }
    for file in [
        "python/apps/podcast-service/requirements.txt",
        "python/apps/podcast-service/requirements-dev.txt",
        "python/apps/podcast-service/src/podcast_service/__main__.py",
        "python/apps/podcast-service/tests/unit/test_main.py",
        "python/apps/podcast-service/tests/unit/test_shared_libs.py",
        "python/deploy/podcast-service/README.md",
    ] {
        assert!(root.join(file).is_file(), "{file} is missing");
    }
    let readme = read(root, "python/apps/podcast-service/README.md");
    assert!(
        readme.contains("cargo xtask setup podcast-service")
            && readme.contains("cargo xtask test --package podcast-service"),
        "{readme}"
    );

    let verify = run(xtask(root).arg("verify"));
    verify.assert_ok();
    for job in [
        "pytest audio (media-service venv)",
        "pytest audio (podcast-service venv)",
        "pytest podcast-service (podcast-service venv)",
        "readme (SC-005) audio",
        "gitignore (SC-007)",
    ] {
        assert!(
            job_line(&verify, job).starts_with("ok"),
            "{}",
            verify.stdout
        );
    }
}

#[test]
fn a_bad_or_taken_name_writes_nothing() {
    let tmp = scaffolded("new refused");
    let root = tmp.path();
    git(root, &["init", "-q"]);
    let before = snapshot(root);
    let cases: &[(&[&str], &str)] = &[
        (&["lib", "bad name"], "is not a distribution name (PEP 508"),
        (&["lib", "--", "-x"], "is not a distribution name"),
        (&["lib", "audio-"], "is not a distribution name"),
        (&["lib", "3d-audio"], "which is not a Python identifier"),
        (&["lib", "class"], "a Python keyword"),
        (&["service", "import"], "a Python keyword"),
        (&["lib", "common"], "python/libs/common exists"),
        (
            &["lib", "Media_Service"],
            "python/apps/media-service exists",
        ),
        (
            &["lib", "dubbing.common"],
            "the name `dubbing-common` is taken",
        ),
        (&["service", "venv"], "git would ignore"),
        (&["lib", "audio", "--dep", "nope"], "no package `nope`"),
        (
            &["lib", "audio", "--dep", "sts-service"],
            "a service is never a dependency",
        ),
        (
            &["lib", "audio", "--into", "common"],
            "is a library; --into takes a service",
        ),
    ];
    for (args, expected) in cases {
        let out = run(xtask(root).arg("new").args(*args));
        out.assert_clean_error();
        assert!(
            out.stderr.contains(expected) && out.stderr.contains("nothing was written"),
            "{args:?}: {}",
            out.stderr
        );
        assert_eq!(snapshot(root), before, "{args:?} wrote something");
    }
    // An import name taken by a package whose folder has another name.
    let pyproject = root.join("python/libs/common/pyproject.toml");
    let text = read(root, "python/libs/common/pyproject.toml");
    fs::write(&pyproject, text.replace("dubbing-common", "shared-bits")).unwrap();
    let before = snapshot(root);
    let out = run(xtask(root).args(["new", "lib", "dubbing-common"]));
    out.assert_clean_error();
    assert!(
        out.stderr
            .contains("the import name `dubbing_common` is taken by python/libs/common"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot(root), before);
    // A service whose lock was edited by hand: its lock is a person's, as `add` holds.
    fs::write(
        root.join("python/apps/media-service/requirements.txt"),
        "six==1.16.0\n",
    )
    .unwrap();
    let before = snapshot(root);
    let out = run(xtask(root).args(["new", "lib", "audio", "--into", "media-service"]));
    out.assert_clean_error();
    assert!(
        out.stderr
            .contains("was not written by `lock`, or was edited since")
            && out.stderr.contains("nothing was written"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot(root), before);
    // No workspace dev tools: a library of its own would have no tools to be tested with.
    let text = read(root, "python/pyproject.toml");
    let (start, end) = (
        text.find("[dependency-groups]").unwrap(),
        text.find("[tool.ruff]").unwrap(),
    );
    let without = format!("{}{}", &text[..start], &text[end..]);
    fs::write(root.join("python/pyproject.toml"), without).unwrap();
    let before = snapshot(root);
    let out = run(xtask(root).args(["new", "lib", "mixer"]));
    out.assert_clean_error();
    assert!(
        out.stderr
            .contains("[dependency-groups] dev lacks ruff, mypy, pytest, pytest-cov")
            && out.stderr.contains("nothing was written"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot(root), before);
}

#[test]
fn a_library_with_no_dev_tools_of_its_own_is_tested_with_the_workspaces_in_its_own_venv() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    run(xtask(root).args(["new", "lib", "mixer"])).assert_ok();
    let pyproject = read(root, "python/libs/mixer/pyproject.toml");
    assert!(
        !pyproject.contains("dev") && !pyproject.contains("pytest"),
        "the library declares no dev tools:\n{pyproject}"
    );
    let dev_lock = read(root, "python/libs/mixer/requirements-dev.txt");
    assert!(
        dev_lock.contains("python/pyproject.toml [dependency-groups] dev")
            && dev_lock.contains("\npytest-cov==")
            && dev_lock.contains("\nmypy=="),
        "{dev_lock}"
    );
    let out = run(xtask(root).args(["test", "--package", "mixer"]));
    out.assert_ok();
    assert!(job_line(&out, "pytest mixer (mixer venv)").starts_with("ok"));
    // The services' locks too: they list their own tools, so the mutation below leaves them be.
    run(xtask(root).arg("lock")).assert_ok();
    run(xtask(root).args(["lock", "--check"])).assert_ok();

    // Mutation: the workspace's group changes; the library's lock is stale, naming it.
    let workspace = root.join("python/pyproject.toml");
    let original = read(root, "python/pyproject.toml");
    fs::write(
        &workspace,
        original.replace("\"ruff>=0.1.0\"", "\"ruff>=0.1.1\""),
    )
    .unwrap();
    let out = run(xtask(root).args(["lock", "--check"]));
    out.assert_clean_error();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("mixer")
            && all
                .contains("the dev tools of mixer (python/pyproject.toml [dependency-groups] dev)"),
        "{all}"
    );
    assert!(
        !all.contains("media-service: its lock"),
        "a service lists its own tools: {all}"
    );
    // Put back, it is fresh again, as a new lock would say.
    fs::write(&workspace, original).unwrap();
    run(xtask(root).args(["lock", "--check"])).assert_ok();
}

#[test]
fn a_library_that_gets_a_service_leaves_its_venv_and_lock_which_doctor_reports_and_clean_removes() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    run(xtask(root).args(["new", "lib", "mixer"])).assert_ok();
    let venv = root.join("python/libs/mixer/.venv");
    let locks = [
        root.join("python/libs/mixer/requirements.txt"),
        root.join("python/libs/mixer/requirements-dev.txt"),
    ];
    assert!(venv.join("pyvenv.cfg").is_file());
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "mixer"]);
    let doctor = run(xtask(root).arg("doctor"));
    assert!(!doctor.stdout.contains("left over"), "{}", doctor.stdout);

    run(xtask(root).args(["add", "media-service", "mixer"])).assert_ok();
    let doctor = run(xtask(root).arg("doctor"));
    doctor.assert_ok();
    let line = doctor
        .stdout
        .lines()
        .find(|l| l.starts_with("mixer: left over"))
        .unwrap_or_else(|| panic!("{}", doctor.stdout));
    for path in [
        "python/libs/mixer/.venv/",
        "python/libs/mixer/requirements.txt",
        "python/libs/mixer/requirements-dev.txt",
        "now media-service installs it",
    ] {
        assert!(line.contains(path), "{line}");
    }

    // clean also removes the tools the xtask installed: its own folder, not the one the other
    // tests share.
    let tools = TempDir::new("tools");
    let out = run(xtask(root)
        .arg("clean")
        .env("XTASK_TOOLS_DIR", tools.path()));
    out.assert_ok();
    assert!(!venv.exists(), "{}", out.stdout);
    for lock in &locks {
        assert!(!lock.exists(), "{} stays:\n{}", lock.display(), out.stdout);
    }
    assert!(
        out.stdout
            .contains("removed python/libs/mixer/requirements-dev.txt"),
        "{}",
        out.stdout
    );
    let doctor = run(xtask(root).arg("doctor"));
    assert!(!doctor.stdout.contains("left over"), "{}", doctor.stdout);
    // The services' own locks stay.
    assert!(
        root.join("python/apps/media-service/requirements.txt")
            .is_file()
    );
}

#[test]
fn a_lock_edited_by_hand_is_kept_by_clean() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    run(xtask(root).args(["new", "lib", "mixer"])).assert_ok();
    run(xtask(root).args(["add", "sts-service", "mixer"])).assert_ok();
    let lock = root.join("python/libs/mixer/requirements-dev.txt");
    let text = fs::read_to_string(&lock).unwrap();
    fs::write(&lock, format!("{text}# my note\n")).unwrap();
    // A note in the header, where lock writes its own comments, is an edit too.
    let runtime = root.join("python/libs/mixer/requirements.txt");
    let text = fs::read_to_string(&runtime).unwrap();
    let (first, rest) = text.split_once('\n').unwrap();
    fs::write(
        &runtime,
        format!("{first}\n# NOTE (ops): kept on purpose\n{rest}"),
    )
    .unwrap();
    let tools = TempDir::new("tools");
    let out = run(xtask(root)
        .arg("clean")
        .env("XTASK_TOOLS_DIR", tools.path()));
    out.assert_ok();
    assert!(lock.is_file());
    assert!(
        out.stdout
            .contains("kept python/libs/mixer/requirements-dev.txt: the lock of a venv this library no longer has, but edited"),
        "{}",
        out.stdout
    );
    assert!(runtime.is_file(), "{}", out.stdout);
}

#[test]
fn a_tree_scaffolded_into_an_empty_folder_passes_verify_after_git_init() {
    let tmp = TempDir::new("new fresh scaffold");
    let root = tmp.path();
    let out = run(xtask(root).arg("scaffold"));
    out.assert_ok();
    assert!(
        out.stdout.contains("created python/.gitignore"),
        "{}",
        out.stdout
    );
    git(root, &["init", "-q"]);
    let verify = run(xtask(root).arg("verify"));
    verify.assert_ok();
    assert!(job_line(&verify, "gitignore (SC-007)").starts_with("ok"));
    // The .gitignore is the team's once written: a second scaffold keeps it.
    fs::write(root.join("python/.gitignore"), "# ours\n.venv/\n").unwrap();
    let again = run(xtask(root).arg("scaffold"));
    again.assert_ok();
    assert_eq!(read(root, "python/.gitignore"), "# ours\n.venv/\n");
}

#[test]
fn a_lock_that_fails_after_the_files_are_written_says_what_was_written_and_how_to_finish() {
    let tmp = scaffolded("new lock fails");
    let root = tmp.path();
    // media-service takes `six` from an index that nothing serves: its lock cannot be made.
    // Though uv's cache holds six from PyPI (locked from there first): offline, uv would read
    // the index it cannot reach as one without six and take PyPI's.
    let pyproject = root.join("python/apps/media-service/pyproject.toml");
    let with_six = read(root, "python/apps/media-service/pyproject.toml").replacen(
        "dependencies = [\n",
        "dependencies = [\n    \"six\",\n",
        1,
    );
    fs::write(&pyproject, &with_six).unwrap();
    run(xtask(root).args(["lock", "media-service"])).assert_ok();
    let text = with_six
        + "\n[[tool.uv.index]]\nname = \"nowhere\"\nurl = \"http://127.0.0.1:9/simple\"\nexplicit = true\n\n\
           [tool.uv.sources]\nsix = { index = \"nowhere\" }\n";
    fs::write(&pyproject, text).unwrap();
    // (uv's retries of a refused connection would take 10 s.)
    let no_retries = [("UV_HTTP_RETRIES", "0")];
    let out = run(xtask(root).args(["lock", "media-service"]).envs(no_retries));
    out.assert_clean_error();
    assert!(out.stderr.contains("127.0.0.1:9"), "{}", out.stderr);
    let out = run(xtask(root)
        .args(["new", "lib", "audio", "--into", "media-service"])
        .envs(no_retries));
    out.assert_clean_error();
    assert!(
        out.stderr.contains(
            "the package's files are written (python/libs/audio, and python/apps/media-service/pyproject.toml edited); finish with"
        ) && out.stderr.contains("lock media-service && ")
            && out.stderr.contains("or undo: remove the folder python/libs/audio and take `audio` out of the dependencies of python/apps/media-service/pyproject.toml"),
        "{}",
        out.stderr
    );
    assert!(root.join("python/libs/audio/pyproject.toml").is_file());
    assert!(read(root, "python/apps/media-service/pyproject.toml").contains("\"audio\""));
}
