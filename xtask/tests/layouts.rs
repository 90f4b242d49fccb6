//! The gates check what is really there: a shared library in every venv that installs it, the
//! common layouts (src, flat, PEP 420 namespace), dev tools from a dependency group, a library of
//! its own, ruff's first-party packages, the rules of the graph, hatchling with pip.

use crate::common;

use std::fs;
use std::path::Path;

use common::{Run, committed_set_up_tree, python_in, run, scaffolded, write, xtask};

/// Adds `line` to the `dependencies` of a seeded service.
fn add_dependency(root: &Path, service: &str, requirement: &str) {
    let path = root
        .join("python/apps")
        .join(service)
        .join("pyproject.toml");
    let text = fs::read_to_string(&path).unwrap();
    let text = text.replacen(
        "dependencies = [\n",
        &format!("dependencies = [\n    \"{requirement}\",\n"),
        1,
    );
    fs::write(path, text).unwrap();
}

const README: &str = "# lib\n\nSet up with `cargo xtask setup`, test with `cargo xtask test`.\n";

/// A library in `python/libs/<folder>` whose code lives at `module_dir` (relative to the
/// library), with a function, its test, py.typed and a README.
fn library(root: &Path, folder: &str, pyproject: &str, module_dir: &str, import: &str) {
    let base = format!("python/libs/{folder}");
    write(root, &format!("{base}/pyproject.toml"), pyproject);
    write(root, &format!("{base}/README.md"), README);
    write(
        root,
        &format!("{base}/{module_dir}/__init__.py"),
        "\"\"\"A library.\"\"\"\n\n\ndef double(value: int) -> int:\n    return value * 2\n",
    );
    write(root, &format!("{base}/{module_dir}/py.typed"), "");
    write(
        root,
        &format!("{base}/tests/test_double.py"),
        &format!(
            "from {import} import double\n\n\ndef test_double() -> None:\n    assert double(2) == 4\n"
        ),
    );
}

fn setuptools(name: &str, extra: &str) -> String {
    format!(
        "[build-system]\nrequires = [\"setuptools>=68\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"{name}\"\nversion = \"0.1.0\"\nrequires-python = \">=3.10\"\n{extra}"
    )
}

#[track_caller]
fn assert_failed(out: &Run, job: &str, detail: &str) {
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!("{job}: rerun with")),
        "{job} is not named as failed:\n{}",
        out.stderr
    );
    assert!(
        out.stdout.contains(detail),
        "no {detail:?} in:\n{}",
        out.stdout
    );
}

/// media-service pins numpy<2, sts-service numpy>=2; dubbing-common uses numpy and has a test
/// that holds only under numpy 1: the library is tested in both venvs, and the sts one fails.
#[test]
fn a_shared_library_is_tested_in_every_venv_that_installs_it() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    add_dependency(root, "media-service", "numpy<2");
    add_dependency(root, "sts-service", "numpy>=2");
    let pyproject = root.join("python/libs/common/pyproject.toml");
    let text = fs::read_to_string(&pyproject).unwrap();
    fs::write(
        &pyproject,
        text.replace("dependencies = []", "dependencies = [\"numpy\"]"),
    )
    .unwrap();
    write(
        root,
        "python/libs/common/tests/unit/test_numpy.py",
        "import numpy\n\n\ndef test_numpy_is_one() -> None:\n    assert numpy.__version__.startswith(\"1.\")\n",
    );
    // The set-up tree's locks predate numpy (verify never relocks): locked again first.
    run(xtask(root).arg("lock")).assert_ok();
    let out = run(xtask(root).args(["verify", "-p", "common"]));
    assert_failed(
        &out,
        "pytest common (sts-service venv)",
        "test_numpy_is_one",
    );
    assert!(
        out.stdout
            .contains("ok      pytest common (media-service venv)"),
        "{}",
        out.stdout
    );
    let (_, version) = python_in(
        root,
        "sts-service",
        "import numpy; print(numpy.__version__)",
    );
    assert!(version.starts_with('2'), "{version}");
}

/// A flat-layout library and a PEP 420 namespace portion: each gets its type errors, failing
/// tests and coverage floor caught; a package whose tests are gone fails.
#[test]
fn flat_and_namespace_libraries_are_checked_for_real() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    library(
        root,
        "flatlib",
        &setuptools("flatlib", ""),
        "flatlib",
        "flatlib",
    );
    library(
        root,
        "nslib",
        &setuptools(
            "dubbing-ns",
            "\n[tool.setuptools.packages.find]\nwhere = [\"src\"]\n",
        ),
        "src/dubbing/ns",
        "dubbing.ns",
    );
    add_dependency(root, "media-service", "flatlib");
    add_dependency(root, "media-service", "dubbing-ns");
    // The set-up tree's lock predates the libraries: setup locks them in and installs them.
    run(xtask(root).arg("setup-stream")).assert_ok();
    let out = run(xtask(root).args(["verify", "-v", "-p", "flatlib", "-p", "nslib"]));
    out.assert_ok();
    for job in [
        "--- mypy flatlib (media-service venv) ok",
        "--- pytest nslib (media-service venv) ok",
    ] {
        assert!(out.stdout.contains(job), "{job}:\n{}", out.stdout);
    }
    assert!(out.stdout.contains("--cov=dubbing.ns"), "{}", out.stdout);

    for (folder, module) in [("flatlib", "flatlib"), ("nslib", "src/dubbing/ns")] {
        let rel = format!("python/libs/{folder}/{module}/wrong.py");
        write(
            root,
            &rel,
            "\"\"\"Wrong.\"\"\"\n\nVALUE: int = \"not an int\"\n",
        );
        let out = run(xtask(root).args(["verify", "-p", folder]));
        assert_failed(
            &out,
            &format!("mypy {folder} (media-service venv)"),
            "Incompatible types in assignment",
        );
        // Untested code: the coverage floor applies to the package's own import packages.
        assert_failed(
            &out,
            &format!("pytest {folder} (media-service venv)"),
            "Required test coverage of 80% not reached",
        );
        fs::remove_file(root.join(&rel)).unwrap();
        let rel = format!("python/libs/{folder}/tests/test_broken.py");
        write(
            root,
            &rel,
            "def test_broken() -> None:\n    assert 1 + 1 == 3\n",
        );
        let out = run(xtask(root).args(["test", "-p", folder]));
        assert_failed(
            &out,
            &format!("pytest {folder} (media-service venv)"),
            "1 failed",
        );
        fs::remove_file(root.join(&rel)).unwrap();
    }

    // A namespace folder of nslib that holds a module of its own (no __init__.py): an import of
    // nslib's, which setup's post-check finds in the source (a namespace has no __file__), and
    // which flatlib may not use without declaring it, so that its tests' key covers nslib.
    let helper = "python/libs/nslib/src/provns/helper.py";
    write(
        root,
        helper,
        "\"\"\"Helper.\"\"\"\n\n\ndef triple(value: int) -> int:\n    return value * 3\n",
    );
    write(root, "python/libs/nslib/src/provns/py.typed", "");
    let user = "python/libs/flatlib/tests/test_ns.py";
    write(
        root,
        user,
        "from provns.helper import triple\n\n\ndef test_triple() -> None:\n    assert triple(2) == 6\n",
    );
    let out = run(xtask(root).args(["verify", "-p", "flatlib"]));
    assert!(
        !out.stdout.contains("not an editable install"),
        "{}",
        out.stdout
    );
    assert_failed(
        &out,
        "imports flatlib",
        "imports provns.helper, of nslib (dubbing-ns)",
    );
    assert!(!out.stderr.contains("tree (SC-006)"), "{}", out.stderr);
    fs::remove_file(root.join(user)).unwrap();
    fs::remove_dir_all(root.join("python/libs/nslib/src/provns")).unwrap();

    // No tests at all: nothing passes for want of checking, a gate of one venv (a CI runner's)
    // included; the tree check runs whatever -p. (Each in a gate that sets up no other venv: a
    // whole verify of contracts would set up sts-service's, which installs it too.)
    fs::remove_dir_all(root.join("python/libs/contracts/tests")).unwrap();
    let out = run(xtask(root).args(["test", "-p", "contracts", "--venv", "media-service"]));
    assert_failed(
        &out,
        "pytest contracts (media-service venv)",
        "tests/ does not exist",
    );
    let out = run(xtask(root).args(["verify", "--tree", "-p", "contracts"]));
    assert_failed(&out, "tree (SC-006)", "missing python/libs/contracts/tests");
}

/// Dev tools from a PEP 735 group (with an include), in the venv of a library no service
/// installs yet; a service whose dev tools lack one is told so before any job.
#[test]
fn a_library_no_service_uses_gets_a_venv_with_its_dependency_group() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    library(
        root,
        "solo",
        &setuptools(
            "dubbing-solo",
            "\n[dependency-groups]\ntest = [\"pytest==9.2.0\", \"pytest-cov==7.1.0\"]\n\
             dev = [{include-group = \"test\"}, \"ruff==0.17.6\", \"mypy==2.4.1\"]\n\
             \n[tool.setuptools.packages.find]\nwhere = [\"src\"]\n",
        ),
        "src/dubbing_solo",
        "dubbing_solo",
    );
    let out = run(xtask(root).args(["verify", "-p", "solo"]));
    out.assert_ok();
    for job in [
        "ok      mypy solo (solo venv)",
        "ok      pytest solo (solo venv)",
    ] {
        assert!(out.stdout.contains(job), "{job}:\n{}", out.stdout);
    }
    assert!(root.join("python/libs/solo/.venv/pyvenv.cfg").is_file());
    let rel = "python/libs/solo/src/dubbing_solo/wrong.py";
    write(root, rel, "\"\"\"Wrong.\"\"\"\n\nVALUE: int = \"no\"\n");
    let out = run(xtask(root).args(["lint", "-p", "solo"]));
    assert_failed(&out, "mypy solo (solo venv)", "Incompatible types");
    fs::remove_file(root.join(rel)).unwrap();

    let pyproject = root.join("python/apps/sts-service/pyproject.toml");
    let text = fs::read_to_string(&pyproject).unwrap();
    fs::write(&pyproject, text.replace("    \"pytest-cov>=4.0\",\n", "")).unwrap();
    let out = run(xtask(root).args(["test", "-p", "sts-service"]));
    out.assert_clean_error();
    assert!(
        out.stderr
            .contains("python/apps/sts-service/pyproject.toml")
            && out.stderr.contains("lack pytest-cov"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains(" jobs ("), "a job ran: {}", out.stdout);
}

/// A new library, imported by a service's test, passes ruff's import sorting with no edit of
/// python/pyproject.toml; an import of a local package the importer does not declare fails.
#[test]
fn a_new_library_is_first_party_and_imports_must_be_declared() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    library(
        root,
        "newlib",
        &setuptools("dubbing-newlib", ""),
        "src/dubbing_newlib",
        "dubbing_newlib",
    );
    add_dependency(root, "media-service", "dubbing-newlib");
    // Third-party first, then the first-party block: ruff's isort accepts it only if it knows
    // dubbing_newlib is first-party.
    write(
        root,
        "python/apps/media-service/tests/unit/test_newlib.py",
        "import pytest\n\nimport dubbing_common\nimport dubbing_newlib\n\n\n\
         def test_both() -> None:\n    assert dubbing_newlib.double(1) == 2\n    assert dubbing_common.__version__\n    assert pytest\n",
    );
    let config = fs::read(root.join("python/pyproject.toml")).unwrap();
    run(xtask(root).arg("setup-stream")).assert_ok();
    run(xtask(root).args(["lint", "-p", "media-service"])).assert_ok();
    assert_eq!(
        fs::read(root.join("python/pyproject.toml")).unwrap(),
        config
    );

    write(
        root,
        "python/libs/contracts/src/dubbing_contracts/leak.py",
        "\"\"\"Reaches into a service.\"\"\"\n\nimport media_service\n\nNAME = media_service.__name__\n",
    );
    let out = run(xtask(root).args(["lint", "-p", "contracts"]));
    assert_failed(
        &out,
        "imports contracts",
        "imports media_service, of media-service (media-service), which dubbing-contracts does not declare",
    );
}

/// The graph's rules hold before any venv is touched, naming the file and line, with no advice
/// to rebuild (nothing a rebuild could fix).
#[test]
fn a_service_depending_on_a_service_is_refused_before_any_venv() {
    let tmp = scaffolded("graph");
    let root = tmp.path();
    add_dependency(root, "media-service", "sts-service");
    let out = run(xtask(root).arg("setup"));
    out.assert_clean_error();
    assert!(
        out.stderr
            .contains("python/apps/media-service/pyproject.toml:12: media-service depends on the service sts-service"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("--force"), "{}", out.stderr);
    assert!(!root.join("python/apps/media-service/.venv").exists());
    assert!(!root.join("python/apps/sts-service/.venv").exists());

    let scaffolded_again = scaffolded("uv sources");
    let root = scaffolded_again.path();
    let pyproject = root.join("python/libs/common/pyproject.toml");
    let text = fs::read_to_string(&pyproject).unwrap();
    fs::write(
        &pyproject,
        format!("{text}\n[tool.uv.sources]\ndubbing-contracts = {{ workspace = true }}\n"),
    )
    .unwrap();
    let out = run(xtask(root).arg("setup"));
    out.assert_clean_error();
    assert!(
        out.stderr.contains("python/libs/common/pyproject.toml:")
            && out.stderr.contains("needs a uv workspace")
            && out.stderr.contains("[tool.uv.workspace]"),
        "{}",
        out.stderr
    );
}

/// The pip installer builds a working venv, a hatchling library in it: its backend's dynamic
/// build requirements (`editables`) are installed before the editable build. A plain setup keeps
/// the installer the venv was made with; switching it back is an input change.
#[test]
fn the_pip_installer_builds_a_working_venv_with_a_hatchling_library() {
    let tmp = scaffolded("pip hatch");
    let root = tmp.path();
    library(
        root,
        "hatchlib",
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
         [project]\nname = \"dubbing-hatchlib\"\nversion = \"0.1.0\"\nrequires-python = \">=3.10\"\n\n\
         [tool.hatch.build.targets.wheel]\npackages = [\"src/dubbing_hatchlib\"]\n",
        "src/dubbing_hatchlib",
        "dubbing_hatchlib",
    );
    add_dependency(root, "sts-service", "dubbing-hatchlib");
    // -v: the commands whole (a long one is cut otherwise).
    let out = run(xtask(root).args(["setup-sts", "--installer", "pip", "-v"]));
    out.assert_ok();
    assert!(
        out.stdout.contains("sts-service: ready in") && out.stdout.contains("(pip "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("-m venv --without-pip"),
        "{}",
        out.stdout
    );
    let (ok, out_) = python_in(
        root,
        "sts-service",
        "import sts_service.tts, dubbing_common, pytest, mypy",
    );
    assert!(ok, "{out_}");
    let (ok, where_) = python_in(
        root,
        "sts-service",
        "import dubbing_hatchlib; print(dubbing_hatchlib.__file__)",
    );
    assert!(
        ok && where_.contains("python/libs/hatchlib/src"),
        "{where_}"
    );
    let doctor = run(xtask(root).args(["doctor", "--installer", "pip"]));
    assert!(
        doctor.stdout.contains("dubbing_hatchlib-0.1.0"),
        "doctor names the hatchling editable:\n{}",
        doctor.stdout
    );
    // A plain setup keeps the installer the venv was made with: nothing installed.
    run(xtask(root).arg("setup-sts")).assert_up_to_date("sts-service");
    // Switching the installer back is an input change: a new venv, named by the installers.
    let out = run(xtask(root).args(["setup-sts", "--installer", "uv"]));
    out.assert_ok();
    assert!(
        out.stdout
            .contains("reinstalling: the installer changed from pip 23.0.1 to uv "),
        "{}",
        out.stdout
    );
}
