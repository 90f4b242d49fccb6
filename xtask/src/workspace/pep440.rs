//! PEP 440 versions and version specifiers: what choosing an interpreter needs (release versions
//! such as `3.10.13` against `requires-python`), and what checking a local package's version
//! against a requirement on it needs (every part of a version: `1!2.0rc1.post2.dev3+local.7`,
//! and the rules of each operator for pre-, post- and local releases).
//!
//! Pre-releases are compared by their order only: PEP 440's rule that an installer skips them
//! unless asked is about choosing among the versions an index offers, and a local package is
//! the one version there is (installed editable, whatever it is).

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

/// The kinds of pre-release, in their order: `a` < `b` < `rc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Pre {
    Alpha,
    Beta,
    Candidate,
}

/// A segment of a local version label (`+ubuntu.7`): numbers sort after words.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Local {
    Word(String),
    Number(u64),
}

/// The order of a version's parts after its release: pre, post, dev, local.
type SuffixKey<'v> = (
    (u8, Option<(Pre, u64)>),
    Option<u64>,
    (u8, u64),
    &'v [Local],
);

/// A distribution's version, every part of PEP 440: `1!2.0rc1.post2.dev3+local.7`.
#[derive(Debug, Clone)]
pub struct DistVersion {
    /// As written, for `===` and messages.
    text: String,
    epoch: u64,
    release: Version,
    pre: Option<(Pre, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Vec<Local>,
}

/// The segments of a local label (`ubuntu.7`); None when one is empty or not alphanumeric.
fn local_label(label: &str) -> Option<Vec<Local>> {
    label
        .split(['.', '-', '_'])
        .map(|part| {
            if part.is_empty() || !part.chars().all(|ch| ch.is_ascii_alphanumeric()) {
                return None;
            }
            Some(match part.parse() {
                Ok(n) => Local::Number(n),
                Err(_) => Local::Word(part.to_owned()),
            })
        })
        .collect()
}

/// Reads a PEP 440 version from left to right, in its normal and its alternative spellings.
struct Cursor<'t> {
    rest: &'t str,
}

impl<'t> Cursor<'t> {
    /// Takes the first of `words` the text goes on with, after an optional `.`, `-` or `_`.
    fn word(&mut self, words: &[&'static str], separated: bool) -> Option<&'static str> {
        let after_sep = if separated {
            self.rest.trim_start_matches(['.', '-', '_'])
        } else {
            self.rest
        };
        // One separator at most.
        if self.rest.len() - after_sep.len() > 1 {
            return None;
        }
        let word = words.iter().find(|w| after_sep.starts_with(**w))?;
        self.rest = &after_sep[word.len()..];
        Some(word)
    }

    /// An optional number after an optional separator: `rc.1`, `rc1`, `rc` (0).
    fn number(&mut self) -> u64 {
        let after_sep = self.rest.strip_prefix(['.', '-', '_']).unwrap_or(self.rest);
        let len = after_sep
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after_sep.len());
        match after_sep[..len].parse() {
            Ok(n) => {
                self.rest = &after_sep[len..];
                n
            }
            Err(_) => 0,
        }
    }

    fn digits(&mut self) -> Option<u64> {
        let len = self
            .rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.rest.len());
        let n = self.rest[..len].parse().ok()?;
        self.rest = &self.rest[len..];
        Some(n)
    }
}

impl DistVersion {
    pub fn parse(text: &str) -> Result<DistVersion> {
        let fail = || {
            anyhow::anyhow!(
                "`{}` is not a PEP 440 version such as 1.2, 1.2.3rc1 or 2.0.post1",
                text.trim()
            )
        };
        let lower = text.trim().to_ascii_lowercase();
        let mut c = Cursor {
            rest: lower.strip_prefix('v').unwrap_or(&lower),
        };
        let mut epoch = 0;
        if let Some((number, rest)) = c.rest.split_once('!') {
            epoch = number.parse().map_err(|_| fail())?;
            c.rest = rest;
        }
        let mut release = vec![c.digits().ok_or_else(fail)?];
        while c.rest.starts_with('.') && c.rest[1..].starts_with(|ch: char| ch.is_ascii_digit()) {
            c.rest = &c.rest[1..];
            release.push(c.digits().ok_or_else(fail)?);
        }
        let pre_words = ["alpha", "a", "beta", "b", "preview", "pre", "rc", "c"];
        let pre = c.word(&pre_words, true).map(|word| {
            let kind = match word {
                "alpha" | "a" => Pre::Alpha,
                "beta" | "b" => Pre::Beta,
                _ => Pre::Candidate,
            };
            (kind, c.number())
        });
        let post = if let Some(rest) = c.rest.strip_prefix('-')
            && rest.starts_with(|ch: char| ch.is_ascii_digit())
        {
            c.rest = rest;
            c.digits()
        } else {
            c.word(&["post", "rev", "r"], true).map(|_| c.number())
        };
        let dev = c.word(&["dev"], true).map(|_| c.number());
        let local = match c.rest.strip_prefix('+') {
            Some(label) => {
                c.rest = "";
                local_label(label).ok_or_else(fail)?
            }
            None => Vec::new(),
        };
        if !c.rest.is_empty() {
            return Err(fail());
        }
        Ok(DistVersion {
            text: text.trim().to_owned(),
            epoch,
            release: Version(release),
            pre,
            post,
            dev,
            local,
        })
    }

    /// A plain release, as an interpreter reports it.
    fn from_release(release: &Version) -> DistVersion {
        DistVersion {
            text: release.to_string(),
            epoch: 0,
            release: release.clone(),
            pre: None,
            post: None,
            dev: None,
            local: Vec::new(),
        }
    }

    /// Without its local label: what every operator but `==V+local` compares.
    fn public(&self) -> DistVersion {
        DistVersion {
            local: Vec::new(),
            ..self.clone()
        }
    }

    /// The epoch and release alone: `1.2` of `1.2rc1.post3`.
    fn base(&self) -> (u64, &Version) {
        (self.epoch, &self.release)
    }

    fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// Whether the release, padded with zeros, starts with `prefix` (in the same epoch).
    fn has_prefix(&self, epoch: u64, prefix: &Version) -> bool {
        self.epoch == epoch && (0..prefix.0.len()).all(|i| self.release.part(i) == prefix.part(i))
    }

    /// What orders the parts after the release: a dev release of no pre- or post-release comes
    /// before the pre-releases, a final release after them; no post-release before any; no dev
    /// release after any; no local label before any.
    fn suffix_key(&self) -> SuffixKey<'_> {
        let pre = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (0, None),
            (Some(pre), _, _) => (1, Some(pre)),
            (None, _, _) => (2, None),
        };
        let dev = self.dev.map_or((1, 0), |n| (0, n));
        (pre, self.post, dev, &self.local)
    }
}

impl Ord for DistVersion {
    fn cmp(&self, other: &DistVersion) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| self.release.cmp(&other.release))
            .then_with(|| self.suffix_key().cmp(&other.suffix_key()))
    }
}

impl PartialEq for DistVersion {
    fn eq(&self, other: &DistVersion) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for DistVersion {}

impl PartialOrd for DistVersion {
    fn partial_cmp(&self, other: &DistVersion) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for DistVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Compatible,
    Arbitrary,
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
    version: DistVersion,
    /// `==3.10.*` / `!=3.10.*`: a prefix match.
    wildcard: bool,
}

/// A comma-separated list of clauses, all of which must hold: `requires-python`, or the
/// specifier of a requirement (`>=1.2,<2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specifiers {
    text: String,
    clauses: Vec<Clause>,
}

const OPERATORS: &[(&str, Op)] = &[
    ("~=", Op::Compatible),
    ("===", Op::Arbitrary),
    ("==", Op::Equal),
    ("!=", Op::NotEqual),
    ("<=", Op::LessEqual),
    (">=", Op::GreaterEqual),
    ("<", Op::Less),
    (">", Op::Greater),
];

impl Specifiers {
    pub fn parse(text: &str) -> Result<Specifiers> {
        let clauses = text
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(Clause::parse)
            .collect::<Result<Vec<Clause>>>()?;
        Ok(Specifiers {
            text: text.trim().to_owned(),
            clauses,
        })
    }

    /// Whether a release (an interpreter's version) satisfies every clause.
    pub fn contains(&self, v: &Version) -> bool {
        self.allows(&DistVersion::from_release(v))
    }

    /// Whether a distribution's version satisfies every clause.
    pub fn allows(&self, v: &DistVersion) -> bool {
        self.clauses.iter().all(|c| c.allows(v))
    }
}

impl Clause {
    fn parse(raw: &str) -> Result<Clause> {
        let (op, rest) = OPERATORS
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
        let version = if op == Op::Arbitrary {
            DistVersion::parse(rest).unwrap_or_else(|_| DistVersion {
                text: rest.to_owned(),
                ..DistVersion::from_release(&Version(vec![0]))
            })
        } else {
            DistVersion::parse(rest).map_err(|e| anyhow::anyhow!("`{raw}`: {e}"))?
        };
        let release_only = version.pre.is_none()
            && version.post.is_none()
            && version.dev.is_none()
            && version.local.is_empty();
        if wildcard && !release_only {
            bail!("`{raw}`: a prefix match (.*) takes a release such as 3.10");
        }
        if op == Op::Compatible && (version.release.0.len() < 2 || !version.local.is_empty()) {
            bail!("`{raw}`: ~= needs at least two components and no local label, as in ~=3.10");
        }
        Ok(Clause {
            op,
            version,
            wildcard,
        })
    }

    fn allows(&self, v: &DistVersion) -> bool {
        let spec = &self.version;
        let public = v.public();
        match self.op {
            Op::Arbitrary => v.text.eq_ignore_ascii_case(&spec.text),
            Op::Equal | Op::NotEqual => {
                let equal = if self.wildcard {
                    v.has_prefix(spec.epoch, &spec.release)
                } else if spec.local.is_empty() {
                    public == *spec
                } else {
                    v == spec
                };
                equal == (self.op == Op::Equal)
            }
            Op::Compatible => {
                let prefix = Version(spec.release.0[..spec.release.0.len() - 1].to_vec());
                public >= *spec && v.has_prefix(spec.epoch, &prefix)
            }
            Op::LessEqual => public <= *spec,
            Op::GreaterEqual => public >= *spec,
            // `<2.0` does not allow 2.0rc1, unless it names a pre-release itself.
            Op::Less => {
                public < *spec
                    && !(!spec.is_prerelease() && v.is_prerelease() && v.base() == spec.base())
            }
            // `>2.0` allows neither 2.0.post1 (unless it names a post-release) nor 2.0+local.
            Op::Greater => {
                public > *spec
                    && !(spec.post.is_none() && v.post.is_some() && v.base() == spec.base())
                    && (v.local.is_empty() || v.base() != spec.base())
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

    fn allows(spec: &str, version: &str) -> bool {
        Specifiers::parse(spec)
            .unwrap()
            .allows(&DistVersion::parse(version).unwrap())
    }

    #[test]
    fn distribution_versions_order_as_pep_440_says() {
        let order = [
            "1.0.dev1",
            "1.0a1.dev1",
            "1.0a1",
            "1.0b2",
            "1.0rc1",
            "1.0",
            "1.0+local",
            "1.0.post1.dev1",
            "1.0.post1",
            "1.1",
            "1!0.1",
        ];
        for pair in order.windows(2) {
            let (a, b) = (dv(pair[0]), dv(pair[1]));
            assert!(a < b, "{} < {}", pair[0], pair[1]);
        }
        // Alternative spellings are the same version.
        assert_eq!(dv("V1.0-ALPHA.1"), dv("1.0a1"));
        assert_eq!(dv("1.0-1"), dv("1.0.post1"));
        assert_eq!(dv("1.0.0"), dv("1"));
        assert!(dv("1.0+ubuntu.1") < dv("1.0+ubuntu.2") && dv("1.0+abc") < dv("1.0+1"));
        for bad in ["", "one", "1.0-", "1.0+", "1.0+a..b", "1..0", "1.0 rc1"] {
            assert!(DistVersion::parse(bad).is_err(), "{bad} parsed");
        }
    }

    fn dv(s: &str) -> DistVersion {
        DistVersion::parse(s).unwrap()
    }

    #[test]
    fn requirement_specifiers_follow_each_operator_s_rules() {
        assert!(!allows(">=2.0", "0.1.0"));
        assert!(allows(">=0.1,<1", "0.1.0"));
        assert!(allows("==0.1.*", "0.1.5rc1"));
        assert!(allows("==1.0", "1.0+local") && !allows("==1.0+other", "1.0+local"));
        assert!(allows("!=1.1", "1.0") && !allows("!=1.0", "1.0.0"));
        assert!(allows("~=1.4.5", "1.4.9") && !allows("~=1.4.5", "1.5.0"));
        assert!(!allows("<2.0", "2.0rc1") && allows("<2.0rc2", "2.0rc1"));
        assert!(allows("<2.0", "1.9"));
        assert!(!allows(">1.0", "1.0.post1") && allows(">1.0.post0", "1.0.post1"));
        assert!(!allows(">1.0", "1.0+local") && allows(">1.0", "1.1+local"));
        assert!(allows("===1.0+x", "1.0+X") && !allows("===1.0", "1.0.0"));
        assert!(allows(">=1!0", "1!0.1") && !allows("<1", "1!0.1"));
    }

    #[test]
    fn malformed_specifiers_are_errors() {
        for bad in ["3.10", ">=three", "~=3", ">=3.10.*", ">=", "==1.0rc1.*"] {
            assert!(Specifiers::parse(bad).is_err(), "{bad} parsed");
        }
    }
}
