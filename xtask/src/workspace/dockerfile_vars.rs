//! A Dockerfile's variables, substituted as the builder does before the deploy check reads the
//! paths: `ARG` and `ENV` values in `FROM`, `COPY`, `ADD` and `WORKDIR` (the builder's own
//! substitution), and in a shell-form `RUN` command (where the shell expands the same variables,
//! which the builder sets in its environment). So `ARG APP=/app` then `COPY . $APP/` is read as
//! `COPY . /app/`, and a path that a variable moves is checked where it really is.
//!
//! The rules followed: `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}` and
//! `${NAME+word}`; nothing inside single quotes; an `ENV` or `ARG` sees the values from before it
//! (`ENV A=1 B=$A` takes the older `A`); an `ENV` wins over an `ARG` of the same name; an `ARG`
//! before the first `FROM` is seen by `FROM` lines, and inside a stage only once declared there
//! again (`ARG NAME`, which takes its default); a stage made `FROM` an earlier one keeps that
//! stage's `ENV`, never its `ARG`. An `ARG` is taken at its default, since the `docker build`
//! command that `dist` prints passes no `--build-arg`.
//!
//! What cannot be told is left as written, and the check says so rather than guess: a name no
//! `ARG` or `ENV` of the file declares (the base image may set it), a form other than those
//! above (`${NAME#prefix}`), an escaped `\$`, a `RUN`'s `--mount` options and its exec form
//! (which no shell reads). Not seen: a base image's own `ENV` of a name that an `ARG` here
//! declares (the image's would win).

use std::collections::HashMap;

use crate::workspace::dockerfile_parse::{self, Instruction};

/// The instructions with the variables that can be told substituted; lines and keywords kept.
pub fn substituted(instructions: Vec<Instruction>) -> Vec<Instruction> {
    let mut global: Scope = Scope::default();
    let mut stages: Vec<(Option<String>, Scope)> = Vec::new();
    let mut out = Vec::with_capacity(instructions.len());
    for mut instruction in instructions {
        match instruction.keyword.as_str() {
            "FROM" => {
                instruction.args = expand(&instruction.args, &global);
                let scope = Scope {
                    env: base_env(&instruction.args, &stages),
                    args: HashMap::new(),
                };
                stages.push((stage_name(&instruction.args), scope));
            }
            "ARG" => {
                let outer = global.args.clone();
                let scope = match stages.last_mut() {
                    Some((_, scope)) => scope,
                    None => &mut global,
                };
                declare_args(&instruction.args, scope, &outer);
            }
            keyword => {
                if let Some((_, scope)) = stages.last_mut() {
                    instruction.args = substitute(keyword, &instruction.args, scope);
                }
            }
        }
        out.push(instruction);
    }
    out
}

/// The variables one stage (or the part before the first `FROM`) has declared so far.
#[derive(Default, Clone)]
struct Scope {
    env: HashMap<String, String>,
    /// An `ARG`'s default; None for one declared without (unset when no `--build-arg` is given).
    args: HashMap<String, Option<String>>,
}

impl Scope {
    /// The value of `name`: Some(None) when declared and unset, None when it cannot be told.
    fn value(&self, name: &str) -> Option<Option<&str>> {
        if let Some(value) = self.env.get(name) {
            return Some(Some(value));
        }
        self.args.get(name).map(Option::as_deref)
    }
}

/// An instruction's arguments after substitution: the builder's own for the instructions whose
/// paths the check reads, the shell's for a shell-form `RUN`'s command, an `ENV`'s declared.
fn substitute(keyword: &str, args: &str, scope: &mut Scope) -> String {
    match keyword {
        "COPY" | "ADD" | "WORKDIR" => expand(args, scope),
        "ENV" => {
            // Every value of one ENV sees the variables from before it.
            let pairs: Vec<(String, String)> = env_pairs(args)
                .into_iter()
                .map(|(name, value)| (name, expand(&value, scope)))
                .collect();
            scope.env.extend(pairs);
            args.to_owned()
        }
        "RUN" => {
            let (_, command) = dockerfile_parse::flags(args);
            if dockerfile_parse::exec_form(command).is_some() {
                return args.to_owned();
            }
            let flags = &args[..args.len() - command.len()];
            format!("{flags}{}", expand(command, scope))
        }
        _ => args.to_owned(),
    }
}

/// `ARG NAME[=default] ...`: each declared in `scope`, a bare one taking the default of the
/// `ARG` before the first `FROM` (`outer`), if any.
fn declare_args(args: &str, scope: &mut Scope, outer: &HashMap<String, Option<String>>) {
    for word in words(args) {
        let (name, value) = match word.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(expand(&unquote(value), scope))),
            None => (word.clone(), outer.get(&word).cloned().flatten()),
        };
        scope.args.insert(name, value);
    }
}

/// The `ENV` an earlier stage that a `FROM` starts from left; none for another image (whose own
/// cannot be told, so its names stay unknown).
fn base_env(from: &str, stages: &[(Option<String>, Scope)]) -> HashMap<String, String> {
    let base = from
        .split_whitespace()
        .find(|w| !w.starts_with("--"))
        .unwrap_or("")
        .to_ascii_lowercase();
    stages
        .iter()
        .rev()
        .find(|(name, _)| name.as_deref() == Some(base.as_str()))
        .map(|(_, scope)| scope.env.clone())
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

/// `ENV a=1 b="x y"` (or the older `ENV a value with spaces`): its names and values, unquoted.
fn env_pairs(args: &str) -> Vec<(String, String)> {
    let words = words(args);
    if words.first().is_some_and(|w| !w.contains('=')) {
        let (name, value) = args
            .trim()
            .split_once(char::is_whitespace)
            .unwrap_or((args, ""));
        return vec![(name.to_owned(), unquote(value.trim()))];
    }
    words
        .iter()
        .filter_map(|w| w.split_once('='))
        .map(|(name, value)| (name.to_owned(), unquote(value)))
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

/// A value without its quotes: `"x y"` and `'x y'` both read `x y`.
fn unquote(value: &str) -> String {
    let mut out = String::new();
    let mut quote = None;
    for c in value.chars() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => out.push(c),
        }
    }
    out
}

/// `text` with each variable that can be told replaced by its value; the rest as written.
fn expand(text: &str, scope: &Scope) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut single_quoted = false;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            single_quoted = !single_quoted;
        } else if c == '\\' && rest[1..].starts_with('$') {
            // An escaped `$`: kept escaped, so the check still sees a `$` and says so.
            out.push_str("\\$");
            rest = &rest[2..];
            continue;
        } else if c == '$' && !single_quoted {
            let (replaced, len) = variable(&rest[1..], scope);
            if let Some(value) = replaced {
                out.push_str(&value);
                rest = &rest[1 + len..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The variable at the start of `after` (what follows a `$`): its value, if it can be told, and
/// how many bytes of `after` it spans.
fn variable(after: &str, scope: &Scope) -> (Option<String>, usize) {
    if let Some(inside) = after.strip_prefix('{') {
        let Some(end) = inside.find('}') else {
            return (None, 0);
        };
        return (braced(&inside[..end], scope), end + 2);
    }
    let len = name_len(after);
    if len == 0 {
        return (None, 0);
    }
    let value = scope
        .value(&after[..len])
        .map(|v| v.unwrap_or("").to_owned());
    (value, len)
}

/// `${...}`'s inside: `NAME`, `NAME:-word`, `NAME-word`, `NAME:+word`, `NAME+word`.
fn braced(inside: &str, scope: &Scope) -> Option<String> {
    let len = name_len(inside);
    let (name, operator) = inside.split_at(len);
    if name.is_empty() {
        return None;
    }
    let value = scope.value(name)?;
    let set = value.is_some();
    let non_empty = value.is_some_and(|v| !v.is_empty());
    let word = |w: &str| expand(w, scope);
    match operator {
        "" => Some(value.unwrap_or("").to_owned()),
        _ if operator.starts_with(":-") => Some(if non_empty {
            value.unwrap_or("").to_owned()
        } else {
            word(&operator[2..])
        }),
        _ if operator.starts_with('-') => Some(if set {
            value.unwrap_or("").to_owned()
        } else {
            word(&operator[1..])
        }),
        _ if operator.starts_with(":+") => Some(if non_empty {
            word(&operator[2..])
        } else {
            String::new()
        }),
        _ if operator.starts_with('+') => Some(if set {
            word(&operator[1..])
        } else {
            String::new()
        }),
        _ => None,
    }
}

/// The length of the variable name at the start of `text` (`[A-Za-z_][A-Za-z0-9_]*`), 0 if none.
fn name_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    if !bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return 0;
    }
    bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each instruction's arguments after substitution, `KEYWORD args`.
    fn read(text: &str) -> Vec<String> {
        substituted(dockerfile_parse::parse(text))
            .into_iter()
            .map(|i| format!("{} {}", i.keyword, i.args))
            .collect()
    }

    #[test]
    fn args_and_envs_are_substituted_in_the_paths_the_check_reads() {
        let got = read(
            "ARG BASE=python:3.12\nFROM $BASE AS build\nARG CTX=/context\nENV APP=${CTX}/app OLD=$APP\n\
             COPY . ${APP}/\nWORKDIR $APP\nRUN python \"$APP/install.py\" '$APP'\n\
             RUN --mount=type=bind,target=$APP [\"python\", \"$APP\"]\n",
        );
        assert_eq!(
            got,
            [
                "ARG BASE=python:3.12",
                "FROM python:3.12 AS build",
                "ARG CTX=/context",
                "ENV APP=${CTX}/app OLD=$APP",
                "COPY . /context/app/",
                "WORKDIR /context/app",
                // The shell's expansion, none inside single quotes.
                "RUN python \"/context/app/install.py\" '$APP'",
                // No shell reads an exec form, and a mount's options are left as written.
                "RUN --mount=type=bind,target=$APP [\"python\", \"$APP\"]",
            ]
        );
        // `OLD` took `APP` from before that ENV: unknown, so left.
        assert_eq!(read("FROM x\nENV A=1 B=$A\nCOPY . $B/\n")[2], "COPY . $A/");
    }

    #[test]
    fn scopes_follow_the_builders_rules() {
        // A global ARG is seen by FROM, inside a stage only once declared again.
        let got = read("ARG D=/g\nFROM x\nCOPY . $D/\nARG D\nCOPY . $D/\n");
        assert_eq!(got[2..], ["COPY . $D/", "ARG D", "COPY . /g/"]);
        // ENV carries to a stage made from this one, ARG does not; ENV wins over ARG.
        let got =
            read("FROM x AS a\nARG P=/p\nENV E=/e\nFROM a\nCOPY . $E$P/\nARG E=/arg\nCOPY . $E/\n");
        assert_eq!(got[4], "COPY . /e$P/");
        assert_eq!(got[6], "COPY . /e/");
        // A stage from another image: its names cannot be told.
        assert_eq!(
            read("FROM x AS a\nENV E=/e\nFROM y\nCOPY . $E/\n")[3],
            "COPY . $E/"
        );
    }

    #[test]
    fn defaults_unset_names_and_what_cannot_be_told() {
        let got = read(
            "FROM x\nARG U\nARG V=''\nCOPY . ${U:-/u}${V-/v}${U+/no}${V:+/no}/\n\
             COPY . ${W:-/w}/ ${U#x} \\$U $1\n",
        );
        assert_eq!(got[3], "COPY . /u/");
        assert_eq!(got[4], "COPY . ${W:-/w}/ ${U#x} \\$U $1");
        assert_eq!(
            read("FROM x\nENV A value with spaces\nCOPY . \"$A\"\n")[2],
            "COPY . \"value with spaces\""
        );
    }
}
