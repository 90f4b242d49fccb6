//! What `dist` remembers between runs, per service, outside the context (so that the context
//! holds only what the image is built from): each wheel's key and the file it gave, and the key
//! of the last check that passed. `<dist dir>/.xtask/<service>.state`, one record a line.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::fsutil;

/// A wheel built from inputs whose key is `key`: its file name and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub key: String,
    pub file: String,
    pub sha256: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct State {
    /// By package (normalised name).
    pub wheels: BTreeMap<String, Built>,
    /// The key of the last check that passed: the context's manifest and the check's inputs.
    pub verified: Option<String>,
}

impl State {
    pub fn path(dist_dir: &Path, service: &str) -> PathBuf {
        dist_dir.join(".xtask").join(format!("{service}.state"))
    }

    /// The state recorded, or none: an unreadable or foreign file is as good as none (everything
    /// is built and checked again).
    pub fn read(path: &Path) -> State {
        let mut state = State::default();
        let Ok(text) = fs::read_to_string(path) else {
            return state;
        };
        for line in text.lines() {
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["wheel", package, key, file, sha256] => {
                    state.wheels.insert(
                        (*package).to_owned(),
                        Built {
                            key: (*key).to_owned(),
                            file: (*file).to_owned(),
                            sha256: (*sha256).to_owned(),
                        },
                    );
                }
                ["verified", key] => state.verified = Some((*key).to_owned()),
                _ => {}
            }
        }
        state
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = String::new();
        for (package, built) in &self.wheels {
            text += &format!(
                "wheel {package} {} {} {}\n",
                built.key, built.file, built.sha256
            );
        }
        if let Some(key) = &self.verified {
            text += &format!("verified {key}\n");
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        fsutil::write_atomic(path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_reads_back_as_written() {
        let dir = std::env::temp_dir().join(format!("xtask-state-test-{}", std::process::id()));
        let path = State::path(&dir, "media-service");
        let mut state = State::default();
        state.wheels.insert(
            "dubbing-common".into(),
            Built {
                key: "k".into(),
                file: "dubbing_common-0.1.0-py3-none-any.whl".into(),
                sha256: "s".into(),
            },
        );
        state.verified = Some("v".into());
        state.write(&path).unwrap();
        assert_eq!(State::read(&path), state);
        let _ = fs::remove_dir_all(&dir);
    }
}
