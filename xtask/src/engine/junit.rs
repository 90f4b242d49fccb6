//! `--junit PATH`: the JUnit XML reports of the pytest and mypy jobs. A PATH ending in `.xml` is
//! one file that holds every suite; any other PATH is a folder with a file per job
//! (`pytest-common-media-service.xml`). Every suite is named by its job
//! (`pytest common (media-service venv)`), so a library's runs in two venvs are told apart.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::engine::jobs::{Outcome, job_name};
use crate::fsutil;
use crate::output::say;

/// Where the reports go, as `--junit` asked.
#[derive(Debug)]
pub struct Junit {
    /// The folder the jobs write their reports into (in file mode, a folder of parts).
    pub reports: PathBuf,
    /// The one file to merge them into, when PATH ends in `.xml`.
    file: Option<PathBuf>,
}

/// The report file of a job in the reports folder.
pub fn file_name(tool: &str, package: &str, venv: &str) -> String {
    format!("{tool}-{package}-{venv}.xml")
}

impl Junit {
    /// Makes the folder the reports go into (for a file: its folder, and a folder of parts
    /// beside it until they are merged).
    pub fn prepare(path: &Path) -> Result<Junit> {
        let is_file = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xml"));
        if !is_file {
            std::fs::create_dir_all(path)
                .with_context(|| format!("cannot create the --junit folder {}", path.display()))?;
            let reports = path
                .canonicalize()
                .with_context(|| format!("cannot resolve {}", path.display()))?;
            return Ok(Junit {
                reports,
                file: None,
            });
        }
        if path.is_dir() {
            bail!(
                "--junit {}: a path ending in .xml is one report file, and this is a folder; remove it, or name another file",
                path.display()
            );
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create the folder of {}", path.display()))?;
        let parent = parent
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", parent.display()))?;
        let name = path.file_name().context("--junit names a file")?;
        let reports = parent.join(format!(
            ".{}.parts-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        std::fs::create_dir_all(&reports)
            .with_context(|| format!("cannot create {}", reports.display()))?;
        Ok(Junit {
            reports,
            file: Some(parent.join(name)),
        })
    }

    /// Names each job's suite after the job, merges them into the one file when asked, and says
    /// where they are.
    pub fn finish(&self, outcomes: &[Outcome]) -> Result<()> {
        let mut suites = Vec::new();
        for o in outcomes {
            let (Some(package), Some(venv)) = (&o.package, &o.venv) else {
                continue;
            };
            let path = self.reports.join(file_name(o.tool, package, venv));
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue; // the job stopped before its tool wrote a report
            };
            let named = rename_suites(&text, &job_name(o.tool, Some(package), Some(venv)));
            suites.push((path, named));
        }
        match &self.file {
            None => {
                for (path, text) in &suites {
                    fsutil::write_atomic(path, text.as_bytes())?;
                }
                say(format!(
                    "junit: {} reports in {}",
                    suites.len(),
                    self.reports.display()
                ));
            }
            Some(file) => {
                let bodies: Vec<&str> = suites.iter().map(|(_, t)| suite_elements(t)).collect();
                let merged = format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites>\n{}\n</testsuites>\n",
                    bodies.join("\n")
                );
                fsutil::write_atomic(file, merged.as_bytes())?;
                let _ = std::fs::remove_dir_all(&self.reports);
                say(format!(
                    "junit: {} suites in {}",
                    suites.len(),
                    file.display()
                ));
            }
        }
        Ok(())
    }
}

/// The `<testsuite>` elements of a report, without the XML declaration and the `<testsuites>`
/// around them (pytest writes one, mypy none).
fn suite_elements(text: &str) -> &str {
    let start = find_suite_tag(text, 0).unwrap_or(text.len());
    let body = &text[start..];
    let end = body.rfind("</testsuites>").unwrap_or(body.len());
    body[..end].trim()
}

/// Where the next `<testsuite` start tag (not `<testsuites`) is, from `from`.
fn find_suite_tag(text: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(found) = text[at..].find("<testsuite") {
        let tag = at + found;
        let next = text[tag + "<testsuite".len()..].chars().next();
        if matches!(next, Some(c) if c.is_whitespace() || c == '>' || c == '/') {
            return Some(tag);
        }
        at = tag + 1;
    }
    None
}

/// Every `<testsuite>` of the report named `name` (its `name` attribute set, or added).
fn rename_suites(text: &str, name: &str) -> String {
    let escaped = xml_attribute(name);
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    while let Some(tag) = find_suite_tag(text, at) {
        let end = tag + text[tag..].find('>').unwrap_or(text.len() - tag);
        out += &text[at..tag];
        let head = &text[tag..end];
        let renamed = match head.find(" name=\"") {
            Some(attr) => {
                let value = attr + " name=\"".len();
                let close = value + head[value..].find('"').unwrap_or(head.len() - value);
                format!("{}{escaped}{}", &head[..value], &head[close..])
            }
            None => format!(
                "<testsuite name=\"{escaped}\"{}",
                &head["<testsuite".len()..]
            ),
        };
        out += &renamed;
        at = end;
    }
    out += &text[at..];
    out
}

fn xml_attribute(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_are_named_by_their_job_and_merged_without_their_wrappers() {
        let pytest = "<?xml version=\"1.0\" encoding=\"utf-8\"?><testsuites name=\"pytest tests\"><testsuite name=\"pytest\" errors=\"0\" hostname=\"h\"><testcase name=\"t\"/></testsuite></testsuites>";
        let named = rename_suites(pytest, "pytest common (media-service venv)");
        assert!(
            named.contains("<testsuites name=\"pytest tests\"><testsuite name=\"pytest common (media-service venv)\" errors=\"0\" hostname=\"h\">"),
            "{named}"
        );
        assert_eq!(
            suite_elements(&named),
            "<testsuite name=\"pytest common (media-service venv)\" errors=\"0\" hostname=\"h\"><testcase name=\"t\"/></testsuite>"
        );
        let mypy = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuite errors=\"0\" name=\"mypy\" tests=\"1\">\n</testsuite>\n";
        let named = rename_suites(mypy, "mypy a&b");
        assert_eq!(
            suite_elements(&named),
            "<testsuite errors=\"0\" name=\"mypy a&amp;b\" tests=\"1\">\n</testsuite>"
        );
        assert_eq!(
            rename_suites("<testsuite>x</testsuite>", "n"),
            "<testsuite name=\"n\">x</testsuite>"
        );
    }
}
