//! Reading a PEP 508 requirement: a name, optional extras, then a version specifier or a URL,
//! then an optional marker. `add` checks one before it is written anywhere; the workspace reads
//! the requirements on local packages. An error points at the character where it stops making
//! sense.

/// The parts of a requirement, as written (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub name: String,
    pub extras: Vec<String>,
    /// The version specifier, without parentheses: `>=1,<2`; empty when there is none.
    pub specifier: String,
    /// The URL of a direct reference (`name @ URL`).
    pub url: Option<String>,
    /// What follows `;`.
    pub marker: Option<String>,
}

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
    parse(requirement).map(|_| ())
}

/// Reads `requirement` into its parts; the marker after `;` is only checked to be there.
pub fn parse(requirement: &str) -> Result<Requirement, Invalid> {
    let s = requirement;
    let (name, i) = name(s, skip_spaces(s, 0))?;
    let (extras, i) = extras(s, i)?;
    let (url, specifier, i) = if s[i..].starts_with('@') {
        let (url, i) = url(s, skip_spaces(s, i + 1))?;
        (Some(url), String::new(), i)
    } else {
        let (specifier, i) = specifier(s, i)?;
        (None, specifier, i)
    };
    let marker = marker(s, i)?;
    Ok(Requirement {
        name,
        extras,
        specifier,
        url,
        marker,
    })
}

fn fail<T>(at: usize, expected: &'static str) -> Result<T, Invalid> {
    Err(Invalid { at, expected })
}

/// The distribution name at `i`, and where what follows it starts.
fn name(s: &str, i: usize) -> Result<(String, usize), Invalid> {
    if !s[i..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return fail(i, "a distribution name (letters, digits, `-`, `_`, `.`)");
    }
    let end = identifier_end(s, i);
    if s[..end].ends_with(['-', '_', '.']) {
        return fail(end - 1, "a name that ends with a letter or digit");
    }
    Ok((s[i..end].to_owned(), skip_spaces(s, end)))
}

/// `[a, b]` at `i`, if there.
fn extras(s: &str, mut i: usize) -> Result<(Vec<String>, usize), Invalid> {
    let mut extras = Vec::new();
    if !s[i..].starts_with('[') {
        return Ok((extras, i));
    }
    i = skip_spaces(s, i + 1);
    loop {
        if !s[i..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return fail(i, "an extra's name");
        }
        let end = identifier_end(s, i);
        extras.push(s[i..end].to_owned());
        i = skip_spaces(s, end);
        if s[i..].starts_with(',') {
            i = skip_spaces(s, i + 1);
        } else if s[i..].starts_with(']') {
            return Ok((extras, skip_spaces(s, i + 1)));
        } else {
            return fail(i, "`,` or `]`");
        }
    }
}

/// The URL after `@`.
fn url(s: &str, i: usize) -> Result<(String, usize), Invalid> {
    let end = s[i..].find([' ', ';']).map_or(s.len(), |n| i + n);
    if end == i || !s[i..end].contains(':') {
        return fail(i, "a URL after `@`");
    }
    Ok((s[i..end].to_owned(), skip_spaces(s, end)))
}

/// The version specifier at `i` (`>=1, <2`, or in parentheses), empty when there is none.
fn specifier(s: &str, mut i: usize) -> Result<(String, usize), Invalid> {
    let parenthesized = s[i..].starts_with('(');
    if parenthesized {
        i = skip_spaces(s, i + 1);
    }
    let start = i;
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
        if !s[i..].starts_with(',') {
            break;
        }
        i = skip_spaces(s, i + 1);
    }
    let specifier = s[start..i].trim().to_owned();
    if parenthesized {
        if !s[i..].starts_with(')') {
            return fail(i, "`)`");
        }
        i = skip_spaces(s, i + 1);
    }
    Ok((specifier, i))
}

/// The marker after `;`, or the end of the requirement.
fn marker(s: &str, i: usize) -> Result<Option<String>, Invalid> {
    if s[i..].starts_with(';') {
        let marker = s[i + 1..].trim();
        if marker.is_empty() {
            return fail(
                i + 1,
                "a marker after `;` (such as python_version < \"3.12\")",
            );
        }
        return Ok(Some(marker.to_owned()));
    }
    if i < s.len() {
        return fail(i, "`,`, `;` or the end of the requirement");
    }
    Ok(None)
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
        let parsed =
            parse(" Dubbing_Common [fast, x] ( >=1.0 , <2 ) ; python_version > '3'").unwrap();
        assert_eq!(
            parsed,
            Requirement {
                name: "Dubbing_Common".into(),
                extras: vec!["fast".into(), "x".into()],
                specifier: ">=1.0 , <2".into(),
                url: None,
                marker: Some("python_version > '3'".into()),
            }
        );
        let direct = parse("foo @ file:///x/foo ; os_name == 'nt'").unwrap();
        assert_eq!(direct.url.as_deref(), Some("file:///x/foo"));
        assert_eq!(direct.specifier, "");
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
