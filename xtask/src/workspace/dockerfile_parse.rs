//! Reading a Dockerfile as the builder does, far enough for `verify` to check one against its
//! service: instructions with the line each starts on, continuation lines joined, comments and
//! empty lines skipped (inside a continuation too), the `escape` parser directive, heredocs
//! (`COPY <<EOF /x` and its body skipped as a file's content; a `RUN`'s body read as its
//! script), and the exec (JSON) form of a command.

/// One instruction: its keyword in upper case, its arguments as written (continuations joined),
/// and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub line: usize,
    pub keyword: String,
    pub args: String,
}

/// The instructions of a Dockerfile, in order.
pub fn parse(text: &str) -> Vec<Instruction> {
    let escape = escape_char(text);
    let mut instructions: Vec<Instruction> = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut heredocs: Vec<String> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if let Some(end) = heredocs.first() {
            if line.trim() == end {
                heredocs.remove(0);
            } else if let Some(run) = instructions.last_mut().filter(|i| i.keyword == "RUN") {
                // A RUN's heredoc is its script: its lines are the command's.
                run.args.push('\n');
                run.args.push_str(line);
            }
            continue;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue; // comments and blank lines, inside a continuation too
        }
        let (start, mut joined) = current.take().unwrap_or((index + 1, String::new()));
        let body = line.trim_end();
        match body.strip_suffix(escape) {
            Some(continued) => {
                joined.push_str(continued);
                current = Some((start, joined));
            }
            None => {
                joined.push_str(body);
                let instruction = instruction(start, &joined);
                heredocs = heredoc_ends(&instruction);
                instructions.push(instruction);
            }
        }
    }
    if let Some((start, joined)) = current {
        instructions.push(instruction(start, &joined)); // a continuation at the end of the file
    }
    instructions
}

fn instruction(line: usize, text: &str) -> Instruction {
    let text = text.trim_start();
    let (keyword, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    Instruction {
        line,
        keyword: keyword.to_ascii_uppercase(),
        args: args.trim().to_owned(),
    }
}

/// The `escape` parser directive (`# escape=\``), else `\`. Directives come first, before any
/// comment, blank line or instruction.
pub fn escape_char(text: &str) -> char {
    for line in text.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = directive.split_once('=') else {
            break;
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            break;
        }
        if key.eq_ignore_ascii_case("escape") && value.trim() == "`" {
            return '`';
        }
    }
    '\\'
}

/// The words that end the heredocs an instruction opens (`<<EOF`, `<<-"EOF"`), in order.
fn heredoc_ends(instruction: &Instruction) -> Vec<String> {
    if !matches!(instruction.keyword.as_str(), "RUN" | "COPY" | "ADD") {
        return Vec::new();
    }
    instruction
        .args
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("<<"))
        .map(|word| word.trim_start_matches('-').trim_matches(['"', '\'']))
        .filter(|word| !word.is_empty() && !word.starts_with('<'))
        .map(str::to_owned)
        .collect()
}

/// The exec form of a command, `["media-service", "--serve"]`, as its words; None for the shell
/// form (anything that is not a JSON array of strings, as the builder decides).
pub fn exec_form(args: &str) -> Option<Vec<String>> {
    let mut chars = args.trim().chars().peekable();
    if chars.next()? != '[' {
        return None;
    }
    let mut words = Vec::new();
    loop {
        skip_space(&mut chars);
        match chars.next()? {
            ']' if words.is_empty() => break,
            '"' => words.push(json_string(&mut chars)?),
            _ => return None,
        }
        skip_space(&mut chars);
        match chars.next()? {
            ',' => continue,
            ']' => break,
            _ => return None,
        }
    }
    skip_space(&mut chars);
    chars.next().is_none().then_some(words)
}

fn skip_space(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
}

/// The rest of a JSON string whose opening quote was read, unescaped.
fn json_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                c @ ('"' | '\\' | '/') => out.push(c),
                _ => return None,
            },
            c => out.push(c),
        }
    }
}

/// A `FROM [--platform=...] IMAGE [AS NAME]` line: the image (or earlier stage) as written, and
/// the stage's name lower-cased. BuildKit matches a base against the lower-cased names, so
/// `FROM Build` is an image, not the stage `AS Build`.
pub fn from_line(args: &str) -> (&str, Option<String>) {
    let words: Vec<&str> = args
        .split_whitespace()
        .filter(|w| !w.starts_with("--"))
        .collect();
    let name = match words.as_slice() {
        [_, as_, name, ..] if as_.eq_ignore_ascii_case("as") => Some(name.to_ascii_lowercase()),
        _ => None,
    };
    (words.first().copied().unwrap_or(""), name)
}

/// An instruction's leading `--name[=value]` options, each without its `--`, and what follows
/// them (a `COPY`'s sources, a `RUN`'s command).
pub fn flags(args: &str) -> (Vec<&str>, &str) {
    let mut rest = args.trim();
    let mut flags = Vec::new();
    while let Some(flag) = rest.strip_prefix("--") {
        let (word, after) = flag.split_once(char::is_whitespace).unwrap_or((flag, ""));
        flags.push(word);
        rest = after.trim_start();
    }
    (flags, rest)
}

/// The arguments of a `COPY` or `ADD`: its `--flag[=value]` options, then its sources and its
/// destination (the exec form's or the words').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// `--from=<stage or image>`: what it copies from, when not the build context.
    pub from: Option<String>,
    pub sources: Vec<String>,
    pub destination: Option<String>,
}

pub fn transfer(args: &str) -> Transfer {
    let (flags, rest) = flags(args);
    // Given twice, the last one counts.
    let from = flags
        .iter()
        .rev()
        .find_map(|f| f.strip_prefix("from="))
        .map(str::to_owned);
    let mut words =
        exec_form(rest).unwrap_or_else(|| rest.split_whitespace().map(str::to_owned).collect());
    let destination = words.pop();
    Transfer {
        from,
        sources: words,
        destination,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keywords_and_lines(text: &str) -> Vec<(usize, String, String)> {
        parse(text)
            .into_iter()
            .map(|i| (i.line, i.keyword, i.args))
            .collect()
    }

    #[test]
    fn continuations_join_and_comments_inside_them_are_skipped() {
        let text = "# syntax=docker/dockerfile:1\n\nFROM python:3.10-slim AS build\nENV A=1 \\\n    B=2 \\\n# a comment\n\n    C=3\nrun echo hi\n";
        assert_eq!(
            keywords_and_lines(text),
            [
                (3, "FROM".into(), "python:3.10-slim AS build".into()),
                (4, "ENV".into(), "A=1     B=2     C=3".into()),
                (9, "RUN".into(), "echo hi".into()),
            ]
        );
    }

    #[test]
    fn the_escape_directive_and_heredocs_are_honoured() {
        let text =
            "# escape=`\nFROM x\nRUN a `\n  b\nCOPY <<EOF /etc/x\nCOPY nothing here\nEOF\nUSER 1\n";
        assert_eq!(
            keywords_and_lines(text),
            [
                (2, "FROM".into(), "x".into()),
                (3, "RUN".into(), "a   b".into()),
                (5, "COPY".into(), "<<EOF /etc/x".into()),
                (8, "USER".into(), "1".into()),
            ]
        );
        // A RUN's heredoc is its script, read with it.
        assert_eq!(
            keywords_and_lines("FROM x\nRUN <<EOT\nset -e\npython /c/install.py\nEOT\nUSER 1\n")[1],
            (
                2,
                "RUN".into(),
                "<<EOT\nset -e\npython /c/install.py".into()
            )
        );
        // After an instruction, `# escape=` is a comment.
        assert_eq!(parse("FROM x\n# escape=`\nRUN a `\nUSER 1\n").len(), 3);
    }

    #[test]
    fn the_exec_form_is_a_json_array_of_strings() {
        assert_eq!(
            exec_form(r#"["media-service", "--say \"hi\"", "a\u0041"]"#),
            Some(vec![
                "media-service".into(),
                "--say \"hi\"".into(),
                "aA".into()
            ])
        );
        assert_eq!(exec_form(" [ ] "), Some(vec![]));
        assert_eq!(exec_form("media-service --serve"), None);
        assert_eq!(exec_form("[media-service]"), None);
        assert_eq!(exec_form(r#"["a",]"#), None);
        assert_eq!(exec_form(r#"["a"] x"#), None);
        assert_eq!(exec_form(r#"["a""#), None);
    }

    #[test]
    fn a_transfer_s_flags_sources_and_destination() {
        assert_eq!(
            transfer("--from=build --chown=app:app /opt /opt"),
            Transfer {
                from: Some("build".into()),
                sources: vec!["/opt".into()],
                destination: Some("/opt".into()),
            }
        );
        assert_eq!(
            transfer(r#"--link ["requirements.txt", "install.py", "/context/"]"#),
            Transfer {
                from: None,
                sources: vec!["requirements.txt".into(), "install.py".into()],
                destination: Some("/context/".into()),
            }
        );
        assert_eq!(transfer("").sources, Vec::<String>::new());
    }
}
