//! `setup` and `doctor` against real venvs with real packages, in temporary copies of the
//! seed tree (made by the real `scaffold`).

use crate::common;

use std::fs;
use std::process::Stdio;

use common::{python_in, run, scaffolded, snapshot, venv_python, xtask};

#[test]
fn both_services_set_up_isolated_editable_and_a_rerun_does_nothing() {
    let tmp = scaffolded("both");
    let root = tmp.path();
    // A person with another venv activated and pip retargeted gets the same result.
    let out = run(xtask(root)
        .arg("setup")
        .env("VIRTUAL_ENV", root.join("elsewhere"))
        .env("PYTHONPATH", root.join("elsewhere"))
        .env("PIP_TARGET", root.join("elsewhere"))
        .env("PIP_PREFIX", root.join("elsewhere")));
    out.assert_ok();
    for service in ["media-service", "sts-service"] {
        assert!(
            out.stdout.contains(&format!("{service}: ready in")),
            "{}",
            out.stdout
        );
    }
    assert!(
        out.stdout
            .contains("post-check: every package imports from its source folder"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("$ "),
        "commands are echoed: {}",
        out.stdout
    );
    assert!(
        !root.join("elsewhere").exists(),
        "something was installed into the caller's target"
    );

    // Editable from the tree (SC-002, SC-003), and isolated (SC-008), checked independently of the
    // xtask's own post-check.
    let (ok, where_) = python_in(
        root,
        "media-service",
        "import dubbing_common, media_service; print(dubbing_common.__file__)",
    );
    assert!(ok, "{where_}");
    assert!(
        where_.trim().starts_with(
            &root
                .join("python/libs/common/src")
                .to_string_lossy()
                .into_owned()
        ),
        "{where_}"
    );
    let (ok, _) = python_in(root, "media-service", "import sts_service");
    assert!(!ok, "media-service's venv imports sts_service");
    let (ok, _) = python_in(root, "sts-service", "import media_service");
    assert!(!ok, "sts-service's venv imports media_service");
    let (ok, out_) = python_in(
        root,
        "sts-service",
        "import ruff, mypy, pytest, sts_service.asr, dubbing_contracts",
    );
    assert!(ok, "the dev tools and packages are installed: {out_}");

    // A change to the source is live at once: editable.
    fs::write(
        root.join("python/libs/common/src/dubbing_common/extra.py"),
        "VALUE = 42\n",
    )
    .unwrap();
    let (ok, out_) = python_in(
        root,
        "sts-service",
        "from dubbing_common.extra import VALUE; print(VALUE)",
    );
    assert!(ok && out_.trim() == "42", "{out_}");

    let again = run(xtask(root).arg("setup"));
    again.assert_ok();
    assert_eq!(
        again.stdout.trim(),
        "media-service: up to date\nsts-service: up to date",
        "{}",
        again.stdout
    );

    let doctor = run(xtask(root).arg("doctor"));
    doctor.assert_ok();
    assert!(
        doctor.stdout.contains("media-service: venv") && doctor.stdout.contains(": fresh"),
        "{}",
        doctor.stdout
    );
    assert!(
        doctor.stdout.contains("static .pth paths"),
        "{}",
        doctor.stdout
    );
}

#[test]
fn editing_a_library_pyproject_syncs_and_losing_the_interpreter_recreates() {
    let tmp = scaffolded("edit lib");
    let root = tmp.path();
    run(xtask(root).arg("setup-stream")).assert_ok();

    let pyproject = root.join("python/libs/common/pyproject.toml");
    let text = fs::read_to_string(&pyproject).unwrap();
    fs::write(&pyproject, format!("{text}\n# a comment is a change\n")).unwrap();
    let doctor = run(xtask(root).arg("doctor"));
    assert!(
        doctor
            .stdout
            .contains("stale (python/libs/common/pyproject.toml changed)"),
        "{}",
        doctor.stdout
    );
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_ok();
    // uv syncs the venv to exactly the lock and the local packages, in place.
    assert!(
        out.stdout
            .contains("media-service: reinstalling: python/libs/common/pyproject.toml changed")
            && common::shows_command(&out.stdout, "uv", &["pip", "sync"])
            && !out.stdout.contains("venv created"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("media-service: ready in"),
        "{}",
        out.stdout
    );

    // The venv's interpreter link now leads nowhere: doctor says broken, setup recreates.
    let python = venv_python(root, "media-service");
    fs::remove_file(&python).unwrap();
    let doctor = run(xtask(root).arg("doctor"));
    assert_eq!(doctor.code, 1, "{}", doctor.stdout);
    assert!(
        doctor.stdout.contains("broken (its interpreter"),
        "{}",
        doctor.stdout
    );
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_ok();
    assert!(
        out.stdout.contains("recreating the venv: its interpreter")
            && out.stdout.contains("is gone"),
        "{}",
        out.stdout
    );
    assert!(python_in(root, "media-service", "import media_service").0);

    let out = run(xtask(root).args(["setup-stream", "--force"]));
    out.assert_ok();
    assert!(
        out.stdout.contains("recreating the venv: --force"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_broken_pyproject_fails_with_its_path_and_line_and_changes_nothing() {
    let tmp = scaffolded("broken toml");
    let root = tmp.path();
    let pyproject = root.join("python/apps/sts-service/pyproject.toml");
    let text = fs::read_to_string(&pyproject).unwrap();
    fs::write(
        &pyproject,
        text.replace("requires-python = \">=3.10\"", "requires-python = 310"),
    )
    .unwrap();
    let before = snapshot(root);
    let out = run(xtask(root).arg("setup"));
    out.assert_clean_error();
    assert!(
        out.stderr.contains(
            "python/apps/sts-service/pyproject.toml:10: `project.requires-python` must be a string"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot(root), before, "a failed setup changed the tree");
}

#[test]
fn a_failing_install_is_marked_unfinished_and_the_next_run_repairs() {
    let tmp = scaffolded("failing install");
    let root = tmp.path();
    // A build requirement that does not exist: the editable build of common fails.
    let pyproject = root.join("python/libs/common/pyproject.toml");
    let original = fs::read_to_string(&pyproject).unwrap();
    fs::write(
        &pyproject,
        original.replace(
            "requires = [\"setuptools>=68\"]",
            "requires = [\"setuptools>=68\", \"this-package-does-not-exist-xtask-test\"]",
        ),
    )
    .unwrap();
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_clean_error();
    assert!(
        common::shows_command(&out.stderr, "uv", &["pip", "sync"])
            && out.stderr.contains("failed with exit code"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("this-package-does-not-exist-xtask-test"),
        "the tool's own output is shown: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("cargo xtask --root") && out.stderr.contains("setup media-service"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("ready in"), "{}", out.stdout);
    let stamp = root.join("python/apps/media-service/.venv/xtask-stamp.toml");
    let doctor = run(xtask(root).arg("doctor"));
    assert!(
        doctor.stdout.contains("the last install did not finish"),
        "a failed install is not marked: {}",
        doctor.stdout
    );

    fs::write(&pyproject, original).unwrap();
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_ok();
    assert!(
        out.stdout
            .contains("reinstalling: python/libs/common/pyproject.toml changed"),
        "{}",
        out.stdout
    );
    assert!(stamp.is_file());
}

#[test]
fn two_setups_of_one_service_at_once_do_not_collide() {
    let tmp = scaffolded("lock");
    let root = tmp.path();
    let spawn = || {
        xtask(root)
            .arg("setup-sts")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outputs: Vec<String> = [a, b]
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "{text}");
            text
        })
        .collect();
    let built = outputs
        .iter()
        .filter(|o| o.contains("sts-service: ready in"))
        .count();
    assert_eq!(
        built, 1,
        "exactly one builds, the other waits and finds it fresh: {outputs:#?}"
    );
    assert!(
        outputs
            .iter()
            .any(|o| o.contains("waiting for another setup") && o.contains("up to date")),
        "{outputs:#?}"
    );
}

#[test]
fn an_interpreter_that_does_not_fit_is_a_clear_error_and_nothing_is_created() {
    let tmp = scaffolded("bad python");
    let root = tmp.path();
    let out = run(xtask(root).args(["setup-stream", "--python", "2.7"]));
    out.assert_clean_error();
    assert!(
        out.stderr.contains("no Python interpreter fits"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("fix:"), "{}", out.stderr);
    assert!(!root.join("python/apps/media-service/.venv").exists());

    let out = run(xtask(root).args(["setup", "no-such-service"]));
    out.assert_clean_error();
    assert!(
        out.stderr.contains(
            "no package `no-such-service`; the venvs are those of: media-service, sts-service"
        ),
        "{}",
        out.stderr
    );
}

/// The helper the assertions above rely on reads a printed command the way a shell would, so a
/// quoted program path (a checkout or tools folder with a space) is still found.
#[test]
fn printed_commands_are_read_as_a_shell_reads_them() {
    let line = "$ (cd '/tmp/a b' && '/tmp/t é/uv-0.13.9/bin/uv' pip sync 'it'\\''s' x)";
    assert_eq!(
        common::shell_words(line),
        [
            "$",
            "(cd",
            "/tmp/a b",
            "&&",
            "/tmp/t é/uv-0.13.9/bin/uv",
            "pip",
            "sync",
            "it's",
            "x)"
        ]
    );
    let found = common::find_command(line, "uv", &["pip", "sync"]).unwrap();
    assert_eq!(found[0], "/tmp/t é/uv-0.13.9/bin/uv");
    assert!(!common::shows_command(line, "uv", &["pip", "install"]));
    assert!(!common::shows_command(
        "uv-pip sync",
        "uv",
        &["pip", "sync"]
    ));
}

/// The files a build reads besides `pyproject.toml` (a README that becomes the description, a
/// `setup.py`, a C extension's source) make the editable install be built again, where uv
/// would reuse its build: the venv is what a fresh one would be.
#[test]
fn build_files_besides_the_pyproject_rebuild_the_editable() {
    let tmp = scaffolded("build files");
    let root = tmp.path();
    let setup = || run(xtask(root).arg("setup-stream"));
    setup().assert_ok();
    let common = root.join("python/libs/common");
    let description =
        "import importlib.metadata as m; print(m.metadata('dubbing-common').get_payload())";
    let readme = fs::read_to_string(common.join("README.md")).unwrap();
    fs::write(common.join("README.md"), format!("{readme}\nA new line.\n")).unwrap();
    let out = setup();
    out.assert_ok();
    assert!(out.stdout.contains("README.md changed"), "{}", out.stdout);
    let (ok, text) = python_in(root, "media-service", description);
    assert!(ok && text.contains("A new line."), "{text}");

    // A setup.py that no longer builds fails setup, as it fails a fresh one.
    fs::write(
        common.join("setup.py"),
        "raise SystemExit('this build is broken')\n",
    )
    .unwrap();
    let out = setup();
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr.contains("this build is broken") || out.stdout.contains("this build is broken"),
        "{}{}",
        out.stdout,
        out.stderr
    );

    // A C extension: its source is a build input.
    fs::write(
        common.join("setup.py"),
        "from setuptools import Extension, setup\n\nsetup(ext_modules=[Extension('dubbing_common._fast', ['src/dubbing_common/_fast.c'])])\n",
    )
    .unwrap();
    let source = |answer: u8| {
        format!(
            "#include <Python.h>\nstatic PyObject *answer(PyObject *s, PyObject *a) {{ return PyLong_FromLong({answer}); }}\nstatic PyMethodDef m[] = {{{{\"answer\", answer, METH_NOARGS, NULL}}, {{NULL, NULL, 0, NULL}}}};\nstatic struct PyModuleDef d = {{PyModuleDef_HEAD_INIT, \"_fast\", NULL, -1, m}};\nPyMODINIT_FUNC PyInit__fast(void) {{ return PyModule_Create(&d); }}\n"
        )
    };
    fs::write(common.join("src/dubbing_common/_fast.c"), source(1)).unwrap();
    setup().assert_ok();
    let answer = || {
        python_in(
            root,
            "media-service",
            "from dubbing_common import _fast; print(_fast.answer())",
        )
    };
    let (ok, text) = answer();
    assert!(ok && text.trim() == "1", "{text}");
    fs::write(common.join("src/dubbing_common/_fast.c"), source(2)).unwrap();
    let out = setup();
    out.assert_ok();
    assert!(out.stdout.contains("reinstalling"), "{}", out.stdout);
    let (ok, text) = answer();
    assert!(ok && text.trim() == "2", "{text}");

    // A flat layout that setuptools serves through an import hook, which knows only the
    // packages it was built with: a new one must be importable after setup.
    let contracts = root.join("python/libs/contracts");
    fs::rename(
        contracts.join("src/dubbing_contracts"),
        contracts.join("dubbing_contracts"),
    )
    .unwrap();
    fs::remove_dir(contracts.join("src")).unwrap();
    let pyproject = fs::read_to_string(contracts.join("pyproject.toml")).unwrap();
    fs::write(
        contracts.join("pyproject.toml"),
        pyproject.replace(
            "where = [\"src\"]",
            "where = [\".\"]\ninclude = [\"dubbing_*\"]",
        ),
    )
    .unwrap();
    setup().assert_ok();
    fs::create_dir(contracts.join("dubbing_schemas")).unwrap();
    fs::write(contracts.join("dubbing_schemas/__init__.py"), "X = 1\n").unwrap();
    let out = setup();
    out.assert_ok();
    assert!(out.stdout.contains("import packages"), "{}", out.stdout);
    let (ok, text) = python_in(
        root,
        "media-service",
        "import dubbing_schemas; print(dubbing_schemas.X)",
    );
    assert!(ok && text.trim() == "1", "{text}");
}

/// The version a build writes follows what the backend really reads: a module that the
/// `attr` module imports its version from, and the backends' own variables
/// (`SETUPTOOLS_SCM_PRETEND_VERSION` and the like), not only the files the xtask reads itself.
#[test]
fn a_version_follows_the_module_it_is_imported_from_and_the_backends_variables() {
    let tmp = scaffolded("version sources");
    let root = tmp.path();
    let setup = |envs: &[(&str, &str)]| {
        run(xtask(root).arg("setup-stream").envs(envs.iter().copied())).assert_ok();
        let version = "import importlib.metadata as m; print(m.version('dubbing-common'))";
        let (ok, text) = python_in(root, "media-service", version);
        assert!(ok, "{text}");
        text.trim().to_owned()
    };
    common::make_common_version_dynamic(root);
    let package = root.join("python/libs/common/src/dubbing_common");
    let init = fs::read_to_string(package.join("__init__.py")).unwrap();
    let imported = init.replace(
        "__version__ = \"0.1.0\"",
        "from dubbing_common._version import VERSION as __version__",
    );
    assert_ne!(imported, init, "the seed's __init__.py assigns __version__");
    fs::write(package.join("__init__.py"), imported).unwrap();
    fs::write(package.join("_version.py"), "VERSION = \"0.1.0\"\n").unwrap();
    assert_eq!(setup(&[]), "0.1.0");
    fs::write(package.join("_version.py"), "VERSION = \"0.2.0\"\n").unwrap();
    assert_eq!(
        setup(&[]),
        "0.2.0",
        "the module the version is imported from"
    );

    // A setup.py whose version a variable of setuptools' gives.
    let common = root.join("python/libs/common");
    let pyproject = fs::read_to_string(common.join("pyproject.toml")).unwrap();
    let attr = "\n[tool.setuptools.dynamic]\nversion = {attr = \"dubbing_common.__version__\"}\n";
    fs::write(common.join("pyproject.toml"), pyproject.replace(attr, "")).unwrap();
    fs::write(
        common.join("setup.py"),
        "import os\n\nfrom setuptools import setup\n\nsetup(version=os.environ.get(\"SETUPTOOLS_TEST_VERSION\", \"0.3.0\"))\n",
    )
    .unwrap();
    assert_eq!(setup(&[]), "0.3.0");
    assert_eq!(
        setup(&[("SETUPTOOLS_TEST_VERSION", "0.4.0")]),
        "0.4.0",
        "a variable of the backend's"
    );
}

/// What most tests start from (`common::set_up_tree`): a set-up tree restored at the path it
/// was set up at, as a backup put back is. The venvs are whole and up to date there, nothing is
/// installed again, and each imports its packages from the restored sources; a file the install
/// wrote (not a link of uv's cache), edited by a test, is its own: the kept copy stays whole.
#[test]
fn a_set_up_tree_restored_at_its_path_is_up_to_date() {
    let tmp = common::set_up_tree();
    let root = tmp.path();
    let out = run(xtask(root).arg("setup"));
    out.assert_ok();
    // Nothing installed: no command run, each venv up to date (its interpreter and installer
    // looked for again when a file's change time moved: a test links the shared uv).
    for service in ["media-service", "sts-service"] {
        assert!(
            out.stdout.contains(&format!("{service}: up to date")),
            "{}",
            out.stdout
        );
    }
    assert!(!out.stdout.contains("$ "), "{}", out.stdout);
    let (ok, found) = python_in(
        root,
        "media-service",
        "import dubbing_common, media_service; print(dubbing_common.__file__)",
    );
    assert!(ok, "{found}");
    assert!(
        found.trim().starts_with(&*root.to_string_lossy()),
        "{found}"
    );
    // uv takes the editables for what a setup at this path left: installing them again would
    // change nothing (the restore wrote the copies' times into uv's records of them).
    let uv = common::set_up::pinned_uvs()
        .pop()
        .expect("the pinned uv, installed by the tree's setup");
    let editables = common::TempDir::new("restored editables");
    for (service, packages) in [
        (
            "media-service",
            ["apps/media-service", "libs/common", "libs/contracts"],
        ),
        (
            "sts-service",
            ["apps/sts-service", "libs/common", "libs/contracts"],
        ),
    ] {
        let list = editables.path().join(format!("{service}.txt"));
        let lines: String = packages
            .iter()
            .map(|p| format!("-e {}\n", root.join("python").join(p).display()))
            .collect();
        fs::write(&list, lines).unwrap();
        let out = std::process::Command::new(&uv)
            .args(["pip", "install", "--dry-run", "--offline", "--python"])
            .arg(venv_python(root, service))
            .arg("-r")
            .arg(&list)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && said.contains("Would make no changes"),
            "{service}: {said}"
        );
    }
    let config = "python/apps/media-service/.venv/pyvenv.cfg";
    let kept = common::set_up::kept_setup_files(root).join(config);
    let before = fs::read_to_string(&kept).unwrap();
    assert_eq!(fs::read_to_string(root.join(config)).unwrap(), before);
    fs::write(root.join(config), "home = /nowhere\n").unwrap();
    assert_eq!(fs::read_to_string(&kept).unwrap(), before);
}
