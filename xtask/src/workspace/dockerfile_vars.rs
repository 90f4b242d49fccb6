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
//! reading splits words at blanks), an exec-form `RUN`'s command (no shell reads it), a name a
//! shell-form `RUN` may set itself (`NAME=...`, `for NAME`, `read NAME`: any bare mention of
//! it), and every name in a `RUN` that sources or evaluates (`.`, `source`, `eval`). `COPY
//! --from=` is never expanded (BuildKit refuses a variable there), nor are `COPY`'s other flags.

use std::collections::HashMap;

use crate::workspace::dockerfile_parse::{self, Instruction};

/// A stage's environment as far as it can be told: None for a name set to what cannot be.
type Env = HashMap<String, Option<String>>;

/// The instructions with the variables that can be told substituted; lines and keywords kept.
/// `escape`: the file's escape character (`dockerfile_parse::escape_char`).
pub fn substituted(instructions: Vec<Instruction>, escape: char) -> Vec<Instruction> {
    let mut global: Env = Env::new();
    let mut stages: Vec<(Option<String>, Env)> = Vec::new();
    let mut out = Vec::with_capacity(instructions.len());
    for mut instruction in instructions {
        let keyword = instruction.keyword.as_str();
        if keyword == "FROM" {
            instruction.args = expand(&instruction.args, &global, escape, &|_| true);
            let env = base_env(&instruction.args, &stages);
            stages.push((stage_name(&instruction.args), env));
        } else if keyword == "ARG" {
            let outer = global.clone();
            let env = match stages.last_mut() {
                Some((_, env)) => env,
                None => &mut global,
            };
            declare_args(&instruction.args, env, &outer, escape);
        } else if let Some((_, env)) = stages.last_mut() {
            instruction.args = substitute(keyword, &instruction.args, env, escape);
        }
        out.push(instruction);
    }
    out
}

/// An instruction's arguments after substitution; an `ENV`'s values set.
fn substitute(keyword: &str, args: &str, env: &mut Env, escape: char) -> String {
    let all = |_: &str| true;
    match keyword {
        "WORKDIR" => expand(args, env, escape, &all),
        "COPY" | "ADD" => {
            let (_, rest) = dockerfile_parse::flags(args);
            let flags = &args[..args.len() - rest.len()];
            format!("{flags}{}", expand(rest, env, escape, &all))
        }
        "ENV" => {
            // Every value of one ENV sees the variables from before it.
            let pairs: Vec<(String, Option<String>)> = env_pairs(args)
                .into_iter()
                .map(|(name, value)| (name, value_of(&value, env, escape)))
                .collect();
            env.extend(pairs);
            args.to_owned()
        }
        "RUN" => {
            let (_, command) = dockerfile_parse::flags(args);
            let flags = expand(&args[..args.len() - command.len()], env, escape, &all);
            if dockerfile_parse::exec_form(command).is_some() {
                return format!("{flags}{command}");
            }
            let expanded = expand(command, env, escape, &|name| !sets_itself(command, name));
            format!("{flags}{expanded}")
        }
        _ => args.to_owned(),
    }
}

/// Whether a shell command may set `name` itself, or run what may: a bare mention of the name
/// (`NAME=...`, `for NAME in`, `read NAME`, `export NAME`), or a `.`, `source` or `eval`.
fn sets_itself(command: &str, name: &str) -> bool {
    let words = command.split(|c: char| c.is_whitespace() || ";&|()".contains(c));
    if words.clone().any(|w| matches!(w, "." | "source" | "eval")) {
        return true;
    }
    command.match_indices(name).any(|(at, _)| {
        let before = command[..at].chars().next_back();
        let after = command[at + name.len()..].chars().next();
        !before.is_some_and(|c| c == '$' || c == '{' || is_name_char(c))
            && !after.is_some_and(is_name_char)
    })
}

/// `ARG NAME[=default] ...`: each set in `env` in turn; a bare one takes the value of the `ARG`
/// before the first `FROM` (`outer`), else sets nothing.
fn declare_args(args: &str, env: &mut Env, outer: &Env, escape: char) {
    for word in words(args) {
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

/// The environment of the earlier stage a `FROM` starts from; empty for another image (whose
/// own cannot be told, so its names stay unknown).
fn base_env(from: &str, stages: &[(Option<String>, Env)]) -> Env {
    let base = from
        .split_whitespace()
        .find(|w| !w.starts_with("--"))
        .unwrap_or("")
        .to_ascii_lowercase();
    stages
        .iter()
        .rev()
        .find(|(name, _)| name.as_deref() == Some(base.as_str()))
        .map(|(_, env)| env.clone())
        .unwrap_or_default()
}

/// `FROM image AS name`: the name, lower-cased.
fn stage_name(from: &str) -> Option<String> {
    let words: Vec<&str> = from
        .split_whitespace()
        .filter(|w| !w.starts_with("--"))
        .collect();
    match words.as_slice() {
        [_, as_, name, ..] if as_.eq_ignore_ascii_case("as") => Some(name.to_ascii_lowercase()),
        _ => None,
    }
}

/// `ENV a=1 b="x y"` (or the older `ENV a value with spaces`): its names and values as written.
fn env_pairs(args: &str) -> Vec<(String, String)> {
    let words = words(args);
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

/// The words of an `ARG`'s or `ENV`'s arguments: split at blanks outside quotes, quotes kept.
fn words(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    for c in args.chars() {
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
                let name: String = rest
                    .trim_start_matches('{')
                    .chars()
                    .take_while(|c| is_name_char(*c))
                    .collect();
                if !may(&name) {
                    continue;
                }
                if let Some((Some(value), len)) = variable(rest, env, escape)
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
        // The backtick escape: a backslash is a character like any other.
        let got = read("# escape=`\nFROM x\nARG C=/c\nCOPY . `$C\\$C/\n");
        assert_eq!(got[2], "COPY . `$C\\/c/");
    }
}
