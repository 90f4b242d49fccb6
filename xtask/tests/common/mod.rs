//! Helpers for the integration tests: they run the real xtask binary against real folders.
#![allow(dead_code)] // each test crate uses a part of this module

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temporary folder, removed on drop. Its name has a space and a non-ASCII letter, so every test
/// also checks that paths are never split or mangled.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        // Every test file has its own copy of this module (and of COUNTER), all in one process
        // (tests/suite.rs): the test's thread, never reused in a process, keeps names apart.
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let thread: String = format!("{:?}", std::thread::current().id())
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let path = std::env::temp_dir().join(format!(
            "xtask tést {label} {}-{thread}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path.canonicalize().unwrap())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
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
pub mod index;
