//! The tools folder: the pinned uv is installed hash-checked against the digests in the source,
//! from PyPI or `XTASK_TOOLS_INDEX_URL`, whatever the caller's pip configuration says.

use crate::common;

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{FakeIndex, TempDir, assert_refused, base_python, run, scaffolded, xtask};

/// PATH without the folders that hold a uv, so the xtask cannot find one there.
fn path_without_uv() -> OsString {
    let exe = if cfg!(windows) { "uv.exe" } else { "uv" };
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|dir| !dir.join(exe).exists())
        .collect();
    std::env::join_paths(kept).unwrap()
}

/// The names in a folder (none when it does not exist), but the bytecode folder that the
/// Python processes of any install or lock write into.
fn entries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name != "build-bytecode")
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_uv_download_whose_digest_is_not_pinned_is_refused_and_nothing_is_installed() {
    let tree = scaffolded("tools mismatch");
    let tools = TempDir::new("tools mismatch tools");
    let index = FakeIndex::start("uv", "0.13.9");
    let out = run(xtask(tree.path())
        .arg("lock")
        .arg("--python")
        .arg(base_python())
        .env("PATH", path_without_uv())
        .env("XTASK_TOOLS_DIR", tools.path())
        .env("XTASK_TOOLS_INDEX_URL", index.url()));
    out.assert_clean_error();
    assert!(
        out.stderr.starts_with("error: uv 0.13.9 downloaded from"),
        "{}",
        out.stderr
    );
    assert_refused(&out.stderr, &index, "uv 0.13.9");
    assert!(out.stdout.contains("--require-hashes"), "{}", out.stdout);
    assert_eq!(entries(tools.path()), Vec::<String>::new());
    assert!(
        !tree
            .path()
            .join("python/apps/media-service/requirements.txt")
            .exists()
    );
}

/// With an empty tools folder, the pinned uv comes from PyPI, hash-checked, whatever the caller's
/// pip configuration says (an index, a config file, `--no-binary`: each would make it fail); then,
/// with another empty tools folder and a mirror serving another file, `setup` refuses it rather
/// than fall back to pip.
#[test]
fn the_pinned_uv_installs_from_pypi_and_setup_refuses_a_tampered_one() {
    let tree = scaffolded("tools pypi");
    let tools = TempDir::new("tools pypi tools");
    let config = tree.path().join("pip.conf");
    fs::write(&config, "[global]\nindex-url = http://127.0.0.1:9/simple\n").unwrap();
    let python = base_python();
    let out = run(xtask(tree.path())
        .args(["lock", "media-service", "--python"])
        .arg(&python)
        .env("PATH", path_without_uv())
        .env("XTASK_TOOLS_DIR", tools.path())
        .env_remove("XTASK_TOOLS_INDEX_URL")
        .env("PIP_CONFIG_FILE", &config)
        .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
        .env("PIP_NO_BINARY", ":all:"));
    out.assert_ok();
    let bin = if cfg!(windows) {
        "Scripts/uv.exe"
    } else {
        "bin/uv"
    };
    let uv = tools.path().join("uv-0.13.9").join(bin);
    let version = Command::new(&uv).arg("--version").output().unwrap();
    assert!(
        String::from_utf8_lossy(&version.stdout).starts_with("uv 0.13.9"),
        "{version:?}"
    );
    assert_eq!(entries(tools.path()), ["uv-0.13.9"], "{}", out.stdout);
    assert!(
        !tools
            .path()
            .join("uv-0.13.9/xtask-requirements.txt")
            .exists()
    );
    assert!(
        tree.path()
            .join("python/apps/media-service/requirements.txt")
            .is_file()
    );

    let other_tools = TempDir::new("tools pypi other tools");
    let index = FakeIndex::start("uv", "0.13.9");
    let out = run(xtask(tree.path())
        .args(["setup-stream", "--python"])
        .arg(&python)
        .env("PATH", path_without_uv())
        .env("XTASK_TOOLS_DIR", other_tools.path())
        .env("XTASK_TOOLS_INDEX_URL", index.url()));
    out.assert_clean_error();
    assert_refused(&out.stderr, &index, "uv 0.13.9");
    assert!(
        !out.stdout.contains("falling back to pip"),
        "{}",
        out.stdout
    );
    assert_eq!(entries(other_tools.path()), Vec::<String>::new());
    assert!(
        !tree
            .path()
            .join("python/apps/media-service/.venv/pyvenv.cfg")
            .exists()
    );
}
