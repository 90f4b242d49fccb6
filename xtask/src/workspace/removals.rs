//! Whether a Dockerfile's `RUN` removes or moves files in a folder (the venv `install.py`
//! filled, the folder it runs from): read command by command, as the shell runs them.
//!
//! A script is split into simple commands at `&&`, `||`, `;`, `&`, `|` and new lines, outside
//! quotes, a command's words without their quotes ([`super::shell`]). Only the paths a removing
//! command takes count, relative ones read from the `WORKDIR` and the `cd`s before them: `rm`,
//! `mv`, `unlink`, `rmdir`, `truncate`, `shred` (by their name, `/bin/rm` too), a `find` that
//! deletes (`-delete`, `-exec rm`) from its starting folders, a pipeline into `xargs rm` (every
//! path in it), and `pip uninstall` or `uv pip uninstall` with a word in the folder (its `pip`,
//! `--python`). A pattern counts from the folder before its first wildcard (`rm -rf /opt/*` takes
//! `/opt/venv`). Not counted, since they leave what `install.py` installed: a `find` that deletes
//! only bytecode (`-name __pycache__`, `*.pyc`, `*.pyo`), and the venv's activation scripts
//! (`bin/activate*`, `bin/deactivate*`), which `uv venv` writes. What this cannot see: a program
//! that removes files by other means (`python -c "shutil.rmtree(...)"`, `rsync --delete`, a script
//! of one's own), and `pip uninstall` run by a bare name from `PATH`.

use super::shell::{Command, split};

const REMOVERS: &[&str] = &["rm", "mv", "unlink", "rmdir", "truncate", "shred"];

/// Words that run the next word as the command (`sudo rm`, `busybox rm`).
const PREFIXES: &[&str] = &["sudo", "exec", "command", "busybox", "nice", "nohup", "env"];

/// Bytecode only: what a `find` may delete.
const BYTECODE: &[&str] = &["__pycache__", "*.pyc", "*.pyo"];

/// Whether `script` (a `RUN`'s shell command, its working folder `workdir`) removes or moves
/// files in `dir`; with `after`, only its commands after the one whose words hold `after`
/// (the install's own `RUN`, chained).
pub fn changes(script: &str, workdir: &str, dir: &str, after: Option<&str>) -> bool {
    let mut commands = split(script);
    if let Some(word) = after {
        let at = commands
            .iter()
            .position(|c| c.words.iter().any(|w| w.contains(word)));
        commands.drain(..at.map_or(commands.len(), |at| at + 1));
    }
    let mut cwd = workdir.trim_end_matches('/').to_owned();
    let mut pipeline: Vec<&Command> = Vec::new();
    for command in &commands {
        let words = program_words(&command.words);
        if words.first().map(String::as_str) == Some("cd") {
            cwd = resolve(&cwd, words.get(1).map_or("/", String::as_str));
        }
        // `sh -c 'script'`: the script, read the same way.
        if let [shell, flag, script, ..] = words
            && ["sh", "bash", "dash", "ash"].contains(&base(shell))
            && flag == "-c"
            && changes(script, &cwd, dir, None)
        {
            return true;
        }
        if takes(words, &cwd).iter().any(|path| within(path, dir)) {
            return true;
        }
        pipeline.push(command);
        if !command.piped {
            if into_xargs_rm(&pipeline) && pipeline_paths(&pipeline, &cwd).any(|p| within(&p, dir))
            {
                return true;
            }
            pipeline.clear();
        }
    }
    false
}

/// The paths a command removes or moves (for `mv`, its sources and target alike).
fn takes(words: &[String], cwd: &str) -> Vec<String> {
    let Some(program) = words.first().map(|w| base(w)) else {
        return Vec::new();
    };
    let args = words[1..].iter().filter(|w| !w.starts_with('-'));
    if REMOVERS.contains(&program) {
        return args
            .map(|a| resolve(cwd, a))
            .filter(|p| !activation(p))
            .collect();
    }
    if program == "find" && find_deletes(words) {
        let starts = words[1..]
            .iter()
            .take_while(|w| !w.starts_with(['-', '(', '!']));
        return starts.map(|a| resolve(cwd, a)).collect();
    }
    let uninstall = words.iter().any(|w| w == "uninstall");
    let pip = ["pip", "pip3", "uv"].contains(&program) || words.iter().any(|w| w == "pip");
    if uninstall && pip {
        return words
            .iter()
            .filter(|w| w.starts_with('/'))
            .cloned()
            .collect();
    }
    Vec::new()
}

/// Whether a `find` deletes what it finds, and more than bytecode.
fn find_deletes(words: &[String]) -> bool {
    let deletes = words.iter().enumerate().any(|(i, w)| {
        w == "-delete"
            || ["-exec", "-execdir", "-ok"].contains(&w.as_str())
                && words
                    .get(i + 1)
                    .is_some_and(|next| REMOVERS.contains(&base(next)))
    });
    let names: Vec<&String> = words
        .windows(2)
        .filter(|pair| ["-name", "-iname"].contains(&pair[0].as_str()))
        .map(|pair| &pair[1])
        .collect();
    let bytecode_only = !names.is_empty() && names.iter().all(|n| BYTECODE.contains(&n.as_str()));
    deletes && !bytecode_only
}

/// Whether a pipeline ends in `xargs rm` (or another remover).
fn into_xargs_rm(pipeline: &[&Command]) -> bool {
    pipeline.len() > 1
        && pipeline.iter().any(|c| {
            let words = program_words(&c.words);
            words.first().is_some_and(|w| base(w) == "xargs")
                && words[1..].iter().any(|w| REMOVERS.contains(&base(w)))
        })
}

/// Every path a pipeline names (what `xargs` may be given).
fn pipeline_paths<'a>(pipeline: &'a [&Command], cwd: &'a str) -> impl Iterator<Item = String> + 'a {
    pipeline
        .iter()
        .flat_map(|c| c.words.iter().skip(1))
        .filter(|w| w.starts_with('/') || w.starts_with('.'))
        .map(move |w| resolve(cwd, w))
}

/// The words from the program on: past variable assignments and the words that run the next.
fn program_words(words: &[String]) -> &[String] {
    let at = words.iter().position(|w| {
        let assignment = w.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        !assignment && !w.starts_with('-') && !PREFIXES.contains(&base(w))
    });
    &words[at.unwrap_or(words.len())..]
}

fn base(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// `path` read from `cwd`, with `.` and `..` folded; a shell variable's path as it stands
/// (what it names cannot be told here).
fn resolve(cwd: &str, path: &str) -> String {
    super::image_files::resolve(cwd, path).unwrap_or_else(|_| path.to_owned())
}

/// Whether removing `path` takes something in `dir`: it is `dir`, in it, or above it (a pattern
/// from the folder before its first wildcard).
fn within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    let fixed = match path.find(['*', '?', '[']) {
        Some(at) => &path[..at],
        None => path,
    };
    let globbed = fixed.len() < path.len();
    let path = fixed.trim_end_matches('/');
    path == dir
        || path.starts_with(&format!("{dir}/"))
        || dir.starts_with(&format!("{path}/"))
        || globbed && dir.starts_with(path)
}

/// A venv's activation script (`bin/activate`, `bin/activate.fish`, `bin/deactivate.bat`).
fn activation(path: &str) -> bool {
    let mut parts = path.rsplit('/');
    let name = parts.next().unwrap_or("");
    parts.next() == Some("bin") && (name.starts_with("activate") || name.starts_with("deactivate"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes_venv(script: &str) -> bool {
        changes(script, "/", "/opt/venv", None)
    }

    #[test]
    fn removing_commands_count_by_the_paths_they_take() {
        for script in [
            "rm -rf /opt/venv/lib/python3.10/site-packages/dubbing_common",
            "/bin/rm -rf /opt/venv/lib/x",
            "sudo rm -f /opt/venv/bin/media-service",
            "rm -rf /opt",
            "rm -rf /opt/*",
            "mv /opt/venv /opt/old",
            "apt-get clean && rm -rf /opt/venv/lib/x",
            "cd /opt/venv && rm -rf lib/x",
            "cd /opt && rm -rf ./venv/lib",
            "find /opt/venv -name tests -type d -exec rm -rf {} +",
            "find /opt/venv -name '*.dist-info' -exec /bin/rm -rf '{}' \\;",
            "find /opt/venv -path '*/tests/*' -delete",
            "find /opt/venv -name tests | xargs rm -rf",
            "cd /opt/venv && find . -name tests | xargs rm -rf",
            "uv pip uninstall --python /opt/venv/bin/python dubbing-common",
            "/opt/venv/bin/pip uninstall -y setuptools",
            "/opt/venv/bin/python -m pip uninstall -y setuptools",
            "sh -c 'rm -rf /opt/venv/lib'",
        ] {
            assert!(changes_venv(script), "{script}");
        }
        assert!(changes("rm -rf lib/x", "/opt/venv", "/opt/venv", None));
    }

    #[test]
    fn other_commands_and_bytecode_leave_the_folder() {
        for script in [
            "apt-get update && apt-get install -y libgomp1 && rm -rf /var/lib/apt/lists/* && chown -R app /opt/venv",
            "chown -R app /opt/venv && rm -rf /tmp/*",
            "/opt/venv/bin/python -c 'import media_service' && rm -rf /root/.cache",
            "rm -f /usr/local/bin/x && ln -s /opt/venv/bin/x /usr/local/bin/x",
            "echo 'do not rm /opt/venv'",
            "cd /opt && curl -LO https://x/tool.tgz && tar xzf tool.tgz && rm tool.tgz",
            "find /opt/venv -type d -name __pycache__ -exec rm -rf {} +",
            "find /opt/venv -name '*.pyc' -delete",
            "rm -f /opt/venv/bin/activate /opt/venv/bin/activate.fish /opt/venv/bin/deactivate.bat",
            "rm -rf /opt/venv-old",
            "useradd --system app",
            "rm -rf /var/lib/apt/lists/*",
        ] {
            assert!(!changes_venv(script), "{script}");
        }
    }

    #[test]
    fn the_install_s_own_run_counts_after_the_install() {
        let install = "/opt/venv/bin/python /context/install.py";
        let after = |rest: &str| {
            let script = format!("{install} && {rest}");
            changes(&script, "/", "/opt/venv", Some("install.py"))
        };
        assert!(after("rm -rf /opt/venv/lib/x"));
        assert!(!after("rm -rf /context"));
        let before = "rm -rf /opt/venv/lib/x && /opt/venv/bin/python /context/install.py";
        assert!(!changes(before, "/", "/opt/venv", Some("install.py")));
    }
}
