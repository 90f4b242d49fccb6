//! A local package index for the tests, served on 127.0.0.1 (the machines reach only PyPI):
//! wheels of `tinypkg` that the test builds, one index per build.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

/// Adds a requirement to the `dependencies` of the pyproject at `rel` (under the root).
pub fn add_dependency(root: &Path, rel: &str, requirement: &str) {
    let path = root.join(rel);
    let text = fs::read_to_string(&path).unwrap();
    let text = if text.contains("dependencies = []") {
        text.replacen(
            "dependencies = []",
            &format!("dependencies = [\"{requirement}\"]"),
            1,
        )
    } else {
        text.replacen(
            "dependencies = [\n",
            &format!("dependencies = [\n    \"{requirement}\",\n"),
            1,
        )
    };
    fs::write(path, text).unwrap();
}

/// A local package index, served on 127.0.0.1: a folder of wheels the test builds.
pub struct Index {
    server: Child,
    pub port: u16,
    _dir: TempDir,
}

impl Drop for Index {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Builds `tinypkg 1.0+<build>` for each build, each in an index of its own
/// (`/<build>/simple/tinypkg/`), and serves them.
pub fn serve_builds(builds: &[&str]) -> Index {
    let dir = TempDir::new("index");
    let script = r#"
import base64, hashlib, pathlib, sys, zipfile
root = pathlib.Path(sys.argv[1])
for build in sys.argv[2:]:
    version = f"1.0+{build}"
    name = f"tinypkg-{version}-py3-none-any.whl"
    files = root / build / "files"
    files.mkdir(parents=True)
    info = f"tinypkg-{version}.dist-info"
    entries = {
        "tinypkg/__init__.py": f'BUILD = "{build}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: tinypkg\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    with zipfile.ZipFile(files / name, "w") as wheel:
        for path, text in entries.items():
            data = text.encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
            wheel.writestr(path, data)
        record.append(f"{info}/RECORD,,")
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    sha = hashlib.sha256((files / name).read_bytes()).hexdigest()
    page = root / build / "simple" / "tinypkg"
    page.mkdir(parents=True)
    href = f"../../files/{name.replace('+', '%2B')}#sha256={sha}"
    (page / "index.html").write_text(f'<html><body><a href="{href}">{name}</a></body></html>\n')
"#;
    let ok = Command::new("python3")
        .args(["-c", script])
        .arg(dir.path())
        .args(builds)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cannot build the wheels");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the index did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Index {
        server,
        port,
        _dir: dir,
    }
}

pub fn with_index(root: &Path, rel: &str, name: &str, url: &str) -> PathBuf {
    let path = root.join(rel);
    add_dependency(root, rel, "tinypkg");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(
        &path,
        format!(
            "{text}\n[[tool.uv.index]]\nname = \"{name}\"\nurl = \"{url}\"\nexplicit = true\n\n[tool.uv.sources]\ntinypkg = {{ index = \"{name}\" }}\n"
        ),
    )
    .unwrap();
    path
}
