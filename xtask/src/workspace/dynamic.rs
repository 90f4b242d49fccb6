//! Dynamic metadata (`[project] dynamic = [...]`): what the build backend computes when it builds,
//! read without building where the backend documents a static form.
//!
//! - **Dependencies** are read only in setuptools' documented form,
//!   `[tool.setuptools.dynamic] dependencies = {file = [...]}`: requirement files of one
//!   requirement a line, `#` comments and blank lines skipped (setuptools' own rule; `-r` and
//!   other options are not part of it). They then count as if written in `[project]
//!   dependencies`: locked, installed, part of the graph. Any other dynamic dependencies (another
//!   backend's plugin, dynamic `optional-dependencies`) are an error: the xtask could neither
//!   lock nor install requirements it cannot read, and a venv without them is no venv to call
//!   ready.
//! - **The version** is read where it is a plain string the backend reads without running code:
//!   setuptools' `attr:` (a literal assignment, as setuptools reads it first) and `file:`,
//!   hatch's and pdm's version `path`, flit's module `__version__`. A version only the build can
//!   tell (from git tags, a computed attribute) stays unknown, and requirements on it are not
//!   checked against it.
//! - **The sources** of every dynamic field are what an install depends on besides the
//!   `pyproject.toml` (the stamp's inputs).

use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{Result, bail};
use toml_edit::{Item, Table};

use crate::fsutil;
use crate::workspace::package::{
    Declared, KnownVersion, MetadataSource, normalize, requirement_name,
};
use crate::workspace::pep508;

/// A `pyproject.toml` being read.
pub struct Source<'a> {
    pub root: &'a Path,
    /// The package folder.
    pub dir: &'a Path,
    /// The file, relative to the root.
    pub rel_file: &'a str,
    pub text: &'a str,
    pub doc: &'a Table,
}

/// The backends that read `[tool.setuptools]`: named, or the default when none is named.
const SETUPTOOLS_BACKENDS: &[&str] = &["setuptools.build_meta", "setuptools.build_meta:__legacy__"];

impl Source<'_> {
    fn tool(&self, path: &[&str]) -> Option<&Item> {
        let mut item = self.doc.get("tool")?;
        for key in path {
            item = item.get(key)?;
        }
        Some(item)
    }

    fn backend(&self) -> Option<&str> {
        self.doc
            .get("build-system")
            .and_then(|b| b.get("build-backend"))
            .and_then(Item::as_str)
    }

    /// Whether setuptools builds it: its backend is named, or none is (the installers' default),
    /// and no in-tree backend (`backend-path`) wraps it.
    fn is_setuptools(&self) -> bool {
        let in_tree = self
            .doc
            .get("build-system")
            .and_then(|b| b.get("backend-path"))
            .is_some();
        !in_tree
            && self
                .backend()
                .is_none_or(|b| SETUPTOOLS_BACKENDS.contains(&b))
    }

    /// `path:line` of a place in the file.
    fn at(&self, item: Option<&Item>) -> String {
        let line = item.and_then(Item::span).map_or(1, |s| {
            self.text[..s.start.min(self.text.len())]
                .matches('\n')
                .count()
                + 1
        });
        format!("{}:{line}", self.rel_file)
    }

    /// Where setuptools and flit find modules: `package-dir`'s root, else `src/`, else the
    /// folder.
    fn module_root(&self) -> PathBuf {
        match self
            .tool(&["setuptools", "package-dir", ""])
            .and_then(Item::as_str)
        {
            Some(root) => self.dir.join(root),
            None if self.dir.join("src").is_dir() => self.dir.join("src"),
            None => self.dir.to_path_buf(),
        }
    }

    /// The file of a dotted module: `pkg/mod.py` or `pkg/mod/__init__.py`.
    fn module_file(&self, module: &str) -> Option<PathBuf> {
        let rel: PathBuf = module.split('.').collect();
        let root = self.module_root();
        [rel.with_extension("py"), rel.join("__init__.py")]
            .into_iter()
            .map(|candidate| root.join(candidate))
            .find(|candidate| candidate.is_file())
    }

    /// The files a `file = "x"` or `file = ["x", "y"]` entry names.
    fn files(&self, spec: &Item) -> Vec<String> {
        match spec.get("file") {
            Some(item) if item.is_str() => item.as_str().map(str::to_owned).into_iter().collect(),
            Some(item) => item
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            None => Vec::new(),
        }
    }
}

/// The requirements of a dynamic `dependencies`, each with the file and line it is written on;
/// an error naming the `pyproject.toml` when they cannot be read (see the module's comment).
pub fn dependencies(
    src: &Source,
    dynamic: &[String],
    listed: Option<&Item>,
) -> Result<Vec<Declared>> {
    let at = src.at(listed);
    if dynamic.iter().any(|d| d == "optional-dependencies") {
        bail!(
            "{at}: `optional-dependencies` is listed in [project] dynamic: the xtask reads no \
             requirements the build computes, so it could neither lock nor install them; write \
             them under [project.optional-dependencies] instead"
        );
    }
    if !dynamic.iter().any(|d| d == "dependencies") {
        return Ok(Vec::new());
    }
    let project = src.doc.get("project");
    if let Some(item) = project.and_then(|p| p.get("dependencies")) {
        bail!(
            "{}: `dependencies` is both written here and listed in [project] dynamic ({at}); \
             keep one of them",
            src.at(Some(item))
        );
    }
    let spec = src.tool(&["setuptools", "dynamic", "dependencies"]);
    let files = spec.map(|s| src.files(s)).unwrap_or_default();
    if !src.is_setuptools() || files.is_empty() {
        bail!(
            "{at}: `dependencies` is listed in [project] dynamic, and the xtask can read dynamic \
             dependencies only in setuptools' form ([tool.setuptools.dynamic] dependencies = \
             {{file = [\"requirements.in\"]}}, with the setuptools backend): it could neither \
             lock nor install requirements it cannot read. Write them under [project] \
             dependencies, or use that form"
        );
    }
    let mut out = Vec::new();
    for file in files {
        out.extend(requirements_file(src, &file, &src.at(spec))?);
    }
    Ok(out)
}

/// The requirements of one file of setuptools' `dependencies = {file = [...]}`.
fn requirements_file(src: &Source, file: &str, named_at: &str) -> Result<Vec<Declared>> {
    let inside = Path::new(file)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !inside {
        bail!(
            "{named_at}: `{file}` is not inside the package folder, and setuptools reads no file \
             outside it; move it into {}",
            fsutil::display_rel(src.root, src.dir)
        );
    }
    let path = src.dir.join(file);
    let rel = fsutil::display_rel(src.root, &path);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => bail!(
            "{named_at}: cannot read the dependencies file {rel} ({e}); setuptools would build \
             without its requirements, with only a warning: create it, or fix the name"
        ),
    };
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let requirement = line.trim();
        if requirement.is_empty() || requirement.starts_with('#') {
            continue;
        }
        let at = format!("{rel}:{}", index + 1);
        if requirement.starts_with('-') {
            bail!(
                "{at}: `{requirement}`: setuptools reads one requirement a line from a \
                 dependencies file, no options (-r, -c, -e, --index-url); list the requirements \
                 themselves"
            );
        }
        if let Err(invalid) = pep508::check(requirement) {
            bail!(
                "{at}: `{requirement}` is not a PEP 508 requirement (setuptools would fail to \
                 build the package):\n{}",
                invalid.show(requirement)
            );
        }
        out.push(Declared {
            text: requirement.to_owned(),
            at,
            installed: true,
        });
    }
    Ok(out)
}

/// The version and where it is written, when `version` is dynamic and the backend reads it from
/// a plain string (see the module's comment); None when only the build can tell.
pub fn version(src: &Source, dist: &str, listed: Option<&Item>) -> Option<KnownVersion> {
    let (file, assignment) = version_file(src, dist)?;
    let text = fs::read_to_string(&file).ok()?;
    let (version, offset) = match assignment {
        // A plain file: its whole content is the version.
        None => (text.trim().to_owned(), text.len() - text.trim_start().len()),
        Some(assignment) => assignment.find(&text)?,
    };
    if version.is_empty() {
        return None;
    }
    let line = text[..offset.min(text.len())].matches('\n').count() + 1;
    Some(KnownVersion {
        text: version,
        at: format!(
            "{}:{line} (the dynamic version of {})",
            fsutil::display_rel(src.root, &file),
            src.at(listed)
        ),
    })
}

/// Where the backend reads the version: the file, and the assignment in it (None: the whole
/// file is the version).
fn version_file(src: &Source, dist: &str) -> Option<(PathBuf, Option<Assignment>)> {
    let plain = |name: &str| Assignment {
        names: vec![name.to_owned()],
        annotated: false,
        ignore_case: false,
    };
    if src.is_setuptools() {
        let spec = src.tool(&["setuptools", "dynamic", "version"])?;
        if let Some(attr) = spec.get("attr").and_then(Item::as_str) {
            let (module, name) = attr.rsplit_once('.')?;
            // setuptools reads the first assignment statically, as Python writes it.
            let assignment = Assignment {
                annotated: true,
                ..plain(name)
            };
            return Some((src.module_file(module)?, Some(assignment)));
        }
        return match src.files(spec).as_slice() {
            [one] => Some((src.dir.join(one), None)),
            _ => None,
        };
    }
    match src.backend()? {
        "hatchling.build" => {
            let table = src.tool(&["hatch", "version"])?;
            let regex = table
                .get("source")
                .and_then(Item::as_str)
                .is_none_or(|s| s == "regex");
            if !regex || table.get("pattern").is_some() {
                return None;
            }
            let path = table.get("path").and_then(Item::as_str)?;
            // hatch's default pattern: `(?i)^(__version__|VERSION) *= *(['"])v?(.+?)\2`.
            let assignment = Assignment {
                names: vec!["__version__".into(), "version".into()],
                annotated: false,
                ignore_case: true,
            };
            Some((src.dir.join(path), Some(assignment)))
        }
        "pdm.backend" => {
            let table = src.tool(&["pdm", "version"])?;
            (table.get("source").and_then(Item::as_str) == Some("file")).then_some(())?;
            let path = table.get("path").and_then(Item::as_str)?;
            Some((src.dir.join(path), Some(plain("__version__"))))
        }
        "flit_core.buildapi" => {
            let module = src
                .tool(&["flit", "module", "name"])
                .and_then(Item::as_str)
                .map_or_else(|| normalize(dist).replace('-', "_"), str::to_owned);
            Some((src.module_file(&module)?, Some(plain("__version__"))))
        }
        _ => None,
    }
}

/// A top-level assignment of a version string, as a backend looks for it.
struct Assignment {
    names: Vec<String>,
    /// `__version__: str = "1.2"` counts.
    annotated: bool,
    /// `VERSION` is `version` too (hatch's pattern).
    ignore_case: bool,
}

impl Assignment {
    /// The string the first assignment to one of the names gives, and its byte offset: only a
    /// plain literal (`__version__ = "1.2"`, a comment after it); None when the first
    /// assignment is anything else (an expression only running the code could tell).
    fn find(&self, text: &str) -> Option<(String, usize)> {
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let Some(rest) = self.after_name(line) else {
                continue;
            };
            let mut rest = rest.trim_start();
            if self.annotated
                && let Some(annotation) = rest.strip_prefix(':')
            {
                match annotation.split_once('=') {
                    Some((_, value)) => rest = value,
                    None => continue, // a bare annotation assigns nothing
                }
            } else if let Some(value) = rest.strip_prefix('=')
                && !value.starts_with('=')
            {
                rest = value;
            } else {
                continue; // `__version__info = ...`, `__version__ == x`: another statement
            }
            return literal(rest).map(|v| (v, start));
        }
        None
    }

    /// What follows one of the names at the start of `line`.
    fn after_name<'l>(&self, line: &'l str) -> Option<&'l str> {
        self.names.iter().find_map(|name| {
            let head = line.get(..name.len())?;
            let same = if self.ignore_case {
                head.eq_ignore_ascii_case(name)
            } else {
                head == name
            };
            same.then(|| &line[name.len()..])
        })
    }
}

/// `"1.2"` or `'1.2'`, alone on the rest of its line but for a comment.
fn literal(value: &str) -> Option<String> {
    let value = value.trim();
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = &value[1..];
    let end = body.find(quote)?;
    let after = body[end + 1..].trim();
    (end > 0 && (after.is_empty() || after.starts_with('#'))).then(|| body[..end].to_owned())
}

/// Where the build backend reads each dynamic field from, as far as the common backends declare
/// it; a field whose source cannot be told makes the whole folder a source.
pub fn metadata_sources(
    src: &Source,
    dynamic: &[String],
    dist: &str,
    build_requires: &[String],
) -> Vec<MetadataSource> {
    let mut out = Vec::new();
    let scm = build_requires.iter().any(|r| {
        normalize(requirement_name(r)).ends_with("scm") || requirement_name(r) == "hatch-vcs"
    }) || src.tool(&["setuptools_scm"]).is_some();
    for field in dynamic {
        let mut found = Vec::new();
        if let Some(spec) = src.tool(&["setuptools", "dynamic", field]) {
            if let Some(attr) = spec.get("attr").and_then(Item::as_str) {
                found.extend(attr_source(src, attr));
            }
            let files = src.files(spec).into_iter();
            found.extend(files.map(|f| MetadataSource::File(src.dir.join(f))));
        }
        if field == "version" {
            found.extend(version_sources(src, dist, scm, found.is_empty()));
        }
        if found.is_empty() {
            found.push(MetadataSource::Tree(src.dir.to_path_buf()));
        }
        for source in found {
            if !out.contains(&source) {
                out.push(source);
            }
        }
    }
    out
}

/// Where setuptools reads `attr = "pkg.module.name"` from: the module's file when it assigns the
/// name a literal (setuptools reads that statically); otherwise setuptools imports the module,
/// which may import any other (`from ._version import VERSION as __version__`): the whole
/// package folder is the source.
fn attr_source(src: &Source, attr: &str) -> Option<MetadataSource> {
    // `pkg.module.attr`: the module is everything before the last dot.
    let Some((module, name)) = attr.rsplit_once('.') else {
        return Some(MetadataSource::Tree(src.dir.to_path_buf()));
    };
    let file = src.module_file(module)?;
    let assignment = Assignment {
        names: vec![name.to_owned()],
        annotated: true,
        ignore_case: false,
    };
    let text = fs::read_to_string(&file).unwrap_or_default();
    Some(match assignment.find(&text) {
        Some(_) => MetadataSource::File(file),
        None => MetadataSource::Tree(src.dir.to_path_buf()),
    })
}

/// Where a dynamic version comes from besides setuptools' table: hatch's and pdm's path, the git
/// state for versions from tags, flit's module.
fn version_sources(src: &Source, dist: &str, scm: bool, nothing_yet: bool) -> Vec<MetadataSource> {
    let mut found = Vec::new();
    for path in [
        &["hatch", "version", "path"][..],
        &["pdm", "version", "path"],
    ] {
        if let Some(file) = src.tool(path).and_then(Item::as_str) {
            found.push(MetadataSource::File(src.dir.join(file)));
        }
    }
    let vcs = ["hatch", "pdm"].iter().any(|backend| {
        src.tool(&[backend, "version", "source"])
            .and_then(Item::as_str)
            .is_some_and(|s| s == "vcs" || s == "scm")
    });
    if vcs || scm {
        found.push(MetadataSource::Git(src.dir.to_path_buf()));
        // A dirty tree's version names the change too.
        found.push(MetadataSource::Tree(src.dir.to_path_buf()));
    }
    let flit = src.backend().is_some_and(|b| b.starts_with("flit"));
    if flit && nothing_yet && found.is_empty() {
        let module = src
            .tool(&["flit", "module", "name"])
            .and_then(Item::as_str)
            .map_or_else(|| normalize(dist).replace('-', "_"), str::to_owned);
        found.extend(src.module_file(&module).map(MetadataSource::File));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_read_only_from_a_plain_literal() {
        let v = |text: &str, annotated| {
            let assignment = Assignment {
                names: vec!["__version__".into()],
                annotated,
                ignore_case: false,
            };
            assignment.find(text).map(|(v, _)| v)
        };
        assert_eq!(
            v("\"\"\"Doc.\"\"\"\n__version__ = \"1.2\"\n", false).as_deref(),
            Some("1.2")
        );
        assert_eq!(
            v("__version__='3.0rc1'  # bumped\n", false).as_deref(),
            Some("3.0rc1")
        );
        assert_eq!(
            v("__version__: str = \"1.0\"\n", true).as_deref(),
            Some("1.0")
        );
        assert_eq!(
            v("__version__ = get_version()\n__version__ = \"1\"\n", false),
            None
        );
        assert_eq!(v("__version__ = \"1\" + SUFFIX\n", false), None);
        assert_eq!(v("    __version__ = \"1\"\n", false), None, "not top-level");
        assert_eq!(
            v("__version__info = (1, 2)\n__version__ = \"1.2\"\n", false).as_deref(),
            Some("1.2")
        );
        assert_eq!(v("__version__ = \"\"\n", false), None);
        assert_eq!(
            v("__version__: str\n__version__ = \"2\"\n", true).as_deref(),
            Some("2")
        );
        let hatch = Assignment {
            names: vec!["__version__".into(), "version".into()],
            annotated: false,
            ignore_case: true,
        };
        assert_eq!(
            hatch.find("VERSION_INFO = (1,)\nVERSION = 'v1.3'\n"),
            Some(("v1.3".to_owned(), 20))
        );
    }
}
