//! Where a Dockerfile puts the build context's files, by Docker's rules for `COPY`, `ADD`,
//! `WORKDIR` and `RUN --mount=type=bind`: so that the deploy check can tell whether the image's
//! `RUN` of `install.py` finds the lock and every wheel beside it, as `dist` proved them, without
//! a Docker daemon.
//!
//! The rules followed: a source is a path or a pattern in the context (`.` is all of it; `*`
//! stops at a `/`), less what `--exclude` names (matched from the source: a file's name, a
//! folder's inside); a file goes to the destination itself, or into it when the destination ends
//! with `/`, is `.`, or is a folder already there (not for a `--link` copy, made on an empty
//! layer); several sources need a destination ending with `/`; a folder's contents (not the
//! folder) go into the destination; a relative destination is from the `WORKDIR`, which starts
//! at `/` in `scratch` and at the image's own in another (which cannot be told, so a relative path
//! there never meets an absolute one); a `COPY --from=` an earlier stage takes what that stage
//! holds, one from another image nothing of the context; a `RUN`'s mounts, in the order of their
//! targets, each hide what is at the target, and a bind mount shows the context (or a file or
//! folder of it, or what a stage of the file holds below its `source`) there, for that `RUN`
//! only; the script must be run by a Python (dist writes it without a shebang, not executable).
//! What cannot be told (a variable, `--parents`, a character class, an `ONBUILD` of a parent
//! stage) is said, never taken as found.

use std::collections::BTreeSet;

use crate::workspace::dockerfile_parse::{self, Instruction};
use crate::workspace::shell;

/// The files of the image that came from the context after some instructions, absolute paths,
/// and the `WORKDIR` then; Err: why it cannot be told.
pub type Placed = Result<(BTreeSet<String>, String), String>;

/// A stage's chain by the name (or number) a `COPY --from=` gives it; None for another image.
pub type Stages<'a, 'b> = &'b dyn Fn(&str) -> Option<Vec<&'a Instruction>>;

/// The context's files at the image's paths after `instructions` (a stage's chain, in order),
/// with the bind mounts of `run` (the `RUN` that reads them) shown too, and the `WORKDIR` `run`
/// runs in. `context`: the context's
/// files, relative (`install.py`, `wheels/x.whl`); `stages`: what a `COPY --from=` copies from.
pub fn placed(
    context: &[&str],
    instructions: &[&Instruction],
    run: &Instruction,
    stages: Stages,
) -> Placed {
    let (mut image, workdir) = image_of(context, instructions, stages, 0)?;
    // A mount hides what is at its target for its RUN; a bind mount of the context shows that.
    // BuildKit mounts them in the order of their targets (a parent first), not as written.
    let mut mounts = mounts(&run.args);
    mounts.sort_by(|a, b| a.target.cmp(&b.target));
    for mount in mounts {
        let target = resolve(&workdir, &mount.target)?;
        image
            .files
            .retain(|f| f != &target && !f.starts_with(&format!("{target}/")));
        if let Some(source) = mount.context_source {
            image
                .files
                .extend(transfer_one(context, &source, &target, false, &[])?);
        }
        if let Some((stage, source)) = mount.stage_source {
            image
                .files
                .extend(stage_files(context, &stage, &source, &target, stages)?);
        }
    }
    Ok((image.files, workdir))
}

/// What a bind mount `from=` a stage of the file shows at `target`: that stage's files of the
/// context below `source` (a path in the stage); nothing from another image.
fn stage_files(
    context: &[&str],
    stage: &str,
    source: &str,
    target: &str,
    stages: Stages,
) -> Result<Vec<String>, String> {
    let Some(chain) = stages(&stage.to_ascii_lowercase()) else {
        return Ok(Vec::new());
    };
    let (held, _) = image_of(context, &chain, stages, 1)?;
    let source = resolve("/", source)?;
    let below = |f: &str| {
        let rest = if source == "/" {
            Some(f)
        } else {
            f.strip_prefix(source.as_str())
        };
        rest.filter(|r| r.starts_with('/'))
            .map(|r| format!("{target}{r}"))
    };
    Ok(held.files.iter().filter_map(|f| below(f)).collect())
}

/// What `instructions` put in the image of the context's files, and the `WORKDIR` then. A
/// `COPY --from=` a stage of the file takes what that stage holds of them (an earlier stage:
/// `depth` only guards a file that names itself).
fn image_of(
    context: &[&str],
    instructions: &[&Instruction],
    stages: Stages,
    depth: usize,
) -> Result<(Image, String), String> {
    let mut image = Image::default();
    let mut workdir = BASE_WORKDIR.to_owned();
    let mut started = false;
    for instruction in instructions {
        match instruction.keyword.as_str() {
            // The chain's first FROM: its image's WORKDIR (`/` in `scratch`, else unknown); a
            // later one names the stage before it in the chain.
            "FROM" if !started => workdir = base_workdir(&instruction.args),
            // Run at the start of each stage made from this one, which this reading does not
            // follow (BuildKit does, from dockerfile 1.12).
            "ONBUILD" => {
                return Err(format!(
                    "line {}: ONBUILD instructions run in the stages made from this one",
                    instruction.line
                ));
            }
            "FROM" => {}
            "WORKDIR" => {
                workdir = resolve(&workdir, unquote(instruction.args.trim()))?;
                image.folders.insert(workdir.clone());
            }
            "COPY" | "ADD" => {
                let from = dockerfile_parse::transfer(&instruction.args).from;
                let held: Vec<String>;
                let source: Vec<&str> = match from {
                    None => context.to_vec(),
                    Some(name) => match stages(&name.to_ascii_lowercase()) {
                        Some(chain) if depth < 8 => {
                            let (stage, _) = image_of(context, &chain, stages, depth + 1)?;
                            held = stage.files.iter().map(|f| f[1..].to_owned()).collect();
                            held.iter().map(String::as_str).collect()
                        }
                        _ => continue,
                    },
                };
                copy(&source, &workdir, &instruction.args, &mut image)?;
            }
            _ => {}
        }
        started = true;
    }
    Ok((image, workdir))
}

/// Where a chain starts when its first `FROM` is not read: the base image's `WORKDIR`, which
/// cannot be told, so a relative path is read from it and never matches an absolute one.
pub const BASE_WORKDIR: &str = "/<the base image's WORKDIR>";

/// The `WORKDIR` a `FROM` starts with: `/` in `scratch`; in an image, its own, which cannot be
/// told (`/` for most, `/app` for some): a folder named by the image, so that two images'
/// relative paths never meet.
fn base_workdir(from: &str) -> String {
    let (image, _) = dockerfile_parse::from_line(from);
    if image == "scratch" {
        "/".to_owned()
    } else {
        format!("/<the WORKDIR of {image}>")
    }
}

/// What the copies made so far: the context's files at their paths in the image, and the
/// folders known to be there (made by a `WORKDIR`, or holding a copied file), into which a
/// copy of a file goes by its name even without a trailing `/`.
#[derive(Default)]
struct Image {
    files: BTreeSet<String>,
    folders: BTreeSet<String>,
}

impl Image {
    fn add(&mut self, file: String) {
        let mut at = file.as_str();
        while let Some((parent, _)) = at.rsplit_once('/') {
            self.folders
                .insert(if parent.is_empty() { "/" } else { parent }.to_owned());
            at = parent;
        }
        self.files.insert(file);
    }
}

/// `path` from `dir`, normalised (`.` and `..` resolved, no trailing `/`).
pub fn resolve(dir: &str, path: &str) -> Result<String, String> {
    if path.contains('$') {
        return Err(format!("`{path}` names a variable that cannot be told"));
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

/// One `COPY`/`ADD` of `files` (the context's, or a stage's below its `/`), not from a URL or a
/// heredoc.
fn copy(files: &[&str], workdir: &str, args: &str, image: &mut Image) -> Result<(), String> {
    let transfer = dockerfile_parse::transfer(args);
    let Some(destination) = &transfer.destination else {
        return Ok(());
    };
    let excluded = flag_values(args, "exclude");
    // A heredoc writes a file of its own over what is there (the lock, say).
    for heredoc in transfer.sources.iter().filter_map(|s| s.strip_prefix("<<")) {
        let name = heredoc.trim_start_matches('-').trim_matches(['"', '\'']);
        let written = unquote(destination);
        let target = resolve(workdir, written)?;
        let into = written.ends_with('/') || written == "." || image.folders.contains(&target);
        image.files.remove(&if into {
            format!("{target}/{name}")
        } else {
            target
        });
    }
    let sources: Vec<&str> = transfer
        .sources
        .iter()
        .map(|s| unquote(s))
        .filter(|s| !s.starts_with("<<") && !s.contains("://") && !s.starts_with("git@"))
        .collect();
    if sources.is_empty() {
        return Ok(());
    }
    let (flags, _) = dockerfile_parse::flags(args);
    if flags
        .iter()
        .any(|f| *f == "parents" || f.starts_with("parents="))
    {
        return Err(
            "COPY --parents keeps each source's folders, which this check does not follow".into(),
        );
    }
    if sources.iter().any(|s| s.contains('[')) {
        // Docker's `[^a]` is the glob crate's `[!a]`, and its `[!a]` a class holding `!`.
        return Err(format!(
            "`{}`: a character class in a source is not followed",
            sources.join(" ")
        ));
    }
    let written = unquote(destination);
    let target = resolve(workdir, written)?;
    // Into a folder: one named so (`/c/`, `.`), or one already there, which a `--link` copy
    // (made on an empty layer) does not see.
    let linked = flags.contains(&"link") || flags.contains(&"link=true");
    let into =
        written.ends_with('/') || written == "." || (!linked && image.folders.contains(&target));
    if sources.len() > 1 && !into {
        return Err(format!(
            "`{written}`: several sources need a destination that ends with `/`"
        ));
    }
    for source in sources {
        for file in transfer_one(files, source, &target, into, &excluded)? {
            image.add(file);
        }
    }
    Ok(())
}

/// The values of a `--NAME=value` flag of an instruction (`--exclude=*.md`), as often as given.
fn flag_values(args: &str, name: &str) -> Vec<String> {
    dockerfile_parse::flags(args)
        .0
        .iter()
        .filter_map(|flag| flag.strip_prefix(name)?.strip_prefix('='))
        .map(|value| unquote(value).to_owned())
        .collect()
}

/// A word without the quotes a shell form may put around it.
fn unquote(word: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = word.strip_prefix(quote).and_then(|w| w.strip_suffix(quote)) {
            return inner;
        }
    }
    word
}

/// A shell word with its quotes removed, wherever they are (`"$APP"/install.py`, substituted,
/// is `/context/install.py`).
pub fn dequoted(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut quote = None;
    for c in word.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => out.push(c),
        }
    }
    out
}

/// Where one source's files go: to `destination` (a path, no trailing `/`), or into it when
/// `into`; a file that an `--exclude` pattern matches stays out.
fn transfer_one(
    context: &[&str],
    source: &str,
    destination: &str,
    into: bool,
    excluded: &[String],
) -> Result<Vec<String>, String> {
    if source.contains('$') {
        return Err(format!("`{source}` names a variable that cannot be told"));
    }
    let source = resolve("/", source)?;
    let source = source.trim_start_matches('/');
    // Docker's `*` stops at a `/`, as Go's filepath.Match does.
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let matches = |pattern: &str, path: &str| match glob::Pattern::new(pattern) {
        Ok(p) => p.matches_with(path, options),
        Err(_) => path == pattern,
    };
    let base = destination.trim_end_matches('/');
    let mut out = Vec::new();
    // An `--exclude` pattern is matched from the source: a file's name, a folder's inside.
    let excludes = |path: &str| excluded.iter().any(|pattern| matches(pattern, path));
    for file in context {
        // The file itself: into the folder by its name, or to the destination.
        if matches(source, file) {
            let name = file.rsplit('/').next().unwrap_or(file);
            if excludes(name) {
                continue;
            }
            out.push(if into {
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
            if (folder.is_empty() && source.is_empty())
                || (!folder.is_empty() && matches(source, folder))
            {
                let below = file[folder.len()..].trim_start_matches('/');
                if !excludes(below) {
                    out.push(format!("{base}/{below}"));
                }
                break;
            }
        }
    }
    Ok(out)
}

/// A `RUN --mount`: where it is, and for a bind mount of the context, what of it it shows.
struct Mount {
    target: String,
    context_source: Option<String>,
    /// A bind mount `from=` a stage or image, and the path it shows of it.
    stage_source: Option<(String, String)>,
}

/// The mounts of a `RUN`. Each hides what is at its target while the `RUN` runs; a bind mount
/// (the default type) without `from=` shows the context (or a file or folder of it) there.
fn mounts(args: &str) -> Vec<Mount> {
    let mut out = Vec::new();
    for options in flag_values(args, "mount") {
        let (mut kind, mut source, mut target, mut from) = ("bind", None, None, None);
        for option in options.split(',') {
            match option.split_once('=') {
                Some(("type", v)) => kind = v,
                Some(("source" | "src", v)) => source = Some(v),
                Some(("target" | "dst" | "destination", v)) => target = Some(v),
                Some(("from", v)) => from = Some(v),
                _ => {}
            }
        }
        if let Some(target) = target {
            let bind = kind == "bind";
            out.push(Mount {
                target: target.to_owned(),
                context_source: (bind && from.is_none()).then(|| source.unwrap_or(".").to_owned()),
                stage_source: from
                    .filter(|_| bind)
                    .map(|f| (f.to_owned(), source.unwrap_or("/").to_owned())),
            });
        }
    }
    out
}

/// The path a `RUN` gives the script named `script`, resolved from `workdir` and a `cd DIR`
/// before it: the first word naming it after a word that runs Python (else the first naming
/// it). None when the `RUN` does not mention the script; an error when it does, but in no word
/// that can be read as its path (`install.py;`, a shell string of the exec form is read too).
pub fn script_path(
    run: &Instruction,
    script: &str,
    workdir: &str,
) -> Option<Result<String, String>> {
    if !run.args.contains(script) {
        return None;
    }
    let words = shell_words(dockerfile_parse::flags(&run.args).1);
    let mut dir = workdir.to_owned();
    let (mut first, mut after_python) = (None, None);
    let mut python = false;
    let mut words = words.iter().map(|w| dequoted(w));
    while let Some(word) = words.next() {
        if word == "cd"
            && let Some(to) = words.next()
        {
            match resolve(&dir, &to) {
                Ok(to) => dir = to,
                Err(why) => return Some(Err(why)),
            }
        } else if (word == script || word.ends_with(&format!("/{script}")))
            && !word.starts_with('-')
            && !word.contains('=')
        {
            let path = resolve(&dir, &word);
            if python && after_python.is_none() {
                after_python = Some(path.clone());
            }
            first.get_or_insert(path);
        }
        // A Python's options (`-u`, `-I`) keep it the word that runs the next one.
        python = word
            .rsplit('/')
            .next()
            .is_some_and(|w| w.starts_with("python"))
            || (python && word.starts_with('-'));
    }
    Some(after_python.unwrap_or_else(|| {
        Err(match first {
            // dist writes it without a shebang and not executable: the shell cannot run it.
            Some(_) => format!(
                "{script} is named, but no Python runs it (it has no shebang and is not \
             executable); run it as the template does, `/opt/venv/bin/python {script}`"
            ),
            None => {
                format!("no word of it reads as the path of {script}; run it as the template does")
            }
        })
    }))
}

/// A `RUN` command's words: the exec form's (and, for `sh -c SCRIPT`, the script's), else the
/// shell form's, read as the shell reads them ([`shell::words`]: operators outside quotes
/// split, quotes removed).
pub fn shell_words(command: &str) -> Vec<String> {
    match dockerfile_parse::exec_form(command) {
        Some(words) => match words.as_slice() {
            [shell, flag, script, ..]
                if flag == "-c" && (shell.ends_with("sh") || shell.ends_with("bash")) =>
            {
                shell::words(script)
            }
            _ => words,
        },
        None => shell::words(command),
    }
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
        let stages = |_: &str| None;
        placed(CONTEXT, before, run, &stages)
    }

    fn has(placed: &Placed, path: &str) -> bool {
        placed.as_ref().is_ok_and(|(files, _)| files.contains(path))
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
        assert_eq!(
            named,
            Ok((BTreeSet::new(), "/<the WORKDIR of x>".to_owned()))
        );
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
        assert_eq!(
            path("python -u -I /c/install.py", "/"),
            Some(Ok("/c/install.py".into()))
        );
        // The script alone: the shell cannot run it.
        for run in ["/c/install.py", "cd /c && ./install.py"] {
            let got = path(run, "/");
            assert!(
                got.as_ref()
                    .is_some_and(|r| r.as_ref().is_err_and(|e| e.contains("no Python runs it"))),
                "{run}: {got:?}"
            );
        }
        // Quotes anywhere in a word are the shell's (a substituted `"$APP"/install.py`).
        assert_eq!(
            path("python \"/c\"/'install.py'", "/"),
            Some(Ok("/c/install.py".into()))
        );
        // A quoted folder with a space, and an operator inside quotes, read as the shell reads
        // them: one word each.
        assert_eq!(
            path("cd \"/my app\" && echo 'a && b' && python install.py", "/"),
            Some(Ok("/my app/install.py".into()))
        );
    }
}
