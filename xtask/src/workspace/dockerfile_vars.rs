//! A Dockerfile's variables, substituted as BuildKit does before the deploy check reads the
//! paths: in `FROM`, `COPY`, `ADD`, `WORKDIR`, a `RUN`'s `--mount` options (the builder's own
//! substitution), and a shell-form `RUN`'s command (where the shell expands the same variables,
//! which the builder puts in its environment). So `ARG APP=/app` then `COPY . $APP/` is read as
//! `COPY . /app/`, and a path a variable moves is checked where it really is.
//!
//! The rules followed (BuildKit's `dockerfile2llb/convert.go` and `shell/lex.go`): `ARG NAME=v`
//! and `ENV NAME=v` both set the stage's environment, the later one winning (BuildKit adds an
//! `ARG`'s value as `ENV` does); an `ARG` without a value takes the value of the `ARG` of that
//! name before the first `FROM`, else sets nothing; the pairs of one `ENV` all see the values
//! from before it, those of one `ARG` each the one before; a stage made `FROM` an earlier one
//! starts from that stage's environment; `FROM` lines see the `ARG`s before the first `FROM`.
//! `$NAME`, `${NAME}` and `${NAME:-word}` (`-`, `:+`, `+`, `:?`, `?`; `word` nested) are read;
//! a name is letters (any alphabet), digits and `_`; nothing is expanded inside single quotes or
//! after the escape character; an `ENV` or `ARG` value loses its quotes. The `docker build`
//! command that `dist` prints passes no `--build-arg`, so an `ARG` is its default.
//!
//! What cannot be told is left as written, and the check then says so rather than guess: a name
//! the file does not set (the base image's, BuildKit's platform arguments `TARGETARCH` and the
//! rest), another form (`${NAME#prefix}`, `$1`, `$$`), a value holding a blank or a quote (our
//! reading splits words at blanks), an exec-form `RUN`'s command (no shell reads it), a `RUN`
//! after a `SHELL` other than a plain POSIX one (`["/bin/bash", "-o", "pipefail", "-c"]` is
//! one; a login shell, an interactive one or PowerShell is not) or after an `ENV` of `BASH_ENV`
//! or `ENV` (a file the shell reads first), a name a `RUN` assigns itself (`NAME=...`,
//! `${NAME:=...}`, `for NAME`, a secret mount's `env=NAME`), and every name in a `RUN` that
//! sources, evaluates or sets names from data (`.`, `source`, `eval`, `export`, `read`,
//! `declare`, `printf -v`, ...). `COPY --from=` is never expanded (BuildKit refuses a variable
//! there), nor are `COPY`'s other flags. A stage is matched by its name as written: `FROM Build`
//! is an image to BuildKit, which lower-cases only the `AS` name.

use std::collections::HashMap;

use crate::workspace::dockerfile_parse::{self, Instruction};

/// A stage's environment as far as it can be told: None for a name set to what cannot be.
type Env = HashMap<String, Option<String>>;

/// What a stage has set so far: its environment, and whether its `RUN`s still run in a POSIX
/// shell that reads nothing first (a `SHELL` of another kind, or an `ENV` of `BASH_ENV` or
/// `ENV`, whose file the shell reads first, makes a command's expansion something this reading
/// does not follow).
#[derive(Clone, Default)]
struct Stage {
    name: Option<String>,
    env: Env,
    custom_shell: bool,
}

/// The instructions with the variables that can be told substituted; lines and keywords kept.
/// `escape`: the file's escape character (`dockerfile_parse::escape_char`).
pub fn substituted(instructions: Vec<Instruction>, escape: char) -> Vec<Instruction> {
    let mut global: Env = Env::new();
    let mut stages: Vec<Stage> = Vec::new();
    let mut out = Vec::with_capacity(instructions.len());
    for mut instruction in instructions {
        let keyword = instruction.keyword.as_str();
        if keyword == "FROM" {
            instruction.args = expand(&instruction.args, &global, escape, &|_| true);
            let mut stage = base_stage(&instruction.args, &stages);
            stage.name = dockerfile_parse::from_line(&instruction.args).1;
            stages.push(stage);
        } else if keyword == "ARG" {
            let outer = global.clone();
            let env = match stages.last_mut() {
                Some(stage) => &mut stage.env,
                None => &mut global,
            };
            declare_args(&instruction.args, env, &outer, escape);
        } else if let Some(stage) = stages.last_mut() {
            instruction.args = substitute(keyword, &instruction.args, stage, escape);
        }
        out.push(instruction);
    }
    out
}

/// The value `name` holds after the `ARG`s and `ENV`s of `image` (one image's instructions in
/// order, as a stage's chain lists them, from [`substituted`]), where `base` stands for the
/// value the base image gives it (`$PATH` before any `ENV PATH`); None when it cannot be told.
pub fn value_after(image: &[&Instruction], name: &str, base: &str, escape: char) -> Option<String> {
    let mut env = Env::new();
    env.insert(name.to_owned(), Some(base.to_owned()));
    env_after(image, env, escape).get(name).cloned().flatten()
}

/// Every name the `ARG`s and `ENV`s of `image` (as for [`value_after`]) set, with the value it
/// holds after them (None when it cannot be told), sorted by name.
pub fn set_after(image: &[&Instruction], escape: char) -> Vec<(String, Option<String>)> {
    let mut set: Vec<_> = env_after(image, Env::new(), escape).into_iter().collect();
    set.sort();
    set
}

/// `env` after the `ARG`s and `ENV`s of `image`.
fn env_after(image: &[&Instruction], mut env: Env, escape: char) -> Env {
    for instruction in image {
        match instruction.keyword.as_str() {
            "ARG" => declare_args(&instruction.args, &mut env, &Env::new(), escape),
            "ENV" => {
                let values = env_values(&instruction.args, &env, escape);
                env.extend(values);
            }
            _ => {}
        }
    }
    env
}

/// An instruction's arguments after substitution; an `ENV`'s values set.
fn substitute(keyword: &str, args: &str, stage: &mut Stage, escape: char) -> String {
    let all = |_: &str| true;
    match keyword {
        "SHELL" => {
            stage.custom_shell = !posix_shell(args);
            args.to_owned()
        }
        "WORKDIR" => expand(args, &stage.env, escape, &all),
        "COPY" | "ADD" => {
            let (_, rest) = dockerfile_parse::flags(args);
            let flags = &args[..args.len() - rest.len()];
            format!("{flags}{}", expand(rest, &stage.env, escape, &all))
        }
        "ENV" => {
            let pairs = env_values(args, &stage.env, escape);
            // bash reads BASH_ENV's file (sh, ENV's) before the command: it may set anything.
            stage.custom_shell |= pairs.iter().any(|(n, _)| n == "BASH_ENV" || n == "ENV");
            stage.env.extend(pairs);
            args.to_owned()
        }
        "RUN" => {
            let (flags, command) = dockerfile_parse::flags(args);
            let options = expand(
                &args[..args.len() - command.len()],
                &stage.env,
                escape,
                &all,
            );
            if stage.custom_shell || dockerfile_parse::exec_form(command).is_some() {
                return format!("{options}{command}");
            }
            let sets = ShellSets::of(command, &flags);
            let expanded = expand(command, &stage.env, escape, &|name| !sets.may_set(name));
            format!("{options}{expanded}")
        }
        _ => args.to_owned(),
    }
}

/// Whether a `SHELL` is a POSIX shell that expands a command as `sh -c` does and reads no file
/// first: `["/bin/bash", "-o", "pipefail", "-c"]` (hadolint's advice), not a login or
/// interactive one (`-l`, `-i`: profiles and rc files may set anything), nor PowerShell.
fn posix_shell(args: &str) -> bool {
    let Some(words) = dockerfile_parse::exec_form(args) else {
        return false;
    };
    let Some((shell, options)) = words.split_first() else {
        return false;
    };
    let name = shell.rsplit('/').next().unwrap_or(shell);
    matches!(name, "sh" | "bash" | "dash" | "ash")
        && options.last().is_some_and(|o| o == "-c")
        && options.iter().all(|o| match o.strip_prefix("--") {
            Some(long) => matches!(long, "noprofile" | "norc" | "posix"),
            None => !(o.starts_with('-') && o.contains(['l', 'i'])),
        })
}

/// The names a shell command may set before it reads them, as far as its words tell: then the
/// builder's value is not what the command sees, and it cannot be told.
enum ShellSets {
    /// A command that sources or evaluates code, or sets names from data (`.`, `source`,
    /// `eval`, `export`, `read`, `declare`, `printf -v`, ...): any name.
    Any,
    /// The names it assigns (`NAME=...`, `NAME+=...`, `${NAME:=...}`, `for NAME in`) and those a
    /// secret mount sets (`--mount=type=secret,env=NAME`).
    Names(Vec<String>),
}

impl ShellSets {
    fn of(command: &str, flags: &[&str]) -> ShellSets {
        const SETS_ANY: &[&str] = &[
            ".",
            "source",
            "eval",
            "export",
            "read",
            "declare",
            "typeset",
            "local",
            "readonly",
            "mapfile",
            "readarray",
            "getopts",
            "let",
            "unset",
            "alias",
            "exec",
        ];
        let words: Vec<&str> = command
            .split(|c: char| c.is_whitespace() || ";&|(){}`".contains(c))
            .filter(|w| !w.is_empty())
            .collect();
        let printf_v = words.windows(2).any(|w| w == ["printf", "-v"]);
        if printf_v || words.iter().any(|w| SETS_ANY.contains(w)) {
            return ShellSets::Any;
        }
        let mut names: Vec<String> = words.iter().filter_map(|w| assigned(w)).collect();
        names.extend(
            words
                .windows(2)
                .filter(|w| w[0] == "for")
                .map(|w| w[1].to_owned()),
        );
        for (at, _) in command.match_indices("${") {
            let inside = &command[at + 2..];
            let name = &inside[..name_len(inside)];
            let rest = &inside[name.len()..];
            if rest.starts_with(":=") || rest.starts_with('=') {
                names.push(name.to_owned());
            }
        }
        for flag in flags.iter().filter(|f| f.starts_with("mount=")) {
            names.extend(
                flag.split(',')
                    .filter_map(|o| o.strip_prefix("env="))
                    .map(str::to_owned),
            );
        }
        ShellSets::Names(names)
    }

    fn may_set(&self, name: &str) -> bool {
        match self {
            ShellSets::Any => true,
            ShellSets::Names(names) => names.iter().any(|n| n == name),
        }
    }
}

/// The name a word assigns (`NAME=value`, `NAME+=value`), if it is an assignment.
fn assigned(word: &str) -> Option<String> {
    let name = &word[..name_len(word)];
    let rest = &word[name.len()..];
    (!name.is_empty() && (rest.starts_with('=') || rest.starts_with("+="))).then(|| name.to_owned())
}

/// `ARG NAME[=default] ...`: each set in `env` in turn; a bare one takes the value of the `ARG`
/// before the first `FROM` (`outer`), else sets nothing.
fn declare_args(args: &str, env: &mut Env, outer: &Env, escape: char) {
    for word in words(args, escape) {
        match word.split_once('=') {
            Some((name, value)) => {
                let value = value_of(value, env, escape);
                env.insert(name.to_owned(), value);
            }
            None => {
                if let Some(value) = outer.get(&word) {
                    env.insert(word, value.clone());
                }
            }
        }
    }
}

/// The earlier stage a `FROM` starts from, as it ended; a new one for another image (whose
/// environment cannot be told, so its names stay unknown).
fn base_stage(from: &str, stages: &[Stage]) -> Stage {
    let (base, _) = dockerfile_parse::from_line(from);
    stages
        .iter()
        .rev()
        .find(|stage| stage.name.as_deref() == Some(base))
        .cloned()
        .unwrap_or_default()
}

/// An `ENV`'s names with their values as the builder keeps them: every value of one `ENV` sees
/// the variables from before it (`env`), not those it sets itself.
fn env_values(args: &str, env: &Env, escape: char) -> Vec<(String, Option<String>)> {
    env_pairs(args, escape)
        .into_iter()
        .map(|(name, value)| (name, value_of(&value, env, escape)))
        .collect()
}

/// `ENV a=1 b="x y"` (or the older `ENV a value with spaces`): its names and values as written.
fn env_pairs(args: &str, escape: char) -> Vec<(String, String)> {
    let words = words(args, escape);
    if words.first().is_some_and(|w| !w.contains('=')) {
        let (name, value) = args
            .trim()
            .split_once(char::is_whitespace)
            .unwrap_or((args, ""));
        return vec![(name.to_owned(), value.trim().to_owned())];
    }
    words
        .iter()
        .filter_map(|w| w.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// The words of an `ARG`'s or `ENV`'s arguments: split at blanks outside quotes, quotes and
/// escapes kept (an escaped quote or blank is part of its word).
fn words(args: &str, escape: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut chars = args.chars();
    while let Some(c) = chars.next() {
        if c == escape && quote != Some('\'') {
            word.push(c);
            word.extend(chars.next());
            continue;
        }
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                continue;
            }
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        word.push(c);
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// An `ENV` or `ARG` value as the builder keeps it: quotes removed, variables expanded (none in
/// single quotes), escaped characters taken as they are. None when a variable in it cannot be
/// told.
fn value_of(word: &str, env: &Env, escape: char) -> Option<String> {
    let mut out = String::new();
    let mut rest = word;
    let (mut single, mut double) = (false, false);
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            c if c == escape && !single => {
                // Inside double quotes only `"`, `$` and the escape character are escaped.
                match rest.chars().next() {
                    Some(next) if !double || matches!(next, '"' | '$') || next == escape => {
                        out.push(next);
                        rest = &rest[next.len_utf8()..];
                    }
                    _ => out.push(c),
                }
            }
            '$' if !single => match variable(rest, env, escape) {
                Some((Some(value), len)) => {
                    out.push_str(&value);
                    rest = &rest[len..];
                }
                Some((None, _)) => return None,
                None => out.push('$'),
            },
            c => out.push(c),
        }
    }
    Some(out)
}

/// `text` with each variable that can be told (and that `may` allows) replaced by its value;
/// quotes, escapes and the rest as written.
fn expand(text: &str, env: &Env, escape: char, may: &dyn Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let (mut single, mut double) = (false, false);
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        out.push(c);
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            c if c == escape && !single => {
                // The escaped character as written: an escaped `$` stays a `$` the check sees.
                if let Some(next) = rest.chars().next() {
                    out.push(next);
                    rest = &rest[next.len_utf8()..];
                }
            }
            '$' if !single => {
                if let Some((Some(value), len)) = variable(rest, env, escape)
                    && names_in(&rest[..len]).into_iter().all(may)
                    && !value.contains(|c: char| c.is_whitespace() || "\"'$".contains(c))
                {
                    out.pop();
                    out.push_str(&value);
                    rest = &rest[len..];
                }
            }
            _ => {}
        }
    }
    out
}

/// The names a variable's text (what follows its `$`) reads: its own and those of a default's
/// word (`{OVERRIDE:-$APP}` reads both).
fn names_in(variable: &str) -> Vec<&str> {
    let first = variable.trim_start_matches('{');
    let mut names = vec![&first[..name_len(first)]];
    for (at, _) in variable.match_indices('$') {
        let after = variable[at + 1..].trim_start_matches('{');
        names.push(&after[..name_len(after)]);
    }
    names
}

/// The variable at the start of `after` (what follows a `$`): its value (None when it cannot be
/// told) and how many bytes of `after` it spans; None when no variable starts there (a `$`
/// taken as it is).
fn variable(after: &str, env: &Env, escape: char) -> Option<(Option<String>, usize)> {
    let Some(inside) = after.strip_prefix('{') else {
        let len = name_len(after);
        if len == 0 {
            return None;
        }
        return Some((lookup(env, &after[..len]).map(str::to_owned), len));
    };
    let end = closing_brace(inside)?;
    Some((braced(&inside[..end], env, escape), end + 2))
}

/// The `}` that closes a `${`, nested `${...}` skipped.
fn closing_brace(inside: &str) -> Option<usize> {
    let mut depth = 0;
    let bytes = inside.as_bytes();
    for (at, b) in bytes.iter().enumerate() {
        match b {
            b'{' if at > 0 && bytes[at - 1] == b'$' => depth += 1,
            b'}' if depth == 0 => return Some(at),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// `${...}`'s inside: `NAME`, or `NAME` and one of `:-`, `-`, `:+`, `+`, `:?`, `?` and a word.
fn braced(inside: &str, env: &Env, escape: char) -> Option<String> {
    let len = name_len(inside);
    let (name, operator) = inside.split_at(len);
    let value = lookup(env, name);
    if operator.is_empty() {
        return value.map(str::to_owned);
    }
    let (null_is_unset, operator) = match operator.strip_prefix(':') {
        Some(rest) => (true, rest),
        None => (false, operator),
    };
    let mut chars = operator.chars();
    let kind = chars.next()?;
    let word = chars.as_str();
    // Set (and, with `:`, not empty): only a name the file sets can be told either way.
    let set = value.filter(|v| !(null_is_unset && v.is_empty()));
    match kind {
        '-' => match set {
            Some(v) => Some(v.to_owned()),
            None if value.is_some() => value_of(word, env, escape),
            None => None,
        },
        '+' => match set {
            Some(_) => value_of(word, env, escape),
            None if value.is_some() => Some(String::new()),
            None => None,
        },
        '?' => set.map(str::to_owned),
        _ => None,
    }
}

/// The value of a name the file has set, if it can be told.
fn lookup<'a>(env: &'a Env, name: &str) -> Option<&'a str> {
    env.get(name)?.as_deref()
}

/// A character of a name: a letter of any alphabet, a digit or `_`.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The length of the name at the start of `text` (not starting with a digit), 0 if none.
fn name_len(text: &str) -> usize {
    if text.chars().next().is_none_or(|c| c.is_numeric()) {
        return 0;
    }
    text.chars()
        .take_while(|c| is_name_char(*c))
        .map(char::len_utf8)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each instruction's arguments after substitution, `KEYWORD args`.
    fn read(text: &str) -> Vec<String> {
        let escape = dockerfile_parse::escape_char(text);
        substituted(dockerfile_parse::parse(text), escape)
            .into_iter()
            .map(|i| format!("{} {}", i.keyword, i.args))
            .collect()
    }

    #[test]
    fn args_and_envs_are_substituted_in_the_paths_the_check_reads() {
        let got = read(
            "ARG BASE=python:3.12\nFROM $BASE AS build\nARG CTX=/context\nENV APP=${CTX}/app OLD=$APP\n\
             COPY --from=$BASE . ${APP}/\nWORKDIR $APP\nRUN python \"$APP/install.py\" '$APP' \"it's\"\n\
             RUN --mount=type=bind,target=$APP [\"python\", \"$APP\"]\n",
        );
        assert_eq!(
            got,
            [
                "ARG BASE=python:3.12",
                "FROM python:3.12 AS build",
                "ARG CTX=/context",
                "ENV APP=${CTX}/app OLD=$APP",
                // BuildKit refuses a variable in --from: left for the check to refuse.
                "COPY --from=$BASE . /context/app/",
                "WORKDIR /context/app",
                // The shell's expansion: none inside single quotes; a `'` in double quotes is
                // not one.
                "RUN python \"/context/app/install.py\" '$APP' \"it's\"",
                // A mount's options are the builder's to expand; no shell reads an exec form.
                "RUN --mount=type=bind,target=/context/app [\"python\", \"$APP\"]",
            ]
        );
        // `OLD` took `APP` from before that ENV: not set then, so it cannot be told.
        assert_eq!(read("FROM x\nENV A=1 B=$A\nCOPY . $B/\n")[2], "COPY . $B/");
        // ARG pairs each see the one before.
        assert_eq!(
            read("FROM x\nARG A=/a B=$A/b\nCOPY . $B/\n")[2],
            "COPY . /a/b/"
        );
    }

    #[test]
    fn scopes_follow_the_builders_rules() {
        // A global ARG is seen by FROM, inside a stage only once declared again.
        let got = read("ARG D=/g\nFROM x\nCOPY . $D/\nARG D\nCOPY . $D/\n");
        assert_eq!(got[2..], ["COPY . $D/", "ARG D", "COPY . /g/"]);
        // A stage made from an earlier one starts from its environment, ARGs included; the
        // later of an ENV and an ARG of one name wins.
        let got =
            read("FROM x AS a\nARG P=/p\nENV E=/e\nFROM a\nCOPY . $E$P/\nARG E=/arg\nCOPY . $E/\n");
        assert_eq!(got[4], "COPY . /e/p/");
        assert_eq!(got[6], "COPY . /arg/");
        // A stage from another image: its names cannot be told; nor a bare ARG's (the base
        // image's ENV, BuildKit's TARGETARCH).
        assert_eq!(
            read("FROM x AS a\nENV E=/e\nFROM y\nCOPY . $E/\n")[3],
            "COPY . $E/"
        );
        let got = read(
            "FROM x\nARG TARGETARCH\nARG PYTHON_VERSION\nCOPY . /c/$TARGETARCH/$PYTHON_VERSION/\n",
        );
        assert_eq!(got[3], "COPY . /c/$TARGETARCH/$PYTHON_VERSION/");
    }

    #[test]
    fn forms_quotes_and_what_cannot_be_told() {
        let got = read(
            "FROM x\nARG V=''\nARG C=/c\nCOPY . ${V:-/u}${V-/v}${V+/w}${V:+/no}${C:?}${C:-${V}/no}/\n\
             COPY . ${W:-/w}/ ${C#x} \\$C $1 $Cé/\n",
        );
        assert_eq!(got[3], "COPY . /u/w/c/c/");
        assert_eq!(got[4], "COPY . ${W:-/w}/ ${C#x} \\$C $1 $Cé/");
        // A nested default, and a value in quotes.
        let got = read(
            "FROM x\nARG H=/h\nENV Q='$H' D=\"$H\"/d S=\"a b\"\nCOPY . ${N:-${H}/n}/ $Q/ $D/ $S/\n",
        );
        assert_eq!(got[3], "COPY . ${N:-/h/n}/ $Q/ /h/d/ $S/");
        assert_eq!(
            read("FROM x\nENV A value\nCOPY . \"$A\"\n")[2],
            "COPY . \"value\""
        );
        // A name the RUN may set itself, or anything when it sources a file.
        let got = read(
            "FROM x\nARG C=/c\nRUN C=/tmp; python $C/install.py\nRUN . /env && python $C/i.py\nRUN python $C/install.py\n",
        );
        assert_eq!(
            got[2..],
            [
                "RUN C=/tmp; python $C/install.py",
                "RUN . /env && python $C/i.py",
                "RUN python /c/install.py"
            ]
        );
        // What a RUN sets itself, however it is written; a mention is not a setting.
        let got = read(
            "FROM x\nARG C=/c P=\nRUN : \"${P:=/opt}\" && python $P$C/i.py\n\
             RUN C=/x; python ${O:-$C}/i.py\nRUN export $(cat /e) && python $C/i.py\n\
             RUN echo \"into C\" && python \"${C}/i.py\"\n\
             RUN --mount=type=secret,id=s,env=C python $C/i.py\n",
        );
        assert_eq!(
            got[2..],
            [
                "RUN : \"${P:=/opt}\" && python $P/c/i.py",
                "RUN C=/x; python ${O:-$C}/i.py",
                "RUN export $(cat /e) && python $C/i.py",
                "RUN echo \"into C\" && python \"/c/i.py\"",
                "RUN --mount=type=secret,id=s,env=C python $C/i.py",
            ]
        );
        // Another shell, or one that reads a file first: not this reading's.
        let got = read(
            "FROM x\nARG C=/c\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN python $C/i.py\n\
             SHELL [\"/bin/bash\", \"-lc\"]\nRUN python $C/i.py\nSHELL [\"pwsh\", \"-c\"]\nRUN python $C/i.py\n",
        );
        assert_eq!(got[3], "RUN python /c/i.py");
        assert_eq!(got[5], "RUN python $C/i.py");
        assert_eq!(got[7], "RUN python $C/i.py");
        let got = read("FROM x\nENV C=/c BASH_ENV=/e.sh\nRUN python $C/i.py\n");
        assert_eq!(got[2], "RUN python $C/i.py");
        // An escaped quote stays in its word: the next pair is read.
        let got = read("FROM x\nARG NOTE=5\\'11 C=/c\nENV G=\"say \\\"hi\" D=/d\nCOPY . $C$D/\n");
        assert_eq!(got[3], "COPY . /c/d/");
        // `FROM Build` names an image: stage names match lower-cased only.
        let got =
            read("FROM x AS Build\nENV C=/c\nFROM Build\nCOPY . $C/\nFROM build\nCOPY . $C/\n");
        assert_eq!(
            (got[3].as_str(), got[5].as_str()),
            ("COPY . $C/", "COPY . /c/")
        );
        // The backtick escape: a backslash is a character like any other.
        let got = read("# escape=`\nFROM x\nARG C=/c\nCOPY . `$C\\$C/\n");
        assert_eq!(got[2], "COPY . `$C\\/c/");
    }
}
