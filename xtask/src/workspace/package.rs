//! A package of the monorepo: what its `pyproject.toml` and folder say it is.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::project::PYTHON_DIR;
use crate::workspace::blueprint::Kind;
use crate::workspace::ci::Ci;
use crate::workspace::deploy::Deploy;
use crate::workspace::layout::Layout;
use crate::workspace::pep440::Specifiers;

/// The extra, or the dependency group (PEP 735), that holds a package's developer tools.
pub const DEV_EXTRA: &str = "dev";
pub const DEV_GROUP: &str = "dev";

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
    /// Its version and where it is written, when that can be told without building: `[project]
    /// version`, or the plain string a dynamic version is read from (see `dynamic.rs`). None
    /// for a version only the build can tell (from git tags, a computed attribute): the
    /// requirements on the package are then not checked against it.
    pub known_version: Option<KnownVersion>,
    pub requires_python: Option<Specifiers>,
    pub dependencies: Vec<String>,
    /// `[project.optional-dependencies]`: each extra and its requirements.
    pub extras: BTreeMap<String, Vec<String>>,
    /// `[build-system] requires`: what building it (editable too) needs.
    pub build_requires: Vec<String>,
    /// `[build-system] build-backend`, and `backend-path` if any.
    pub build_backend: Option<String>,
    pub backend_path: Vec<String>,
    /// Where its import packages live and which they are.
    pub layout: Layout,
    /// Its developer tools: the `dev` dependency group (PEP 735), else the `dev` extra.
    pub dev: Option<DevTools>,
    /// Every requirement it declares (dependencies, read from a file too; extras; dependency
    /// groups), with where it is written, for the checks of the graph.
    pub declared: Vec<Declared>,
    /// `[tool.uv.sources]` entries with `workspace = true`, with their `path:line`.
    pub uv_workspace_sources: Vec<(String, String)>,
    /// Package indexes of its own (`[[tool.uv.index]]`), and which packages come from which
    /// (`[tool.uv.sources] name = { index = "..." }`): the CPU or GPU wheels of a service.
    pub indexes: Vec<Index>,
    pub index_sources: BTreeMap<String, String>,
    /// Local packages this one depends on (normalised names), from `dependencies` and its `dev` extra.
    pub local_deps: Vec<String>,
    /// Those from `dependencies` alone: what it runs with.
    pub runtime_local_deps: Vec<String>,
    /// Where its dynamic metadata (`[project] dynamic`) is read from when it is built: what an
    /// install depends on besides the `pyproject.toml`.
    pub metadata_sources: Vec<MetadataSource>,
    /// The files besides `pyproject.toml` that its build reads (see [`super::build_files`]):
    /// a change to one makes its editable install be built again.
    pub build_files: Vec<PathBuf>,
    /// How it is deployed (`[tool.xtask.dist]`, `[project.scripts]`): read for every package,
    /// used for services.
    pub deploy: Deploy,
    /// Where its venv's CI job runs (`[tool.xtask.ci]`), when it owns a venv.
    pub ci: Ci,
}

/// A requirement as a package declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub text: String,
    /// `path:line`, relative to the root.
    pub at: String,
    /// Whether the xtask installs it: a dependency, or a dev tool of a venv's owner; not the
    /// other extras and groups.
    pub installed: bool,
}

/// A version and where it is written (`path:line`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownVersion {
    pub text: String,
    pub at: String,
}

/// Where a package declares its developer tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevSource {
    /// `[dependency-groups] dev` (PEP 735): installed as its requirements.
    Group,
    /// `[project.optional-dependencies] dev`: installed as `package[dev]`.
    Extra,
    /// The workspace's `[dependency-groups] dev` in `python/pyproject.toml`: the dev tools of a
    /// library that declares none of its own.
    Workspace,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevTools {
    pub source: DevSource,
    /// The requirements, with the group's `include-group` entries expanded.
    pub requirements: Vec<String>,
}

impl DevTools {
    /// `[dependency-groups] dev` or `[project.optional-dependencies] dev`.
    pub fn describe(&self) -> &'static str {
        match self.source {
            DevSource::Group => "[dependency-groups] dev",
            DevSource::Extra => "[project.optional-dependencies] dev",
            DevSource::Workspace => "python/pyproject.toml's [dependency-groups] dev",
        }
    }
}

/// A package index a package declares (`[[tool.uv.index]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub name: String,
    pub url: String,
    /// Only the packages that name it in `[tool.uv.sources]` are meant to come from it.
    pub explicit: bool,
}

/// The tools every job of a venv needs, as distribution names.
pub const REQUIRED_TOOLS: &[&str] = &["ruff", "mypy", "pytest", "pytest-cov"];

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

    /// Where it first requires the distribution `name` (normalised): `path:line`, else its
    /// `pyproject.toml`.
    pub fn where_required(&self, name: &str) -> String {
        self.declared
            .iter()
            .find(|d| normalize(requirement_name(&d.text)) == name)
            .map_or_else(|| format!("{}/pyproject.toml", self.rel), |d| d.at.clone())
    }

    /// The import names it provides: `dubbing_common`, `dubbing.ns`.
    pub fn import_names(&self) -> Vec<String> {
        self.layout.imports.iter().map(|i| i.name.clone()).collect()
    }

    /// Which of [`REQUIRED_TOOLS`] its dev tools lack.
    pub fn missing_tools(&self) -> Vec<&'static str> {
        missing_tools(self.dev.as_ref())
    }
}

/// Which of [`REQUIRED_TOOLS`] these dev tools lack (all, without any).
pub fn missing_tools(dev: Option<&DevTools>) -> Vec<&'static str> {
    let declared: Vec<String> = dev
        .iter()
        .flat_map(|d| &d.requirements)
        .map(|r| normalize(requirement_name(r)))
        .collect();
    REQUIRED_TOOLS
        .iter()
        .copied()
        .filter(|tool| !declared.iter().any(|d| d == tool))
        .collect()
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
