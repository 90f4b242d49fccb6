//! The files each installed distribution's RECORD lists, and those of them no longer there.
//!
//! Why: setup's no-op look at a venv reads each distribution's RECORD, never the files it lists
//! (thousands in a venv: a stat of each would cost more than the rest of a no-op run). A file
//! deleted from site-packages by hand is then seen by no one until an import fails. `doctor`
//! can afford the stats, and says which distribution lost what.

use std::fs;
use std::path::Path;

use crate::env::venv::Venv;
use crate::fsutil;

/// A distribution that lost files since its install.
#[derive(Debug, PartialEq, Eq)]
pub struct Damaged {
    /// The `.dist-info` folder's name less its suffix: `six-1.17.0`.
    pub dist: String,
    /// The first missing file, as RECORD names it.
    pub first: String,
    /// How many are missing.
    pub missing: usize,
}

/// The venv's distributions whose RECORD lists a file that is not there. Bytecode is left out: a
/// cache, whose absence costs a compile, never an import.
pub fn damaged(venv: &Venv) -> Vec<Damaged> {
    let mut out = Vec::new();
    for site in venv.site_packages() {
        for (path, name, _) in fsutil::entries(&site) {
            let Some(dist) = name.strip_suffix(".dist-info") else {
                continue;
            };
            let record = fs::read_to_string(path.join("RECORD")).unwrap_or_default();
            let missing: Vec<String> = listed(&record)
                .filter(|file| !is_bytecode(file) && !site.join(file).exists())
                .collect();
            if let Some(first) = missing.first() {
                out.push(Damaged {
                    dist: dist.to_owned(),
                    first: first.clone(),
                    missing: missing.len(),
                });
            }
        }
    }
    out
}

/// The paths a RECORD lists (its first CSV field, quoted when it holds a comma), relative to
/// site-packages (`../../bin/x` for a script).
fn listed(record: &str) -> impl Iterator<Item = String> + '_ {
    record.lines().filter_map(|line| {
        let path = match line.strip_prefix('"') {
            Some(quoted) => quoted.split_once("\",")?.0.replace("\"\"", "\""),
            None => line.split(',').next()?.to_owned(),
        };
        (!path.is_empty()).then_some(path)
    })
}

fn is_bytecode(file: &str) -> bool {
    Path::new(file)
        .components()
        .any(|c| c.as_os_str() == "__pycache__")
        || file.ends_with(".pyc")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_lists_its_first_fields_quoted_or_not() {
        let record = "six.py,sha256=abc,123\n\"a,b.py\",sha256=x,1\n\"q\"\"uote.py\",,\n\
                      six-1.17.0.dist-info/RECORD,,\n";
        let files: Vec<String> = listed(record).collect();
        assert_eq!(
            files,
            [
                "six.py",
                "a,b.py",
                "q\"uote.py",
                "six-1.17.0.dist-info/RECORD"
            ]
        );
        assert!(is_bytecode("six/__pycache__/x.cpython-310.pyc"));
        assert!(!is_bytecode("six.py"));
    }
}
