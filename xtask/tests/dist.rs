//! `dist`: a deployable per service, built from the tree, proven by installing it; remembered
//! only while its inputs are those it was built and checked from.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::index::{add_dependency, serve_builds, with_index};
use common::{TempDir, run, scaffolded, set_up_tree, snapshot, write, xtask};

const MEDIA: &str = "python/apps/media-service/pyproject.toml";
const COMMON_INIT: &str = "python/libs/common/src/dubbing_common/__init__.py";

fn context(root: &Path) -> PathBuf {
    root.join("target/dist/media-service")
}

fn wheels(root: &Path) -> BTreeMap<String, Vec<u8>> {
    snapshot(&context(root).join("wheels"))
}

/// Installs the context by hand, offline, with the uv dist used (not with the context's own
/// install.py): the lock hash-checked from uv's cache, the wheels without an index. Returns the
/// venv's python.
fn install_offline(uv: &Path, ctx: &Path, into: &Path) -> PathBuf {
    let uv_run = |args: &[&str]| {
        succeeded(Command::new(uv).args(args).env("UV_OFFLINE", "1"));
    };
    let venv = into.to_str().unwrap();
    uv_run(&["venv", "--quiet", "--no-config", venv]);
    let python = into.join("bin/python");
    let install = [
        "pip",
        "install",
        "--quiet",
        "--no-config",
        "--no-deps",
        "--python",
        venv,
    ];
    let lock = ctx.join("requirements.txt");
    uv_run(
        &[
            &install[..],
            &["--require-hashes", "-r", lock.to_str().unwrap()],
        ]
        .concat(),
    );
    let wheels: Vec<String> = fs::read_dir(ctx.join("wheels"))
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .collect();
    let wheels: Vec<&str> = wheels.iter().map(String::as_str).collect();
    uv_run(&[&install[..], &["--no-index"], &wheels[..]].concat());
    python
}

/// Runs Python code with `-I` from an empty folder; its stdout, or a panic with its stderr.
fn python_isolated(python: &Path, code: &str) -> String {
    let cwd = TempDir::new("empty cwd");
    succeeded(
        Command::new(python)
            .args(["-I", "-c", code])
            .current_dir(cwd.path()),
    )
}

/// Runs a command that must succeed; its stdout, or a panic with its stderr.
fn succeeded(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The seed tree with a real PyPI package in media-service: the context holds the wheels of the
/// service and both libraries (no other), the runtime lock (no dev tool); installed by hand into
/// a fresh venv it imports everything from that venv and holds no dev tool and no sts_service. A
/// second dist is byte-identical and builds nothing; a library edit rebuilds that wheel alone;
/// `--no-cache` rebuilds everything to the same bytes.
#[test]
fn dist_builds_a_deployable_that_installs_alone() {
    let tmp = scaffolded("dist");
    let root = tmp.path();
    add_dependency(root, MEDIA, "six");
    // A test kit that only media-service's dev tools name (its own dependency: pytest): in the
    // dev venv, never in the deployable (the wheels below) nor in its runtime lock.
    run(xtask(root).args(["new", "lib", "testkit"])).assert_ok();
    add_dependency(root, "python/libs/testkit/pyproject.toml", "pytest>=7.0");
    let media = fs::read_to_string(root.join(MEDIA)).unwrap();
    let with_kit = media.replacen("dev = [\n", "dev = [\n    \"testkit\",\n", 1);
    assert_ne!(with_kit, media);
    fs::write(root.join(MEDIA), with_kit).unwrap();
    run(xtask(root).args(["lock", "media-service"])).assert_ok();
    // -v: the commands whole (the test runs the uv dist ran).
    let out = run(xtask(root).args(["dist", "media-service", "-v"]));
    out.assert_ok();
    assert!(
        out.stdout
            .contains("docker build --tag media-service:0.1.0"),
        "{}",
        out.stdout
    );
    let names: Vec<String> = wheels(root).into_keys().collect();
    assert_eq!(
        names,
        [
            "dubbing_common-0.1.0-py3-none-any.whl",
            "dubbing_contracts-0.1.0-py3-none-any.whl",
            "media_service-0.1.0-py3-none-any.whl"
        ]
    );
    let ctx = context(root);
    let lock = fs::read_to_string(ctx.join("requirements.txt")).unwrap();
    assert!(lock.contains("six==") && !lock.contains("pytest"), "{lock}");
    assert_eq!(
        fs::read(ctx.join("Dockerfile")).unwrap(),
        fs::read(root.join("python/deploy/media-service/Dockerfile")).unwrap()
    );
    let uv = common::find_command(&out.stdout, "uv", &["venv"]).expect("dist shows its uv venv")[0]
        .clone();
    let venv = TempDir::new("by hand");
    let python = install_offline(Path::new(&uv), &ctx, &venv.path().join("venv"));
    let found = python_isolated(
        &python,
        "import importlib, importlib.util, sys\n\
         for name in ['media_service', 'dubbing_common', 'dubbing_contracts', 'six']:\n\
         \x20   assert importlib.import_module(name).__file__.startswith(sys.prefix), name\n\
         print([n for n in ['sts_service', 'pytest', 'mypy', 'ruff'] if importlib.util.find_spec(n)])",
    );
    assert_eq!(found.trim(), "[]");
    second_dist_is_identical(root);
    library_edit_rebuilds_its_wheel_alone(root);
    other_service_copies_the_same_wheels(root);
    data_left_out_of_a_wheel_fails(root);
    wheels_are_built_on_the_services_python(root);
}

/// The wheels are built on the Python the service's venv is made from, not on the `python3`
/// first on PATH (another version here): common's version, from its setup.py, names the minor
/// version of the Python that built it.
fn wheels_are_built_on_the_services_python(root: &Path) {
    let out = run(xtask(root).args(["dist", "media-service"]));
    out.assert_ok();
    let minor = |version: &str| version.split('.').nth(1).map(str::to_owned);
    let service = out
        .stdout
        .split("Python ")
        .nth(1)
        .and_then(minor)
        .expect("dist names the Python of its check");
    let other = other_python(&service);
    let shadow = TempDir::new("python on path");
    for name in ["python3", "python"] {
        #[cfg(unix)]
        std::os::unix::fs::symlink(&other, shadow.path().join(name)).unwrap();
    }
    let path = std::env::join_paths(
        std::iter::once(shadow.path().to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let pyproject = root.join("python/libs/common/pyproject.toml");
    let text = fs::read_to_string(&pyproject).unwrap();
    fs::write(
        &pyproject,
        text.replace("version = \"0.1.0\"\n", "dynamic = [\"version\"]\n"),
    )
    .unwrap();
    write(
        root,
        "python/libs/common/setup.py",
        "import sys\n\nfrom setuptools import setup\n\nsetup(version=f\"0.1.{sys.version_info[1]}\")\n",
    );
    run(xtask(root)
        .args(["dist", "media-service"])
        .env("PATH", path))
    .assert_ok();
    let built: Vec<String> = wheels(root)
        .into_keys()
        .filter(|name| name.starts_with("dubbing_common-"))
        .collect();
    assert_eq!(
        built,
        [format!("dubbing_common-0.1.{service}-py3-none-any.whl")]
    );
}

/// An interpreter of this machine (PATH's, else pyenv's) whose minor version is not `minor`.
fn other_python(minor: &str) -> PathBuf {
    let mut candidates: Vec<PathBuf> = ["python3.13", "python3.12", "python3.11", "python3.10"]
        .iter()
        .filter_map(|name| which_on_path(name))
        .collect();
    if let Ok(out) = Command::new("pyenv").arg("root").output() {
        let versions = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("versions");
        for entry in fs::read_dir(versions).into_iter().flatten().flatten() {
            candidates.push(entry.path().join("bin/python3"));
        }
    }
    candidates
        .into_iter()
        .find(|python| {
            Command::new(python)
                .args(["-c", "import sys; print(sys.version_info[1])"])
                .output()
                .is_ok_and(|out| {
                    let found = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                    out.status.success()
                        && found != minor
                        && found.parse::<u32>().is_ok_and(|m| m >= 9)
                })
        })
        .expect(
            "this machine has a Python 3.9 or later of another minor version than the service's",
        )
}

fn which_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// A data file in a package's folder that its wheel leaves out (setuptools ships no data unless
/// told): the editable dev venv reads it, the image would not. dist fails naming it, until the
/// pyproject declares it.
fn data_left_out_of_a_wheel_fails(root: &Path) {
    let data = "python/apps/media-service/src/media_service/voices.json";
    write(root, data, "{\"es\": \"voice-1\"}\n");
    let out = run(xtask(root).args(["dist", "media-service"]));
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("media_service/voices.json is not in the installed package")
            || out
                .stderr
                .contains("media_service/voices.json is not in the installed package"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    let pyproject = root.join("python/apps/media-service/pyproject.toml");
    let text = fs::read_to_string(&pyproject).unwrap();
    let declared = text.replacen(
        "media_service = [\"py.typed\"]",
        "media_service = [\"py.typed\", \"*.json\"]",
        1,
    );
    assert_ne!(declared, text);
    fs::write(&pyproject, declared).unwrap();
    run(xtask(root).args(["dist", "media-service"])).assert_ok();
    committed_says_where_the_files_come_from(root);
}

/// The manifest says whether the deployable was built from `python/` as committed, and from what
/// it reads elsewhere in the repository: package data a symlink leads to outside `python/`.
fn committed_says_where_the_files_come_from(root: &Path) {
    let manifest = || fs::read_to_string(context(root).join("manifest.json")).unwrap();
    let committed = |yes: bool| format!("\"python_tree_as_committed\": {yes}");
    write(root, "assets/extra.json", "{\"fr\": \"voice-2\"}\n");
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        "../../../../../assets",
        root.join("python/apps/media-service/src/media_service/assets"),
    )
    .unwrap();
    // Shipped as data once declared: the check requires what the link leads to in the wheel.
    let pyproject = root.join(MEDIA);
    let text = fs::read_to_string(&pyproject).unwrap();
    let declared = text.replacen("\"*.json\"]", "\"*.json\", \"assets/*.json\"]", 1);
    assert_ne!(declared, text);
    fs::write(&pyproject, declared).unwrap();
    common::git(root, &["init", "-q"]);
    common::git(root, &["add", "-A"]);
    common::git(root, &["commit", "-q", "-m", "assets"]);
    run(xtask(root).args(["dist", "media-service"])).assert_ok();
    assert!(manifest().contains(&committed(true)), "{}", manifest());
    write(root, "assets/extra.json", "{\"fr\": \"UNREVIEWED\"}\n");
    run(xtask(root).args(["dist", "media-service"])).assert_ok();
    assert!(manifest().contains(&committed(false)), "{}", manifest());
    // The same edit hidden from `git status` (assume-unchanged): still not as committed.
    common::git(
        root,
        &["update-index", "--assume-unchanged", "assets/extra.json"],
    );
    run(xtask(root).args(["dist", "media-service"])).assert_ok();
    assert!(manifest().contains(&committed(false)), "{}", manifest());
    common::git(
        root,
        &["update-index", "--no-assume-unchanged", "assets/extra.json"],
    );
    common::git(root, &["checkout", "--", "assets/extra.json"]);
}

/// A library's wheel built for one service from the same inputs is copied into another's context,
/// not built again; the service's own wheel is built.
fn other_service_copies_the_same_wheels(root: &Path) {
    let out = run(xtask(root).args(["dist", "sts-service"]));
    out.assert_ok();
    assert!(
        out.stdout.contains("built the wheel of sts-service; copied the wheels of common, contracts from media-service's context"),
        "{}",
        out.stdout
    );
    let sts = snapshot(&root.join("target/dist/sts-service/wheels"));
    for (name, bytes) in wheels(root) {
        if name.starts_with("dubbing_") {
            assert_eq!(sts.get(&name), Some(&bytes), "{name}");
        }
    }
}

fn second_dist_is_identical(root: &Path) {
    let before = snapshot(&context(root));
    let out = run(xtask(root).args(["dist", "media-service"]));
    out.assert_ok();
    assert!(
        out.stdout.contains("context up to date; checked before"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("uv build"), "{}", out.stdout);
    assert_eq!(before, snapshot(&context(root)));
}

fn library_edit_rebuilds_its_wheel_alone(root: &Path) {
    let before = wheels(root);
    let init = root.join(COMMON_INIT);
    let text = fs::read_to_string(&init).unwrap();
    fs::write(&init, format!("{text}\nEDITED = True\n")).unwrap();
    let out = run(xtask(root).args(["dist", "media-service"]));
    out.assert_ok();
    assert!(
        out.stdout.contains("built the wheel of common;"),
        "{}",
        out.stdout
    );
    let after = wheels(root);
    for (name, bytes) in &after {
        let same = before.get(name) == Some(bytes);
        assert_eq!(same, !name.starts_with("dubbing_common"), "{name}");
    }
    let context_now = snapshot(&context(root));
    run(xtask(root).args(["dist", "media-service", "--no-cache"])).assert_ok();
    assert_eq!(context_now, snapshot(&context(root)), "not reproducible");
}

/// What a fresh install would find, dist finds: a library that no longer imports fails it, the
/// smoke command is run again when it changes, a tampered context fails `--check`, a context
/// older than the tree fails `--check`, and a Dockerfile edited by hand is kept.
#[test]
fn dist_verdicts_are_those_of_a_fresh_install() {
    let tmp = set_up_tree();
    let root = tmp.path();
    run(xtask(root).args(["dist", "media-service"])).assert_ok();
    let init = root.join(COMMON_INIT);
    let good = fs::read_to_string(&init).unwrap();
    fs::write(
        &init,
        format!("{good}\nraise RuntimeError('broken on import')\n"),
    )
    .unwrap();
    let out = run(xtask(root).args(["dist", "media-service"]));
    out.assert_clean_error();
    assert!(
        out.stderr.contains("`import dubbing_common` fails"),
        "{}",
        out.stderr
    );
    let out = run(xtask(root).args(["dist", "media-service", "--check"]));
    out.assert_clean_error();
    fs::write(&init, &good).unwrap();
    // A module below the top that imports a dev tool (pytest is in no runtime lock): the
    // image would fail there, so dist does.
    let dev_import = root.join("python/apps/media-service/src/media_service/pipelines/probe.py");
    fs::write(
        &dev_import,
        "\"\"\"Uses a dev tool.\"\"\"\n\nimport pytest\n",
    )
    .unwrap();
    dist_fails_with(
        root,
        "`import media_service.pipelines.probe` fails: ModuleNotFoundError",
    );
    fs::remove_file(&dev_import).unwrap();
    // A module that exits when imported (a script kept in the package) is a finding, and the
    // probe goes on to the next one.
    let oneoff = root.join("python/apps/media-service/src/media_service/pipelines/oneoff.py");
    fs::write(&oneoff, "import sys\n\nsys.exit(3)\n").unwrap();
    dist_fails_with(
        root,
        "`import media_service.pipelines.oneoff` fails: SystemExit: 3",
    );
    fs::remove_file(&oneoff).unwrap();
    // A module in a folder without an `__init__.py` (a namespace package, which setuptools'
    // default discovery ships), which pkgutil's walk does not enter: a script there that nothing
    // names is not imported; once a shipped module loads it by name, as a plugin loader does,
    // the image imports it, and so does the check.
    let plugin = root.join("python/apps/media-service/src/media_service/plugins/loud.py");
    fs::create_dir_all(plugin.parent().unwrap()).unwrap();
    fs::write(&plugin, "\"\"\"A plugin.\"\"\"\n\nimport pytest\n").unwrap();
    run(xtask(root).args(["dist", "media-service"])).assert_ok();
    let loader = root.join("python/apps/media-service/src/media_service/loader.py");
    fs::write(
        &loader,
        "\"\"\"Loads the plugin.\"\"\"\n\nimport importlib\n\nPLUGIN = \"media_service.plugins.loud\"\n\n\ndef load() -> object:\n    return importlib.import_module(PLUGIN)\n",
    )
    .unwrap();
    dist_fails_with(
        root,
        "`import media_service.plugins.loud` fails: ModuleNotFoundError",
    );
    fs::remove_dir_all(plugin.parent().unwrap()).unwrap();
    fs::remove_file(&loader).unwrap();
    // A subpackage the build leaves out (`packages` names the top alone) while a module it
    // ships imports it: the editable dev venv imports it, the image would not.
    let mixer = root.join("python/apps/media-service/src/media_service/mixer.py");
    fs::write(
        &mixer,
        "\"\"\"Mixes.\"\"\"\n\nfrom media_service import pipelines\n",
    )
    .unwrap();
    let pyproject = root.join(MEDIA);
    let text = fs::read_to_string(&pyproject).unwrap();
    let top_only = text.replacen(
        "[tool.setuptools.packages.find]\nwhere = [\"src\"]\n",
        "[tool.setuptools]\npackages = [\"media_service\"]\npackage-dir = {\"\" = \"src\"}\n",
        1,
    );
    assert_ne!(top_only, text);
    fs::write(&pyproject, top_only).unwrap();
    let out = run(xtask(root).args(["dist", "media-service"]));
    out.assert_clean_error();
    assert!(
        out.stderr.contains(
            "media_service.pipelines is in the source, and an installed module imports it"
        ) && out.stderr.contains("the build leaves it out"),
        "{}",
        out.stderr
    );
    fs::write(&pyproject, text).unwrap();
    fs::remove_file(&mixer).unwrap();
    // Data in a folder a symlink leads to (outside python/): the dev venv reads it through the
    // link; the wheel lacks it unless declared, so dist fails naming it.
    #[cfg(unix)]
    {
        write(root, "voices/en.json", "{\"en\": 1}\n");
        let link = root.join("python/apps/media-service/src/media_service/voices");
        std::os::unix::fs::symlink("../../../../../voices", &link).unwrap();
        let out = run(xtask(root).args(["dist", "media-service"]));
        out.assert_clean_error();
        assert!(
            out.stderr
                .contains("media_service/voices/en.json is not in the installed package"),
            "{}",
            out.stderr
        );
        fs::remove_file(&link).unwrap();
    }
    run(xtask(root).args(["dist", "media-service"])).assert_ok();
    run(xtask(root).args(["dist", "media-service", "--check"])).assert_ok();
    smoke_change_is_checked(root);
    tampered_context_fails_check(root);
    hand_edited_dockerfile_is_kept(root);
    image_installer_variables_are_the_checks(root);
    ignored_files_stay_out_of_the_wheels(root);
}

/// A module git ignores (a `local_settings.py` holding a secret) is not in a wheel: a clone of
/// the commit lacks it, and so must the deployable.
fn ignored_files_stay_out_of_the_wheels(root: &Path) {
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    let common_wheel = || {
        let wheel = context(root).join("wheels/dubbing_common-0.1.0-py3-none-any.whl");
        String::from_utf8_lossy(&fs::read(wheel).unwrap()).into_owned()
    };
    write(
        root,
        "python/libs/common/src/dubbing_common/local_settings.py",
        "TOKEN = 'secret'\n",
    );
    // Not ignored (no git yet): a module like any other.
    run(xtask(root).args(["dist", "media-service"])).assert_ok();
    assert!(common_wheel().contains("local_settings"));
    git(&["init", "-q"]);
    fs::write(root.join(".gitignore"), "local_settings.py\n").unwrap();
    let out = run(xtask(root).args(["dist", "media-service"]));
    out.assert_ok();
    let said = "left out of its wheel, as git ignores them (a clone lacks them): src/dubbing_common/local_settings.py";
    assert!(out.stdout.contains(said), "{}", out.stdout);
    let text = common_wheel();
    assert!(
        !text.contains("local_settings"),
        "the ignored module is in the wheel"
    );
    assert!(text.contains("dubbing_common/__init__.py"));
    // Through a symlinked folder, a file is judged where it really is.
    #[cfg(unix)]
    {
        write(
            root,
            "python/shared_src/__init__.py",
            "\"\"\"Shared.\"\"\"\n",
        );
        write(
            root,
            "python/shared_src/local_settings.py",
            "TOKEN = 'secret'\n",
        );
        std::os::unix::fs::symlink(
            "../../../../shared_src",
            root.join("python/libs/common/src/dubbing_common/shared"),
        )
        .unwrap();
        run(xtask(root).args(["dist", "media-service"])).assert_ok();
        let text = common_wheel();
        assert!(
            text.contains("dubbing_common/shared/__init__.py"),
            "the linked folder is missing"
        );
        assert!(
            !text.contains("local_settings"),
            "the ignored module is in the wheel"
        );
    }
}

fn smoke_change_is_checked(root: &Path) {
    let path = root.join(MEDIA);
    let good = fs::read_to_string(&path).unwrap();
    let bad = good.replace(
        "smoke = [\"media-service\", \"--version\"]",
        "smoke = [\"media-service\", \"--no-such-flag\"]",
    );
    assert_ne!(good, bad);
    fs::write(&path, bad).unwrap();
    let out = run(xtask(root).args(["dist", "media-service"]));
    out.assert_clean_error();
    assert!(out.stderr.contains("the smoke command"), "{}", out.stderr);
    fs::write(&path, good).unwrap();
    run(xtask(root).args(["dist", "media-service"])).assert_ok();
}

/// `dist --check` fails, saying `why`.
/// `dist media-service` fails, saying `why`.
fn dist_fails_with(root: &Path, why: &str) {
    let out = run(xtask(root).args(["dist", "media-service"]));
    out.assert_clean_error();
    assert!(out.stderr.contains(why), "{}", out.stderr);
}

fn check_fails_with(root: &Path, why: &str) {
    let out = run(xtask(root).args(["dist", "media-service", "--check"]));
    out.assert_clean_error();
    assert!(out.stderr.contains(why), "{}", out.stderr);
}

fn tampered_context_fails_check(root: &Path) {
    let wheel = context(root).join("wheels/media_service-0.1.0-py3-none-any.whl");
    let bytes = fs::read(&wheel).unwrap();
    fs::write(&wheel, [bytes.as_slice(), b"x"].concat()).unwrap();
    check_fails_with(root, "not the file it lists");
    run(xtask(root).args(["dist", "media-service"])).assert_ok();
    assert_eq!(
        fs::read(&wheel).unwrap(),
        bytes,
        "the wheel was not rebuilt alike"
    );
    write(
        root,
        "python/libs/contracts/src/dubbing_contracts/extra.py",
        "X = 1\n",
    );
    check_fails_with(root, "older than the tree (contracts");
    // A context copied back from before that build lists its own files faithfully: it is
    // older than the tree all the same.
    let old = TempDir::new("old context");
    let copy = |from: &Path, to: &Path| {
        let _ = fs::remove_dir_all(to);
        let ok = Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(to)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    copy(&context(root), &old.path().join("ctx"));
    run(xtask(root).args(["dist", "media-service"])).assert_ok();
    run(xtask(root).args(["dist", "media-service", "--check"])).assert_ok();
    copy(&old.path().join("ctx"), &context(root));
    check_fails_with(root, "older than the tree (contracts");
    run(xtask(root).args(["dist", "media-service"])).assert_ok();
}

fn hand_edited_dockerfile_is_kept(root: &Path) {
    let path = root.join("python/deploy/media-service/Dockerfile");
    let mine = format!("# ours now\n{}", fs::read_to_string(&path).unwrap());
    fs::write(&path, &mine).unwrap();
    run(xtask(root).args(["dist", "media-service"])).assert_ok();
    assert_eq!(fs::read_to_string(&path).unwrap(), mine);
    assert_eq!(
        fs::read_to_string(context(root).join("Dockerfile")).unwrap(),
        mine
    );
}

/// An installer variable the Dockerfile sets for its install (`ENV UV_CONSTRAINT=...`) is one
/// the image's install sees: the check installs with it (here a constraints file the image
/// lacks fails it, as `docker build` would), and a value the file cannot tell is an error.
fn image_installer_variables_are_the_checks(root: &Path) {
    let path = root.join("python/deploy/media-service/Dockerfile");
    let text = fs::read_to_string(&path).unwrap();
    let last_env = "    UV_COMPILE_BYTECODE=1\n";
    let with = |value: &str| {
        let edited = text.replacen(
            last_env,
            &format!("    UV_COMPILE_BYTECODE=1 \\\n    UV_CONSTRAINT={value}\n"),
            1,
        );
        assert_ne!(edited, text);
        fs::write(&path, edited).unwrap();
        run(xtask(root).args(["dist", "media-service"]))
    };
    let out = with("/context/constraints.txt");
    out.assert_clean_error();
    assert!(
        out.stderr.contains("/context/constraints.txt"),
        "{}",
        out.stderr
    );
    let out = with("$FROM_THE_BASE_IMAGE");
    out.assert_clean_error();
    assert!(
        out.stderr.contains(
            "UV_CONSTRAINT is set for the RUN of install.py to a value that cannot be told"
        ),
        "{}",
        out.stderr
    );
    // A COPY of what the context lacks: `docker build` would fail, so dist does, naming it.
    fs::write(&path, format!("{text}COPY settings.toml /etc/media/\n")).unwrap();
    for args in [
        &["dist", "media-service"][..],
        &["dist", "media-service", "--check"],
    ] {
        let out = run(xtask(root).args(args));
        out.assert_clean_error();
        assert!(
            out.stderr.contains("does not build what dist proves")
                && out.stderr.contains("settings.toml"),
            "{}",
            out.stderr
        );
    }
    fs::write(&path, &text).unwrap();
    run(xtask(root).args(["dist", "media-service"])).assert_ok();
}

/// A service whose lock takes a package from an index of its own (served on 127.0.0.1): the
/// index URL travels with the lock into the context, and the check installs the `+cpu` build.
#[test]
fn a_service_index_travels_with_its_lock() {
    let index = serve_builds(&["cpu"]);
    let tmp = scaffolded("dist index");
    let root = tmp.path();
    // The package from wheels that only the caller's UV_FIND_LINKS names: the lock cannot say
    // where they are, so the image's install would not find it, and nor does dist's check.
    let pyproject = fs::read_to_string(root.join(MEDIA)).unwrap();
    add_dependency(root, MEDIA, "tinypkg");
    let links = format!("http://127.0.0.1:{}/cpu/files/", index.port);
    run(xtask(root)
        .args(["lock", "media-service"])
        .env("UV_FIND_LINKS", &links))
    .assert_ok();
    let out = run(xtask(root)
        .args(["dist", "media-service"])
        .env("UV_FIND_LINKS", &links));
    out.assert_clean_error();
    assert!(
        out.stderr.contains("tinypkg") && !out.stderr.contains("checked:"),
        "{}",
        out.stderr
    );
    fs::write(root.join(MEDIA), pyproject).unwrap();
    let url = format!("http://127.0.0.1:{}/cpu/simple", index.port);
    with_index(root, MEDIA, "cpu", &url);
    run(xtask(root).args(["lock", "media-service"])).assert_ok();
    // -v: the commands whole (the test runs the uv dist ran).
    let out = run(xtask(root).args(["dist", "media-service", "-v"]));
    out.assert_ok();
    let lock = fs::read_to_string(context(root).join("requirements.txt")).unwrap();
    assert!(
        lock.contains(&url) && lock.contains("tinypkg==1.0+cpu"),
        "{lock}"
    );
    assert!(
        out.stdout.contains("checked: 4 distributions"),
        "{}",
        out.stdout
    );
    assert!(!context(root).parent().unwrap().join("sts-service").exists());
}

/// Mistakes named before anything is built: a library, a service without a command.
#[test]
fn dist_refuses_what_it_cannot_deploy() {
    let tmp = scaffolded("dist refusals");
    let root = tmp.path();
    let out = run(xtask(root).args(["dist", "common"]));
    out.assert_clean_error();
    assert!(out.stderr.contains("common is a library"), "{}", out.stderr);
    let path = root.join(MEDIA);
    let text = fs::read_to_string(&path).unwrap().replace(
        "[project.scripts]\nmedia-service = \"media_service.__main__:main\"\n",
        "",
    );
    fs::write(&path, text).unwrap();
    let out = run(xtask(root).args(["dist", "media-service"]));
    out.assert_clean_error();
    assert!(
        out.stderr.contains("no command for its image")
            && out
                .stderr
                .contains("python/apps/media-service/pyproject.toml"),
        "{}",
        out.stderr
    );
    assert!(!root.join("python/deploy/media-service/Dockerfile").exists());
    assert!(!root.join("target/dist").exists());
}
