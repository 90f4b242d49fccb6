//! A `RUN`'s shell script read as the shell reads it, as far as the Dockerfile checks need:
//! split into simple commands at `&&`, `||`, `;`, `&`, `|` and new lines outside quotes, each
//! command's words without their quotes and backslashes. No expansion: `$VAR` stays a word.

/// One simple command's words, and whether a `|` joins it to the next.
pub struct Command {
    pub words: Vec<String>,
    pub piped: bool,
}

/// The simple commands of a script, outside quotes, their words without quotes.
pub fn split(script: &str) -> Vec<Command> {
    let mut commands = Vec::new();
    let (mut words, mut word, mut quote) = (Vec::new(), String::new(), None::<char>);
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let mut end = |words: &mut Vec<String>, piped: bool| {
        if !words.is_empty() {
            commands.push(Command {
                words: std::mem::take(words),
                piped,
            });
        }
    };
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => word.extend(chars.next()),
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => (quote, in_word) = (Some(c), true),
            (None, '\\') => match chars.next() {
                Some('\n') | None => {}
                Some(next) => (word, in_word) = (word + &next.to_string(), true),
            },
            (None, c) if c.is_whitespace() || ";&|()\n".contains(c) => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                if ";&|()\n".contains(c) {
                    let piped = c == '|' && chars.peek() != Some(&'|');
                    if matches!((c, chars.peek()), ('&', Some('&')) | ('|', Some('|'))) {
                        chars.next();
                    }
                    end(&mut words, piped);
                }
            }
            (None, c) => (word, in_word) = (word + &c.to_string(), true),
        }
    }
    if in_word {
        words.push(word);
    }
    end(&mut words, false);
    commands
}

/// The words of every simple command of `script`, in order (the operators between them gone).
pub fn words(script: &str) -> Vec<String> {
    split(script).into_iter().flat_map(|c| c.words).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_lose_quotes_and_operators_but_keep_quoted_ones() {
        assert_eq!(
            words("cd /w && UV_PYTHON=\"3.10\" uv venv '/opt/my venv'; echo 'a;b' | tee x"),
            [
                "cd",
                "/w",
                "UV_PYTHON=3.10",
                "uv",
                "venv",
                "/opt/my venv",
                "echo",
                "a;b",
                "tee",
                "x"
            ]
        );
        let piped: Vec<bool> = split("a | b || c").iter().map(|c| c.piped).collect();
        assert_eq!(piped, [true, false, false]);
    }
}
