//! Running a tool: argv lists only (never a shell string), echoed as `$ ...`, with an environment
//! from which the caller's venv and pip retargeting settings are removed.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::project::quote;

/// Variables that would make a child install into, or import from, somewhere other than the venv
/// it is pointed at: a person with another venv activated gets the same result as anyone.
pub const RETARGETING_VARS: &[&str] = &[
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "PYTHONSTARTUP",
    "PYTHONEXECUTABLE",
    "__PYVENV_LAUNCHER__",
    "PIP_TARGET",
    "PIP_PREFIX",
    "PIP_ROOT",
    "PIP_USER",
    "PIP_PYTHON",
    "PIP_REQUIRE_VIRTUALENV",
    "PIP_EDITABLE_MODE",
    "PIP_SRC",
    "PIP_NO_BUILD_ISOLATION",
    "UV_PYTHON",
    "UV_SYSTEM_PYTHON",
    "UV_PROJECT_ENVIRONMENT",
    "UV_PREFIX",
    "UV_TARGET",
    "UV_NO_BUILD_ISOLATION",
    "UV_CONFIG_FILE",
    "UV_NO_CONFIG",
    "PIP_CONFIG_FILE",
];

/// Installer variables that change nothing installed, only how (caches, progress, time-outs,
/// parallelism, whether the index may be asked: an install from a lock with hashes either gives
/// exactly the lock or fails). They make no venv stale ([`crate::env::installer`]) and no job
/// rerun: the jobs' tools never see them ([`crate::engine::inputs`]).
const QUIET_INSTALLER_VARS: &[&str] = &[
    "UV_OFFLINE",
    "UV_CACHE_DIR",
    "UV_NO_CACHE",
    "UV_NO_PROGRESS",
    "UV_HTTP_TIMEOUT",
    "UV_REQUEST_TIMEOUT",
    "UV_HTTP_RETRIES",
    "UV_LINK_MODE",
    "UV_COMPILE_BYTECODE",
    "UV_NO_WRAP",
    "UV_NATIVE_TLS",
    "PIP_CACHE_DIR",
    "PIP_NO_CACHE_DIR",
    "PIP_PROGRESS_BAR",
    "PIP_NO_INPUT",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_TIMEOUT",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_RETRIES",
    "PIP_QUIET",
    "PIP_VERBOSE",
    "PIP_NO_COLOR",
];

/// Whether `name` is an installer variable that changes nothing installed (see
/// [`QUIET_INSTALLER_VARS`]); `UV_CONCURRENT_DOWNLOADS`, `_BUILDS` and `_INSTALLS` too.
pub fn is_quiet_installer_var(name: &str) -> bool {
    QUIET_INSTALLER_VARS.contains(&name) || name.starts_with("UV_CONCURRENT_")
}

/// A command to run: a program and its arguments, and where.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    envs: Vec<(OsString, OsString)>,
    removed: Vec<OsString>,
    stdin: Option<Vec<u8>>,
}

/// What a finished command printed (stdout and stderr merged, in order) and how it ended.
#[derive(Debug)]
pub struct Finished {
    pub output: String,
    pub code: Option<i32>,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: None,
            envs: Vec::new(),
            removed: Vec::new(),
            stdin: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Cmd {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets a variable for the command (after the retargeting ones are removed).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Removes these variables for the command.
    pub fn without<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, vars: I) -> Cmd {
        self.removed
            .extend(vars.into_iter().map(|v| v.as_ref().to_owned()));
        self
    }

    /// Gives the command these bytes on its standard input (else it shares this process's).
    pub fn stdin(mut self, bytes: Vec<u8>) -> Cmd {
        self.stdin = Some(bytes);
        self
    }

    pub fn cwd(mut self, dir: &Path) -> Cmd {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// The command as a person would paste it into a POSIX shell.
    pub fn display(&self) -> String {
        let mut words: Vec<String> = self
            .envs
            .iter()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), quote(&v.to_string_lossy())))
            .collect();
        words.push(quote(&self.program.to_string_lossy()));
        words.extend(self.args.iter().map(|a| quote(&a.to_string_lossy())));
        let line = words.join(" ");
        match &self.cwd {
            Some(dir) => format!("(cd {} && {line})", quote(&dir.to_string_lossy())),
            None => line,
        }
    }

    fn expression(&self) -> duct::Expression {
        let mut expr = duct::cmd(&self.program, &self.args)
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked();
        // duct applies the innermost setting of a variable last: a variable this command sets
        // is therefore not removed at all (else the removal would win).
        let set = |var: &OsStr| self.envs.iter().any(|(k, _)| k == var);
        for var in RETARGETING_VARS {
            if !set(OsStr::new(var)) {
                expr = expr.env_remove(var);
            }
        }
        for var in &self.removed {
            if !set(var) {
                expr = expr.env_remove(var);
            }
        }
        for (key, value) in &self.envs {
            expr = expr.env(key, value);
        }
        if let Some(dir) = &self.cwd {
            expr = expr.dir(dir);
        }
        if let Some(bytes) = &self.stdin {
            expr = expr.stdin_bytes(bytes.clone());
        }
        expr
    }

    /// Runs it to the end, capturing its output, without echoing. An error only when it could not
    /// be started at all.
    pub fn output(&self) -> Result<Finished> {
        let out = self
            .expression()
            .run()
            .map_err(|e| anyhow::anyhow!("cannot run `{}`: {e}", self.display()))?;
        Ok(Finished {
            output: String::from_utf8_lossy(&out.stdout).into_owned(),
            code: out.status.code(),
        })
    }

    /// Starts it in the background; `wait` on the handle.
    pub fn start(&self) -> Result<duct::Handle> {
        self.expression()
            .start()
            .map_err(|e| anyhow::anyhow!("cannot run `{}`: {e}", self.display()))
    }

    /// How [`Cmd::run`] echoes it: whole with `-v` or when it is short; else the program's name
    /// and the first words that say what it does, marked as cut (`$ uv pip sync ... (-v shows
    /// it whole)`), since a line that is printed whole must paste.
    pub fn echo(&self) -> String {
        let whole = self.display();
        if crate::output::verbose() || whole.chars().count() <= ECHO_WIDTH {
            return format!("$ {whole}");
        }
        let program = Path::new(&self.program)
            .file_stem()
            .unwrap_or(&self.program)
            .to_string_lossy()
            .into_owned();
        let plain = |a: &String| {
            !a.is_empty() && !a.contains(['/', '\\']) && (!a.starts_with('-') || a == "-m")
        };
        let mut words = vec![program];
        words.extend(
            self.args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .take_while(plain)
                .take(4),
        );
        format!("$ {} ... (-v shows it whole)", words.join(" "))
    }

    /// Echoes `$ cmd` (see [`Cmd::echo`]), runs it, and fails with the whole command, its exit
    /// code and its last lines of output when it fails.
    pub fn run(&self) -> Result<Finished> {
        crate::output::say(self.echo());
        let _alive = crate::output::Alive::start();
        let finished = self.output()?;
        if !finished.success() {
            bail!("{}", failure_message(&self.display(), &finished));
        }
        Ok(finished)
    }
}

/// The longest command [`Cmd::run`] echoes whole without `-v`.
const ECHO_WIDTH: usize = 100;

/// How many lines of a failed command's output an error shows.
const TAIL_LINES: usize = 25;

pub fn failure_message(command: &str, finished: &Finished) -> String {
    let code = finished
        .code
        .map_or_else(|| "a signal".to_owned(), |c| format!("exit code {c}"));
    let lines: Vec<&str> = finished.output.lines().collect();
    let tail = &lines[lines.len().saturating_sub(TAIL_LINES)..];
    format!(
        "`{command}` failed with {code}; its last lines of output:\n    {}",
        tail.join("\n    ")
    )
}

/// `git ls-files` of what git ignores and does not track, NUL-separated, a folder ignored whole
/// as one entry ending in `/`: clean's list of leftovers, and what dist keeps out of wheels.
pub const LS_IGNORED: [&str; 6] = [
    "ls-files",
    "-z",
    "--others",
    "--ignored",
    "--exclude-standard",
    "--directory",
];

/// Runs `git -C root ARGS` that prints NUL-separated paths (`-z`); an error names the command,
/// what git said, and `fix`.
pub fn git_paths(root: &Path, args: &[&str], fix: &str) -> Result<Vec<String>> {
    let mut all = git_paths_at_once(root, &[(args, fix)])?;
    Ok(all.pop().unwrap_or_default())
}

/// Paths as git's `--stdin -z` reads them: each ended by a NUL.
pub fn nul_separated<S: AsRef<str>>(paths: &[S]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for path in paths {
        bytes.extend_from_slice(path.as_ref().as_bytes());
        bytes.push(0);
    }
    bytes
}

/// [`git_paths`] of several git commands, run at once (each a process that mostly waits on the
/// file system), in the order given.
pub fn git_paths_at_once(root: &Path, commands: &[(&[&str], &str)]) -> Result<Vec<Vec<String>>> {
    let started: Vec<(Cmd, Result<duct::Handle>)> = commands
        .iter()
        .map(|(args, _)| {
            let cmd = Cmd::new("git").arg("-C").arg(root).args(*args);
            let handle = cmd.start();
            (cmd, handle)
        })
        .collect();
    let mut out = Vec::new();
    for ((cmd, handle), (_, fix)) in started.into_iter().zip(commands) {
        let done = handle?
            .into_output()
            .map_err(|e| anyhow::anyhow!("cannot run `{}`: {e}", cmd.display()))?;
        let text = String::from_utf8_lossy(&done.stdout);
        if !done.status.success() {
            // git's own words first: they are the cause (`fatal: bad revision 'x'`).
            bail!("{} (`{}` failed); {fix}", text.trim(), cmd.display());
        }
        out.push(
            text.split('\0')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A variable the command sets wins over the removal of the retargeting ones.
    #[test]
    fn a_set_variable_reaches_the_command_even_when_it_is_a_retargeting_one() {
        let out = Cmd::new("sh")
            .args(["-c", "echo \"[$PIP_CONFIG_FILE][$PYTHONPATH]\""])
            .env("PIP_CONFIG_FILE", "/dev/null")
            .env("PYTHONPATH", "/x")
            .output()
            .unwrap();
        assert_eq!(out.output.trim(), "[/dev/null][/x]");
    }

    #[test]
    fn a_long_command_is_echoed_short_and_says_it_is_cut() {
        let long = Cmd::new("/opt/tools é/uv-0.13.9/bin/uv")
            .args(["pip", "sync", "--no-config", "--python"])
            .arg("/a/very long/path/to/a/checkout/python/apps/media-service/.venv/bin/python")
            .arg("/a/very long/path/to/a/checkout/python/apps/media-service/requirements.txt");
        assert_eq!(long.echo(), "$ uv pip sync ... (-v shows it whole)");
        let pip = Cmd::new("/usr/bin/python3")
            .args(["-m", "pip", "install", "--quiet", "--target"])
            .arg("/a/very long/path/to/a/checkout/of/somebody/target/xtask-tools/uv-0.13.9");
        assert_eq!(
            pip.echo(),
            "$ python3 -m pip install ... (-v shows it whole)"
        );
        // A short one is whole, and pastes.
        let short = Cmd::new("git").args(["status", "--short"]);
        assert_eq!(short.echo(), "$ git status --short");
    }
}
