//! The part of PEP 440 that choosing an interpreter needs: release versions (`3.10.13`) and
//! version specifiers (`>=3.10,<3.13`, `==3.11.*`, `~=3.10`). Pre-releases are not modelled:
//! interpreters report plain releases.

use std::cmp::Ordering;
use std::fmt;

use anyhow::{Result, bail};

/// A release version: its numeric components, compared as if padded with zeros.
#[derive(Debug, Clone)]
pub struct Version(pub Vec<u64>);

impl Version {
    pub fn parse(text: &str) -> Result<Version> {
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let parts: Result<Vec<u64>, _> = text.split('.').map(str::parse::<u64>).collect();
        match parts {
            Ok(parts) if !parts.is_empty() => Ok(Version(parts)),
            _ => bail!("`{text}` is not a version such as 3.10 or 3.10.13"),
        }
    }

    fn part(&self, i: usize) -> u64 {
        self.0.get(i).copied().unwrap_or(0)
    }

    /// Whether `self` starts with every component of `prefix`: 3.10.13 starts with 3.10.
    pub fn starts_with(&self, prefix: &Version) -> bool {
        prefix
            .0
            .iter()
            .enumerate()
            .all(|(i, p)| self.0.get(i) == Some(p))
    }

    /// `major.minor`, the part of a Python version that decides compatibility.
    pub fn minor(&self) -> Version {
        Version(vec![self.part(0), self.part(1)])
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        let len = self.0.len().max(other.0.len());
        (0..len)
            .map(|i| self.part(i).cmp(&other.part(i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u64::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Compatible,
    Equal,
    NotEqual,
    LessEqual,
    GreaterEqual,
    Less,
    Greater,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    op: Op,
    version: Version,
    /// `==3.10.*` / `!=3.10.*`: a prefix match.
    wildcard: bool,
}

/// A comma-separated list of clauses, all of which must hold (`requires-python`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specifiers {
    text: String,
    clauses: Vec<Clause>,
}

impl Specifiers {
    pub fn parse(text: &str) -> Result<Specifiers> {
        let mut clauses = Vec::new();
        for raw in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let (op, rest) = [
                ("~=", Op::Compatible),
                ("===", Op::Equal),
                ("==", Op::Equal),
                ("!=", Op::NotEqual),
                ("<=", Op::LessEqual),
                (">=", Op::GreaterEqual),
                ("<", Op::Less),
                (">", Op::Greater),
            ]
            .iter()
            .find_map(|(prefix, op)| raw.strip_prefix(prefix).map(|rest| (*op, rest.trim())))
            .ok_or_else(|| {
                anyhow::anyhow!("`{raw}` does not start with an operator such as >= or ==")
            })?;
            let (rest, wildcard) = match rest.strip_suffix(".*") {
                Some(prefix) if matches!(op, Op::Equal | Op::NotEqual) => (prefix, true),
                Some(_) => bail!("`{raw}`: a trailing .* is allowed only with == and !="),
                None => (rest, false),
            };
            let version = Version::parse(rest).map_err(|e| anyhow::anyhow!("`{raw}`: {e}"))?;
            if op == Op::Compatible && version.0.len() < 2 {
                bail!("`{raw}`: ~= needs at least two components, as in ~=3.10");
            }
            clauses.push(Clause {
                op,
                version,
                wildcard,
            });
        }
        Ok(Specifiers {
            text: text.trim().to_owned(),
            clauses,
        })
    }

    pub fn contains(&self, v: &Version) -> bool {
        self.clauses.iter().all(|c| c.contains(v))
    }
}

impl Clause {
    fn contains(&self, v: &Version) -> bool {
        let target = &self.version;
        match self.op {
            Op::Equal if self.wildcard => v.starts_with(target),
            Op::NotEqual if self.wildcard => !v.starts_with(target),
            Op::Equal => v == target,
            Op::NotEqual => v != target,
            Op::LessEqual => v <= target,
            Op::GreaterEqual => v >= target,
            Op::Less => v < target,
            Op::Greater => v > target,
            Op::Compatible => {
                let prefix = Version(target.0[..target.0.len() - 1].to_vec());
                v >= target && v.starts_with(&prefix)
            }
        }
    }
}

impl fmt::Display for Specifiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn holds(spec: &str, version: &str) -> bool {
        Specifiers::parse(spec).unwrap().contains(&v(version))
    }

    #[test]
    fn versions_compare_as_if_padded_with_zeros() {
        assert!(v("3.10") == v("3.10.0"));
        assert!(v("3.9.18") < v("3.10"));
        assert!(v("3.10.13") > v("3.10.2"));
        assert!(v("3.10.13").starts_with(&v("3.10")));
        assert!(!v("3.1.0").starts_with(&v("3.10")));
        assert_eq!(v("3.12.1").minor(), v("3.12"));
    }

    #[test]
    fn requires_python_clauses() {
        assert!(holds(">=3.10", "3.10.0"));
        assert!(holds(">=3.10", "3.13.0"));
        assert!(!holds(">=3.10", "3.9.18"));
        assert!(holds(">=3.10,<3.12", "3.11.7"));
        assert!(!holds(">=3.10, <3.12", "3.12.0"));
        assert!(holds("==3.10.*", "3.10.13"));
        assert!(!holds("==3.10.*", "3.11.0"));
        assert!(holds("!=3.11.*", "3.12.1"));
        assert!(!holds("!=3.11.*", "3.11.7"));
        assert!(holds("~=3.10", "3.12.0"));
        assert!(!holds("~=3.10", "4.0"));
        assert!(holds("~=3.10.2", "3.10.13"));
        assert!(!holds("~=3.10.2", "3.11.0"));
        assert!(holds(">3.10", "3.10.1"));
        assert!(!holds(">3.10", "3.10.0"));
        assert!(holds("<=3.10", "3.10.0"));
        assert!(holds("==3.10.13", "3.10.13"));
        assert!(holds("", "2.7.18"), "an empty specifier allows everything");
    }

    #[test]
    fn malformed_specifiers_are_errors() {
        for bad in ["3.10", ">=three", "~=3", ">=3.10.*", ">="] {
            assert!(Specifiers::parse(bad).is_err(), "{bad} parsed");
        }
    }
}
