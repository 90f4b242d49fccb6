//! Locks: one per venv, with hashes, checked offline; venvs that hold exactly their lock; `add`
//! and `remove`; an index of each service's own, served on 127.0.0.1 by the test.

use crate::common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use common::index::{add_dependency, serve_builds, with_index};
use common::{TempDir, committed_set_up_tree, python_in, run, scaffolded, set_up_tree, xtask};

const MEDIA: &str = "python/apps/media-service/pyproject.toml";
const STS: &str = "python/apps/sts-service/pyproject.toml";
const COMMON: &str = "python/libs/common/pyproject.toml";

/// media-service numpy<2, sts-service numpy>=2, dubbing-common numpy: each lock pins its own
/// numpy with hashes, each venv holds it, and the conflict is shown. A dependency edited
/// without a new lock fails `verify` offline; a dependency removed and relocked is gone.
#[test]
fn each_service_locks_its_own_versions_and_venvs_hold_exactly_the_lock() {
    let tmp = committed_set_up_tree();
    let root = tmp.path();
    add_dependency(root, MEDIA, "numpy<2");
    add_dependency(root, STS, "numpy>=2");
    add_dependency(root, COMMON, "numpy");
    let out = run(xtask(root).arg("lock"));
    out.assert_ok();
    let media =
        fs::read_to_string(root.join("python/apps/media-service/requirements.txt")).unwrap();
    let sts = fs::read_to_string(root.join("python/apps/sts-service/requirements.txt")).unwrap();
    assert!(
        media.contains("\nnumpy==1.") && media.contains("--hash=sha256:"),
        "{media}"
    );
    assert!(sts.contains("\nnumpy==2."), "{sts}");
    assert!(
        out.stdout.contains("versions that differ between venvs")
            && out
                .stdout
                .lines()
                .any(|l| l.trim_start().starts_with("numpy ")
                    && l.contains("1.")
                    && l.contains("2.")),
        "{}",
        out.stdout
    );
    let again = run(xtask(root).arg("lock"));
    again.assert_ok();
    assert!(
        again.stdout.contains("media-service: up to date") && !again.stdout.contains("$ "),
        "a lock with nothing changed runs no resolver:\n{}",
        again.stdout
    );
    run(xtask(root).arg("setup")).assert_ok();
    let numpy = |service| python_in(root, service, "import numpy; print(numpy.__version__)").1;
    assert!(numpy("media-service").starts_with("1."));
    assert!(numpy("sts-service").starts_with("2."));

    // An edited dependency without a new lock: verify fails offline, naming the service, the
    // input and the command that fixes it.
    add_dependency(root, MEDIA, "six");
    let out = run(xtask(root)
        .args(["verify", "-p", "media-service"])
        .env("UV_OFFLINE", "1"));
    out.assert_clean_error();
    assert!(
        out.stderr.contains(
            "media-service: its lock is not what its inputs make (changed since the lock: the dependencies of media-service)"
        ) && out.stderr.contains("lock media-service"),
        "{}",
        out.stderr
    );
    run(xtask(root).args(["lock", "--check"])).assert_clean_error();
    run(xtask(root).arg("lock")).assert_ok();
    run(xtask(root).args(["lock", "--check"])).assert_ok();
    run(xtask(root).args(["verify", "-p", "media-service"])).assert_ok();
    assert!(python_in(root, "media-service", "import six").0);

    // Removed from the pyproject and relocked: gone from the venv.
    let text = fs::read_to_string(root.join(MEDIA)).unwrap();
    fs::write(root.join(MEDIA), text.replace("    \"six\",\n", "")).unwrap();
    run(xtask(root).arg("lock")).assert_ok();
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_ok();
    assert!(
        !python_in(root, "media-service", "import six").0,
        "{}",
        out.stdout
    );
}

/// A package installed by hand: doctor names it, setup removes it (unless --inexact); a file of
/// one deleted by hand: doctor names it.
#[test]
fn a_package_installed_by_hand_is_reported_and_removed() {
    let tmp = scaffolded("by hand");
    let root = tmp.path();
    let setup = run(xtask(root).args(["setup-stream", "-v"]));
    setup.assert_ok();
    // The uv setup ran (wherever the tools folder is, or one on PATH), from its printed command.
    let uv = common::find_command(&setup.stdout, "uv", &["pip", "sync"])
        .map(|words| PathBuf::from(&words[0]))
        .filter(|uv| uv.is_file())
        .unwrap_or_else(|| panic!("setup shows the uv it ran:\n{}", setup.stdout));
    let python = common::venv_python(root, "media-service");
    let install = |package: &str| {
        let ok = Command::new(&uv)
            .args(["pip", "install", "--quiet", "--python"])
            .arg(&python)
            .arg(package)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    install("six==1.16.0");
    let doctor = run(xtask(root).arg("doctor"));
    assert!(
        doctor.stdout.contains("six==1.16.0 is not in the lock")
            && doctor
                .stdout
                .contains("six-1.16.0 added by hand since setup"),
        "{}",
        doctor.stdout
    );
    let kept = run(xtask(root).args(["setup-stream", "--inexact"]));
    kept.assert_ok();
    assert!(
        python_in(root, "media-service", "import six").0,
        "{}",
        kept.stdout
    );
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_ok();
    assert!(
        out.stdout.contains("six-1.16.0 added by hand since setup"),
        "{}",
        out.stdout
    );
    assert!(
        !python_in(root, "media-service", "import six").0,
        "{}",
        out.stdout
    );

    // A file of an installed distribution deleted by hand: setup's no-op look reads no installed
    // file, doctor reads each RECORD, says which is gone, and the command that reinstalls.
    let (found, site) = python_in(
        root,
        "media-service",
        "import os, pluggy; print(os.path.dirname(os.path.dirname(pluggy.__file__)))",
    );
    assert!(found, "{site}");
    fs::remove_file(PathBuf::from(site.trim()).join("pluggy/_tracing.py")).unwrap();
    let doctor = run(xtask(root).arg("doctor"));
    assert_ne!(doctor.code, 0, "{}", doctor.stdout);
    assert!(
        doctor
            .stdout
            .contains("lacks pluggy/_tracing.py, deleted since its install")
            && doctor.stdout.contains("setup --force media-service"),
        "{}",
        doctor.stdout
    );
    run(xtask(root).args(["setup", "--force", "media-service"])).assert_ok();
    let doctor = run(xtask(root).arg("doctor"));
    assert!(
        doctor.stdout.contains("media-service/.venv: fresh"),
        "{}",
        doctor.stdout
    );
}

/// `add` keeps the pyproject's comments and installs into every venv that has the package;
/// `remove` undoes it; bad requirements change nothing.
#[test]
fn add_and_remove_edit_the_pyproject_and_every_venv_that_needs_it() {
    let tmp = set_up_tree();
    let root = tmp.path();
    let path = root.join(COMMON);
    let text = fs::read_to_string(&path).unwrap().replace(
        "dependencies = []",
        "# what every service gets\ndependencies = [\n]",
    );
    fs::write(&path, &text).unwrap();
    run(xtask(root).arg("setup")).assert_ok();

    for (bad, expected) in [
        ("six>=>1", "  six>=>1\n       ^ expected a version"),
        ("sts-service", "names the service sts-service"),
    ] {
        let out = run(xtask(root).args(["add", "common", bad]));
        out.assert_clean_error();
        assert!(out.stderr.contains(expected), "{bad}: {}", out.stderr);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            text,
            "{bad} changed the pyproject"
        );
    }
    let out = run(xtask(root).args(["add", "nowhere", "six"]));
    out.assert_clean_error();
    assert!(
        out.stderr.contains("no package `nowhere`"),
        "{}",
        out.stderr
    );

    let out = run(xtask(root).args(["add", "common", "six==1.16.0"]));
    out.assert_ok();
    let edited = fs::read_to_string(&path).unwrap();
    assert!(
        edited.contains("# what every service gets\ndependencies = [\n    \"six==1.16.0\",\n]"),
        "{edited}"
    );
    for service in ["media-service", "sts-service"] {
        assert!(
            python_in(root, service, "import six").0,
            "{service}: {}",
            out.stdout
        );
    }
    run(xtask(root).args(["lock", "--check"])).assert_ok();

    run(xtask(root).args(["remove", "common", "six"])).assert_ok();
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
    for service in ["media-service", "sts-service"] {
        assert!(!python_in(root, service, "import six").0, "{service}");
    }
}

/// A lock that cannot reach its index fails, names the service, and leaves the old lock byte
/// for byte.
#[test]
fn a_lock_without_network_leaves_the_old_lock_whole() {
    let tmp = scaffolded("offline");
    let root = tmp.path();
    run(xtask(root).args(["lock", "media-service"])).assert_ok();
    let files = [
        root.join("python/apps/media-service/requirements.txt"),
        root.join("python/apps/media-service/requirements-dev.txt"),
    ];
    let before: Vec<Vec<u8>> = files.iter().map(|f| fs::read(f).unwrap()).collect();
    let empty_cache = TempDir::new("empty uv cache");
    // Offline, an upgrade is refused before any resolver runs: uv's cache cannot say what is
    // newest (it once answered `locked, no pin changed`).
    let out = run(xtask(root)
        .args(["lock", "media-service", "--upgrade"])
        .env("UV_OFFLINE", "1"));
    out.assert_clean_error();
    assert!(
        out.stderr
            .contains("an upgrade asks the index for the newest versions")
            && out.stderr.contains("without UV_OFFLINE")
            && !out.stdout.contains("$ "),
        "{}{}",
        out.stdout,
        out.stderr
    );
    add_dependency(root, MEDIA, "six");
    let out = run(xtask(root)
        .args(["lock", "media-service"])
        .env("UV_OFFLINE", "1")
        .env("UV_CACHE_DIR", empty_cache.path()));
    out.assert_clean_error();
    // uv's explanation first, then what it was resolving, then what was kept.
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines[0].starts_with("error: No solution found")
            && out.stderr.contains("six was not found in the cache")
            && out
                .stderr
                .contains("resolving the runtime requirements of media-service: six")
            && lines
                .last()
                .unwrap()
                .contains("media-service: the lock was not written"),
        "{}",
        out.stderr
    );
    let after: Vec<Vec<u8>> = files.iter().map(|f| fs::read(f).unwrap()).collect();
    assert_eq!(before, after, "a failed lock changed the lock");
    assert!(!root.join("python/apps/media-service/.xtask-lock").exists());
}

/// Each service takes `tinypkg` from an index of its own: the CPU build for the media
/// service, the CUDA one for sts.
#[test]
fn each_service_takes_its_own_build_from_its_own_index() {
    let index = serve_builds(&["cpu", "cu121"]);
    let tmp = set_up_tree();
    let root = tmp.path();
    let base = format!("http://127.0.0.1:{}", index.port);
    with_index(root, MEDIA, "cpu", &format!("{base}/cpu/simple"));
    with_index(root, STS, "cuda", &format!("{base}/cu121/simple"));
    let out = run(xtask(root).arg("lock"));
    out.assert_ok();
    let media =
        fs::read_to_string(root.join("python/apps/media-service/requirements.txt")).unwrap();
    let sts = fs::read_to_string(root.join("python/apps/sts-service/requirements.txt")).unwrap();
    assert!(media.contains("tinypkg==1.0+cpu"), "{media}");
    assert!(sts.contains("tinypkg==1.0+cu121"), "{sts}");
    run(xtask(root).arg("setup")).assert_ok();
    let build = |service| python_in(root, service, "import tinypkg; print(tinypkg.BUILD)").1;
    assert_eq!(build("media-service").trim(), "cpu");
    assert_eq!(build("sts-service").trim(), "cu121");
}
