//! Where a Dockerfile puts the build context's files, by Docker's rules for `COPY`, `ADD`,
//! `WORKDIR` and `RUN --mount=type=bind`: so that the deploy check can tell whether the image's
//! `RUN` of `install.py` finds the lock and every wheel beside it, as `dist` proved them, without
//! a Docker daemon.
//!
//! The rules followed: a source is a path or a pattern in the context (`.` is all of it); a file
//! goes to the destination itself, or into it when the destination ends with `/` or there are
//! several sources; a folder's contents (not the folder) go into the destination; a relative
//! destination is from the `WORKDIR`; a bind mount shows the context (or a folder of it) at its
//! target during its `RUN` only. What cannot be told (a variable) is said, never taken as found.

use std::collections::BTreeSet;

use crate::workspace::dockerfile_parse::{self, Instruction};

/// The files of the image that came from the context after some instructions, absolute paths;
/// Err: why it cannot be told.
pub type Placed = Result<BTreeSet<String>, String>;

/// The context's files at the image's paths after `instructions` (a stage's chain, in order),
/// with the bind mounts of `run` (the `RUN` that reads them) shown too. `context`: the context's
/// files, relative (`install.py`, `wheels/x.whl`).
pub fn placed(context: &[&str], instructions: &[&Instruction], run: &Instruction) -> Placed {
    let mut files = BTreeSet::new();
    let mut workdir = "/".to_owned();
    for instruction in instructions {
        match instruction.keyword.as_str() {
            "WORKDIR" => workdir = resolve(&workdir, instruction.args.trim())?,
            "COPY" | "ADD" => copy(context, &workdir, &instruction.args, &mut files)?,
            _ => {}
        }
    }
    for (source, target) in bind_mounts(&run.args) {
        let target = resolve(&workdir, &target)?;
        files.extend(transfer_one(context, &source, &format!("{target}/"), true)?);
    }
    Ok(files)
}

/// The `WORKDIR` in force at `run` after `instructions`.
pub fn workdir_at(instructions: &[&Instruction]) -> Result<String, String> {
    let mut workdir = "/".to_owned();
    for instruction in instructions.iter().filter(|i| i.keyword == "WORKDIR") {
        workdir = resolve(&workdir, instruction.args.trim())?;
    }
    Ok(workdir)
}

/// `path` from `dir`, normalised (`.` and `..` resolved, no trailing `/`).
pub fn resolve(dir: &str, path: &str) -> Result<String, String> {
    if path.contains('$') {
        return Err(format!("`{path}` names a variable"));
    }
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{dir}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// One `COPY`/`ADD` from the context (not `--from=`, a URL or a heredoc).
fn copy(
    context: &[&str],
    workdir: &str,
    args: &str,
    files: &mut BTreeSet<String>,
) -> Result<(), String> {
    let transfer = dockerfile_parse::transfer(args);
    let (Some(destination), None) = (&transfer.destination, &transfer.from) else {
        return Ok(());
    };
    let sources: Vec<&String> = transfer
        .sources
        .iter()
        .filter(|s| !s.starts_with("<<") && !s.contains("://") && !s.starts_with("git@"))
        .collect();
    if sources.is_empty() {
        return Ok(());
    }
    let into = destination.ends_with('/') || sources.len() > 1;
    let destination = resolve(workdir, destination)?;
    let destination = if into {
        format!("{destination}/")
    } else {
        destination
    };
    for source in sources {
        files.extend(transfer_one(context, source, &destination, into)?);
    }
    Ok(())
}

/// Where one source's files go: `destination` ends with `/` when it is a folder to copy into.
fn transfer_one(
    context: &[&str],
    source: &str,
    destination: &str,
    into: bool,
) -> Result<Vec<String>, String> {
    if source.contains('$') {
        return Err(format!("`{source}` names a variable"));
    }
    let source = resolve("/", source)?;
    let source = source.trim_start_matches('/');
    let pattern = glob::Pattern::new(source).ok();
    // Docker's `*` stops at a `/`, as Go's filepath.Match does.
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let matches = |path: &str| match &pattern {
        Some(p) => p.matches_with(path, options),
        None => path == source,
    };
    let base = destination.trim_end_matches('/');
    let mut out = Vec::new();
    for file in context {
        // The file itself: into the folder by its name, or to the destination.
        if matches(file) {
            let name = file.rsplit('/').next().unwrap_or(file);
            out.push(if into || destination.ends_with('/') {
                format!("{base}/{name}")
            } else {
                base.to_owned()
            });
            continue;
        }
        // A folder that holds it (the context itself for `.`): its contents go into the
        // destination, as they are below that folder.
        let folders = std::iter::once("").chain(
            file.match_indices('/')
                .map(|(at, _)| &file[..at])
                .filter(|f| !f.is_empty()),
        );
        for folder in folders {
            if (folder.is_empty() && source.is_empty()) || (!folder.is_empty() && matches(folder)) {
                let below = file[folder.len()..].trim_start_matches('/');
                out.push(format!("{base}/{below}"));
                break;
            }
        }
    }
    Ok(out)
}

/// The context folders a `RUN`'s bind mounts show, and where: `(source, target)`; a mount of
/// another stage or image (`from=`), a cache, a secret or an ssh socket shows none of it.
fn bind_mounts(args: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = args.trim();
    while let Some(flag) = rest.strip_prefix("--") {
        let (word, after) = flag.split_once(char::is_whitespace).unwrap_or((flag, ""));
        rest = after.trim_start();
        let Some(options) = word.strip_prefix("mount=") else {
            continue;
        };
        let (mut kind, mut source, mut target, mut from) = ("bind", ".", None, false);
        for option in options.split(',') {
            match option.split_once('=') {
                Some(("type", v)) => kind = v,
                Some(("source" | "src", v)) => source = v,
                Some(("target" | "dst" | "destination", v)) => target = Some(v),
                Some(("from", _)) => from = true,
                _ => {}
            }
        }
        if let (true, false, Some(target)) = (kind == "bind", from, target) {
            out.push((source.to_owned(), target.to_owned()));
        }
    }
    out
}

/// The path a `RUN` gives the script named `script` (its last word ending in it), resolved from
/// `workdir` and a leading `cd DIR &&`; None when it names none.
pub fn script_path(
    run: &Instruction,
    script: &str,
    workdir: &str,
) -> Option<Result<String, String>> {
    let command = skip_flags(&run.args);
    let words = dockerfile_parse::exec_form(command)
        .unwrap_or_else(|| command.split_whitespace().map(str::to_owned).collect());
    let mut dir = workdir.to_owned();
    let mut found = None;
    let mut words = words
        .iter()
        .map(|w| w.trim_matches(|c| c == '"' || c == '\''));
    while let Some(word) = words.next() {
        if word == "cd"
            && let Some(to) = words.next()
        {
            match resolve(&dir, to) {
                Ok(to) => dir = to,
                Err(why) => return Some(Err(why)),
            }
        } else if word == script || word.ends_with(&format!("/{script}")) {
            found = Some(resolve(&dir, word));
        }
    }
    found
}

/// A `RUN`'s command, after its `--mount=`/`--network=` flags.
fn skip_flags(args: &str) -> &str {
    let mut rest = args.trim();
    while let Some(flag) = rest.strip_prefix("--") {
        rest = flag
            .split_once(char::is_whitespace)
            .map_or("", |(_, after)| after)
            .trim_start();
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: &[&str] = &[
        "Dockerfile",
        "install.py",
        "requirements.txt",
        "manifest.json",
        "wheels/a-1-py3-none-any.whl",
    ];

    fn placed_by(text: &str) -> Placed {
        let instructions = dockerfile_parse::parse(text);
        let refs: Vec<&Instruction> = instructions.iter().collect();
        let (run, before) = refs.split_last().unwrap();
        placed(CONTEXT, before, run)
    }

    fn has(placed: &Placed, path: &str) -> bool {
        placed.as_ref().is_ok_and(|files| files.contains(path))
    }

    #[test]
    fn copies_follow_dockers_rules() {
        let template = "FROM x\nCOPY requirements.txt install.py /context/\nCOPY wheels/ /context/wheels/\nRUN python /context/install.py\n";
        let got = placed_by(template);
        for path in [
            "/context/install.py",
            "/context/requirements.txt",
            "/context/wheels/a-1-py3-none-any.whl",
        ] {
            assert!(has(&got, path), "{path}: {got:?}");
        }
        // A folder's contents, not the folder: the wheels land beside install.py.
        let flat = placed_by("FROM x\nCOPY . /c\nCOPY wheels /c/\nRUN python /c/install.py\n");
        assert!(
            has(&flat, "/c/wheels/a-1-py3-none-any.whl") && has(&flat, "/c/a-1-py3-none-any.whl")
        );
        // A relative destination is from the WORKDIR; a single file to a path is renamed.
        let work = placed_by(
            "FROM x\nWORKDIR /app\nWORKDIR ctx\nCOPY install.py run.py\nCOPY wheels/*.whl wheels/\nRUN python run.py\n",
        );
        assert!(
            has(&work, "/app/ctx/run.py") && has(&work, "/app/ctx/wheels/a-1-py3-none-any.whl")
        );
        // A named wheel copies that file alone; --from= copies nothing of the context.
        let named = placed_by(
            "FROM x\nCOPY wheels/b-1-py3-none-any.whl /c/wheels/\nCOPY --from=y . /c\nRUN python /c/install.py\n",
        );
        assert_eq!(named, Ok(BTreeSet::new()));
        // A bind mount shows the context during its RUN only.
        let mount = placed_by(
            "FROM x\nRUN --mount=type=bind,target=/m --mount=type=cache,target=/k python /m/install.py\n",
        );
        assert!(has(&mount, "/m/wheels/a-1-py3-none-any.whl") && has(&mount, "/m/install.py"));
        assert!(placed_by("FROM x\nCOPY $SRC /c/\nRUN python /c/install.py\n").is_err());
    }

    #[test]
    fn the_script_a_run_names_is_found_from_its_folder() {
        let run = |args: &str| Instruction {
            line: 1,
            keyword: "RUN".into(),
            args: args.into(),
        };
        let path = |args: &str, dir: &str| script_path(&run(args), "install.py", dir);
        assert_eq!(
            path("/opt/venv/bin/python /context/install.py", "/"),
            Some(Ok("/context/install.py".into()))
        );
        assert_eq!(
            path("cd /c && python install.py", "/"),
            Some(Ok("/c/install.py".into()))
        );
        assert_eq!(
            path("[\"python\", \"install.py\"]", "/w"),
            Some(Ok("/w/install.py".into()))
        );
        assert_eq!(
            path("--mount=type=bind,target=/m python /m/install.py", "/"),
            Some(Ok("/m/install.py".into()))
        );
        assert_eq!(path("pip install app", "/"), None);
    }
}
