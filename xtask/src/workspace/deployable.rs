//! Whether a service's Dockerfile still matches the service (`verify`'s `deploy <service>` job):
//! what it copies is in the build context `dist` writes, and what it runs is the command the
//! service declares. hadolint's verdict is the other half (see `env::hadolint`).

use crate::workspace::Package;
use crate::workspace::deploy::context;
use crate::workspace::dockerfile_parse::{self, Instruction};
use crate::workspace::{dockerfile_vars, image_files, removals};

/// The problems of the Dockerfile `text` of `service`, each leading with `rel:line` (`rel`: the
/// Dockerfile's path from the root); none when it matches. Paths are read with the file's
/// `ARG` and `ENV` values in place ([`dockerfile_vars`]).
/// What the image's build must use to be what `dist` checks: the Python (`python/.python-version`)
/// and the uv (the pinned one) its check installs with; None: not compared.
#[derive(Default, Clone, Copy)]
pub struct Checked<'a> {
    pub python: Option<&'a str>,
    pub uv: Option<&'a str>,
}

pub fn problems(service: &Package, rel: &str, text: &str, checked: Checked) -> Vec<String> {
    let escape = dockerfile_parse::escape_char(text);
    let instructions = dockerfile_vars::substituted(dockerfile_parse::parse(text), escape);
    let mut problems: Vec<String> = instructions
        .iter()
        .filter(|i| i.keyword == "COPY" || i.keyword == "ADD")
        .flat_map(|i| transfer_problems(service, rel, i))
        .collect();
    problems.extend(command_problem(service, rel, &instructions, escape));
    problems.extend(install_problem(service, rel, &instructions));
    problems.extend(context_problems(rel, &instructions));
    if let Some(python) = checked.python {
        problems.extend(python_problem(rel, &instructions, python, escape));
    }
    if let Some(uv) = checked.uv {
        problems.extend(uv_problem(rel, &instructions, uv));
    }
    problems
        .into_iter()
        .map(|p| with_global_arg_hint(p, &instructions))
        .collect()
}

/// A problem that names a variable which only an `ARG` before the first `FROM` sets, with the
/// reason: a stage sees it only once it declares it again (BuildKit then takes its value).
fn with_global_arg_hint(problem: String, instructions: &[Instruction]) -> String {
    let arg_names = |instructions: &mut dyn Iterator<Item = &Instruction>| -> Vec<String> {
        instructions
            .filter(|i| i.keyword == "ARG")
            .flat_map(|i| i.args.split_whitespace())
            .map(|word| word.split('=').next().unwrap_or(word).to_owned())
            .collect()
    };
    let mut all = instructions.iter();
    let globals = arg_names(&mut all.by_ref().take_while(|i| i.keyword != "FROM"));
    // A name some stage declares again is not what this hint is about.
    let in_stages = arg_names(&mut all);
    let mentions = |name: &str| {
        ["$", "${"].iter().any(|open| {
            let at = format!("{open}{name}");
            problem.match_indices(&at).any(|(i, _)| {
                !problem[i + at.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            })
        })
    };
    let named: Vec<&str> = globals
        .iter()
        .map(String::as_str)
        .filter(|name| {
            problem.contains("cannot be told")
                && !in_stages.iter().any(|n| n == name)
                && mentions(name)
        })
        .collect();
    match named.as_slice() {
        [] => problem,
        names => format!(
            "{problem} ({} before the first FROM is seen in a stage only once the stage declares it \
             again: add `ARG {}` to the stage)",
            names
                .iter()
                .map(|n| format!("ARG {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            names.join(" ")
        ),
    }
}

/// What the context holds, as a person reads it: `Dockerfile, install.py, ..., wheels/, ...`.
fn context_listing() -> String {
    context::ENTRIES
        .iter()
        .map(|e| {
            if *e == context::WHEELS {
                format!("{e}/")
            } else {
                (*e).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each source of a `COPY`/`ADD` from the build context that names no entry of it. Sources from
/// another stage or image (`--from=`), URLs and heredocs are not read from the context.
fn transfer_problems(service: &Package, rel: &str, instruction: &Instruction) -> Vec<String> {
    let transfer = dockerfile_parse::transfer(&instruction.args);
    if let Some(from) = transfer.from.as_ref().filter(|f| f.contains('$')) {
        return vec![format!(
            "{rel}:{}: {} --from={from}: BuildKit expands no variable in --from, so `docker \
             build` fails; name the stage or image",
            instruction.line, instruction.keyword
        )];
    }
    if transfer.from.is_some() {
        return Vec::new();
    }
    transfer
        .sources
        .iter()
        .filter(|s| !s.starts_with("<<") && !s.contains("://") && !s.starts_with("git@"))
        .filter_map(|source| {
            let why = source_problem(source)?;
            Some(format!(
                "{rel}:{}: {} {source}: {why}: the context `cargo xtask dist {}` writes holds \
                 only {} (no source tree: the service and its local packages come as wheels)",
                instruction.line,
                instruction.keyword,
                service.folder_name(),
                context_listing()
            ))
        })
        .collect()
}

/// Why a source names nothing the context holds, if it does not: its first component must be an
/// entry (or a pattern that matches one), or the context itself (`.`).
fn source_problem(source: &str) -> Option<String> {
    if source.contains('$') {
        return Some(
            "it names a variable that no ARG or ENV of this file sets, so what it copies cannot \
             be told"
                .into(),
        );
    }
    let parts: Vec<&str> = source
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Some("it reaches outside the build context".into());
    }
    let Some(first) = parts.first() else {
        return None; // `.` or `/`: the context itself, which holds only its entries
    };
    let matches = |entry: &&str| match glob::Pattern::new(first) {
        Ok(pattern) => pattern.matches(entry),
        Err(_) => first == entry,
    };
    if context::ENTRIES.iter().any(matches) {
        None
    } else {
        Some(format!("`{first}` is not in the build context"))
    }
}

/// The image's `ENTRYPOINT` (else `CMD`) must be in exec form and run the service's command (its
/// first word that command, or a path ending in it). The image's: the last one of the final
/// stage ([`final_stage`]), since each stage has its own.
fn command_problem(
    service: &Package,
    rel: &str,
    instructions: &[Instruction],
    escape: char,
) -> Option<String> {
    let image = final_stage(instructions);
    let last = |keyword: &str| image.iter().rev().find(|i| i.keyword == keyword).copied();
    let declared = declared_commands(service);
    let Some(expected) = service.deploy.entry_command() else {
        return Some(format!(
            "{}: {} declares no command for its image to run ({declared}); name it in \
             [tool.xtask.dist] command = [\"...\"], or declare one [project.scripts] entry",
            service.deploy.at,
            service.folder_name()
        ));
    };
    let exec = crate::output::json_string(&expected[0]);
    let Some(runs) = last("ENTRYPOINT").or_else(|| last("CMD")) else {
        return Some(format!(
            "{rel}: no ENTRYPOINT or CMD, so the image runs nothing of {}; end it with \
             ENTRYPOINT [{exec}] ({declared})",
            service.folder_name()
        ));
    };
    let at = format!("{rel}:{}: {}", runs.line, runs.keyword);
    let Some(words) = dockerfile_parse::exec_form(&runs.args) else {
        return Some(format!(
            "{at} {} is in shell form: a shell runs it and the service's command is not what \
             the image runs as its first process; write it in exec form, e.g. {} [{exec}] \
             ({declared})",
            runs.args, runs.keyword
        ));
    };
    let first = words.first().map(String::as_str).unwrap_or("");
    let program = first.rsplit('/').next().unwrap_or(first);
    if program == expected[0] {
        return found_problem(&at, first, instructions, &image, escape);
    }
    Some(format!(
        "{at} runs `{first}`, which is not the command {} declares ({declared}); make `{}` its \
         first word, or change the declared command",
        service.folder_name(),
        expected[0]
    ))
}

/// Where the command `first` (the `ENTRYPOINT`'s first word) is looked for at `docker run`, if
/// it is not where `install.py` puts the service's scripts: the `bin/` beside the Python that
/// runs it (`/opt/venv/bin/python` -> `/opt/venv/bin/`). A path must be that; a bare name is
/// looked up on the image's `PATH` (its `ENV PATH`s read in turn with their variables, the base
/// image's system folders, and no venv, standing for `$PATH` before them). Not told when that
/// Python is not named by its path, or a name in the `PATH` cannot be told.
fn found_problem(
    at: &str,
    first: &str,
    instructions: &[Instruction],
    image: &[&Instruction],
    escape: char,
) -> Option<String> {
    let bin = install_bin(instructions)?;
    if first.contains('/') {
        let program = first.rsplit('/').next().unwrap_or(first);
        return (first != format!("{bin}/{program}")).then(|| {
            format!(
                "{at} runs `{first}`, but install.py puts the service's command in {bin}/: \
                 `docker run` would not find it; name `{bin}/{program}`, or `{program}` with \
                 {bin} on PATH as the template does"
            )
        });
    }
    // The image's PATH with its variables read (`$VIRTUAL_ENV/bin:$PATH`), the base image's
    // standing for `$PATH` before any `ENV PATH`: not told when a name in it cannot be.
    let path = dockerfile_vars::value_after(image, "PATH", BASE_PATH, escape)?;
    let on_path = path.split(':').any(|dir| {
        dir.trim_end_matches('/') == bin
            || (dir == BASE_PATH && SYSTEM_PATH.contains(&bin.as_str()))
    });
    (!on_path).then(|| {
        let whose = if path == BASE_PATH {
            "no ENV PATH sets it, so the base image's holds the system's folders".to_owned()
        } else {
            format!("its ENV PATH is {}", path.replace(BASE_PATH, "$PATH"))
        };
        format!(
            "{at} runs `{first}` by name, but the image's PATH lacks {bin}, where install.py \
             puts it ({whose}): `docker run` would fail (executable file not found); add \
             `ENV PATH={bin}:$PATH` as the template does, or name `{bin}/{first}`"
        )
    })
}

/// What stands for the base image's `PATH` while the image's own is read.
const BASE_PATH: &str = "<the base image's PATH>";

/// The folders a base image's `PATH` holds when it sets its own (Docker's default).
const SYSTEM_PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Whether an instruction is a `RUN` of `install.py`.
fn runs_install(instruction: &&Instruction) -> bool {
    instruction.keyword == "RUN" && instruction.args.contains(context::INSTALL)
}

/// The `bin/` folder of the Python (a path) that the file's `RUN` of `install.py` runs it with
/// (`/opt/venv/bin`): where the service's scripts go, under the venv it fills.
fn install_bin(instructions: &[Instruction]) -> Option<String> {
    let python = instructions.iter().find_map(install_python)?;
    Some(python.rsplit_once('/')?.0.to_owned())
}

/// The Python (a path) that a `RUN` of `install.py` runs it with: the word before the script's.
fn install_python(run: &Instruction) -> Option<String> {
    if !runs_install(&run) {
        return None;
    }
    let words = run_words(run);
    let at = words
        .iter()
        .position(|w| w == context::INSTALL || w.ends_with(&format!("/{}", context::INSTALL)))?;
    let python = words[..at].iter().rev().find(|w| !w.starts_with('-'))?;
    let name = python.rsplit('/').next()?;
    (python.starts_with('/') && name.starts_with("python")).then(|| python.clone())
}

/// A `RUN`'s words without their quotes ([`image_files::shell_words`] of its command).
fn run_words(run: &Instruction) -> Vec<String> {
    let words = image_files::shell_words(dockerfile_parse::flags(&run.args).1);
    words.iter().map(|w| image_files::dequoted(w)).collect()
}

/// One stage of a Dockerfile: its `FROM`, what it starts from, its name (lower-cased), its
/// instructions.
struct Stage<'a> {
    from: &'a Instruction,
    base: Option<String>,
    name: Option<String>,
    body: Vec<&'a Instruction>,
}

/// The stages of a Dockerfile, in order (`FROM [--platform=...] IMAGE [AS NAME]` starts one).
fn stages(instructions: &[Instruction]) -> Vec<Stage<'_>> {
    let mut stages: Vec<Stage> = Vec::new();
    for instruction in instructions {
        if instruction.keyword == "FROM" {
            let (base, name) = dockerfile_parse::from_line(&instruction.args);
            stages.push(Stage {
                from: instruction,
                base: Some(base.to_owned()).filter(|b| !b.is_empty()),
                name,
                body: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.body.push(instruction);
        }
    }
    stages
}

/// The instructions stage `index` holds with those of the earlier stages it starts from
/// (`FROM build AS final`), and so on up, each after its `FROM`: what its image is made of.
fn chain<'a>(stages: &[Stage<'a>], index: usize) -> Vec<&'a Instruction> {
    let mut image: Vec<&Instruction> = Vec::new();
    let mut at = index + 1;
    // Up the chain of earlier stages (always an earlier one: the chain ends).
    while let Some(index) = at.checked_sub(1) {
        let stage = &stages[index];
        let mut parts = vec![stage.from];
        parts.extend(stage.body.iter().copied());
        parts.extend(image);
        image = parts;
        at = stages[..index]
            .iter()
            .rposition(|s| s.name.is_some() && s.name == stage.base)
            .map_or(0, |i| i + 1);
    }
    image
}

/// Each stage's [`chain`] that runs `install.py`, in stage order, with where that `RUN` is in it.
fn installing_chains<'s, 'a>(
    stages: &'s [Stage<'a>],
) -> impl Iterator<Item = (Vec<&'a Instruction>, usize)> + 's {
    (0..stages.len()).filter_map(|index| {
        let chain = chain(stages, index);
        let at = chain.iter().position(runs_install)?;
        Some((chain, at))
    })
}

/// The instructions the image's configuration comes from: the final stage's [`chain`].
/// `ENTRYPOINT` and `CMD` belong to a stage: one in a build stage is not the image's, which a
/// stage from another image (`FROM python:3.10-slim`) takes from that image.
fn final_stage(instructions: &[Instruction]) -> Vec<&Instruction> {
    let stages = stages(instructions);
    match stages.len() {
        0 => Vec::new(),
        n => chain(&stages, n - 1),
    }
}

/// The image must hold what the context's `install.py` installs, which is what `dist` proves:
/// a `RUN` of it in the final stage's chain, or a `COPY --from=` a stage whose chain has one.
/// A Dockerfile that installs otherwise (or nothing) builds an image `dist` never checked.
fn install_problem(service: &Package, rel: &str, instructions: &[Instruction]) -> Option<String> {
    let stages = stages(instructions);
    let last = stages.len().checked_sub(1)?;
    let installing: Vec<String> = (0..stages.len())
        .filter(|&i| chain(&stages, i).iter().any(runs_install))
        .flat_map(|i| {
            let mut names = vec![i.to_string()];
            names.extend(stages[i].name.clone());
            names
        })
        .collect();
    let image = chain(&stages, last);
    // The venv install.py fills (`/opt/venv` of `/opt/venv/bin/python`, which a `RUN` made
    // with `uv venv`, `python -m venv` or `virtualenv`), when told: a copy must take it, or a
    // folder above it, to the same path (its scripts name their Python by it). A system
    // Python's install spreads over its prefix (`lib/python3.x/site-packages`, `bin/`): not told.
    let venv = install_bin(instructions)
        .and_then(|bin| Some(bin.rsplit_once('/')?.0.to_owned()))
        .filter(|venv| made_venv(instructions, venv));
    let takes_venv = |copy: &dockerfile_parse::Transfer| {
        let Some(venv) = &venv else {
            return true;
        };
        let dest = copy
            .destination
            .as_deref()
            .unwrap_or("")
            .trim_end_matches('/');
        copy.sources.iter().any(|source| {
            let source = source.trim_end_matches('/');
            source == dest
                && (source.is_empty() || venv == source || venv.starts_with(&format!("{source}/")))
        })
    };
    let copies_install = |i: &&Instruction| {
        if i.keyword != "COPY" {
            return false;
        }
        let copy = dockerfile_parse::transfer(&i.args);
        copy.from
            .as_ref()
            .is_some_and(|from| installing.contains(&from.to_ascii_lowercase()))
            && takes_venv(&copy)
    };
    if let Some(at) = image
        .iter()
        .position(|i| runs_install(i) || copies_install(i))
    {
        // After the install: in the image, and in the stages whose venv it copies.
        let mut chains = vec![(image.clone(), at)];
        let copied: Vec<String> = image[at..]
            .iter()
            .filter(|i| copies_install(i))
            .filter_map(|i| dockerfile_parse::transfer(&i.args).from)
            .map(|from| from.to_ascii_lowercase())
            .collect();
        for (index, stage) in stages.iter().enumerate() {
            let named =
                |from: &String| *from == index.to_string() || Some(from) == stage.name.as_ref();
            let chain = chain(&stages, index);
            if copied.iter().any(named)
                && let Some(install) = chain.iter().position(runs_install)
            {
                chains.push((chain, install));
            }
        }
        return changed_after(rel, &chains, venv.as_deref()?, service);
    }
    Some(format!(
        "{rel}: its image does not hold what the context's {install} installs (no RUN of it in \
         the final stage, nor a COPY --from= a stage that runs it of its venv, or a folder above \
         it, to the same path), so what `cargo xtask dist {name}` \
         proved is not what it builds; install with `RUN /opt/venv/bin/python /context/{install}` \
         as the template does (move this file aside and run `cargo xtask dist {name}` to see it)",
        install = context::INSTALL,
        name = service.folder_name()
    ))
}

/// A `RUN` of the image after its install that removes or moves files in the venv the install
/// filled (`rm -rf /opt/venv/lib/python3.10/site-packages/numpy/tests`, `find /opt/venv ...
/// -delete`), the install's own `RUN` chained after it included (see [`removals`]): the image
/// would not hold what `dist` proved to install and import, and the check cannot run that
/// command on its own install. `chains`: each chain with where its install is.
fn changed_after(
    rel: &str,
    chains: &[(Vec<&Instruction>, usize)],
    venv: &str,
    service: &Package,
) -> Option<String> {
    let changer = chains.iter().find_map(|(chain, install)| {
        let workdirs = workdirs(chain);
        (*install..chain.len()).find_map(|at| {
            let i = chain[at];
            let after = (at == *install && runs_install(&i)).then_some(context::INSTALL);
            let changes =
                i.keyword == "RUN" && removals::changes(&script(i), &workdirs[at], venv, after);
            changes.then_some(i)
        })
    })?;
    Some(format!(
        "{rel}:{}: RUN, after the install, removes or moves files in {venv}/, the venv \
         {install} filled, so the image would not hold what `cargo xtask dist {name}` proved to \
         install and import (the check cannot run that command); remove that RUN: the venv holds \
         exactly the runtime lock's pins and the service's wheels, and a package is left out by \
         removing it from the service's dependencies (`cargo xtask remove {name} NAME`)",
        changer.line,
        install = context::INSTALL,
        name = service.folder_name()
    ))
}

/// A `RUN`'s script as the shell reads it (an exec form's words quoted back).
fn script(run: &Instruction) -> String {
    let command = dockerfile_parse::flags(&run.args).1;
    match dockerfile_parse::exec_form(command) {
        Some(words) => {
            let quoted: Vec<String> = words
                .iter()
                .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
                .collect();
            quoted.join(" ")
        }
        None => command.to_owned(),
    }
}

/// The working folder at each instruction of `chain`: its `WORKDIR`s in turn, from `/`, `.` and
/// `..` folded as Docker folds them (a removal's path is compared with the deployable's by its
/// text: `/app/../opt/venv` would not be `/opt/venv`). A base image's own cannot be told;
/// [`image_files`] reads it as unknown, so that a copy it cannot place fails, but here unknown
/// would let a relative `rm` pass: `/` is the official Python images' own, and the stricter
/// guess. A `WORKDIR` naming a variable is joined as written.
fn workdirs(chain: &[&Instruction]) -> Vec<String> {
    let mut dir = "/".to_owned();
    chain
        .iter()
        .map(|i| {
            if i.keyword == "WORKDIR" {
                let arg = image_files::dequoted(i.args.trim());
                dir = image_files::resolve(&dir, &arg).unwrap_or_else(|_| {
                    match arg.starts_with('/') {
                        true => arg,
                        false => format!("{}/{arg}", dir.trim_end_matches('/')),
                    }
                });
            }
            dir.clone()
        })
        .collect()
}

/// The Python the image installs with, where the Dockerfile names it, must be the one `dist`
/// checks the deployable with (`python`, from `python/.python-version`): before a `RUN` of
/// `install.py`, a `uv venv --python X` (or `UV_PYTHON`, on that line or from an `ENV`), else
/// the `python:X` image that stage starts from. Another version may refuse the wheels
/// (`Requires-Python`) or take other pins of the lock (markers), none of which dist saw. A word
/// that names no minor version (`python3`) names nothing; not named at all (another base image,
/// a venv made otherwise): not told.
fn python_problem(
    rel: &str,
    instructions: &[Instruction],
    python: &str,
    escape: char,
) -> Option<String> {
    let stages = stages(instructions);
    let wanted = version_numbers(python)?;
    let differs = |version: &str| {
        version_numbers(version).is_some_and(|named| named.iter().zip(&wanted).any(|(a, b)| a != b))
    };
    let installs = installing_chains(&stages).find_map(|(chain, at)| {
        let (line, version, how) = image_python(&chain[..at], escape)?;
        differs(&version).then(|| {
            format!(
                "{rel}:{line}: the image installs with Python {version} ({how}), but `cargo xtask dist` \
                 checks the deployable with Python {python} (python/.python-version): what it proved \
                 is not what the image runs; name Python {python} there, as the template does"
            )
        })
    });
    // The image that runs is the last stage's: from a Python image of its own (the venv copied
    // in from a build stage), that Python runs the venv, whose links name the version it was
    // made with.
    installs.or_else(|| {
        let last = chain(&stages, stages.len().checked_sub(1)?);
        let from = last.first()?;
        let image = dockerfile_parse::from_line(&from.args).0;
        let version = python_image_version(image)?;
        differs(&version).then(|| {
            format!(
                "{rel}:{}: the image runs on {image}, Python {version}, but `cargo xtask dist` \
                 checks the deployable with Python {python} (python/.python-version), and the venv \
                 copied in names its interpreter by version; name Python {python} there, as the \
                 template does",
                from.line
            )
        })
    })
}

/// uv's image (`ghcr.io/astral-sh/uv:TAG`), where the file takes uv from it, must be the uv
/// `dist` checks the install with (`uv`): another version may install otherwise (`latest`
/// moves). A uv from elsewhere is not told.
fn uv_problem(rel: &str, instructions: &[Instruction], uv: &str) -> Option<String> {
    instructions.iter().find_map(|i| {
        let image = match i.keyword.as_str() {
            "FROM" => dockerfile_parse::from_line(&i.args).0.to_owned(),
            "COPY" => dockerfile_parse::transfer(&i.args).from?,
            _ => return None,
        };
        let tag = image.strip_prefix(UV_IMAGE)?;
        let tag = tag.split('@').next().unwrap_or(tag);
        let version = tag.strip_prefix('v').unwrap_or(tag);
        let version = version.split('-').next().unwrap_or(version);
        (version != uv).then(|| {
            format!(
                "{rel}:{}: the image takes uv from {image}, but `cargo xtask dist` checks the \
                 install with uv {uv}: name {UV_IMAGE}{uv}, as the template does",
                i.line
            )
        })
    })
}

/// uv's image, up to its tag.
const UV_IMAGE: &str = "ghcr.io/astral-sh/uv:";

/// The Python a chain's instructions before its install name (line, version, how it is named).
fn image_python(before: &[&Instruction], escape: char) -> Option<(usize, String, String)> {
    let told = |v: &str| version_numbers(v).is_some();
    let venv = before.iter().rev().find_map(|i| {
        let (asked, inline) = venv_python(i)?;
        if let Some(version) = asked.filter(|v| told(v)) {
            return Some((
                i.line,
                version.clone(),
                format!("`uv venv --python {version}`"),
            ));
        }
        let set = inline.or_else(|| {
            let at = before.iter().position(|b| std::ptr::eq(*b, *i))?;
            dockerfile_vars::value_after(&before[..at], "UV_PYTHON", "", escape)
        })?;
        told(&set).then(|| (i.line, set.clone(), format!("UV_PYTHON={set}")))
    });
    venv.or_else(|| {
        let from = before.first()?;
        let image = dockerfile_parse::from_line(&from.args).0;
        let version = python_image_version(image)?;
        let how = format!("the image {image}");
        Some((from.line, version, how))
    })
}

/// The variables among `wanted` (the installer's that change what it installs) that the first
/// `RUN` of `install.py` sees, from the `ARG`s and `ENV`s of its stage's chain and those set on
/// its line (`UV_INDEX_URL=... python install.py`), with their values: the image's install runs
/// with them, so `dist`'s check installs with them too. None: a value that cannot be told
/// ([`dockerfile_vars`]). Empty when no `RUN` runs it.
pub fn install_env(text: &str, wanted: &dyn Fn(&str) -> bool) -> Vec<(String, Option<String>)> {
    let escape = dockerfile_parse::escape_char(text);
    let instructions = dockerfile_vars::substituted(dockerfile_parse::parse(text), escape);
    let stages = stages(&instructions);
    let Some((chain, at)) = installing_chains(&stages).next() else {
        return Vec::new();
    };
    let mut set = dockerfile_vars::set_after(&chain[..at], escape);
    for (name, value) in inline_assignments(chain[at]) {
        set.retain(|(n, _)| *n != name);
        set.push((name, Some(value)));
    }
    set.retain(|(name, _)| wanted(name));
    set.sort();
    set
}

/// The `NAME=value` words just before the Python that a `RUN` runs `install.py` with.
fn inline_assignments(run: &Instruction) -> Vec<(String, String)> {
    let words = image_files::shell_words(dockerfile_parse::flags(&run.args).1);
    let Some(script) = words.iter().position(|w| w.contains(context::INSTALL)) else {
        return Vec::new();
    };
    words[..script.saturating_sub(1)]
        .iter()
        .rev()
        .take_while(|w| w.contains('='))
        .filter_map(|w| {
            let (name, value) = w.split_once('=')?;
            Some((name.to_owned(), image_files::dequoted(value)))
        })
        .collect()
}

/// What a `RUN` of `uv venv` asks for: its `--python X` (`--python=X`, `-p X`), and a
/// `UV_PYTHON=X` set on the same line; None for another `RUN`.
fn venv_python(run: &Instruction) -> Option<(Option<String>, Option<String>)> {
    if run.keyword != "RUN" {
        return None;
    }
    let words = image_files::shell_words(dockerfile_parse::flags(&run.args).1);
    let at = words
        .windows(2)
        .position(|w| w[0].rsplit('/').next() == Some("uv") && w[1] == "venv")?;
    let inline = words[..at]
        .iter()
        .rev()
        .take_while(|w| w.contains('='))
        .find_map(|w| w.strip_prefix("UV_PYTHON=").map(str::to_owned));
    let mut rest = words[at + 2..].iter();
    while let Some(word) = rest.next() {
        if let Some(value) = word.strip_prefix("--python=") {
            return Some((Some(value.to_owned()), inline));
        }
        if word == "--python" || word == "-p" {
            return Some((rest.next().cloned(), inline));
        }
    }
    Some((None, inline))
}

/// `3.9` of `python:3.9-slim` (or `docker.io/library/python:3.9`); None for another image.
fn python_image_version(image: &str) -> Option<String> {
    let image = image.strip_prefix("docker.io/").unwrap_or(image);
    let image = image.strip_prefix("library/").unwrap_or(image);
    let tag = image.strip_prefix("python:")?;
    let version: String = tag
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (!version.is_empty()).then_some(version)
}

/// The major and minor version (and more) a request names: `3.10`, `3.10.13`, `cpython-3.10`,
/// `/usr/bin/python3.12`, uv's `cp310` and `py310`; None when it names no minor version
/// (`python3`, `3`, a bare path).
fn version_numbers(request: &str) -> Option<Vec<u32>> {
    let name = request.rsplit('/').next().unwrap_or(request);
    let start = name.find(|c: char| c.is_ascii_digit())?;
    let digits: String = name[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let numbers: Vec<u32> = if digits.contains('.') {
        digits
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?
    } else if digits.len() >= 2 && name[..start].chars().all(|c| c.is_ascii_alphabetic()) {
        // `cp310`: the first digit is the major version.
        vec![digits[..1].parse().ok()?, digits[1..].parse().ok()?]
    } else {
        return None;
    };
    (numbers.len() >= 2).then_some(numbers)
}

/// Whether a `RUN` makes a venv at `dir` (`uv venv /opt/venv`, `python -m venv /opt/venv`,
/// `virtualenv /opt/venv`).
fn made_venv(instructions: &[Instruction], dir: &str) -> bool {
    instructions
        .iter()
        .filter(|i| i.keyword == "RUN")
        .any(|run| {
            let words = run_words(run);
            words
                .iter()
                .any(|w| w == "venv" || w.ends_with("virtualenv"))
                && words.iter().any(|w| w.trim_end_matches('/') == dir)
        })
}

/// What the check takes `wheels/` to hold: a pure wheel and a platform wheel, with names unlike.
const STAND_IN_WHEELS: &[&str] = &[
    "a_lib-0.1.0-py3-none-any.whl",
    "Zsvc-2.0.post1-cp313-cp313-manylinux_2_28_x86_64.whl",
];

/// Each `RUN` of `install.py` must find the lock and every wheel beside it, where the `COPY`
/// instructions (or its bind mounts) put them by Docker's rules ([`image_files`]): a wheel
/// copied by name, a folder's contents put beside the script rather than in `wheels/`, or the
/// files in two folders would fail at `docker build`, after `dist` proved the context.
fn context_problems(rel: &str, instructions: &[Instruction]) -> Vec<String> {
    let stages = stages(instructions);
    // A `COPY --from=` names an earlier stage by its name or its number.
    let by_name = |name: &str| -> Option<Vec<&Instruction>> {
        let index = stages
            .iter()
            .position(|s| s.name.as_deref() == Some(name))
            .or_else(|| name.parse::<usize>().ok().filter(|&i| i < stages.len()))?;
        Some(chain(&stages, index))
    };
    let mut problems = Vec::new();
    for index in 0..stages.len() {
        let chain = chain(&stages, index);
        for run in stages[index].body.iter().filter(|i| i.keyword == "RUN") {
            let at = chain
                .iter()
                .position(|i| std::ptr::eq(*i, *run))
                .unwrap_or(0);
            problems.extend(install_run_problem(rel, run, &chain[..at], &by_name));
        }
    }
    problems
}

/// The problem of one `RUN` (after `before`, its chain's earlier instructions) if it runs
/// `install.py` and would not find the context's files beside it.
fn install_run_problem(
    rel: &str,
    run: &Instruction,
    before: &[&Instruction],
    stages: image_files::Stages,
) -> Option<String> {
    if !run.args.contains(context::INSTALL) {
        return None;
    }
    if let Some(problem) = user_problem(rel, run, before) {
        return Some(problem);
    }
    // Every wheel: stand-ins unlike each other (names, versions, tags) that only a source
    // taking the whole folder, or all its wheels, copies both of.
    let stand_ins: Vec<String> = STAND_IN_WHEELS
        .iter()
        .map(|w| format!("{}/{w}", context::WHEELS))
        .collect();
    let mut files: Vec<&str> = context::ENTRIES
        .iter()
        .copied()
        .filter(|e| *e != context::WHEELS)
        .collect();
    files.extend(stand_ins.iter().map(String::as_str));
    let lacking = image_files::placed(&files, before, run, stages).and_then(|(placed, workdir)| {
        let path = image_files::script_path(run, context::INSTALL, &workdir)
            .unwrap_or_else(|| Err(format!("no word of it names {}", context::INSTALL)))?;
        let here = path.rsplit_once('/').map_or("", |(dir, _)| dir).to_owned();
        if let Some(changer) = changed_before(before, &here) {
            return Err(format!(
                "line {}, before it, removes or moves files in {here}/",
                changer.line
            ));
        }
        let absent = |f: &str| !placed.contains(&format!("{here}/{f}"));
        let mut lacking: Vec<String> = [context::INSTALL, context::LOCK]
            .into_iter()
            .filter(|f| absent(f))
            .map(str::to_owned)
            .collect();
        if stand_ins.iter().any(|w| absent(w)) {
            lacking.push(format!("{}/ (whole)", context::WHEELS));
        }
        Ok((format!("{here}/"), lacking))
    });
    let (install, lock, wheels) = (context::INSTALL, context::LOCK, context::WHEELS);
    match lacking {
        Ok((_, lacking)) if lacking.is_empty() => None,
        Ok((here, lacking)) => {
            // A relative path from a base image's WORKDIR: the template's absolute one instead.
            let (to, why) = match here.strip_prefix("/<") {
                Some(_) => (
                    "/context/",
                    " (a relative path is read from the base image's WORKDIR, which cannot be \
                     told here: name absolute paths)",
                ),
                None => (here.as_str(), ""),
            };
            Some(format!(
                "{rel}:{}: RUN {install}: `docker build` would not find {} beside it in {here}{why} \
                 (install.py reads the lock and every wheel of {wheels}/ from its own folder); \
                 copy them as the template does: `COPY {lock} {install} {to}` and `COPY \
                 {wheels}/ {to}{wheels}/`",
                run.line,
                lacking.join(", "),
            ))
        }
        Err(why) => Some(format!(
            "{rel}:{}: RUN {install}: where the context's files are in the image cannot be told \
             ({why}); name the paths as the template does",
            run.line
        )),
    }
}

/// An earlier `RUN` that removes or moves something in the folder `install.py` runs from
/// (`rm -rf /context/wheels`): what it leaves there cannot be told.
fn changed_before<'a>(before: &[&'a Instruction], here: &str) -> Option<&'a Instruction> {
    let workdirs = workdirs(before);
    before.iter().zip(&workdirs).find_map(|(i, workdir)| {
        let changes = i.keyword == "RUN" && removals::changes(&script(i), workdir, here, None);
        changes.then_some(*i)
    })
}

/// A `RUN` of `install.py` as a user other than root: whether that user may write where it
/// installs (the venv a root `RUN` made) cannot be told, and mostly it may not.
fn user_problem(rel: &str, run: &Instruction, before: &[&Instruction]) -> Option<String> {
    let user = before.iter().rev().find(|i| i.keyword == "USER")?;
    let name = user.args.split(':').next().unwrap_or("").trim();
    if name == "root" || name == "0" {
        return None;
    }
    Some(format!(
        "{rel}:{}: RUN {}: it runs as USER {} (line {}), and whether that user may write the \
         venv it installs into cannot be told; install as root and switch USER after, as the \
         template does",
        run.line,
        context::INSTALL,
        user.args,
        user.line
    ))
}

/// The command(s) a service declares, and where: for the messages.
fn declared_commands(service: &Package) -> String {
    let deploy = &service.deploy;
    let pyproject = format!("{}/pyproject.toml", service.rel);
    if !deploy.command.is_empty() {
        let words: Vec<String> = deploy
            .command
            .iter()
            .map(|w| crate::output::json_string(w))
            .collect();
        return format!(
            "[tool.xtask.dist] command = [{}] at {}",
            words.join(", "),
            deploy.at
        );
    }
    match deploy.scripts.as_slice() {
        [] => format!("{pyproject} has no [project.scripts] and no [tool.xtask.dist] command"),
        scripts => format!(
            "[project.scripts] in {pyproject}: {}",
            scripts
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    #[test]
    fn workdirs_fold_dots_as_docker_does() {
        let parsed = crate::workspace::dockerfile_parse::parse(
            "FROM x\nWORKDIR /app\nWORKDIR ../opt/./venv/\nRUN true\nWORKDIR lib\nWORKDIR $HOME\n",
        );
        let chain: Vec<&Instruction> = parsed.iter().collect();
        assert_eq!(
            workdirs(&chain),
            [
                "/",
                "/app",
                "/opt/venv",
                "/opt/venv",
                "/opt/venv/lib",
                "/opt/venv/lib/$HOME"
            ]
        );
    }

    /// The template `dist` writes, rendered for each service of the committed tree (with its
    /// `.python-version` and the pinned uv), with the file the integration tests write as that
    /// service's Dockerfile (`xtask/tests/data/<service>.Dockerfile`).
    fn rendered_templates() -> Vec<(Package, String, PathBuf)> {
        let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = xtask.parent().unwrap().canonicalize().unwrap();
        let ws = crate::workspace::Workspace::load(&root).unwrap();
        let python = std::fs::read_to_string(root.join("python/.python-version")).unwrap();
        let uv = crate::env::tools::UV.version;
        ws.services()
            .map(|service| {
                let command = service.deploy.entry_command().expect("a command");
                let text =
                    crate::workspace::dockerfile::template(service, python.trim(), uv, &command);
                let data = xtask.join(format!("tests/data/{}.Dockerfile", service.folder_name()));
                (service.clone(), text, data)
            })
            .collect()
    }

    /// The installer variables the `RUN` of install.py sees: its stage chain's `ENV`s and `ARG`s
    /// (not another stage's), those on its line, as `wanted` filters them; None when not told.
    #[test]
    fn the_install_sees_its_stage_chain_and_its_line() {
        let wanted = |name: &str| name.starts_with("UV_") && name != "UV_LINK_MODE";
        let text = "ARG UV_TOP=top\n\
            FROM python:3.10-slim AS other\n\
            ENV UV_ELSEWHERE=1\n\
            FROM python:3.10-slim AS base\n\
            ARG UV_INDEX_URL=https://example.org/simple\n\
            ENV UV_LINK_MODE=copy UV_FROM_BASE=$BASE_ONLY PATH=/x\n\
            FROM base AS build\n\
            ENV UV_EXTRA=\"a b\"\n\
            RUN UV_INLINE='v' /opt/venv/bin/python /context/install.py\n\
            ENV UV_AFTER=1\n";
        let set = install_env(text, &wanted);
        let value = |v: &str| Some(v.to_owned());
        assert_eq!(
            set,
            vec![
                ("UV_EXTRA".to_owned(), value("a b")),
                ("UV_FROM_BASE".to_owned(), None),
                (
                    "UV_INDEX_URL".to_owned(),
                    value("https://example.org/simple")
                ),
                ("UV_INLINE".to_owned(), value("v")),
            ]
        );
        assert!(install_env("FROM python:3.10-slim\nENV UV_X=1\n", &wanted).is_empty());
    }

    /// The template matches its service, and the integration tests (which run the real hadolint
    /// on it in `verify`) use what it renders today: `XTASK_BLESS=1` rewrites their copies.
    #[test]
    fn the_template_matches_its_service_and_is_what_the_tests_lint() {
        let rendered = rendered_templates();
        let names: Vec<&str> = rendered.iter().map(|(s, _, _)| s.folder_name()).collect();
        assert_eq!(names, ["media-service", "sts-service"]);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let python = std::fs::read_to_string(root.join("python/.python-version")).unwrap();
        for (service, text, data) in rendered {
            let rel = format!("python/deploy/{}/Dockerfile", service.folder_name());
            let uv = crate::env::tools::UV.version;
            let checked = Checked {
                python: Some(python.trim()),
                uv: Some(uv),
            };
            let found = problems(&service, &rel, &text, checked);
            assert_eq!(found, Vec::<String>::new());
            if std::env::var_os("XTASK_BLESS").is_some() {
                std::fs::write(&data, &text).unwrap();
            }
            let copy = std::fs::read_to_string(&data).unwrap_or_default();
            assert!(
                copy == text,
                "{} is not the template's Dockerfile for {}: run \
                 `XTASK_BLESS=1 cargo test --bin xtask template` and review the diff",
                data.display(),
                service.folder_name()
            );
        }
    }

    /// The committed media-service, its deployment as `deploy` says.
    fn media_service(edit: impl FnOnce(&mut crate::workspace::deploy::Deploy)) -> Package {
        let (mut service, _, _) = rendered_templates().swap_remove(0);
        edit(&mut service.deploy);
        service
    }

    /// The problems but the install's (see the test of [`install_problem`]).
    fn problems_of(service: &Package, text: &str) -> Vec<String> {
        problems(service, "D", text, Checked::default())
            .into_iter()
            .filter(|p| !p.contains("does not hold what the context's install.py installs"))
            .collect()
    }

    #[test]
    fn the_image_must_install_with_the_python_dist_checks_with() {
        let service = media_service(|_| {});
        let (_, template, _) = rendered_templates().remove(0);
        let with = |text: &str, python: &str| {
            let checked = Checked {
                python: Some(python),
                uv: None,
            };
            problems(&service, "D", text, checked)
        };
        assert_eq!(with(&template, "3.10"), Vec::<String>::new());
        assert_eq!(with(&template, "3.10.13"), Vec::<String>::new());
        // The build stage's image and venv (the final stage's image is its own case, below).
        let older = template.replacen("python:3.10-slim", "python:3.9-slim", 1);
        let older = older.replace("--python 3.10", "--python 3.9");
        let found = with(&older, "3.10");
        assert!(
            found.len() == 1
                && found[0].contains("installs with Python 3.9 (`uv venv --python 3.9`)")
                && found[0].contains("checks the deployable with Python 3.10"),
            "{found:?}"
        );
        // The venv from the base image's own Python: the image's tag tells it.
        let base_only = older.replace(
            "RUN uv venv --python 3.9 /opt/venv",
            "RUN uv venv /opt/venv",
        );
        let found = with(&base_only, "3.10");
        assert!(
            found.len() == 1 && found[0].contains("(the image python:3.9-slim"),
            "{found:?}"
        );
        assert!(with(&older.replace("--python 3.9", "--python=3.10"), "3.10").is_empty());
        assert!(with(&older.replace("--python 3.9", "--python cp310"), "3.10").is_empty());
        // A word with no minor version names nothing: the image's tag tells it.
        let major = with(&older.replace("--python 3.9", "--python python3"), "3.10");
        assert!(major[0].contains("(the image python:3.9-slim"), "{major:?}");
        // UV_PYTHON, which `uv venv` reads, from an ENV or on the line itself.
        let env = base_only.replace(
            "RUN uv venv /opt/venv",
            "ENV UV_PYTHON=3.10\nRUN uv venv /opt/venv",
        );
        assert_eq!(with(&env, "3.10"), Vec::<String>::new());
        let inline = base_only.replace(
            "RUN uv venv /opt/venv",
            "RUN UV_PYTHON=3.10 uv venv /opt/venv",
        );
        assert_eq!(with(&inline, "3.10"), Vec::<String>::new());
        // Another base image, no version named: not told.
        let cuda = base_only.replace("python:3.9-slim", "nvidia/cuda:12.4.1-runtime-ubuntu22.04");
        assert_eq!(with(&cuda, "3.10"), Vec::<String>::new());
        // The final stage on another Python: the venv copied in names its interpreter by
        // version, which that image lacks.
        let at = template.rfind("python:3.10-slim").unwrap();
        let mut final_other = template.clone();
        final_other.replace_range(at..at + "python:3.10-slim".len(), "python:3.11-slim");
        let found = with(&final_other, "3.10");
        assert!(
            found.len() == 1
                && found[0].contains("the image runs on python:3.11-slim, Python 3.11"),
            "{found:?}"
        );
        assert_eq!(version_numbers("cpython-3.10.13"), Some(vec![3, 10, 13]));
        assert_eq!(version_numbers("/usr/bin/python3.12"), Some(vec![3, 12]));
        assert_eq!(version_numbers("py311"), Some(vec![3, 11]));
        assert_eq!(version_numbers("python3"), None);
        assert_eq!(version_numbers("3"), None);
    }

    #[test]
    fn the_image_must_hold_what_install_py_installs() {
        let service = media_service(|_| {});
        let installs =
            |text: &str| install_problem(&service, "D", &dockerfile_parse::parse(text)).is_none();
        let tail = "ENTRYPOINT [\"media-service\"]\n";
        // In the final stage, or copied from a stage that runs it (by name or by number).
        assert!(installs(&format!(
            "FROM x\nRUN python /context/install.py\n{tail}"
        )));
        assert!(installs(&format!(
            "FROM x AS build\nRUN /opt/venv/bin/python /context/install.py\nFROM y\nCOPY --from=build /opt /opt\n{tail}"
        )));
        assert!(installs(&format!(
            "FROM x\nRUN python /context/install.py\nFROM y\nCOPY --from=0 /opt /opt\n{tail}"
        )));
        assert!(installs(&format!(
            "FROM x AS base\nRUN python /context/install.py\nFROM base AS app\nFROM app\n{tail}"
        )));
        // Nothing installed, another install, or a build stage the image does not copy from.
        assert!(!installs(&format!("FROM x\nUSER 1\n{tail}")));
        assert!(!installs(&format!(
            "FROM x\nRUN uv pip install --no-deps /context/wheels/*.whl\n{tail}"
        )));
        assert!(!installs(&format!(
            "FROM x AS build\nRUN python /context/install.py\nFROM y\nCOPY --from=uv /uv /uv\n{tail}"
        )));
        // From the installing stage, but not its venv (/opt/venv), or not to the same path (its
        // scripts name their Python by it).
        let copying = |copy: &str| {
            installs(&format!(
                "FROM x AS build\nRUN uv venv /opt/venv\nRUN /opt/venv/bin/python /context/install.py\n\
                 FROM y\n{copy}\n{tail}"
            ))
        };
        assert!(copying("COPY --from=build /opt/venv /opt/venv"));
        assert!(copying("COPY --from=build /opt/ /opt/"));
        assert!(copying("COPY --from=build / /"));
        assert!(!copying("COPY --from=build /etc/hostname /etc/hostname"));
        assert!(!copying("COPY --from=build /opt/venv /app/venv"));
        assert!(!copying("COPY --from=build /opt/ven /opt/ven"));
        // Installed into the system's Python of the build stage, copied as its prefix's
        // folders: which of them hold the install is not told (no venv made).
        assert!(installs(&format!(
            "FROM x AS build\nRUN /usr/local/bin/python /context/install.py\nFROM y\n\
             COPY --from=build /usr/local/lib/python3.10/site-packages /usr/local/lib/python3.10/site-packages\n\
             COPY --from=build /usr/local/bin /usr/local/bin\n{tail}"
        )));
    }

    /// A `RUN` after the install that removes or moves files in its venv (in the image, or in
    /// the stage whose venv it copies) fails, naming its line; other `RUN`s after it do not.
    #[test]
    fn the_image_must_keep_what_install_py_installed() {
        let service = media_service(|_| {});
        let tail = "ENTRYPOINT [\"media-service\"]\n";
        let problem = |text: &str| install_problem(&service, "D", &dockerfile_parse::parse(text));
        let install = "RUN uv venv /opt/venv\nRUN /opt/venv/bin/python /context/install.py\n";
        let one = |after: &str| problem(&format!("FROM x\n{install}{after}\n{tail}"));
        let two = |build: &str, image: &str| {
            problem(&format!(
                "FROM x AS build\n{install}{build}\nFROM y\nCOPY --from=build /opt /opt\n\
                 {image}\n{tail}"
            ))
        };
        let trim = "RUN rm -rf /opt/venv/lib/python3.10/site-packages/dubbing_common";
        // The venv named in quotes.
        let quoted = format!(
            "FROM x\nRUN uv venv --python 3.10 \"/opt/venv\"\n\
             RUN /opt/venv/bin/python /context/install.py\n{trim}\n{tail}"
        );
        assert!(problem(&quoted).is_some());
        let found = one(trim).unwrap_or_default();
        assert!(
            found.starts_with("D:4: RUN, after the install, removes or moves files in /opt/venv/")
                && found.contains("cargo xtask remove media-service NAME"),
            "{found}"
        );
        for changer in [
            "RUN find /opt/venv -name tests -type d -exec rm -rf {} +",
            "RUN rm -rf /opt",
            "RUN mv /opt/venv /opt/old",
            // Relative, from a working folder reached through `..`.
            "WORKDIR /app\nWORKDIR ../opt\nRUN rm -rf venv",
        ] {
            assert!(one(changer).is_some(), "{changer}");
            assert!(two("", changer).is_some(), "{changer}");
            assert!(two(changer, "").is_some(), "{changer}");
        }
        for other in [
            "RUN useradd --system app",
            "RUN rm -rf /var/lib/apt/lists/*",
            "RUN rm -rf /opt/venv-old",
            "",
        ] {
            assert_eq!(one(other), None, "{other}");
            assert_eq!(two(other, other), None, "{other}");
        }
        // The install's own RUN, chained after it; a command that only names the venv.
        let chained = format!(
            "FROM x\nRUN uv venv /opt/venv\nRUN /opt/venv/bin/python /context/install.py && {}\n{tail}",
            trim.trim_start_matches("RUN ")
        );
        assert!(
            problem(&chained)
                .unwrap_or_default()
                .starts_with("D:3: RUN, after")
        );
        let cleanup = "RUN rm -rf /var/lib/apt/lists/* && chown -R app /opt/venv";
        assert_eq!(two(cleanup, cleanup), None);
        // A stage that installs and trims, which the image does not copy from.
        let unused = format!(
            "FROM x AS build\n{install}FROM build AS test\n{trim}\nFROM y\n\
             COPY --from=build /opt /opt\n{tail}"
        );
        assert_eq!(problem(&unused), None);
        // Before the copy, in the image: the copy comes after it.
        let before = format!(
            "FROM x AS build\n{install}FROM y\n{trim}\nCOPY --from=build /opt /opt\n{tail}"
        );
        assert_eq!(problem(&before), None);
    }

    /// `install.py` must find the lock and every wheel beside it where the copies put them.
    #[test]
    fn install_py_must_find_the_lock_and_every_wheel_beside_it() {
        let found = |copies: &str| {
            let text = format!("FROM x\n{copies}RUN /opt/venv/bin/python /context/install.py\n");
            context_problems("D", &dockerfile_parse::parse(&text))
        };
        for ok in [
            "COPY requirements.txt install.py /context/\nCOPY wheels/ /context/wheels/\n",
            "COPY . /context\n",
            "WORKDIR /context\nCOPY . .\n",
            "COPY install.py requirements.txt /context/\nCOPY wheels/*.whl /context/wheels/\n",
        ] {
            assert_eq!(found(ok), Vec::<String>::new(), "{ok}");
        }
        let named = found(
            "COPY requirements.txt install.py /context/\nCOPY wheels/media_service-0.1.0-py3-none-any.whl /context/wheels/\n",
        );
        assert_eq!(named.len(), 1, "{named:?}");
        assert!(
            named[0].starts_with("D:4: RUN install.py: `docker build` would not find wheels/ (whole) beside it in /context/"),
            "{named:?}"
        );
        // A folder's contents go into the destination: the wheels land beside install.py.
        let flat = found("COPY requirements.txt install.py /context/\nCOPY wheels /context/\n");
        assert!(flat[0].contains("wheels/ (whole)"), "{flat:?}");
        let apart = found("COPY install.py /context/\nCOPY requirements.txt wheels/ /other/\n");
        assert!(
            apart[0].contains("requirements.txt, wheels/ (whole)"),
            "{apart:?}"
        );
        // Whatever the RUN's words around the script: read, never skipped.
        let of = |text: &str| context_problems("D", &dockerfile_parse::parse(text));
        let good =
            "FROM x\nCOPY requirements.txt install.py /context/\nCOPY wheels/ /context/wheels/\n";
        let named = "FROM x\nCOPY requirements.txt install.py /context/\nCOPY wheels/a_lib-0.1.0-py3-none-any.whl /context/wheels/\n";
        for run in [
            "RUN /opt/venv/bin/python /context/install.py;\n",
            "RUN (cd /context && python install.py)\n",
            "RUN [\"sh\", \"-c\", \"python /context/install.py\"]\n",
            "RUN cd /context&&python install.py&&echo ok\n",
            "RUN python /context/install.py && cp /context/install.py /backup/install.py\n",
            "RUN <<EOT\nset -e\n/opt/venv/bin/python /context/install.py\nEOT\n",
        ] {
            assert_eq!(of(&format!("{good}{run}")), Vec::<String>::new(), "{run}");
            assert_eq!(of(&format!("{named}{run}")).len(), 1, "{run}");
        }
        let unread = of(&format!(
            "{good}RUN python -m runner --script=/context/install.py\n"
        ));
        assert!(unread[0].contains("cannot be told"), "{unread:?}");
        // Sources that take some wheels only; a mount that hides the copies.
        for copies in [
            "COPY wheels/a* /context/wheels/\n",
            "COPY wheels/*-none-any.whl /context/wheels/\n",
            // An exclusion is matched inside the source folder: every wheel.
            "COPY --exclude=*.whl wheels/ /context/wheels/\n",
            "COPY --exclude=*manylinux* wheels/ /context/wheels/\n",
            // A cache mounted over the wheels, whichever order the mounts are written in.
            "RUN --mount=type=cache,target=/context/wheels --mount=type=bind,target=/context true\n",
        ] {
            let text = format!(
                "FROM x\nCOPY requirements.txt install.py /context/\n{copies}RUN python /context/install.py\n"
            );
            let mounted = text.replace("true\nRUN python", "python");
            let text = if copies.starts_with("RUN") {
                &mounted
            } else {
                &text
            };
            assert!(
                of(text)[0].contains("wheels/ (whole)"),
                "{copies}: {:?}",
                of(text)
            );
        }
        // From the context's root, `wheels/*.whl` names nothing inside `wheels/`.
        let kept = of(
            "FROM x\nCOPY requirements.txt install.py /context/\nCOPY --exclude=wheels/*.whl wheels/ /context/wheels/\nRUN python /context/install.py\n",
        );
        assert_eq!(kept, Vec::<String>::new());
        // What this reading does not follow, said so: --parents, a character class, several
        // sources into a destination without `/`.
        for copies in [
            "COPY --parents wheels/ /context/wheels/\n",
            "COPY wheels/[!.]* /context/wheels/\n",
            "COPY requirements.txt install.py /context\n",
        ] {
            let text = format!(
                "FROM x\n{copies}COPY wheels/ /context/wheels/\nRUN python /context/install.py\n"
            );
            assert!(
                of(&text)[0].contains("cannot be told"),
                "{copies}: {:?}",
                of(&text)
            );
        }
        let hidden = of(
            "FROM x\nCOPY . /context/\nRUN --mount=type=cache,target=/context python /context/install.py\n",
        );
        assert!(
            hidden[0].contains("install.py, requirements.txt, wheels/"),
            "{hidden:?}"
        );
        // A file copied into a folder that is there (a WORKDIR, `.`, or one a copy made) goes
        // in by its name; quotes around a source are the shell form's.
        for ok in [
            "FROM x\nWORKDIR /context\nCOPY requirements.txt .\nCOPY install.py .\nCOPY wheels wheels\nRUN /opt/venv/bin/python install.py\n",
            "FROM x\nCOPY requirements.txt /context/\nCOPY \"install.py\" /context\nCOPY wheels /context/wheels\nRUN python /context/install.py\n",
        ] {
            assert_eq!(of(ok), Vec::<String>::new(), "{ok}");
        }
        // What an earlier stage holds of the context, copied from it by name or number.
        for ok in [
            "FROM scratch AS ctx\nCOPY . /context\nFROM x\nCOPY --from=ctx /context /context\nRUN python /context/install.py\n",
            "FROM scratch\nCOPY . /c\nFROM x\nCOPY --from=0 /c/ /context/\nRUN python /context/install.py\n",
        ] {
            assert_eq!(of(ok), Vec::<String>::new(), "{ok}");
        }
        let part = of(
            "FROM scratch AS ctx\nCOPY install.py requirements.txt /context/\nFROM x\nCOPY --from=ctx /context /context\nRUN python /context/install.py\n",
        );
        assert!(part[0].contains("wheels/ (whole)"), "{part:?}");
        // A RUN before it that removes or moves files there; a heredoc copied over the lock.
        let removed = of(&format!(
            "{good}RUN rm -rf /context/wheels\nRUN python /context/install.py\n"
        ));
        let exec_form = of(&format!(
            "{good}RUN [\"rm\", \"-rf\", \"/context/wheels\"]\nRUN python /context/install.py\n"
        ));
        assert!(
            exec_form[0].contains("removes or moves files in /context/"),
            "{exec_form:?}"
        );
        assert!(
            removed[0].contains(
                "cannot be told (line 4, before it, removes or moves files in /context/)"
            ),
            "{removed:?}"
        );
        let made = of(&format!(
            "{good}RUN mkdir -p /context/more\nRUN python /context/install.py\n"
        ));
        assert_eq!(made, Vec::<String>::new());
        let heredoc = of(&format!(
            "{good}COPY <<EOT /context/requirements.txt\nEOT\nRUN python /context/install.py\n"
        ));
        assert!(
            heredoc[0].contains("would not find requirements.txt"),
            "{heredoc:?}"
        );
        // The base image's WORKDIR cannot be told: a relative RUN never finds an absolute copy
        // (a relative copy, yes); an ONBUILD of the stage a RUN's stage is made from is not read.
        let relative = of(&format!("{good}RUN python context/install.py\n"));
        assert!(
            relative[0].contains("beside it in /<the WORKDIR of x>/context/ (a relative path is read from the base image's WORKDIR"),
            "{relative:?}"
        );
        let both = of("FROM x\nCOPY . ctx/\nRUN python ctx/install.py\n");
        assert_eq!(both, Vec::<String>::new());
        // `scratch` starts at `/`, another image at its own WORKDIR: they do not meet.
        let two = of(
            "FROM scratch AS ctx\nCOPY . context/\nFROM x\nCOPY --from=ctx / /\nRUN python context/install.py\n",
        );
        assert!(two[0].contains("would not find install.py"), "{two:?}");
        let root = of(
            "FROM scratch AS ctx\nCOPY . context/\nFROM x\nCOPY --from=ctx / /\nRUN python /context/install.py\n",
        );
        assert_eq!(root, Vec::<String>::new());
        // As a user other than root: whether it may write the venv cannot be told.
        let user = of(&format!(
            "FROM x\nUSER 10001\n{}RUN python /context/install.py\n",
            &good["FROM x\n".len()..]
        ));
        assert!(
            user[0].starts_with("D:5: RUN install.py: it runs as USER 10001 (line 2)"),
            "{user:?}"
        );
        let root_user = of(&format!(
            "FROM x\nUSER 10001\nUSER root:root\n{}RUN python /context/install.py\n",
            &good["FROM x\n".len()..]
        ));
        assert_eq!(root_user, Vec::<String>::new());
        let onbuild = of(&format!(
            "FROM x AS base\nONBUILD WORKDIR /w\nFROM base\n{}RUN python /context/install.py\n",
            &good["FROM x\n".len()..]
        ));
        assert!(
            onbuild[0].contains("cannot be told (line 2: ONBUILD instructions run in the stages"),
            "{onbuild:?}"
        );
        // A bind mount from a stage that holds the context's files serves its RUN too.
        let from_stage = of(
            "FROM scratch AS ctx\nCOPY . /c/\nFROM x\nRUN --mount=type=bind,from=ctx,source=/c,target=/context python /context/install.py\n",
        );
        assert_eq!(from_stage, Vec::<String>::new());
        let from_part = of(
            "FROM scratch AS ctx\nCOPY install.py requirements.txt /c/\nFROM x\nRUN --mount=type=bind,from=ctx,source=/c,target=/context python /context/install.py\n",
        );
        assert!(from_part[0].contains("wheels/ (whole)"), "{from_part:?}");
        // A bind mount of the context serves its RUN.
        let text = "FROM x\nRUN --mount=type=bind,target=/context /opt/venv/bin/python /context/install.py\n";
        assert_eq!(
            context_problems("D", &dockerfile_parse::parse(text)),
            Vec::<String>::new()
        );
    }

    /// Paths named by the file's ARG and ENV are read where they lead, as `docker build` puts
    /// them; a name the file does not set cannot be told, never taken as found.
    #[test]
    fn paths_are_read_with_the_files_args_and_envs() {
        let service = media_service(|_| {});
        let with = |copies: &str, run: &str| {
            problems_of(
                &service,
                &format!(
                    "ARG BASE=python:3.12-slim\nFROM $BASE AS build\nARG CTX=/context\n\
                     ENV APP=${{CTX}}/app\n{copies}RUN /opt/venv/bin/python {run}\n\
                     ENV PATH=/opt/venv/bin:$PATH\nENTRYPOINT [\"media-service\"]\n"
                ),
            )
        };
        let copies = "COPY requirements.txt install.py $APP/\nCOPY wheels/ ${APP}/wheels/\n";
        assert_eq!(with(copies, "$APP/install.py"), Vec::<String>::new());
        assert_eq!(
            with(copies, "/context/app/install.py"),
            Vec::<String>::new()
        );
        // The RUN where the variables do not lead: the copies are elsewhere.
        let elsewhere = with(copies, "/context/install.py");
        assert!(
            elsewhere[0].starts_with("D:7: RUN install.py: `docker build` would not find install.py, requirements.txt, wheels/ (whole) beside it in /context/"),
            "{elsewhere:?}"
        );
        let apart = with(
            "COPY requirements.txt install.py $APP/\nCOPY wheels/ ${CTX}/wheels/\n",
            "$APP/install.py",
        );
        assert!(apart[0].contains("wheels/ (whole)"), "{apart:?}");
        // A name no ARG or ENV of the file sets (the base image's, or a typo).
        let unset = with(copies, "$APPDIR/install.py");
        assert!(unset[0].contains("cannot be told"), "{unset:?}");
        let from = with("COPY --from=$CTX / /c/\n", "/c/install.py");
        assert!(
            from[0].starts_with("D:5: COPY --from=$CTX: BuildKit expands no variable in --from"),
            "{from:?}"
        );
        // A global ARG the stage did not declare again: said so, with the fix.
        let global = problems_of(
            &service,
            "ARG APP_DIR=/context\nFROM x\nCOPY . $APP_DIR/\nRUN python $APP_DIR/install.py\n\
             ENTRYPOINT [\"media-service\"]\n",
        );
        assert!(
            global[0].ends_with("(ARG APP_DIR before the first FROM is seen in a stage only once the stage declares it again: add `ARG APP_DIR` to the stage)"),
            "{global:?}"
        );
        // Not for a name a stage declares again, nor one that only begins another.
        let declared = problems_of(
            &service,
            "ARG APP_DIR=/context\nARG APP=1\nFROM x\nARG APP_DIR\nCOPY . ${APP_DIRS}/\nRUN APP_DIR=/e python $APP_DIR/install.py\n\
             ENTRYPOINT [\"media-service\"]\n",
        );
        assert!(
            declared[0].contains("cannot be told") && !declared[0].contains("add `ARG"),
            "{declared:?}"
        );
        let source = with("COPY $WHEELS /c/\n", "/c/install.py");
        assert!(
            source[0].contains("COPY $WHEELS: it names a variable that no ARG or ENV"),
            "{source:?}"
        );
    }

    #[test]
    fn the_image_must_take_the_uv_dist_checks_with() {
        let service = media_service(|_| {});
        let (_, template, _) = rendered_templates().remove(0);
        let uv = crate::env::tools::UV.version;
        let checked = Checked {
            python: None,
            uv: Some(uv),
        };
        let of = |text: &str| problems(&service, "D", text, checked);
        assert_eq!(of(&template), Vec::<String>::new());
        let pinned = format!("{UV_IMAGE}{uv}");
        for other in ["ghcr.io/astral-sh/uv:latest", "ghcr.io/astral-sh/uv:0.4.30"] {
            let found = of(&template.replace(&pinned, other));
            assert!(
                found.len() == 1 && found[0].contains(&format!("takes uv from {other}")),
                "{found:?}"
            );
        }
        let copied = template
            .replace(&format!("FROM {pinned} AS uv\n"), "")
            .replace(
                "COPY --from=uv /uv",
                "COPY --from=ghcr.io/astral-sh/uv:0.4 /uv",
            );
        assert!(of(&copied)[0].contains("takes uv from ghcr.io/astral-sh/uv:0.4,"));
        let digest = template.replace(&pinned, &format!("{pinned}@sha256:{}", "0".repeat(64)));
        assert_eq!(of(&digest), Vec::<String>::new());
    }

    #[test]
    fn the_command_must_be_found_where_install_py_puts_it() {
        let service = media_service(|_| {});
        let (_, template, _) = rendered_templates().remove(0);
        let with = |from: &str, to: &str| {
            let text = template.replace(from, to);
            assert_ne!(text, template, "{from}");
            problems_of(&service, &text)
        };
        assert_eq!(problems_of(&service, &template), Vec::<String>::new());
        let no_path = with("ENV PATH=/opt/venv/bin:$PATH \\\n    ", "ENV ");
        assert!(
            no_path.len() == 1
                && no_path[0].contains(
                    "runs `media-service` by name, but the image's PATH lacks /opt/venv/bin"
                ),
            "{no_path:?}"
        );
        let elsewhere = with("[\"media-service\"]", "[\"/usr/local/bin/media-service\"]");
        assert!(
            elsewhere.len() == 1
                && elsewhere[0].contains("install.py puts the service's command in /opt/venv/bin/"),
            "{elsewhere:?}"
        );
        let absolute = with("[\"media-service\"]", "[\"/opt/venv/bin/media-service\"]");
        assert_eq!(absolute, Vec::<String>::new());
        let other_path = with(
            "ENV PATH=/opt/venv/bin:$PATH",
            "ENV PATH=/usr/local/bin:$PATH",
        );
        assert!(
            other_path[0].contains("its ENV PATH is /usr/local/bin:$PATH"),
            "{other_path:?}"
        );
        // Read with its variables, and through later ENV PATHs that add to it.
        let virtual_env = with(
            "ENV PATH=/opt/venv/bin:$PATH",
            "ENV VIRTUAL_ENV=/opt/venv\nENV PATH=\"${VIRTUAL_ENV}/bin:$PATH\"",
        );
        assert_eq!(virtual_env, Vec::<String>::new());
        let added = with(
            "USER 10001",
            "ENV PATH=/home/app/.local/bin:$PATH\nUSER 10001",
        );
        assert_eq!(added, Vec::<String>::new());
        // A name that cannot be told: not told.
        let unknown = with(
            "ENV PATH=/opt/venv/bin:$PATH",
            "ENV PATH=$APP_HOME/bin:$PATH",
        );
        assert_eq!(unknown, Vec::<String>::new());
    }

    #[test]
    fn the_last_entrypoint_else_cmd_must_run_the_declared_command_in_exec_form() {
        let service = media_service(|_| {});
        let ok = [
            "FROM x\nENTRYPOINT [\"media-service\", \"--serve\"]\n",
            "FROM x\nENTRYPOINT [\"/opt/venv/bin/media-service\"]\n",
            "FROM x\nENTRYPOINT [\"other\"]\nFROM y\nCMD [\"other\"]\nENTRYPOINT [\"media-service\"]\n",
            "FROM x\nCMD [\"media-service\"]\n",
        ];
        for text in ok {
            assert_eq!(problems_of(&service, text), Vec::<String>::new(), "{text}");
        }
        let shell = problems_of(&service, "FROM x\nENTRYPOINT media-service --serve\n");
        assert_eq!(shell.len(), 1);
        assert!(
            shell[0].starts_with("D:2: ENTRYPOINT media-service --serve is in shell form"),
            "{shell:?}"
        );
        let none = problems_of(&service, "FROM x\n");
        assert!(none[0].starts_with("D: no ENTRYPOINT or CMD"), "{none:?}");
        // One in a build stage is not the image's; one in the stage the final one starts from is.
        let build_stage = problems_of(
            &service,
            "FROM x AS build\nENTRYPOINT [\"media-service\"]\nFROM y\nUSER 1\n",
        );
        assert!(
            build_stage[0].starts_with("D: no ENTRYPOINT or CMD"),
            "{build_stage:?}"
        );
        let inherited = "FROM x AS base\nENTRYPOINT [\"media-service\"]\nFROM base AS app\nUSER 1\nFROM --platform=linux/amd64 app\nUSER 2\n";
        assert_eq!(problems_of(&service, inherited), Vec::<String>::new());
        let wrong = problems_of(
            &service,
            "FROM x\nENTRYPOINT [\"a\"]\nCMD [\"media-service\"]\n",
        );
        assert!(
            wrong[0].starts_with("D:2: ENTRYPOINT runs `a`"),
            "{wrong:?}"
        );

        let declared = media_service(|d| d.command = vec!["media-serve".into(), "-x".into()]);
        let wrong = problems_of(&declared, "FROM x\nENTRYPOINT [\"media-service\"]\n");
        assert!(
            wrong[0].contains("([tool.xtask.dist] command = [\"media-serve\", \"-x\"] at "),
            "{wrong:?}"
        );
        let two = media_service(|d| d.scripts = vec!["a".into(), "b".into()]);
        let undeclared = problems_of(&two, "FROM x\nENTRYPOINT [\"a\"]\n");
        assert!(
            undeclared[0].contains("declares no command for its image to run ([project.scripts] in python/apps/media-service/pyproject.toml: `a`, `b`)"),
            "{undeclared:?}"
        );
    }

    #[test]
    fn copies_from_another_stage_a_url_or_a_heredoc_are_not_the_context_s() {
        let service = media_service(|_| {});
        let text = "FROM x AS b\nCOPY --from=b /opt /opt\nADD https://example.com/a.tgz /a\nCOPY <<EOF /etc/x\nsrc\nEOF\nCOPY --chown=1:1 wheels/ install.py /c/\nCOPY src pyproject.toml /c/\nENTRYPOINT [\"media-service\"]\n";
        let found = problems_of(&service, text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("D:8: COPY src: `src` is not in the build context"));
        assert!(found[1].starts_with("D:8: COPY pyproject.toml: `pyproject.toml` is not in"));
    }

    #[test]
    fn a_source_must_name_an_entry_of_the_context() {
        for ok in [
            "requirements.txt",
            "./install.py",
            "wheels/",
            "wheels/*.whl",
            "/wheels",
            "requirements*.txt",
            ".",
            "manifest.json",
        ] {
            assert_eq!(source_problem(ok), None, "{ok}");
        }
        assert_eq!(
            source_problem("src/"),
            Some("`src` is not in the build context".into())
        );
        assert_eq!(
            source_problem("wheels/../src"),
            Some("it reaches outside the build context".into())
        );
        assert!(source_problem("$APP/x").unwrap().contains("variable"));
        assert!(source_problem("pyproject.toml").is_some());
    }
}
