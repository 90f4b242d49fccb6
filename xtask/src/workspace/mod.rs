//! The monorepo as it is on disk: the packages are the `pyproject.toml` files under
//! `python/apps/*/` and `python/libs/*/`, and the local dependencies between them give the graph
//! from which venvs, install sets and jobs are derived. After seeding, this is the model of the
//! monorepo for every command; the seed's blueprint (`blueprint.rs`, `templates.rs`) is only what
//! `scaffold` writes.

pub mod blueprint;
pub mod build_files;
pub mod ci;
pub mod deploy;
pub mod deployable;
pub mod dockerfile;
pub mod dockerfile_parse;
pub mod dockerfile_vars;
mod dynamic;
pub mod edit;
pub mod image_files;
pub mod imports;
pub mod layout;
mod package;
pub mod pep440;
pub mod pep508;
mod pyproject;
mod removals;
mod rules;
mod shell;
pub mod templates;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::fsutil;
use crate::project::PYTHON_DIR;
use crate::workspace::blueprint::Kind;
use pyproject::parse_package;

pub use package::{
    DevSource, MetadataSource, Package, REQUIRED_TOOLS, normalize, requirement_name,
};

/// Folders of `python/` that hold packages, and what their packages are.
const PACKAGE_FOLDERS: &[(&str, Kind)] = &[("apps", Kind::Service), ("libs", Kind::Library)];

/// Every package of a root, and the graph between them.
#[derive(Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub packages: Vec<Package>,
    /// The tools the workspace's dev tools (`python/pyproject.toml` `[dependency-groups] dev`)
    /// lack, of those every venv needs: all of them when there is no such group.
    pub shared_dev_missing: Vec<&'static str>,
}

impl Workspace {
    /// Reads every package, links the local dependencies, and checks the rules of the graph
    /// (`rules.rs`): all before any venv is touched.
    pub fn load(root: &Path) -> Result<Workspace> {
        let mut packages = read_packages(root)?;
        // A library with no dev tools of its own is developed with the workspace's: it needs
        // them while no service installs it (it owns a venv then).
        let shared_dev = pyproject::workspace_dev_tools(root)?;
        for package in packages.iter_mut() {
            if package.kind == Kind::Library && package.dev.is_none() {
                package.dev.clone_from(&shared_dev);
            }
        }
        link_local_dependencies(&mut packages);
        rules::check(root, &packages)?;
        let workspace = Workspace {
            root: root.to_path_buf(),
            packages,
            shared_dev_missing: package::missing_tools(shared_dev.as_ref()),
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
        // Names are kept normalised, and most lookups come with one: normalise only on a miss.
        self.packages.iter().find(|p| p.name == name).or_else(|| {
            let name = normalize(name);
            self.packages.iter().find(|p| p.name == name)
        })
    }

    /// `package` and every local package it needs, transitively, its dev tools' too (what its
    /// venv installs): dependencies first, the package last. A cycle is an error that names it.
    pub fn closure<'a>(&'a self, package: &'a Package) -> Result<Vec<&'a Package>> {
        self.closure_by(package, &|p| &p.local_deps)
    }

    /// [`Workspace::closure`] by `dependencies` alone: what the service runs with, never a local
    /// package that only a dev tool list names (a test kit): what a deployable holds and its
    /// runtime lock pins.
    pub fn runtime_closure<'a>(&'a self, package: &'a Package) -> Result<Vec<&'a Package>> {
        self.closure_by(package, &|p| &p.runtime_local_deps)
    }

    fn closure_by<'a>(
        &'a self,
        package: &'a Package,
        deps: &dyn Fn(&'a Package) -> &'a Vec<String>,
    ) -> Result<Vec<&'a Package>> {
        fn visit<'a>(
            ws: &'a Workspace,
            p: &'a Package,
            deps: &dyn Fn(&'a Package) -> &'a Vec<String>,
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
            for dep in deps(p) {
                let dep = ws
                    .get(dep)
                    .context("a local dependency is a package of the workspace")?;
                visit(ws, dep, deps, path, out)?;
            }
            path.pop();
            out.push(p);
            Ok(())
        }
        let mut out = Vec::new();
        visit(self, package, deps, &mut Vec::new(), &mut out)?;
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

    /// The packages that own a venv: every service, and every library that no service installs
    /// (so it can be developed and tested before any service uses it).
    pub fn venv_owners(&self) -> impl Iterator<Item = &Package> {
        self.packages
            .iter()
            .filter(|p| p.kind == Kind::Service || self.services_installing(p).is_empty())
    }

    /// The venvs a package is checked in (mypy and pytest, one job each): its own for a service
    /// or a library no service installs; for a library, every service venv that installs it.
    pub fn venvs_of<'a>(&'a self, package: &'a Package) -> Vec<&'a Package> {
        match package.kind {
            Kind::Service => vec![package],
            Kind::Library => {
                let services = self.services_installing(package);
                if services.is_empty() {
                    vec![package]
                } else {
                    services
                }
            }
        }
    }

    /// A package by its folder name (`common`) or distribution name (`dubbing-common`).
    pub fn package(&self, name: &str) -> Result<&Package> {
        self.packages
            .iter()
            .find(|p| p.folder_name() == name || p.name == normalize(name))
            .with_context(|| {
                let known: Vec<&str> = self.packages.iter().map(Package::folder_name).collect();
                let near = known
                    .iter()
                    .find(|k| strsim::levenshtein(k, name) <= 2)
                    .map(|k| format!(" (did you mean `{k}`?)"))
                    .unwrap_or_default();
                format!(
                    "no package `{name}`{near}; the packages are: {}",
                    known.join(", ")
                )
            })
    }

    /// A venv owner by folder name (`media-service`) or distribution name.
    pub fn owner(&self, name: &str) -> Result<&Package> {
        let found = self
            .venv_owners()
            .find(|s| s.folder_name() == name || s.name == normalize(name));
        found.with_context(|| {
            let known: Vec<&str> = self.venv_owners().map(Package::folder_name).collect();
            let why = match self.get(name) {
                Some(p) => format!(
                    "{} is a library that services install, so it has no venv of its own",
                    p.folder_name()
                ),
                None => format!("no package `{name}`"),
            };
            format!("{why}; the venvs are those of: {}", known.join(", "))
        })
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

/// The folders where tools run, and so write their caches and venvs, relative to `python/` and
/// ending in `/`: each package's folder (one with a `pyproject.toml`, as [`Workspace::load`]
/// finds them, none parsed: a pyproject that does not load still marks its folder) and
/// `python/` itself (`""`).
pub fn tool_roots(root: &Path) -> Vec<String> {
    let mut roots = vec![String::new()];
    for (path, _) in pyprojects(root) {
        let folder = path
            .parent()
            .and_then(|p| p.strip_prefix(root.join(PYTHON_DIR)).ok());
        if let Some(folder) = folder {
            roots.push(format!("{}/", folder.to_string_lossy().replace('\\', "/")));
        }
    }
    roots
}

/// Every `pyproject.toml` under `python/apps/*/` and `python/libs/*/`, with the kind of package
/// its folder holds. As the glob `*/pyproject.toml` would match (hidden folders and symlinks
/// too), from one listing rather than a stat of every folder above. A pyproject that is a link
/// leading nowhere is found too, and is an error when read: never a package silently left out.
fn pyprojects(root: &Path) -> Vec<(PathBuf, Kind)> {
    PACKAGE_FOLDERS
        .iter()
        .flat_map(|(folder, kind)| {
            fsutil::kinds(&root.join(PYTHON_DIR).join(folder))
                .into_iter()
                .map(|(dir, _, _)| (dir.join("pyproject.toml"), *kind))
        })
        .filter(|(path, _)| fs::symlink_metadata(path).is_ok())
        .collect()
}

/// Every package under `python/apps/*/` and `python/libs/*/`, each name once.
fn read_packages(root: &Path) -> Result<Vec<Package>> {
    let mut packages = Vec::new();
    for (path, kind) in pyprojects(root) {
        packages.push(parse_package(root, &path, kind)?);
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
    Ok(packages)
}

/// Each package's local dependencies: the local packages its dependencies and dev tools name,
/// and those its dependencies alone name.
fn link_local_dependencies(packages: &mut [Package]) {
    let names: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
    for package in packages {
        let dev = package
            .dev
            .as_ref()
            .map(|d| d.requirements.clone())
            .unwrap_or_default();
        let local = |requirements: &mut dyn Iterator<Item = &String>| -> Vec<String> {
            let mut local: Vec<String> = requirements
                .map(|r| normalize(requirement_name(r)))
                .filter(|n| names.contains(n) && *n != package.name)
                .collect();
            local.sort();
            local.dedup();
            local
        };
        package.runtime_local_deps = local(&mut package.dependencies.iter());
        package.local_deps = local(&mut package.dependencies.iter().chain(&dev));
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str, files: &[(&str, &str)]) -> Tree {
            let root = std::env::temp_dir().join(format!("xtask-ws-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            for (path, content) in files {
                let path = root.join(path);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, content).unwrap();
                // Each package provides an import package, as every package must.
                let dir = path.parent().unwrap();
                let import = dir.file_name().unwrap().to_string_lossy().replace('-', "_");
                let init = dir.join("src").join(import).join("__init__.py");
                fs::create_dir_all(init.parent().unwrap()).unwrap();
                fs::write(init, "").unwrap();
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
        let svc = ws.owner("svc").unwrap();
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
            ws.owner("nope")
                .unwrap_err()
                .to_string()
                .contains("no package `nope`; the venvs are those of: svc, c")
        );
        let err = ws.owner("lib-a").unwrap_err().to_string();
        assert!(
            err.contains("a is a library that services install"),
            "{err}"
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

    /// A package folder whose pyproject is a link leading nowhere is an error naming it, never a
    /// package silently left out of every gate.
    #[cfg(unix)]
    #[test]
    fn a_dangling_pyproject_link_is_an_error() {
        let tree = Tree::new(
            "dangling",
            &[("python/apps/svc/pyproject.toml", &pyproject("svc", &[]))],
        );
        let ghost = tree.0.join("python/libs/ghost");
        fs::create_dir_all(&ghost).unwrap();
        std::os::unix::fs::symlink("../../../nowhere.toml", ghost.join("pyproject.toml")).unwrap();
        let err = format!("{:#}", Workspace::load(&tree.0).unwrap_err());
        assert!(err.contains("python/libs/ghost/pyproject.toml"), "{err}");
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
    fn a_local_version_that_does_not_meet_a_requirement_names_both_files() {
        let tree = Tree::new(
            "versions",
            &[
                (
                    "python/apps/svc/pyproject.toml",
                    &pyproject(
                        "svc",
                        &["lib-a>=2.0; python_version >= '3.10'", "lib-b~=1.0"],
                    ),
                ),
                ("python/libs/a/pyproject.toml", &pyproject("lib-a", &[])),
                ("python/libs/b/pyproject.toml", &pyproject("lib-b", &[])),
            ],
        );
        let err = format!("{:#}", Workspace::load(&tree.0).unwrap_err());
        assert!(
            err.contains(
                "python/apps/svc/pyproject.toml:5: svc requires `lib-a>=2.0; python_version >= '3.10'`, \
                 but the local lib-a is 1.0 (python/libs/a/pyproject.toml:3)"
            ),
            "{err}"
        );
        assert!(!err.contains("lib-b"), "~=1.0 allows 1.0: {err}");
    }

    #[test]
    fn a_dynamic_version_is_read_where_it_is_a_plain_string() {
        let lib = "[project]\nname = \"lib-a\"\ndynamic = [\"version\"]\n\
                   [tool.setuptools.dynamic]\nversion = { attr = \"a.__version__\" }\n";
        let tree = Tree::new(
            "dynamic version",
            &[
                (
                    "python/apps/svc/pyproject.toml",
                    &pyproject("svc", &["lib-a<1"]),
                ),
                ("python/libs/a/pyproject.toml", lib),
            ],
        );
        fs::write(
            tree.0.join("python/libs/a/src/a/__init__.py"),
            "\"\"\"A.\"\"\"\n\n__version__ = \"1.5\"\n",
        )
        .unwrap();
        let err = format!("{:#}", Workspace::load(&tree.0).unwrap_err());
        assert!(
            err.contains("the local lib-a is 1.5 (python/libs/a/src/a/__init__.py:3 (the dynamic version of python/libs/a/pyproject.toml:3))"),
            "{err}"
        );
        // Computed: only the build can tell, so it is not checked.
        fs::write(
            tree.0.join("python/libs/a/src/a/__init__.py"),
            "__version__ = compute()\n",
        )
        .unwrap();
        let ws = Workspace::load(&tree.0).unwrap();
        assert!(ws.get("lib-a").unwrap().known_version.is_none());
    }

    #[test]
    fn setuptools_file_dependencies_count_as_written_and_other_dynamic_ones_are_refused() {
        let lib = "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\
                   [project]\nname = \"lib-a\"\nversion = \"1.0\"\ndynamic = [\"dependencies\"]\n\
                   [tool.setuptools.dynamic]\ndependencies = { file = [\"requirements.in\"] }\n";
        let tree = Tree::new(
            "dynamic deps",
            &[
                (
                    "python/apps/svc/pyproject.toml",
                    &pyproject("svc", &["lib-a"]),
                ),
                ("python/libs/a/pyproject.toml", lib),
                ("python/libs/b/pyproject.toml", &pyproject("lib-b", &[])),
                (
                    "python/libs/a/requirements.in",
                    "# what a needs\nsix>=1.16\n\nlib-b>=3\n",
                ),
            ],
        );
        let err = format!("{:#}", Workspace::load(&tree.0).unwrap_err());
        assert!(
            err.contains("python/libs/a/requirements.in:4: lib-a requires `lib-b>=3`, but the local lib-b is 1.0"),
            "{err}"
        );
        let requirements = tree.0.join("python/libs/a/requirements.in");
        fs::write(&requirements, "six>=1.16\nlib-b\n").unwrap();
        let ws = Workspace::load(&tree.0).unwrap();
        let a = ws.get("lib-a").unwrap();
        assert_eq!(a.dependencies, ["six>=1.16", "lib-b"]);
        assert_eq!(a.local_deps, ["lib-b"]);
        let set: Vec<&str> = ws
            .closure(ws.get("svc").unwrap())
            .unwrap()
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(set, ["lib-b", "lib-a", "svc"]);

        fs::write(&requirements, "-r other.txt\n").unwrap();
        let err = format!("{:#}", Workspace::load(&tree.0).unwrap_err());
        assert!(err.contains("python/libs/a/requirements.in:1: `-r other.txt`: setuptools reads one requirement a line"), "{err}");
        fs::remove_file(&requirements).unwrap();
        let err = format!("{:#}", Workspace::load(&tree.0).unwrap_err());
        assert!(err.contains("python/libs/a/pyproject.toml:9: cannot read the dependencies file python/libs/a/requirements.in"), "{err}");

        let pyproject = tree.0.join("python/libs/a/pyproject.toml");
        for (text, expected) in [
            (
                lib.replace("setuptools.build_meta", "hatchling.build"),
                "python/libs/a/pyproject.toml:7: `dependencies` is listed in [project] dynamic, and the xtask can read dynamic dependencies only in setuptools' form",
            ),
            (
                lib.replace("dependencies = { file", "optional-dependencies = { file")
                    .replace("[\"dependencies\"]", "[\"optional-dependencies\"]"),
                "python/libs/a/pyproject.toml:7: `optional-dependencies` is listed in [project] dynamic",
            ),
        ] {
            fs::write(&pyproject, text).unwrap();
            let err = format!("{:#}", Workspace::load(&tree.0).unwrap_err());
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn an_extra_of_a_local_package_must_exist_and_ask_for_nothing() {
        let lib = format!(
            "{}[project.optional-dependencies]\nfast = [\"numpy\"]\nnone = []\n",
            pyproject("lib-a", &[])
        );
        let tree = Tree::new(
            "extras",
            &[
                (
                    "python/apps/svc/pyproject.toml",
                    &pyproject("svc", &["lib-a[none]"]),
                ),
                ("python/libs/a/pyproject.toml", &lib),
            ],
        );
        Workspace::load(&tree.0).unwrap();
        let svc = tree.0.join("python/apps/svc/pyproject.toml");
        for (requirement, expected) in [
            (
                "lib-a[fast]",
                "what it asks for (numpy) would be missing from the venv",
            ),
            ("lib-a[typo]", "lib-a declares no extra `typo`"),
        ] {
            fs::write(&svc, pyproject("svc", &[requirement])).unwrap();
            let err = format!("{:#}", Workspace::load(&tree.0).unwrap_err());
            assert!(
                err.contains(&format!(
                    "python/apps/svc/pyproject.toml:5: `{requirement}` asks for the extra"
                )) && err.contains(expected),
                "{err}"
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
