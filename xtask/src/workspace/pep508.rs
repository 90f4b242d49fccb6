//! Checking that a requirement is PEP 508 before it is written anywhere: a name, optional
//! extras, then a version specifier or a URL, then an optional marker. An error points at the
//! character where it stops making sense.

/// Where a requirement goes wrong: the byte offset and what was expected there.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    pub at: usize,
    pub expected: &'static str,
}

impl Invalid {
    /// The requirement, and a caret under the offending character, and what was expected.
    pub fn show(&self, requirement: &str) -> String {
        let column = requirement[..self.at.min(requirement.len())]
            .chars()
            .count();
        format!(
            "  {requirement}\n  {}^ expected {}",
            " ".repeat(column),
            self.expected
        )
    }
}

const OPERATORS: &[&str] = &["===", "==", "!=", "<=", ">=", "~=", "<", ">"];

fn skip_spaces(s: &str, mut i: usize) -> usize {
    while s[i..].starts_with([' ', '\t']) {
        i += 1;
    }
    i
}

fn identifier_end(s: &str, i: usize) -> usize {
    let rest = &s[i..];
    let len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(rest.len());
    i + len
}

/// Checks `requirement`; the marker after `;` is only checked to be there.
pub fn check(requirement: &str) -> Result<(), Invalid> {
    let s = requirement;
    let mut i = skip_spaces(s, 0);
    let fail = |at, expected| Err(Invalid { at, expected });
    if !s[i..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return fail(i, "a distribution name (letters, digits, `-`, `_`, `.`)");
    }
    i = identifier_end(s, i);
    if s[..i].ends_with(['-', '_', '.']) {
        return fail(i - 1, "a name that ends with a letter or digit");
    }
    i = skip_spaces(s, i);
    if s[i..].starts_with('[') {
        i = skip_spaces(s, i + 1);
        loop {
            if !s[i..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
                return fail(i, "an extra's name");
            }
            i = skip_spaces(s, identifier_end(s, i));
            if s[i..].starts_with(',') {
                i = skip_spaces(s, i + 1);
            } else if s[i..].starts_with(']') {
                i = skip_spaces(s, i + 1);
                break;
            } else {
                return fail(i, "`,` or `]`");
            }
        }
    }
    if s[i..].starts_with('@') {
        i = skip_spaces(s, i + 1);
        let end = s[i..].find([' ', ';']).map_or(s.len(), |n| i + n);
        if end == i || !s[i..end].contains(':') {
            return fail(i, "a URL after `@`");
        }
        i = skip_spaces(s, end);
    } else {
        let parenthesized = s[i..].starts_with('(');
        if parenthesized {
            i = skip_spaces(s, i + 1);
        }
        let mut first = true;
        loop {
            let Some(op) = OPERATORS.iter().find(|op| s[i..].starts_with(**op)) else {
                if first && !parenthesized {
                    break; // no specifier at all: any version
                }
                return fail(i, "a comparison (`==`, `>=`, `<`, `~=`, `!=` ...)");
            };
            i = skip_spaces(s, i + op.len());
            let rest = &s[i..];
            let len = rest
                .find(|c: char| {
                    !(c.is_ascii_alphanumeric() || matches!(c, '.' | '*' | '+' | '!' | '-' | '_'))
                })
                .unwrap_or(rest.len());
            if len == 0 || !rest.starts_with(|c: char| c.is_ascii_digit()) {
                return fail(i, "a version such as 1.2 after the comparison");
            }
            i = skip_spaces(s, i + len);
            first = false;
            if s[i..].starts_with(',') {
                i = skip_spaces(s, i + 1);
                continue;
            }
            break;
        }
        if parenthesized {
            if !s[i..].starts_with(')') {
                return fail(i, "`)`");
            }
            i = skip_spaces(s, i + 1);
        }
    }
    if s[i..].starts_with(';') {
        if s[i + 1..].trim().is_empty() {
            return fail(
                i + 1,
                "a marker after `;` (such as python_version < \"3.12\")",
            );
        }
        return Ok(());
    }
    if i < s.len() {
        return fail(i, "`,`, `;` or the end of the requirement");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_requirements_pass_and_invalid_ones_point_at_the_character() {
        for ok in [
            "numpy",
            "numpy<2",
            "numpy >= 1.26, < 2",
            "requests[socks,security]==2.31.0",
            "torch==2.3.0+cpu",
            "foo @ https://example.invalid/foo-1.0-py3-none-any.whl",
            "tomli>=1.1; python_version < \"3.11\"",
            "name (>=1.0)",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("numpy>=>2", 7, "a version"),
            (">=2", 0, "a distribution name"),
            ("numpy 2", 6, "`,`, `;`"),
            ("numpy[x", 7, "`,` or `]`"),
            ("numpy>=1,", 9, "a comparison"),
            ("numpy;", 6, "a marker"),
            ("numpy- ==1", 5, "a name that ends"),
        ];
        for (text, at, expected) in cases {
            let err = check(text).unwrap_err();
            assert_eq!(err.at, at, "{text}: {err:?}");
            assert!(err.expected.starts_with(expected), "{text}: {err:?}");
        }
        assert_eq!(
            Invalid {
                at: 7,
                expected: "a version"
            }
            .show("numpy>=>2"),
            "  numpy>=>2\n         ^ expected a version"
        );
    }
}
