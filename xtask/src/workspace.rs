//! The monorepo as it is on disk: the packages are the `pyproject.toml` files under
//! `python/apps/*/` and `python/libs/*/`, and the local dependencies between them give the graph
//! from which venvs, install sets and jobs are derived.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use toml_edit::{Document, Item};

use crate::fsutil;
use crate::model::Kind;
use crate::pep440::Specifiers;
use crate::project::PYTHON_DIR;

/// Folders of `python/` that hold packages, and what their packages are.
const PACKAGE_FOLDERS: &[(&str, Kind)] = &[("apps", Kind::Service), ("libs", Kind::Library)];

/// Files beside a service's `pyproject.toml` that its install transaction reads, in install order.
pub const REQUIREMENT_FILES: &[&str] = &["requirements.txt", "requirements-dev.txt"];

/// The extra a service is installed with.
pub const DEV_EXTRA: &str = "dev";

#[derive(Debug, Clone)]
pub struct Package {
    /// The package folder, absolute.
    pub dir: PathBuf,
    /// The folder relative to the root, `/`-separated: `python/apps/media-service`.
    pub rel: String,
    pub kind: Kind,
    /// The distribution name as written.
    pub dist: String,
    /// The normalised name (PEP 503): how dependencies refer to it.
    pub name: String,
    pub version: Option<String>,
    pub requires_python: Option<Specifiers>,
    pub dependencies: Vec<String>,
    pub extras: BTreeMap<String, Vec<String>>,
    /// `[build-system] requires`: what building it (editable too) needs.
    pub build_requires: Vec<String>,
    /// Local packages this one depends on (normalised names), from `dependencies` and its `dev` extra.
    pub local_deps: Vec<String>,
    /// Where its dynamic metadata (`[project] dynamic`) is read from when it is built: what an
    /// install depends on besides the `pyproject.toml`.
    pub metadata_sources: Vec<MetadataSource>,
}

/// A place a build backend reads dynamic metadata from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataSource {
    /// A file: setuptools' `attr:` module or `file:` list, hatch's or pdm's version path, flit's
    /// module.
    File(PathBuf),
    /// The whole package folder: where the source of a dynamic field cannot be told, any file may
    /// be it.
    Tree(PathBuf),
    /// The git state of the folder: versions from tags (setuptools-scm, hatch-vcs, pdm's scm).
    Git(PathBuf),
}

impl Package {
    /// The folder's own name, which names a service on the command line: `media-service`.
    pub fn folder_name(&self) -> &str {
        self.rel.rsplit('/').next().unwrap_or(&self.rel)
    }

    /// The folder relative to `python/`, as the tools run there see it: `apps/media-service`.
    pub fn python_rel(&self) -> &str {
        self.rel
            .strip_prefix(&format!("{PYTHON_DIR}/"))
            .unwrap_or(&self.rel)
    }

    pub fn pyproject(&self) -> PathBuf {
        self.dir.join("pyproject.toml")
    }

    /// The requirement files of this package that exist.
    pub fn requirement_files(&self) -> Vec<PathBuf> {
        REQUIREMENT_FILES
            .iter()
            .map(|f| self.dir.join(f))
            .filter(|p| p.is_file())
            .collect()
    }

    /// Top-level import names: the packages and modules under `src/`.
    pub fn import_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let Ok(entries) = fs::read_dir(self.dir.join("src")) else {
            return names;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.join("__init__.py").is_file() {
                names.push(name);
            } else if let Some(module) = name.strip_suffix(".py") {
                names.push(module.to_owned());
            }
        }
        names.sort();
        names
    }

    pub fn src_dir(&self) -> PathBuf {
        self.dir.join("src")
    }
}

/// Every package of a root, and the graph between them.
#[derive(Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub packages: Vec<Package>,
}

/// PEP 503 normalisation: lower case, runs of `-`, `_` and `.` become one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// The distribution name a PEP 508 requirement names: `dubbing-common[x]>=1; python_version>"3"`.
pub fn requirement_name(requirement: &str) -> &str {
    let end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(requirement.len());
    requirement[..end].trim()
}

impl Workspace {
    pub fn load(root: &Path) -> Result<Workspace> {
        let mut packages = Vec::new();
        for (folder, kind) in PACKAGE_FOLDERS {
            let pattern = root.join(PYTHON_DIR).join(folder);
            let pattern = format!(
                "{}/*/pyproject.toml",
                glob::Pattern::escape(&pattern.to_string_lossy())
            );
            let mut paths: Vec<PathBuf> = glob::glob(&pattern)
                .with_context(|| format!("bad glob pattern {pattern}"))?
                .filter_map(Result::ok)
                .collect();
            paths.sort();
            for path in paths {
                packages.push(parse_package(root, &path, *kind)?);
            }
        }
        if packages.is_empty() {
            bail!(
                "no packages under {}: expected python/apps/*/pyproject.toml and python/libs/*/pyproject.toml; \
                 create the tree with `cargo xtask scaffold`",
                root.display()
            );
        }
        for (i, a) in packages.iter().enumerate() {
            if let Some(b) = packages[i + 1..].iter().find(|b| b.name == a.name) {
                bail!(
                    "{} and {} both declare the distribution `{}`; rename one",
                    a.rel,
                    b.rel,
                    a.dist
                );
            }
        }
        let names: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
        for package in &mut packages {
            let dev = package.extras.get(DEV_EXTRA).cloned().unwrap_or_default();
            let mut local: Vec<String> = package
                .dependencies
                .iter()
                .chain(&dev)
                .map(|r| normalize(requirement_name(r)))
                .filter(|n| names.contains(n) && *n != package.name)
                .collect();
            local.sort();
            local.dedup();
            package.local_deps = local;
        }
        let workspace = Workspace {
            root: root.to_path_buf(),
            packages,
        };
        for package in &workspace.packages {
            workspace.closure(package)?;
        }
        Ok(workspace)
    }

    pub fn services(&self) -> impl Iterator<Item = &Package> {
        self.packages.iter().filter(|p| p.kind == Kind::Service)
    }

    pub fn get(&self, name: &str) -> Option<&Package> {
        let name = normalize(name);
        self.packages.iter().find(|p| p.name == name)
    }

    /// A service by its folder name (`media-service`) or distribution name.
    pub fn service(&self, name: &str) -> Result<&Package> {
        let found = self
            .services()
            .find(|s| s.folder_name() == name || s.name == normalize(name));
        found.with_context(|| {
            let known: Vec<&str> = self.services().map(Package::folder_name).collect();
            format!(
                "no service `{name}` under python/apps/; the services are: {}",
                known.join(", ")
            )
        })
    }

    /// `package` and every local package it needs, transitively: dependencies first, the package
    /// last. A cycle is an error that names it.
    pub fn closure<'a>(&'a self, package: &'a Package) -> Result<Vec<&'a Package>> {
        fn visit<'a>(
            ws: &'a Workspace,
            p: &'a Package,
            path: &mut Vec<String>,
            out: &mut Vec<&'a Package>,
        ) -> Result<()> {
            if let Some(start) = path.iter().position(|n| *n == p.name) {
                let mut cycle = path[start..].to_vec();
                cycle.push(p.name.clone());
                bail!(
                    "the local dependencies form a cycle: {}; remove one of them",
                    cycle.join(" -> ")
                );
            }
            if out.iter().any(|o| o.name == p.name) {
                return Ok(());
            }
            path.push(p.name.clone());
            for dep in &p.local_deps {
                let dep = ws
                    .get(dep)
                    .context("a local dependency is a package of the workspace")?;
                visit(ws, dep, path, out)?;
            }
            path.pop();
            out.push(p);
            Ok(())
        }
        let mut out = Vec::new();
        visit(self, package, &mut Vec::new(), &mut out)?;
        Ok(out)
    }

    /// The packages that depend on `package`, transitively (not counting itself).
    pub fn dependents(&self, package: &Package) -> Vec<&Package> {
        self.packages
            .iter()
            .filter(|p| p.name != package.name)
            .filter(|p| {
                self.closure(p)
                    .is_ok_and(|c| c.iter().any(|d| d.name == package.name))
            })
            .collect()
    }

    /// The services whose install set holds `package`.
    pub fn services_installing(&self, package: &Package) -> Vec<&Package> {
        self.services()
            .filter(|s| {
                self.closure(s)
                    .is_ok_and(|c| c.iter().any(|d| d.name == package.name))
            })
            .collect()
    }
}

/// An error at a place of a file: `path:line: message`.
fn at(
    path: &str,
    source: &str,
    span: Option<std::ops::Range<usize>>,
    message: impl std::fmt::Display,
) -> anyhow::Error {
    let line = span.map_or(1, |s| {
        source[..s.start.min(source.len())].matches('\n').count() + 1
    });
    anyhow::anyhow!("{path}:{line}: {message}")
}

fn parse_package(root: &Path, path: &Path, kind: Kind) -> Result<Package> {
    let rel_file = fsutil::display_rel(root, path);
    let source = fs::read_to_string(path)
        .with_context(|| format!("cannot read {rel_file} (is it UTF-8?)"))?;
    let doc = Document::parse(source.as_str()).map_err(|e| {
        at(
            &rel_file,
            &source,
            e.span(),
            format!("not valid TOML: {}", e.message()),
        )
    })?;
    let fix = "fix the file, or compare it with the template (`cargo xtask scaffold --dry-run` in an empty --root)";
    let err = |span, msg: String| at(&rel_file, &source, span, format!("{msg}; {fix}"));
    let root_table = doc
        .as_item()
        .as_table()
        .context("a TOML document is a table")?;
    let project = match root_table.get("project") {
        Some(Item::Table(t)) => t,
        Some(other) => return Err(err(other.span(), "`project` must be a table".into())),
        None => return Err(err(None, "no [project] table (PEP 621)".into())),
    };
    let string = |key: &str| -> Result<Option<String>> {
        match project.get(key) {
            None => Ok(None),
            Some(item) => match item.as_str() {
                Some(s) => Ok(Some(s.to_owned())),
                None => Err(err(
                    item.span(),
                    format!("`project.{key}` must be a string"),
                )),
            },
        }
    };
    let string_list = |item: &Item, what: &str| -> Result<Vec<String>> {
        let array = item
            .as_array()
            .ok_or_else(|| err(item.span(), format!("`{what}` must be a list of strings")))?;
        array
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| err(v.span(), format!("`{what}` must hold only strings")))
            })
            .collect()
    };
    let dist =
        string("name")?.ok_or_else(|| err(project.span(), "[project] has no `name`".into()))?;
    if requirement_name(&dist) != dist || dist.is_empty() {
        let span = project.get("name").and_then(Item::span);
        return Err(err(
            span,
            format!("`{dist}` is not a valid distribution name"),
        ));
    }
    let dynamic: Vec<String> = match project.get("dynamic") {
        Some(item) => string_list(item, "project.dynamic")?,
        None => Vec::new(),
    };
    let version = string("version")?;
    if version.is_none() && !dynamic.iter().any(|d| d == "version") {
        return Err(err(
            project.span(),
            "[project] has no `version` (and does not list it in `dynamic`)".into(),
        ));
    }
    let requires_python = match string("requires-python")? {
        Some(text) => Some(Specifiers::parse(&text).map_err(|e| {
            err(
                project.get("requires-python").and_then(Item::span),
                format!("bad `requires-python`: {e}"),
            )
        })?),
        None => None,
    };
    let dependencies = match project.get("dependencies") {
        Some(item) => string_list(item, "project.dependencies")?,
        None => Vec::new(),
    };
    let mut extras = BTreeMap::new();
    if let Some(item) = project.get("optional-dependencies") {
        let table = item.as_table_like().ok_or_else(|| {
            err(
                item.span(),
                "`project.optional-dependencies` must be a table".into(),
            )
        })?;
        for (name, list) in table.iter() {
            extras.insert(
                name.to_owned(),
                string_list(list, &format!("project.optional-dependencies.{name}"))?,
            );
        }
    }
    let build_requires = match root_table
        .get("build-system")
        .and_then(|b| b.get("requires"))
    {
        Some(item) => string_list(item, "build-system.requires")?,
        None => Vec::new(),
    };
    let dir = path
        .parent()
        .context("a pyproject.toml has a folder")?
        .to_path_buf();
    let metadata_sources = metadata_sources(root_table, &dir, &dynamic, &dist, &build_requires);
    Ok(Package {
        rel: fsutil::display_rel(root, &dir),
        dir,
        kind,
        name: normalize(&dist),
        dist,
        version,
        requires_python,
        dependencies,
        extras,
        build_requires,
        local_deps: Vec::new(),
        metadata_sources,
    })
}

/// Where the build backend reads each dynamic field from, as far as the common backends declare
/// it; a field whose source cannot be told makes the whole folder a source.
fn metadata_sources(
    doc: &toml_edit::Table,
    dir: &Path,
    dynamic: &[String],
    dist: &str,
    build_requires: &[String],
) -> Vec<MetadataSource> {
    let mut out = Vec::new();
    if dynamic.is_empty() {
        return out;
    }
    let tool = |path: &[&str]| -> Option<&Item> {
        let mut item = doc.get("tool")?;
        for key in path {
            item = item.get(key)?;
        }
        Some(item)
    };
    let scm = build_requires.iter().any(|r| {
        normalize(requirement_name(r)).ends_with("scm") || requirement_name(r) == "hatch-vcs"
    }) || tool(&["setuptools_scm"]).is_some();
    // Where setuptools and flit find modules: `package-dir`'s root, else `src/`, else the folder.
    let module_root = match tool(&["setuptools", "package-dir", ""]).and_then(Item::as_str) {
        Some(root) => dir.join(root),
        None if dir.join("src").is_dir() => dir.join("src"),
        None => dir.to_path_buf(),
    };
    let module_file = |module: &str| -> Option<PathBuf> {
        let rel: PathBuf = module.split('.').collect();
        [rel.with_extension("py"), rel.join("__init__.py")]
            .into_iter()
            .map(|candidate| module_root.join(candidate))
            .find(|candidate| candidate.is_file())
    };
    for field in dynamic {
        let mut found = Vec::new();
        if let Some(spec) = tool(&["setuptools", "dynamic", field]) {
            if let Some(attr) = spec.get("attr").and_then(Item::as_str) {
                // `pkg.module.attr`: the module is everything before the last dot.
                let module = attr.rsplit_once('.').map_or(attr, |(m, _)| m);
                found.extend(module_file(module).map(MetadataSource::File));
            }
            match spec.get("file") {
                Some(item) if item.is_str() => {
                    found.extend(item.as_str().map(|f| MetadataSource::File(dir.join(f))));
                }
                Some(item) => found.extend(
                    item.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str())
                        .map(|f| MetadataSource::File(dir.join(f))),
                ),
                None => {}
            }
        }
        if field == "version" {
            for path in [
                &["hatch", "version", "path"][..],
                &["pdm", "version", "path"],
            ] {
                if let Some(file) = tool(path).and_then(Item::as_str) {
                    found.push(MetadataSource::File(dir.join(file)));
                }
            }
            let vcs = ["hatch", "pdm"].iter().any(|backend| {
                tool(&[backend, "version", "source"])
                    .and_then(Item::as_str)
                    .is_some_and(|s| s == "vcs" || s == "scm")
            });
            if vcs || scm {
                found.push(MetadataSource::Git(dir.to_path_buf()));
                // A dirty tree's version names the change too.
                found.push(MetadataSource::Tree(dir.to_path_buf()));
            }
            let flit = doc
                .get("build-system")
                .and_then(|b| b.get("build-backend"))
                .and_then(Item::as_str)
                .is_some_and(|b| b.starts_with("flit"));
            if flit && found.is_empty() {
                let module = tool(&["flit", "module", "name"])
                    .and_then(Item::as_str)
                    .map_or_else(|| normalize(dist).replace('-', "_"), str::to_owned);
                found.extend(module_file(&module).map(MetadataSource::File));
            }
        }
        if found.is_empty() {
            found.push(MetadataSource::Tree(dir.to_path_buf()));
        }
        for source in found {
            if !out.contains(&source) {
                out.push(source);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str, files: &[(&str, &str)]) -> Tree {
            let root = std::env::temp_dir().join(format!("xtask-ws-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            for (path, content) in files {
                let path = root.join(path);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, content).unwrap();
            }
            Tree(root)
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn pyproject(name: &str, deps: &[&str]) -> String {
        let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
        format!(
            "[project]\nname = \"{name}\"\nversion = \"1.0\"\nrequires-python = \">=3.10\"\ndependencies = [{}]\n",
            deps.join(", ")
        )
    }

    #[test]
    fn install_set_is_transitive_with_dependencies_first() {
        let tree = Tree::new(
            "graph",
            &[
                (
                    "python/apps/svc/pyproject.toml",
                    &pyproject("svc", &["Lib_A>=1", "requests"]),
                ),
                (
                    "python/libs/a/pyproject.toml",
                    &pyproject("lib-a", &["lib.b; python_version>'3'"]),
                ),
                ("python/libs/b/pyproject.toml", &pyproject("lib-b", &[])),
                ("python/libs/c/pyproject.toml", &pyproject("lib-c", &[])),
            ],
        );
        let ws = Workspace::load(&tree.0).unwrap();
        let svc = ws.service("svc").unwrap();
        let set: Vec<&str> = ws
            .closure(svc)
            .unwrap()
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(set, ["lib-b", "lib-a", "svc"]);
        let b = ws.get("lib_b").unwrap();
        let dependents: Vec<&str> = ws.dependents(b).iter().map(|p| p.name.as_str()).collect();
        assert_eq!(dependents, ["svc", "lib-a"]);
        assert_eq!(ws.services_installing(ws.get("lib-c").unwrap()).len(), 0);
        assert!(
            ws.service("nope")
                .unwrap_err()
                .to_string()
                .contains("the services are: svc")
        );
    }

    #[test]
    fn a_cycle_is_an_error_that_names_it() {
        let tree = Tree::new(
            "cycle",
            &[
                (
                    "python/apps/svc/pyproject.toml",
                    &pyproject("svc", &["lib-a"]),
                ),
                (
                    "python/libs/a/pyproject.toml",
                    &pyproject("lib-a", &["lib-b"]),
                ),
                (
                    "python/libs/b/pyproject.toml",
                    &pyproject("lib-b", &["lib-a"]),
                ),
            ],
        );
        let err = Workspace::load(&tree.0).unwrap_err().to_string();
        assert!(
            err.contains("cycle: lib-a -> lib-b -> lib-a")
                || err.contains("cycle: lib-b -> lib-a -> lib-b"),
            "{err}"
        );
    }

    #[test]
    fn malformed_pyprojects_name_the_file_and_line() {
        let cases = [
            (
                "[project]\nname = \"x\"\nversion = \"1\"\ndependencies = \"a\"\n",
                ":4: `project.dependencies` must be a list",
            ),
            (
                "[project]\nversion = \"1\"\n",
                ":1: [project] has no `name`",
            ),
            ("[tool.x]\n", ":1: no [project] table"),
            (
                "[project]\nname = \"x\"\n\nversion = 1\n",
                ":4: `project.version` must be a string",
            ),
            (
                "[project]\nname = \"x\"\nversion = \"1\"\nrequires-python = \"3.10\"\n",
                ":4: bad `requires-python`",
            ),
            (
                "[project]\nname = \"x\"\nversion = \"1\"\n[project\n",
                ":4: not valid TOML",
            ),
            (
                "[project]\nname = \"x\"\n",
                ":1: [project] has no `version`",
            ),
        ];
        for (i, (content, expected)) in cases.iter().enumerate() {
            let tree = Tree::new(
                &format!("bad{i}"),
                &[("python/libs/x/pyproject.toml", content)],
            );
            let err = format!("{:#}", Workspace::load(&tree.0).unwrap_err());
            assert!(
                err.contains(&format!("python/libs/x/pyproject.toml{expected}")),
                "case {i}: {err}"
            );
        }
    }

    #[test]
    fn names_normalise_per_pep_503() {
        assert_eq!(normalize("Dubbing__Common"), "dubbing-common");
        assert_eq!(normalize("a.b-c_d"), "a-b-c-d");
        assert_eq!(
            requirement_name("dubbing-common[x] >= 1 ; python_version > '3'"),
            "dubbing-common"
        );
    }
}
