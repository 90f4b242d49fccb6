//! The files of the seed tree under `python/`, rendered from the model. `scaffold` writes them and
//! the drift test compares them with the committed tree.

use crate::workspace::blueprint::{self, Kind, PACKAGES, Package};

/// One file of the tree: a path under `python/` (with `/` separators) and its UTF-8, LF content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub path: String,
    pub content: String,
}

/// The `dev` extra: the seed's lower bounds; `cargo xtask lock` pins the exact versions in
/// `requirements-dev.txt` (the first setup of a new tree locks).
const DEV_EXTRA: &[&str] = &["pytest>=7.0", "pytest-cov>=4.0", "ruff>=0.1.0", "mypy>=1.0"];

/// Every file of the seed tree, in creation order.
pub fn all() -> Vec<Template> {
    let mut files = vec![
        file("pyproject.toml", root_pyproject()),
        file("README.md", root_readme()),
        file(
            ".python-version",
            format!("{}\n", blueprint::PYTHON_VERSION),
        ),
    ];
    files.push(file(".gitignore", gitignore()));
    for package in PACKAGES {
        package_files(package, PACKAGES, &mut files);
    }
    files.push(file(
        &format!("{}/__init__.py", blueprint::E2E_TESTS_DIR),
        String::new(),
    ));
    for service in blueprint::services() {
        let path = format!("{}/{}/README.md", blueprint::DEPLOY_DIR, service.name());
        files.push(file(&path, deploy_readme(service)));
    }
    files
}

/// The files of one package of `tree` (which holds it, and the packages it names): what
/// `cargo xtask new` writes, with a service's deployment folder.
pub fn new_package(package: &Package, tree: &[Package]) -> Vec<Template> {
    let mut files = Vec::new();
    package_files(package, tree, &mut files);
    if package.is_service() {
        let path = format!("{}/{}/README.md", blueprint::DEPLOY_DIR, package.name());
        files.push(file(&path, deploy_readme(package)));
    }
    files
}

fn file(path: &str, content: String) -> Template {
    Template {
        path: path.to_owned(),
        content,
    }
}

fn package_files(package: &Package, tree: &[Package], files: &mut Vec<Template>) {
    let dir = package.dir;
    let src = format!("{dir}/src/{}", package.import);
    files.push(file(
        &format!("{dir}/pyproject.toml"),
        package_pyproject(package),
    ));
    files.push(file(
        &format!("{dir}/README.md"),
        package_readme(package, tree),
    ));
    files.push(file(&format!("{src}/__init__.py"), package_init(package)));
    files.push(file(&format!("{src}/py.typed"), String::new()));
    for (name, doc) in package.subpackages {
        files.push(file(
            &format!("{src}/{name}/__init__.py"),
            format!("\"\"\"{doc}\"\"\"\n"),
        ));
    }
    for test_dir in package.test_dirs() {
        files.push(file(
            &format!("{dir}/tests/{test_dir}/__init__.py"),
            String::new(),
        ));
    }
    files.push(file(
        &format!("{dir}/tests/unit/test_version.py"),
        version_test(package),
    ));
    if package.is_service() {
        files.push(file(&format!("{src}/__main__.py"), service_main(package)));
        let path = format!("{dir}/tests/unit/test_main.py");
        files.push(file(&path, service_main_test(package)));
    }
    // The libraries of the tree it depends on (`new` leaves out one without `__version__`).
    if package
        .local_deps
        .iter()
        .any(|dep| tree.iter().any(|p| p.dist == *dep))
    {
        let path = format!("{dir}/tests/unit/test_shared_libs.py");
        files.push(file(&path, shared_libs_test(package, tree)));
    }
}

fn toml_list(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let lines: Vec<String> = items
        .into_iter()
        .map(|i| format!("    \"{}\",\n", i.as_ref()))
        .collect();
    if lines.is_empty() {
        "[]".to_owned()
    } else {
        format!("[\n{}]", lines.concat())
    }
}

fn package_pyproject(package: &Package) -> String {
    let mut out = format!(
        r#"[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "{summary}"
readme = "README.md"
requires-python = "{requires}"
dependencies = {deps}
"#,
        dist = package.dist,
        summary = package.summary,
        requires = blueprint::REQUIRES_PYTHON,
        deps = toml_list(package.local_deps),
    );
    if package.is_service() {
        out += &format!(
            "\n[project.optional-dependencies]\ndev = {}\n",
            toml_list(DEV_EXTRA)
        );
        out += &format!(
            "\n[project.scripts]\n{name} = \"{import}.__main__:main\"\n",
            name = package.name(),
            import = package.import,
        );
    }
    out += &format!(
        r#"
[tool.setuptools.packages.find]
where = ["src"]

[tool.setuptools.package-data]
{import} = ["py.typed"]
"#,
        import = package.import,
    );
    if package.is_service() {
        out += &dist_table(package);
    }
    out
}

/// A service's `[tool.xtask.dist]`: what `cargo xtask dist` builds its image from and checks.
fn dist_table(package: &Package) -> String {
    let mut out = String::from(
        "\n# The deployable `cargo xtask dist` builds and checks.\n[tool.xtask.dist]\n",
    );
    if let Some(image) = package.base_image {
        out += &format!("base-image = \"{image}\"\n");
    }
    if let Some(platform) = package.platform {
        out += &format!("platform = \"{platform}\"\n");
    }
    out += &format!("smoke = [\"{}\", \"--version\"]\n", package.name());
    out
}

fn service_main(package: &Package) -> String {
    format!(
        r#""""The command line of {dist}: `{name} --version` prints its version."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from {import} import __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="{name}", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {{__version__}}")
    parser.parse_args(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
"#,
        dist = package.dist,
        name = package.name(),
        import = package.import,
    )
}

fn service_main_test(package: &Package) -> String {
    format!(
        r#""""The command line the image runs: `{name} --version` is dist's smoke test."""

import pytest

from {import} import __version__
from {import}.__main__ import main


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"{name} {{__version__}}"


def test_no_arguments_is_success() -> None:
    assert main([]) == 0
"#,
        name = package.name(),
        import = package.import,
    )
}

fn package_init(package: &Package) -> String {
    format!(
        "\"\"\"{}.\"\"\"\n\n__version__ = \"0.1.0\"\n",
        package.summary
    )
}

fn version_test(package: &Package) -> String {
    format!(
        r#""""The version the package reports is the one its installed distribution declares."""

from importlib.metadata import version

import {import}


def test_version_matches_distribution_metadata() -> None:
    assert {import}.__version__ == version("{dist}")
"#,
        import = package.import,
        dist = package.dist,
    )
}

fn shared_libs_test(package: &Package, tree: &[Package]) -> String {
    let libs: Vec<&Package> = package
        .local_deps
        .iter()
        .filter_map(|dep| tree.iter().find(|p| p.dist == *dep))
        .collect();
    let imports: String = libs
        .iter()
        .map(|l| format!("import {}\n", l.import))
        .collect();
    let cases: String = libs
        .iter()
        .map(|l| format!("        ({}, \"{}\"),\n", l.import, l.dist))
        .collect();
    format!(
        r#""""{dist} imports the shared libraries it depends on (SC-003)."""

from importlib.metadata import version
from types import ModuleType

import pytest

{imports}

@pytest.mark.parametrize(
    ("module", "distribution"),
    [
{cases}    ],
)
def test_shared_library_is_importable(module: ModuleType, distribution: str) -> None:
    assert module.__version__ == version(distribution)
"#,
        dist = package.dist,
    )
}

/// `python/.gitignore`: what the tools write under `python/` (SC-007), with patterns relative to
/// `python/`, so a tree scaffolded into an empty folder passes its own check after `git init`.
fn gitignore() -> String {
    String::from(
        r#"# What the tools write under python/: venvs, caches and build leftovers (SC-007).
# `cargo xtask clean` removes them.

# Venvs and the xtask's files beside them; what an interrupted removal of a venv left
.venv/
.venv.lock
.venv.xtask-trash-*/
venv/
.xtask-lock/

# Python caches and build leftovers
__pycache__/
*.py[cod]
*.egg-info/
# Only at a package's root (apps/<name>/, libs/<name>/): a source subpackage named `build` or
# `dist` (src/<import>/build/) is code, not a leftover.
/*/*/build/
/*/*/dist/
.mypy_cache/
.ruff_cache/
.pytest_cache/
.coverage
.coverage.*
coverage.xml
htmlcov/

# Editors and OS; what `cargo xtask ide` writes (this machine's venv paths)
.idea/
.vscode/
/pyrightconfig.json
/dubbing.code-workspace
*.swp
.DS_Store
"#,
    )
}

fn root_pyproject() -> String {
    format!(
        r#"# Tooling configuration shared by every package under python/. Not a package itself:
# the packages are apps/*/pyproject.toml and libs/*/pyproject.toml.

# The dev tools of a library that lists none of its own and that no service installs yet (it
# has a venv of its own then). PEP 735: a dependency group needs no [project].
[dependency-groups]
dev = {dev}

[tool.ruff]
target-version = "py310"
line-length = 100
# First-party imports are those of the packages here, in the src layout or the flat one: ruff looks
# for them in these folders, so a new package needs no edit of this file.
src = ["apps/*/src", "libs/*/src", "apps/*", "libs/*"]

[tool.ruff.lint]
# An explicit selection: ruff's defaults change between releases.
select = [
    "E",   # pycodestyle errors
    "W",   # pycodestyle warnings
    "F",   # pyflakes
    "I",   # isort
    "B",   # flake8-bugbear
    "UP",  # pyupgrade
    "N",   # pep8-naming
    "SIM", # flake8-simplify
    "PT",  # flake8-pytest-style
    "RUF", # ruff's own rules
]

[tool.ruff.format]
line-ending = "lf"

[tool.mypy]
python_version = "{py}"
strict = true
warn_unreachable = true

[tool.pytest.ini_options]
minversion = "7.0"
testpaths = ["tests"]
addopts = ["--strict-markers", "--strict-config", "--import-mode=importlib"]
xfail_strict = true
"#,
        py = blueprint::PYTHON_VERSION,
        dev = toml_list(DEV_EXTRA),
    )
}

/// The services of `tree` that install the library `package`.
fn services_using<'t>(package: &Package, tree: &'t [Package<'t>]) -> Vec<&'t Package<'t>> {
    tree.iter()
        .filter(|s| s.is_service() && s.local_deps.contains(&package.dist))
        .collect()
}

/// The commands a newcomer runs for a package, each with what it does.
fn commands_for(package: &Package, tree: &[Package]) -> String {
    let services: Vec<&Package> = match package.kind {
        Kind::Service => vec![package],
        Kind::Library => services_using(package, tree),
    };
    let mut lines: Vec<(String, String)> = Vec::new();
    for service in &services {
        let setup = match service.setup_command {
            Some(command) => command.to_owned(),
            None => format!("setup {}", service.name()),
        };
        lines.push((
            format!("cargo xtask {setup}"),
            format!("set up python/{}/.venv", service.dir),
        ));
    }
    if services.is_empty() {
        // No service installs it yet: it has a venv of its own.
        lines.push((
            format!("cargo xtask setup {}", package.name()),
            format!("set up python/{}/.venv", package.dir),
        ));
    }
    let name = package.name();
    for (command, what) in [
        (
            format!("cargo xtask lint --package {name}"),
            "ruff and mypy (strict)",
        ),
        (
            format!("cargo xtask test --package {name}"),
            "pytest with coverage (at least 80%)",
        ),
        (
            "cargo xtask fmt".to_owned(),
            "format and apply ruff's fixes",
        ),
        (
            "cargo xtask verify".to_owned(),
            "the whole gate, as CI runs it",
        ),
        (
            "cargo xtask doctor".to_owned(),
            "interpreters, installer, state of every venv",
        ),
    ] {
        lines.push((command, what.to_owned()));
    }
    let width = lines.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    let mut out = String::from("```sh\n");
    for (command, what) in lines {
        out += &format!("{command:<width$}  # {what}\n");
    }
    out += "```\n";
    out
}

/// Names in backticks, joined with "and": `` `a` and `b` ``.
fn quoted_list<'s>(names: impl Iterator<Item = &'s str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// What the package is, where its venv is and what it uses: the README's first paragraph.
fn readme_intro(package: &Package, tree: &[Package]) -> String {
    let services = services_using(package, tree);
    match package.kind {
        Kind::Service => {
            let others = if tree.iter().filter(|p| p.is_service()).count() == 2 {
                "the other service's"
            } else {
                "the other services'"
            };
            let uses = if package.local_deps.is_empty() {
                format!(
                    "It uses no shared library yet: `cargo xtask add {} LIBRARY` adds one.\n",
                    package.name()
                )
            } else {
                format!(
                    "It uses the shared libraries\n{}, installed editable, so a change there is live at once.\n",
                    quoted_list(package.local_deps.iter().copied())
                )
            };
            format!(
                "A service of the dubbing platform, with its own virtualenv at `python/{dir}/.venv`: its\n\
                 dependencies conflict with {others}. {uses}",
                dir = package.dir,
            )
        }
        Kind::Library if services.is_empty() => format!(
            "A shared library. No service installs it yet, so it has a virtualenv of its own at\n\
             `python/{}/.venv`, with the dev tools of `python/pyproject.toml` unless it lists its own.\n",
            package.dir
        ),
        Kind::Library => format!(
            "A shared library, installed editable into the virtualenv of every service that uses it:\n\
             {}.\n",
            quoted_list(services.iter().map(|s| s.dist)),
        ),
    }
}

fn package_readme(package: &Package, tree: &[Package]) -> String {
    let what = readme_intro(package, tree);
    let layout: String = package
        .subpackages
        .iter()
        .map(|(name, doc)| format!("- `src/{}/{name}/`: {doc}\n", package.import))
        .collect();
    format!(
        "# {dist}\n\n{summary}.\n\n{what}\n\
         Import it as `{import}`. Source under `src/{import}/`, tests under `tests/`.\n{layout}\n\
         ## Set up, lint, test\n\n\
         From any folder of the repository (prerequisites: Rust and Python >= 3.10):\n\n{commands}",
        dist = package.dist,
        summary = package.summary,
        import = package.import,
        layout = if layout.is_empty() {
            String::new()
        } else {
            format!("\n{layout}")
        },
        commands = commands_for(package, tree),
    )
}

fn root_readme() -> String {
    let packages: String = PACKAGES
        .iter()
        .map(|p| {
            format!(
                "| `{}/` | `{}` | `{}` | {} |\n",
                p.dir, p.dist, p.import, p.summary
            )
        })
        .collect();
    format!(
        "# python/\n\n\
         The Python monorepo of the live-broadcast dubbing platform: two services, each with a\n\
         virtualenv of its own, and two shared libraries installed editable into both.\n\n\
         | folder | distribution | import | what |\n|---|---|---|---|\n{packages}\n\
         Also: `tests/e2e/` (end-to-end tests across services), `deploy/<service>/` (deployment\n\
         configuration), `pyproject.toml` (ruff, mypy and pytest settings for every package) and\n\
         `.python-version` (the Python the venvs are built with, {py}).\n\n\
         The tree is created and checked by `cargo xtask scaffold`; see the repository's README.\n",
        py = blueprint::PYTHON_VERSION,
    )
}

fn deploy_readme(service: &Package) -> String {
    format!(
        "# deploy/{name}\n\nDeployment configuration of `{dist}` (Dockerfile, docker-compose.yml) goes here.\n",
        name = service.name(),
        dist = service.dist,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unique_and_relative() {
        let files = all();
        for (i, a) in files.iter().enumerate() {
            assert!(
                !a.path.starts_with('/') && !a.path.contains(".."),
                "{}",
                a.path
            );
            assert!(
                files[i + 1..].iter().all(|b| b.path != a.path),
                "{} twice",
                a.path
            );
        }
    }

    #[test]
    fn pyprojects_parse_as_toml() {
        for t in all().iter().filter(|t| t.path.ends_with(".toml")) {
            t.content
                .parse::<toml_edit::DocumentMut>()
                .unwrap_or_else(|e| panic!("{}: {e}", t.path));
        }
    }

    #[test]
    fn a_package_described_at_run_time_renders_with_its_own_commands() {
        let lib = Package {
            dir: "libs/mixer",
            dist: "mixer",
            import: "mixer",
            kind: Kind::Library,
            summary: "mixer, a library of the dubbing platform",
            subpackages: &[],
            local_deps: &[],
            setup_command: None,
            base_image: None,
            platform: None,
        };
        let files = new_package(&lib, std::slice::from_ref(&lib));
        let readme = files
            .iter()
            .find(|f| f.path == "libs/mixer/README.md")
            .unwrap();
        assert!(
            readme.content.contains("cargo xtask setup mixer "),
            "{}",
            readme.content
        );
        assert!(readme.content.contains("No service installs it yet"));
        let service = Package {
            dir: "apps/podcast",
            dist: "podcast",
            import: "podcast",
            kind: Kind::Service,
            local_deps: &["mixer"],
            ..lib.clone()
        };
        let tree = [lib, service.clone()];
        let files = new_package(&service, &tree);
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        for path in [
            "apps/podcast/src/podcast/__main__.py",
            "apps/podcast/tests/unit/test_shared_libs.py",
            "deploy/podcast/README.md",
        ] {
            assert!(paths.contains(&path), "{path}: {paths:?}");
        }
        for t in files.iter().filter(|t| t.path.ends_with(".toml")) {
            t.content.parse::<toml_edit::DocumentMut>().unwrap();
        }
    }

    #[test]
    fn content_is_lf_only_and_ends_with_a_newline() {
        for t in all() {
            assert!(!t.content.contains('\r'), "{}", t.path);
            assert!(
                t.content.is_empty() || t.content.ends_with('\n'),
                "{}",
                t.path
            );
        }
    }
}
