//! The tools folder: the pinned uv is installed hash-checked against the digests in the source,
//! from PyPI or `XTASK_TOOLS_INDEX_URL`, whatever the caller's pip configuration says.

mod common;

use std::ffi::OsString;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, run, scaffolded, xtask};

/// The base interpreter the tests install with (its real path, not a shim).
fn base_python() -> PathBuf {
    let name = if cfg!(windows) { "python" } else { "python3" };
    let out = Command::new(name)
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("a Python on PATH");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// PATH without the folders that hold a uv, so the xtask cannot find one there.
fn path_without_uv() -> OsString {
    let exe = if cfg!(windows) { "uv.exe" } else { "uv" };
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|dir| !dir.join(exe).exists())
        .collect();
    std::env::join_paths(kept).unwrap()
}

/// The names in a folder (none when it does not exist).
fn entries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A PEP 503 index on 127.0.0.1 serving one wheel named as uv 0.13.9 that is not uv: a minimal
/// valid wheel built here, so its digest is none of those pinned. Stopped on drop.
struct FakeIndex {
    dir: TempDir,
    server: Child,
    port: u16,
    sha256: String,
}

const FAKE_WHEEL: &str = "uv-0.13.9-py3-none-any.whl";

/// Writes the wheel (METADATA, WHEEL, RECORD with each file's digest) and the index page; prints
/// the wheel's sha256.
const BUILD_INDEX: &str = r##"
import base64, hashlib, os, sys, zipfile
root = sys.argv[1]
os.makedirs(os.path.join(root, "simple", "uv"))
os.makedirs(os.path.join(root, "files"))
files = {
    "uv/__init__.py": "# not uv\n",
    "uv-0.13.9.dist-info/METADATA": "Metadata-Version: 2.1\nName: uv\nVersion: 0.13.9\n",
    "uv-0.13.9.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: xtask-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = ""
for name, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record += f"{name},sha256={digest},{len(text.encode())}\n"
files["uv-0.13.9.dist-info/RECORD"] = record + "uv-0.13.9.dist-info/RECORD,,\n"
wheel = os.path.join(root, "files", sys.argv[2])
with zipfile.ZipFile(wheel, "w") as z:
    for name, text in files.items():
        z.writestr(name, text)
with open(os.path.join(root, "simple", "uv", "index.html"), "w") as page:
    page.write(f'<a href="../../files/{sys.argv[2]}">{sys.argv[2]}</a>\n')
with open(wheel, "rb") as f:
    print(hashlib.sha256(f.read()).hexdigest())
"##;

impl FakeIndex {
    fn start() -> FakeIndex {
        let dir = TempDir::new("fake index");
        let python = base_python();
        let out = Command::new(&python)
            .args(["-c", BUILD_INDEX])
            .arg(dir.path())
            .arg(FAKE_WHEEL)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let sha256 = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = Command::new(&python)
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let index = FakeIndex {
            dir,
            server,
            port,
            sha256,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "no index");
            std::thread::sleep(Duration::from_millis(50));
        }
        index
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/simple", self.port)
    }
}

impl Drop for FakeIndex {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = &self.dir;
    }
}

/// Asserts that the error refuses the fake uv: it names uv, the file served, the digest received
/// and a digest of the table in the source, and says nothing was installed.
#[track_caller]
fn assert_refused(stderr: &str, index: &FakeIndex) {
    let served = format!(
        "uv 0.13.9 downloaded from http://127.0.0.1:{}/files/{FAKE_WHEEL} does not match \
         the digest pinned in xtask/src/env/tools.rs: expected sha256:",
        index.port
    );
    let start = stderr.find(&served).unwrap_or_else(|| panic!("{stderr}"));
    let expected = &stderr[start + served.len()..][..64];
    let table = fs::read_to_string(common::repo_root().join("xtask/src/env/tools.rs")).unwrap();
    assert!(table.contains(&format!("\"{expected}\"")), "{stderr}");
    assert_ne!(expected, index.sha256);
    assert!(
        stderr.contains(&format!(
            "got sha256:{}; nothing was installed",
            index.sha256
        )),
        "{stderr}"
    );
}

#[test]
fn a_uv_download_whose_digest_is_not_pinned_is_refused_and_nothing_is_installed() {
    let tree = scaffolded("tools mismatch");
    let tools = TempDir::new("tools mismatch tools");
    let index = FakeIndex::start();
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
    assert_refused(&out.stderr, &index);
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
    let index = FakeIndex::start();
    let out = run(xtask(tree.path())
        .args(["setup-stream", "--python"])
        .arg(&python)
        .env("PATH", path_without_uv())
        .env("XTASK_TOOLS_DIR", other_tools.path())
        .env("XTASK_TOOLS_INDEX_URL", index.url()));
    out.assert_clean_error();
    assert_refused(&out.stderr, &index);
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
