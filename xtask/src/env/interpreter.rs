//! Finding the Python to build a venv with: every candidate on PATH, in pyenv's versions folder and
//! among uv's managed Pythons is run to learn its version; one that fails (a pyenv shim for a version
//! that is not active) is skipped with the reason.

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::cmd::Cmd;
use crate::env::probes::{Key, Probes};
use crate::env::venv::Platform;
use crate::project::PYTHON_DIR;
use crate::workspace::pep440::{Specifiers, Version};

/// The environment variable that names the Python when `--python` is not given.
pub const ENV_VAR: &str = "XTASK_PYTHON";
/// The file that names the preferred version, under `python/`.
pub const VERSION_FILE: &str = ".python-version";

/// A working interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// The real executable (`sys.executable`), not a shim or link to it.
    pub path: PathBuf,
    pub version: Version,
}

impl fmt::Display for Interpreter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Python {} ({})", self.version, self.path.display())
    }
}

/// A candidate that cannot be used, and why.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub path: PathBuf,
    pub why: String,
}

/// What a search found: working interpreters (deduplicated) and rejected candidates.
#[derive(Debug, Default)]
pub struct Discovery {
    pub found: Vec<Interpreter>,
    pub rejected: Vec<Rejected>,
}

/// What the user asked for, and where that came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// A path to an interpreter: use exactly it.
    Path(PathBuf),
    /// A version prefix: `3.10` or `3.10.13`.
    Version(Version),
    /// Nothing named: the lowest version that satisfies.
    Any,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub want: Want,
    /// `--python`, `XTASK_PYTHON`, `python/.python-version`.
    pub source: String,
    /// A request from `--python` or the environment must be met; `.python-version` is a preference.
    pub strict: bool,
}

impl Request {
    /// `--python`, else `XTASK_PYTHON`, else `python/.python-version`.
    pub fn resolve(flag: Option<&str>, root: &Path) -> Result<Request> {
        if let Some(value) = flag {
            return Ok(Request {
                want: Request::parse_want(value, "--python")?,
                source: "--python".into(),
                strict: true,
            });
        }
        if let Ok(value) = std::env::var(ENV_VAR)
            && !value.trim().is_empty()
        {
            return Ok(Request {
                want: Request::parse_want(&value, ENV_VAR)?,
                source: ENV_VAR.into(),
                strict: true,
            });
        }
        let file = root.join(PYTHON_DIR).join(VERSION_FILE);
        let source = format!("{PYTHON_DIR}/{VERSION_FILE}");
        if let Ok(text) = fs::read_to_string(&file) {
            let first = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'));
            if let Some(line) = first {
                let want = Request::parse_want(line, &source)?;
                return Ok(Request {
                    want,
                    source,
                    strict: false,
                });
            }
        }
        Ok(Request {
            want: Want::Any,
            source: "no version named".into(),
            strict: false,
        })
    }

    fn parse_want(value: &str, source: &str) -> Result<Want> {
        let value = value.trim();
        let looks_like_path =
            value.contains('/') || value.contains('\\') || Path::new(value).is_file();
        if looks_like_path {
            // Absolute, so that the request (and the stamp that records it) means the same
            // interpreter from whichever folder the command runs.
            let path = std::path::absolute(value).unwrap_or_else(|_| PathBuf::from(value));
            return Ok(Want::Path(path));
        }
        let version = value
            .strip_prefix("python")
            .or_else(|| value.strip_prefix("cpython-"))
            .unwrap_or(value);
        match Version::parse(version) {
            Ok(v) => Ok(Want::Version(v)),
            Err(_) => bail!(
                "{source} names `{value}`, which is neither a version such as 3.10 nor a path to a Python"
            ),
        }
    }

    /// What was asked for, as `--python` takes it: a version or a path; None when nothing was.
    pub fn asked(&self) -> Option<String> {
        match &self.want {
            Want::Path(p) => Some(p.to_string_lossy().into_owned()),
            Want::Version(v) => Some(v.to_string()),
            Want::Any => None,
        }
    }

    /// A short text for the fingerprint: what was asked, from where.
    pub fn key(&self) -> String {
        match &self.want {
            Want::Path(p) => format!("path {} ({})", p.display(), self.source),
            Want::Version(v) => format!("version {v} ({})", self.source),
            Want::Any => "any".into(),
        }
    }

    /// What decides the interpreter this request gets: the request's key and what discovery
    /// would see ([`discovery_key`]), without probing a candidate (a remembered result keyed by
    /// it costs no Python started).
    pub fn choice_key(&self) -> String {
        format!("{}\0{}", self.key(), discovery_key())
    }
}

/// The places searched, each with a short label for messages.
/// The folders of PATH where an interpreter may be found: all but a venv's own (an activated
/// venv puts its `bin/` first, and its interpreter is no base to build a venv from; it would
/// also hide the base one it links to).
fn search_path(path: &std::ffi::OsStr) -> impl Iterator<Item = PathBuf> {
    std::env::split_paths(path).filter(|dir| {
        !dir.parent()
            .is_some_and(|venv| venv.join("pyvenv.cfg").is_file())
    })
}

fn candidate_paths(platform: Platform) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(path) = path_before_git() {
        for dir in search_path(&path) {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            let mut names: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| is_python_name(&n.to_string_lossy(), platform))
                })
                .collect();
            names.sort();
            out.extend(names);
        }
    }
    for dir in managed_dirs() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .filter_map(|e| {
                let prefix = e.path();
                let bin = match platform {
                    Platform::Unix => platform.bin_dir(&prefix),
                    Platform::Windows => prefix.clone(),
                };
                ["python3", "python"]
                    .iter()
                    .map(|n| bin.join(platform.exe(n)))
                    .find(|p| p.is_file())
            })
            .collect();
        found.sort();
        out.extend(found);
    }
    // Windows' launcher knows the Pythons installed from python.org and the Store.
    if platform == Platform::Windows
        && let Ok(py) = which::which("py")
        && let Ok(listing) = Cmd::new(py).arg("-0p").output()
    {
        out.extend(py_launcher_paths(&listing.output));
    }
    out
}

/// The interpreters in the output of `py -0p`: lines such as ` -V:3.12 *   C:\Python312\python.exe`
/// (or ` -3.12-64   C:\...` from older launchers); paths may hold spaces.
fn py_launcher_paths(listing: &str) -> Vec<PathBuf> {
    listing
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix('-')?;
            let (_tag, path) = rest.split_once(char::is_whitespace)?;
            let path = path.trim_start().trim_start_matches('*').trim();
            (!path.is_empty()).then(|| PathBuf::from(path))
        })
        .collect()
}

/// `python`, `python3`, `python3.12` (with `.exe` on Windows).
fn is_python_name(name: &str, platform: Platform) -> bool {
    let name = match platform {
        Platform::Windows => match name.strip_suffix(".exe") {
            Some(n) => n,
            None => return false,
        },
        Platform::Unix => name,
    };
    name == "python"
        || name == "python3"
        || name
            .strip_prefix("python3.")
            .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()))
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
}

fn pyenv_root() -> Option<PathBuf> {
    std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".pyenv")))
}

/// pyenv's versions folder and uv's managed Pythons.
pub fn managed_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(pyenv) = pyenv_root() {
        dirs.push(pyenv.join("versions"));
    }
    let uv = std::env::var_os("UV_PYTHON_INSTALL_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let data = std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| home().map(|h| h.join(".local/share")));
            data.map(|d| d.join("uv").join("python"))
        });
    if let Some(uv) = uv {
        dirs.push(uv);
    }
    dirs
}

/// A cheap key that changes when the set of candidates may have changed: PATH, and the
/// modification times of its folders ([`search_path`]: not a venv's, whose time a setup moves)
/// and of the managed folders (a folder's time moves when an entry comes, goes or is replaced:
/// a Python installed or upgraded into `/usr/local/bin`).
/// Equal keys let a re-run skip probing. Read once a run (each venv's fingerprint holds it):
/// a Python installed while the run goes on changes the next run's key, which probes again.
pub fn discovery_key() -> String {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| discovery_key_of(&path_before_git().unwrap_or_default(), &managed_dirs()))
        .clone()
}

/// [`discovery_key`] of a PATH and managed folders.
fn discovery_key_of(path: &std::ffi::OsStr, managed: &[PathBuf]) -> String {
    let mut key = path.to_string_lossy().into_owned();
    for dir in search_path(path).chain(managed.iter().cloned()) {
        key += &format!("|{}={}", dir.display(), crate::digest::file_meta(&dir));
    }
    crate::digest::hash(key.as_bytes())
}

/// PATH as the person's shell has it: when git runs the xtask (a hook, an alias), it puts its
/// exec-path (`GIT_EXEC_PATH`, which holds no Python) first. Left there, every commit's hook
/// would find the venvs' interpreters looked for on another PATH (stale, probed again), and
/// the next command from the shell again.
pub fn path_before_git() -> Option<std::ffi::OsString> {
    let path = std::env::var_os("PATH")?;
    let Some(exec) = std::env::var_os("GIT_EXEC_PATH") else {
        return Some(path);
    };
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    // Once for each git that ran the next (an alias's command, a hooked commit in `rebase -x`).
    while dirs.first().map(|d| d.as_os_str()) == Some(exec.as_os_str()) {
        dirs.remove(0);
    }
    std::env::join_paths(dirs).ok().or(Some(path))
}

/// Prints the version and the real executable; `-I -S` keeps it fast and blind to the caller's
/// environment.
pub const PROBE: &str =
    "import sys; print('%d.%d.%d' % sys.version_info[:3]); print(sys.executable)";
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs every candidate at once (but those whose answer is remembered: see [`Probes`]) and
/// sorts them into found and rejected.
pub fn discover() -> Discovery {
    let mut probes = Probes::load();
    let discovery = discover_from(candidate_paths(Platform::current()), &mut probes);
    probes.save();
    discovery
}

/// Probes the given candidates, all at once, but those whose answer `probes` remembers.
pub fn discover_from(candidates: Vec<PathBuf>, probes: &mut Probes) -> Discovery {
    let mut discovery = Discovery::default();
    let mut running = Vec::new();
    let mut seen_files = HashSet::new();
    let shims = pyenv_root().map(|r| r.join("shims"));
    for path in candidates {
        // A pyenv shim runs only the active version (and fails for the others) at the cost of a
        // pyenv start; the versions behind the shims are probed directly in pyenv's versions folder.
        if let Some(shims) = &shims
            && path.parent() == Some(shims.as_path())
        {
            let why =
                "a pyenv shim (runs only the active version); pyenv's versions are probed directly"
                    .into();
            discovery.rejected.push(Rejected { path, why });
            continue;
        }
        // The same file reached through two names is probed once.
        let real = fs::canonicalize(&path).ok();
        if !seen_files.insert(real.clone().unwrap_or_else(|| path.clone())) {
            continue;
        }
        let key = real.and_then(|real| probes.key(&path, real));
        if let Some(key) = &key
            && let Some(answer) = probes.answer(key)
        {
            match judge_answer(&answer) {
                Ok(found) => {
                    running.push((path, Probe::Remembered(found)));
                    continue;
                }
                // Not an answer (a hand edit), or a venv's now: probed again.
                Err(_) => probes.forget(key),
            }
        }
        match Cmd::new(&path).args(["-I", "-S", "-c", PROBE]).start() {
            Ok(handle) => running.push((path, Probe::Running(Box::new(handle), key))),
            Err(e) => discovery.rejected.push(Rejected {
                path,
                why: format!("{e:#}"),
            }),
        }
    }
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let mut seen = HashSet::new();
    for (path, probe) in running {
        let judged = match probe {
            Probe::Remembered(found) => Ok(found),
            Probe::Running(handle, key) => wait_until(&handle, deadline).and_then(|out| {
                let found = judge(&out)?;
                if let Some(key) = key {
                    probes.learn(key, &String::from_utf8_lossy(&out.stdout), &found.path);
                }
                Ok(found)
            }),
        };
        match judged {
            Err(why) => discovery.rejected.push(Rejected { path, why }),
            Ok(found) => {
                if seen.insert(found.path.clone()) {
                    discovery.found.push(found);
                }
            }
        }
    }
    discovery
}

/// A candidate's answer: remembered, or from a probe running (with the key to remember it by).
enum Probe {
    Remembered(Interpreter),
    Running(Box<duct::Handle>, Option<Key>),
}

/// Runs one interpreter named by path.
pub fn probe(path: &Path) -> Result<Interpreter, String> {
    let handle = Cmd::new(path)
        .args(["-I", "-S", "-c", PROBE])
        .start()
        .map_err(|e| format!("{e:#}"))?;
    let out = wait_until(&handle, Instant::now() + PROBE_TIMEOUT)?;
    judge(&out)
}

fn wait_until(handle: &duct::Handle, deadline: Instant) -> Result<std::process::Output, String> {
    loop {
        match handle.try_wait() {
            Ok(Some(out)) => return Ok(out.clone()),
            Ok(None) if Instant::now() > deadline => {
                let _ = handle.kill();
                return Err(format!(
                    "did not answer within {} s",
                    PROBE_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("cannot run it: {e}")),
        }
    }
}

/// Reads a probe's answer; a failing run, a venv's interpreter or a Python 2 is rejected.
fn judge(out: &std::process::Output) -> Result<Interpreter, String> {
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let first = text.lines().next().unwrap_or("").trim();
        let code = out
            .status
            .code()
            .map_or_else(|| "a signal".to_owned(), |c| c.to_string());
        let hint = if code == "127" {
            " (a pyenv shim for a version that is not active?)"
        } else {
            ""
        };
        return Err(format!("exited with {code}{hint}: {first}"));
    }
    judge_answer(&text)
}

/// Reads a successful probe's answer (its standard output); a venv's interpreter or a Python 2
/// is rejected.
fn judge_answer(text: &str) -> Result<Interpreter, String> {
    let mut lines = text.lines();
    let version = lines.next().and_then(|l| Version::parse(l).ok());
    let executable = lines.next().map(str::trim).filter(|l| !l.is_empty());
    let (Some(version), Some(executable)) = (version, executable) else {
        return Err(format!(
            "did not print a version and an executable: {}",
            text.trim()
        ));
    };
    let executable = PathBuf::from(executable);
    if version.0.first() != Some(&3) {
        return Err(format!("is Python {version}; only Python 3 is supported"));
    }
    if let Some(prefix) = executable.parent().and_then(Path::parent)
        && prefix.join("pyvenv.cfg").is_file()
    {
        return Err(format!(
            "is the interpreter of the virtualenv {}; a venv is built from a base Python",
            prefix.display()
        ));
    }
    Ok(Interpreter {
        path: executable,
        version,
    })
}

/// What the chosen interpreter must satisfy: each package's `requires-python`, with its folder.
pub type Requirements<'a> = [(&'a str, &'a Specifiers)];

/// Chooses the interpreter for a request among the discovered ones, and says why.
pub fn choose(
    discovery: &Discovery,
    request: &Request,
    requirements: &Requirements<'_>,
) -> Result<(Interpreter, String)> {
    let unmet = |i: &Interpreter| -> Option<String> {
        requirements
            .iter()
            .find(|(_, spec)| !spec.contains(&i.version))
            .map(|(pkg, spec)| {
                format!(
                    "Python {} does not satisfy requires-python {spec} of {pkg}",
                    i.version
                )
            })
    };
    if let Want::Path(path) = &request.want {
        let found = probe(path).map_err(|why| {
            anyhow::anyhow!("{} names {}, which {why}", request.source, path.display())
        })?;
        if let Some(why) = unmet(&found) {
            bail!(
                "{} names {}: {why}; name another Python",
                request.source,
                path.display()
            );
        }
        let reason = format!("named by {}", request.source);
        return Ok((found, reason));
    }
    let mut satisfying: Vec<&Interpreter> = discovery
        .found
        .iter()
        .filter(|i| unmet(i).is_none())
        .collect();
    // The lowest minor version first; within it, the newest patch release.
    satisfying.sort_by(|a, b| {
        a.version
            .minor()
            .cmp(&b.version.minor())
            .then(b.version.cmp(&a.version))
    });
    if let Want::Version(wanted) = &request.want {
        if let Some(found) = satisfying.iter().find(|i| i.version.starts_with(wanted)) {
            return Ok((
                (*found).clone(),
                format!("{} names {wanted}", request.source),
            ));
        }
        if request.strict {
            bail!(
                "{}",
                no_interpreter(discovery, request, requirements, &unmet)
            );
        }
    }
    match satisfying.first() {
        Some(found) => {
            let mut reason = "the lowest version that satisfies requires-python".to_owned();
            if let Want::Version(wanted) = &request.want {
                reason = format!(
                    "{} names {wanted}, which was not found; {reason}",
                    request.source
                );
            }
            Ok(((*found).clone(), reason))
        }
        None => bail!(
            "{}",
            no_interpreter(discovery, request, requirements, &unmet)
        ),
    }
}

/// At most five lines: what was wanted, the versions found (each one's reason is `doctor`'s to
/// tell), and the commands that install one.
fn no_interpreter(
    discovery: &Discovery,
    request: &Request,
    requirements: &Requirements<'_>,
    unmet: &dyn Fn(&Interpreter) -> Option<String>,
) -> String {
    let mut versions: Vec<&Version> = discovery.found.iter().map(|i| &i.version).collect();
    versions.sort();
    versions.dedup();
    let mut found = if versions.is_empty() {
        "none (no python, python3 or python3.X on PATH, in pyenv's versions or among uv's Pythons)"
            .to_owned()
    } else {
        let listed: Vec<String> = versions.iter().map(|v| v.to_string()).collect();
        listed.join(", ")
    };
    if !discovery.rejected.is_empty() {
        found += &format!(
            "; {} more would not run (`cargo xtask doctor` says why)",
            discovery.rejected.len()
        );
    }
    // One entry a distinct requires-python, with the packages that ask for it.
    let mut specs: Vec<(String, Vec<&str>)> = Vec::new();
    for (package, spec) in requirements {
        let spec = spec.to_string();
        match specs.iter_mut().find(|(s, _)| *s == spec) {
            Some((_, packages)) => packages.push(package),
            None => specs.push((spec, vec![package])),
        }
    }
    let specs: Vec<String> = specs
        .iter()
        .map(|(spec, packages)| format!("{spec} ({})", packages.join(", ")))
        .collect();
    let fix = match &request.want {
        Want::Version(v) if unmet(&Interpreter { path: PathBuf::new(), version: v.clone() }).is_none() => {
            format!("`uv python install {v}` or `pyenv install {v}`")
        }
        Want::Version(v) => format!("{v} does not satisfy requires-python: ask for a version that does"),
        _ => "install a Python that satisfies requires-python (`uv python install` or `pyenv install`)"
            .to_owned(),
    };
    let wanted = match &request.want {
        Want::Version(v) => format!("Python {v} (from {}) ", request.source),
        _ => String::new(),
    };
    format!(
        "no Python interpreter fits: wanted {wanted}satisfying requires-python {}\n  \
         found: {found}\n  \
         fix: {fix}, or name one with --python PATH or {ENV_VAR}",
        specs.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interp(path: &str, version: &str) -> Interpreter {
        Interpreter {
            path: PathBuf::from(path),
            version: Version::parse(version).unwrap(),
        }
    }

    fn discovery() -> Discovery {
        Discovery {
            found: vec![
                interp("/py/3.12", "3.12.1"),
                interp("/py/3.9", "3.9.18"),
                interp("/py/3.11", "3.11.7"),
                interp("/py/3.11old", "3.11.2"),
                interp("/py/3.10", "3.10.13"),
            ],
            rejected: vec![Rejected {
                path: "/shims/python3.13".into(),
                why: "exited with 127".into(),
            }],
        }
    }

    fn request(want: Want, strict: bool) -> Request {
        Request {
            want,
            source: "test".into(),
            strict,
        }
    }

    #[test]
    fn prefers_the_named_version_else_the_lowest_that_satisfies() {
        let spec = Specifiers::parse(">=3.10").unwrap();
        let reqs = [("apps/svc", &spec)];
        let (chosen, why) = choose(
            &discovery(),
            &request(Want::Version(Version::parse("3.11").unwrap()), false),
            &reqs,
        )
        .unwrap();
        assert_eq!(
            chosen,
            interp("/py/3.11", "3.11.7"),
            "newest patch of the named minor"
        );
        assert!(why.contains("names 3.11"), "{why}");
        let (chosen, why) = choose(&discovery(), &request(Want::Any, false), &reqs).unwrap();
        assert_eq!(chosen.version, Version::parse("3.10.13").unwrap());
        assert!(why.contains("lowest"), "{why}");
        // A preference that is not installed falls back, saying so.
        let (chosen, why) = choose(
            &discovery(),
            &request(Want::Version(Version::parse("3.14").unwrap()), false),
            &reqs,
        )
        .unwrap();
        assert_eq!(chosen.version.minor(), Version::parse("3.10").unwrap());
        assert!(why.contains("not found"), "{why}");
    }

    #[test]
    fn requires_python_of_every_package_is_met() {
        let a = Specifiers::parse(">=3.10").unwrap();
        let b = Specifiers::parse("<3.12,!=3.10.*").unwrap();
        let reqs = [("libs/a", &a), ("apps/b", &b)];
        let (chosen, _) = choose(&discovery(), &request(Want::Any, false), &reqs).unwrap();
        assert_eq!(chosen.version, Version::parse("3.11.7").unwrap());
        // The named 3.10 does not satisfy apps/b: a strict request is an error listing every candidate.
        let err = choose(
            &discovery(),
            &request(Want::Version(Version::parse("3.10").unwrap()), true),
            &reqs,
        )
        .unwrap_err();
        let err = err.to_string();
        assert!(
            err.contains("found: 3.9.18, 3.10.13, 3.11.2, 3.11.7, 3.12.1; 1 more would not run")
                && err.contains("3.10 does not satisfy requires-python"),
            "{err}"
        );
        assert!(err.lines().count() <= 5, "{err}");
    }

    #[test]
    fn nothing_fits_is_an_error_with_the_fix() {
        let spec = Specifiers::parse(">=3.14").unwrap();
        let err = choose(
            &discovery(),
            &request(Want::Any, false),
            &[("apps/x", &spec)],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("no Python interpreter fits")
                && err.contains("requires-python >=3.14 (apps/x)")
                && err.contains("found: 3.9.18"),
            "{err}"
        );
        // A version that is not there, and would fit: the commands that install it.
        let spec = Specifiers::parse(">=3.10").unwrap();
        let err = choose(
            &discovery(),
            &request(Want::Version(Version::parse("3.99").unwrap()), true),
            &[("apps/x", &spec), ("libs/y", &spec)],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("requires-python >=3.10 (apps/x, libs/y)")
                && err.contains("`uv python install 3.99` or `pyenv install 3.99`")
                && err.lines().count() <= 5,
            "{err}"
        );
    }

    #[test]
    fn windows_launcher_listing() {
        let listing = " -V:3.12 *        C:\\Program Files\\Python312\\python.exe\n -V:3.10          C:\\Py310\\python.exe\n -3.9-64          C:\\Py39\\python.exe\n\nno pythons line";
        let paths = py_launcher_paths(listing);
        assert_eq!(
            paths,
            [
                PathBuf::from("C:\\Program Files\\Python312\\python.exe"),
                PathBuf::from("C:\\Py310\\python.exe"),
                PathBuf::from("C:\\Py39\\python.exe"),
            ]
        );
    }

    #[test]
    fn python_names_on_path() {
        for name in ["python", "python3", "python3.10", "python3.13"] {
            assert!(is_python_name(name, Platform::Unix), "{name}");
        }
        for name in [
            "python3.10-config",
            "python3-config",
            "python2",
            "python3.",
            "pythonw",
            "ipython",
        ] {
            assert!(!is_python_name(name, Platform::Unix), "{name}");
        }
        assert!(is_python_name("python.exe", Platform::Windows));
        assert!(!is_python_name("python", Platform::Windows));
    }

    /// A fake interpreter: a shell script that answers the probe as a Python would, or fails.
    #[cfg(unix)]
    fn fake(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[cfg(unix)]
    #[test]
    fn probe_runs_each_candidate_and_rejects_shims_and_venvs() {
        let dir = std::env::temp_dir().join(format!("xtask-fake-pythons-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("venv/bin")).unwrap();
        fs::write(dir.join("venv/pyvenv.cfg"), "home = /x\n").unwrap();
        let real = fake(&dir, "python3.10", "echo 3.10.99; echo \"$0\"");
        let other = fake(&dir, "python3", "echo 3.12.4; echo \"$0\"");
        let shim = fake(
            &dir,
            "python3.13",
            "echo 'pyenv: python3.13: command not found' >&2; exit 127",
        );
        let old = fake(&dir, "python", "echo 2.7.18; echo \"$0\"");
        let in_venv = fake(
            &dir.join("venv/bin"),
            "python",
            &format!(
                "echo 3.11.0; echo {}",
                dir.join("venv/bin/python").display()
            ),
        );
        let garbage = fake(&dir, "python3.9", "echo hello");

        let d = discover_from(
            vec![
                real.clone(),
                other.clone(),
                shim.clone(),
                old.clone(),
                in_venv.clone(),
                garbage.clone(),
                real.clone(),
            ],
            &mut Probes::none(),
        );
        let versions: Vec<String> = d.found.iter().map(|i| i.version.to_string()).collect();
        assert_eq!(
            versions,
            ["3.10.99", "3.12.4"],
            "the duplicate path is probed once"
        );
        assert_eq!(d.found[0].path, real);
        let why = |p: &Path| {
            d.rejected
                .iter()
                .find(|r| r.path == p)
                .map(|r| r.why.clone())
                .unwrap_or_default()
        };
        assert!(
            why(&shim).contains("exited with 127 (a pyenv shim"),
            "{}",
            why(&shim)
        );
        assert!(why(&shim).contains("command not found"), "{}", why(&shim));
        assert!(why(&old).contains("only Python 3"), "{}", why(&old));
        assert!(why(&in_venv).contains("virtualenv"), "{}", why(&in_venv));
        assert!(why(&garbage).contains("did not print"), "{}", why(&garbage));
        assert_eq!(
            probe(&real).unwrap().version,
            Version::parse("3.10.99").unwrap()
        );

        // A request for a path probes just that one.
        let spec = Specifiers::parse(">=3.11").unwrap();
        let req = Request {
            want: Want::Path(real.clone()),
            source: "--python".into(),
            strict: true,
        };
        let err = choose(&d, &req, &[("apps/x", &spec)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("does not satisfy requires-python >=3.11"),
            "{err}"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn requests_parse_paths_and_versions() {
        assert_eq!(
            Request::parse_want("3.10", "x").unwrap(),
            Want::Version(Version::parse("3.10").unwrap())
        );
        assert_eq!(
            Request::parse_want("python3.12", "x").unwrap(),
            Want::Version(Version::parse("3.12").unwrap())
        );
        assert_eq!(
            Request::parse_want("/usr/bin/python3", "x").unwrap(),
            Want::Path("/usr/bin/python3".into())
        );
        assert!(
            Request::parse_want("latest", "x")
                .unwrap_err()
                .to_string()
                .contains("neither a version")
        );
    }

    /// A Python installed into a folder on PATH (here: a link made there) changes the key, so
    /// setup probes again rather than keep a fallback chosen before it came.
    #[test]
    fn a_new_entry_in_a_path_folder_changes_the_discovery_key() {
        let base = std::env::temp_dir().join(format!("xtask-discovery-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (bin, other) = (base.join("bin é"), base.join("other"));
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        let path = std::env::join_paths([&other, &bin]).unwrap();
        let before = discovery_key_of(&path, &[]);
        assert_eq!(discovery_key_of(&path, &[]), before);
        // Folder times have a coarse grain on some file systems: wait past it.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(bin.join("python3.12"), "").unwrap();
        assert_ne!(discovery_key_of(&path, &[]), before);
        // An activated venv's bin/ first on PATH: its changes (a setup remaking the venv) are
        // not a new candidate.
        let venv = base.join("venv");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "").unwrap();
        let path = std::env::join_paths([&venv.join("bin"), &other, &bin]).unwrap();
        let before = discovery_key_of(&path, &[]);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(venv.join("bin/python3.10"), "").unwrap();
        assert_eq!(discovery_key_of(&path, &[]), before);
        assert_eq!(search_path(&path).count(), 2);
        let _ = std::fs::remove_dir_all(&base);
    }
}
