//! Requirements are honoured or refused, never silently dropped: a requirement on a local package
//! that its version does not meet is an error before anything is touched; setuptools' dynamic
//! dependencies read from a file are locked, installed and followed; other dynamic dependencies
//! are refused; `add` through a symlinked pyproject writes the file the link leads to.

use crate::common;

use std::fs;
use std::path::Path;

use common::{python_in, run, scaffolded, set_up_tree, snapshot, write, xtask};

const MEDIA: &str = "python/apps/media-service/pyproject.toml";
const COMMON: &str = "python/libs/common/pyproject.toml";

/// Adds a requirement to the `dependencies` of a seeded service.
fn add_dependency(root: &Path, rel: &str, requirement: &str) {
    let path = root.join(rel);
    let text = fs::read_to_string(&path).unwrap();
    let text = text.replacen(
        "dependencies = [\n",
        &format!("dependencies = [\n    \"{requirement}\",\n"),
        1,
    );
    fs::write(path, text).unwrap();
}

/// `dubbing-common>=2.0` while the library is 0.1.0: an error naming the requirement's line and
/// the version's, before any lock or venv; a requirement it meets sets up.
#[test]
fn a_local_version_the_library_does_not_meet_is_refused_before_anything_is_made() {
    let tmp = scaffolded("local version");
    let root = tmp.path();
    add_dependency(root, MEDIA, "dubbing-common>=2.0");
    let before = snapshot(root);
    for command in [&["setup"][..], &["lock"], &["lock", "--check"]] {
        let out = run(xtask(root).args(command));
        out.assert_clean_error();
        assert!(
            out.stderr.contains(
                "python/apps/media-service/pyproject.toml:12: media-service requires \
                 `dubbing-common>=2.0`, but the local dubbing-common is 0.1.0 \
                 (python/libs/common/pyproject.toml:7)"
            ),
            "{command:?}: {}",
            out.stderr
        );
    }
    assert_eq!(snapshot(root), before, "nothing was written");
    assert!(!root.join("python/apps/media-service/.venv").exists());

    // The same requirement, met: the venv is made.
    let text = fs::read_to_string(root.join(MEDIA)).unwrap();
    fs::write(root.join(MEDIA), text.replace(">=2.0", ">=0.1,<1")).unwrap();
    run(xtask(root).arg("setup-stream")).assert_ok();
    assert!(python_in(root, "media-service", "import dubbing_common").0);
}

/// The library's dependencies come from `requirements.in` (setuptools' `file:`): locked into the
/// service's lock, installed, and a change to the file makes the lock stale, then is installed.
#[test]
fn setuptools_file_dependencies_are_locked_installed_and_followed() {
    // A set-up tree whose library moves to dynamic dependencies: its lock and venv follow.
    let tmp = set_up_tree();
    let root = tmp.path();
    let text = fs::read_to_string(root.join(COMMON)).unwrap();
    let text = text
        .replace("dependencies = []\n", "dynamic = [\"dependencies\"]\n")
        .replace(
            "[tool.setuptools.packages.find]",
            "[tool.setuptools.dynamic]\ndependencies = { file = [\"requirements.in\"] }\n\n\
             [tool.setuptools.packages.find]",
        );
    fs::write(root.join(COMMON), text).unwrap();
    write(
        root,
        "python/libs/common/requirements.in",
        "# what dubbing-common needs\nsix==1.16.0\n",
    );
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_ok();
    let lock = root.join("python/apps/media-service/requirements.txt");
    assert!(
        fs::read_to_string(&lock)
            .unwrap()
            .contains("\nsix==1.16.0 "),
        "six is locked"
    );
    let six = || python_in(root, "media-service", "import six; print(six.__version__)");
    assert_eq!(six(), (true, "1.16.0\n".into()), "{}", out.stdout);
    run(xtask(root).args(["lock", "--check", "media-service"])).assert_ok();

    // A change to the file: the lock is stale (offline), setup says so, a new lock installs it.
    write(
        root,
        "python/libs/common/requirements.in",
        "# what dubbing-common needs\nsix==1.17.0\n",
    );
    let check = run(xtask(root).args(["lock", "--check", "media-service"]));
    check.assert_clean_error();
    assert!(
        check
            .stderr
            .contains("changed since the lock: the dependencies of common"),
        "{}",
        check.stderr
    );
    let setup = run(xtask(root).args(["setup-stream", "--locked"]));
    setup.assert_clean_error();
    assert!(
        setup.stderr.contains("lock media-service"),
        "{}",
        setup.stderr
    );
    // Without --locked, setup locks it again (saying so and what moved), then installs it.
    let setup = run(xtask(root).arg("setup-stream"));
    setup.assert_ok();
    assert!(
        setup.stdout.contains(
            "media-service: changed since the lock: the dependencies of common: relocked"
        ) && setup.stdout.contains("six 1.16.0 -> 1.17.0")
            && setup
                .stdout
                .contains("python/libs/common/requirements.in changed"),
        "{}",
        setup.stdout
    );
    run(xtask(root).args(["lock", "--check", "media-service"])).assert_ok();
    assert_eq!(six(), (true, "1.17.0\n".into()));

    // Another backend's dynamic dependencies: refused, naming the pyproject and line.
    let text = fs::read_to_string(root.join(COMMON)).unwrap();
    fs::write(
        root.join(COMMON),
        text.replace("setuptools.build_meta", "hatchling.build"),
    )
    .unwrap();
    let out = run(xtask(root).arg("setup-stream"));
    out.assert_clean_error();
    assert!(
        out.stderr.contains(
            "python/libs/common/pyproject.toml:11: `dependencies` is listed in [project] dynamic"
        ),
        "{}",
        out.stderr
    );
}

/// `add` through a symlinked pyproject: the file the link leads to changes, the link stays.
#[cfg(unix)]
#[test]
fn add_through_a_symlinked_pyproject_writes_its_target_and_keeps_the_link() {
    let tmp = set_up_tree();
    let root = tmp.path();
    let target = root.join("shared/media-service.pyproject.toml");
    fs::create_dir_all(target.parent().unwrap()).unwrap();
    fs::rename(root.join(MEDIA), &target).unwrap();
    let link = root.join(MEDIA);
    let relative = Path::new("../../../shared/media-service.pyproject.toml");
    std::os::unix::fs::symlink(relative, &link).unwrap();
    assert!(!fs::read_to_string(&target).unwrap().contains("six"));

    run(xtask(root).args(["add", "media-service", "six"])).assert_ok();
    let meta = fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "the link is still a link");
    assert_eq!(fs::read_link(&link).unwrap(), relative);
    assert!(
        fs::read_to_string(&target).unwrap().contains("\"six\""),
        "the target was edited"
    );
    assert!(python_in(root, "media-service", "import six").0);
}
