"""Grow a scaffolded seed tree into a larger monorepo, for the benchmarks.

The seed tree (`cargo xtask --root ROOT scaffold`) has 2 services and 2 libraries. This adds
4 services (svc-3..svc-6) and 22 libraries (lib-03..lib-24), 30 packages in all, each laid out
like the seeded ones (setuptools, src layout, py.typed, README.md, tests/unit/test_version.py),
plus one small module with a function and the test that covers it. Every service depends on
8 libraries (common and contracts, and 6 of the new ones, some shared by two services); some
libraries depend on another one (always one with a lower number: no cycles). The seeded
services get the same wiring; common and contracts stay as scaffolded.

    python3 xtask/bench/grown_tree.py ROOT [--manifest FILE]

The manifest (JSON) describes the graph: every package's folder, kind, distribution, import
name and direct local dependencies, and the library to edit in the benchmarks: one used by
several services with a library depending on it. Running it twice writes the same tree.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_COUNT = 6
LIBRARY_COUNT = 24
LIBS_PER_SERVICE = 8
VERSION = "0.1.0"
DEV_EXTRA = ["pytest>=7.0", "pytest-cov>=4.0", "ruff>=0.1.0", "mypy>=1.0"]
SEED_SERVICES = ["media-service", "sts-service"]
SEED_LIBRARIES = {"common": "dubbing-common", "contracts": "dubbing-contracts"}


@dataclass
class Package:
    """One package of the grown tree."""

    folder: str
    kind: str  # "service" or "library"
    dist: str
    description: str
    deps: list[str] = field(default_factory=list)  # folder names of direct local dependencies
    seeded: bool = False

    @property
    def import_name(self) -> str:
        return self.dist.replace("-", "_")

    @property
    def rel(self) -> str:
        return f"python/{'apps' if self.kind == 'service' else 'libs'}/{self.folder}"

    @property
    def has_label(self) -> bool:
        """Whether the package has the generated `core.label` function (new libraries)."""
        return self.kind == "library" and not self.seeded


def build_graph() -> dict[str, Package]:
    """The packages and their direct local dependencies, services first."""
    packages: dict[str, Package] = {}
    services = SEED_SERVICES + [
        f"svc-{i}" for i in range(len(SEED_SERVICES) + 1, SERVICE_COUNT + 1)
    ]
    for name in services:
        description = f"Service {name} of the grown benchmark tree"
        seeded = name in SEED_SERVICES
        packages[name] = Package(name, "service", name, description, seeded=seeded)
    for folder, dist in SEED_LIBRARIES.items():
        packages[folder] = Package(folder, "library", dist, "", seeded=True)
    extra = [f"lib-{i:02d}" for i in range(len(SEED_LIBRARIES) + 1, LIBRARY_COUNT + 1)]
    for j, folder in enumerate(extra):
        lib = Package(
            folder,
            "library",
            f"dubbing-{folder}",
            f"Shared library {folder} of the dubbing services",
        )
        # A chain (lib-04 on lib-03, ...) and uses of the seeded libraries; always a lower number.
        if j % 4 == 1:
            lib.deps = [extra[j - 1]]
        elif j % 4 == 2:
            lib.deps = ["common"]
        elif j % 4 == 3:
            lib.deps = ["contracts"]
        packages[folder] = lib
    per_service = LIBS_PER_SERVICE - len(SEED_LIBRARIES)
    for i, name in enumerate(services):
        # Windows of 6 with a stride of 4: neighbours share 2 libraries, the last wraps around.
        chosen = sorted({extra[(4 * i + k) % len(extra)] for k in range(per_service)})
        packages[name].deps = [*SEED_LIBRARIES, *chosen]
        assert len(packages[name].deps) == LIBS_PER_SERVICE
    return packages


def closure(packages: dict[str, Package], folder: str) -> list[str]:
    """The package and every local package it needs, dependencies first."""
    out: list[str] = []

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise ValueError(f"cycle: {' -> '.join([*path, name])}")
        if name in out:
            return
        for dep in packages[name].deps:
            visit(dep, [*path, name])
        out.append(name)

    visit(folder, [])
    return out


def installers(packages: dict[str, Package], folder: str) -> list[str]:
    """The services whose venvs install the package."""
    return [
        s for s, p in packages.items() if p.kind == "service" and folder in closure(packages, s)
    ]


def dependents(packages: dict[str, Package], folder: str) -> list[str]:
    return [p for p in packages if p != folder and folder in closure(packages, p)]


def choose_edit(packages: dict[str, Package]) -> str:
    """A new library with a library depending on it, installed by the most services."""
    candidates = [
        f
        for f, p in packages.items()
        if p.has_label
        and any(packages[d].kind == "library" for d in dependents(packages, f))
        and len(installers(packages, f)) >= 2
    ]
    if not candidates:
        raise ValueError("no library with a dependent library is used by 2+ services")
    return max(candidates, key=lambda f: (len(installers(packages, f)), -int(f[4:])))


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8", newline="\n")


def commands_block(rows: list[tuple[str, str]]) -> str:
    width = max(len(cmd) for cmd, _ in rows) + 2
    return "".join(f"{cmd.ljust(width)}# {what}\n" for cmd, what in rows)


def readme(pkg: Package, packages: dict[str, Package]) -> str:
    imp = pkg.import_name
    if pkg.kind == "service":
        uses = ", ".join(f"`{packages[d].dist}`" for d in pkg.deps)
        intro = textwrap.fill(
            f"A service of the dubbing platform, with its own virtualenv at `{pkg.rel}/.venv`. "
            f"It uses the shared libraries {uses}, installed editable, so a change there is live "
            "at once.",
            width=100,
            break_on_hyphens=False,
        )
        intro += "\n"
        setup = [(f"cargo xtask setup {pkg.folder}", f"set up {pkg.rel}/.venv")]
    else:
        users = installers(packages, pkg.folder)
        intro = (
            "A shared library, installed editable into the virtualenv of every service that "
            f"uses it:\n{', '.join(f'`{s}`' for s in users)}.\n"
        )
        setup = [(f"cargo xtask setup {' '.join(users)}", "set up the venvs that install it")]
    rows = [
        *setup,
        (f"cargo xtask lint --package {pkg.folder}", "ruff and mypy (strict)"),
        (f"cargo xtask test --package {pkg.folder}", "pytest with coverage (at least 80%)"),
        ("cargo xtask fmt", "format and apply ruff's fixes"),
        ("cargo xtask verify", "the whole gate, as CI runs it"),
        ("cargo xtask doctor", "interpreters, installer, state of every venv"),
    ]
    return (
        f"# {pkg.dist}\n\n{pkg.description}.\n\n{intro}\n"
        f"Import it as `{imp}`. Source under `src/{imp}/`, tests under `tests/`.\n\n"
        "## Set up, lint, test\n\n"
        "From any folder of the repository (prerequisites: Rust and Python >= 3.10):\n\n"
        f"```sh\n{commands_block(rows)}```\n"
    )


def toml_list(items: list[str]) -> str:
    if not items:
        return "[]"
    return "[\n" + "".join(f'    "{item}",\n' for item in items) + "]"


def pyproject(pkg: Package, packages: dict[str, Package]) -> str:
    deps = toml_list([packages[d].dist for d in pkg.deps])
    extras = ""
    if pkg.kind == "service":
        extras = f"\n[project.optional-dependencies]\ndev = {toml_list(DEV_EXTRA)}\n"
    return (
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{pkg.dist}"\nversion = "{VERSION}"\n'
        f'description = "{pkg.description}"\nreadme = "README.md"\n'
        f'requires-python = ">=3.10"\ndependencies = {deps}\n{extras}\n'
        '[tool.setuptools.packages.find]\nwhere = ["src"]\n\n'
        f'[tool.setuptools.package-data]\n{pkg.import_name} = ["py.typed"]\n'
    )


def test_version(pkg: Package) -> str:
    return (
        '"""The version the package reports is the one its installed distribution declares."""\n\n'
        f"from importlib.metadata import version\n\nimport {pkg.import_name}\n\n\n"
        "def test_version_matches_distribution_metadata() -> None:\n"
        f'    assert {pkg.import_name}.__version__ == version("{pkg.dist}")\n'
    )


def library_files(pkg: Package, packages: dict[str, Package]) -> dict[str, str]:
    imp = pkg.import_name
    tag = pkg.folder
    if not pkg.deps:
        imports, body = "", f'f"{tag}:{{name}}"'
    else:
        dep = packages[pkg.deps[0]]
        if dep.has_label:
            imports = f"from {dep.import_name}.core import label as base_label\n\n\n"
            body = f'f"{tag}:{{base_label(name)}}"'
        else:
            imports = f"from {dep.import_name} import __version__ as base_version\n\n\n"
            body = f'f"{tag}/{{base_version}}:{{name}}"'
    core = (
        f'"""The one function of {pkg.dist}: a label for a name."""\n\n'
        + (imports or "\n")
        + "def label(name: str) -> str:\n"
        f'    """Return `name` tagged with {tag} (and the library it builds on)."""\n'
        f"    return {body}\n\n\n"
        # Last, so that a comment line appended to the module (the benchmarks' edit) stays
        # formatted: after a function body, ruff format would want two blank lines first.
        '__all__ = ["label"]\n'
    )
    test_core = (
        f'"""{imp}.core.label tags a name with its library."""\n\n'
        f"from {imp}.core import label\n\n\n"
        "def test_label_tags_the_name() -> None:\n"
        f'    assert label("clip").startswith("{tag}")\n'
        '    assert label("clip").endswith(":clip")\n'
    )
    return {
        f"src/{imp}/__init__.py": f'"""{pkg.description}."""\n\n__version__ = "{VERSION}"\n',
        f"src/{imp}/py.typed": "",
        f"src/{imp}/core.py": core,
        "tests/unit/__init__.py": "",
        "tests/unit/test_version.py": test_version(pkg),
        "tests/unit/test_core.py": test_core,
    }


def service_files(pkg: Package, packages: dict[str, Package]) -> dict[str, str]:
    imp = pkg.import_name
    libs = [packages[d] for d in pkg.deps]
    labelled = [lib for lib in libs if lib.has_label]
    imports = "".join(
        f"from {lib.import_name}.core import label as label_{lib.folder[4:]}\n" for lib in labelled
    )
    calls = "".join(f"        label_{lib.folder[4:]}(name),\n" for lib in labelled)
    wiring = (
        f'"""How {pkg.folder} uses its libraries: one label from each."""\n\n'
        f"{imports}\n\n"
        "def labels(name: str) -> list[str]:\n"
        '    """Return the label each library the service uses gives `name`."""\n'
        f"    return [\n{calls}    ]\n"
    )
    test_wiring = (
        f'"""{imp}.wiring.labels asks each library the service uses."""\n\n'
        f"from {imp}.wiring import labels\n\n\n"
        "def test_one_label_per_library() -> None:\n"
        f'    assert len(labels("clip")) == {len(labelled)}\n'
        '    assert all(label.endswith(":clip") for label in labels("clip"))\n'
    )
    shared = (
        f'"""{pkg.folder} imports the shared libraries it depends on (SC-003)."""\n\n'
        "from importlib.metadata import version\nfrom types import ModuleType\n\n"
        "import pytest\n\n"
        + "".join(f"import {lib.import_name}\n" for lib in libs)
        + "\n\n@pytest.mark.parametrize(\n"
        '    ("module", "distribution"),\n    [\n'
        + "".join(f'        ({lib.import_name}, "{lib.dist}"),\n' for lib in libs)
        + "    ],\n)\n"
        "def test_shared_library_is_importable(module: ModuleType, distribution: str) -> None:\n"
        "    assert module.__version__ == version(distribution)\n"
    )
    files = {
        f"src/{imp}/wiring.py": wiring,
        "tests/unit/test_wiring.py": test_wiring,
        "tests/unit/test_shared_libs.py": shared,
    }
    if pkg.seeded:
        return files
    # No requirement files: each service's first setup locks its own.
    files |= {
        f"src/{imp}/__init__.py": f'"""{pkg.description}."""\n\n__version__ = "{VERSION}"\n',
        f"src/{imp}/py.typed": "",
        "tests/unit/__init__.py": "",
        "tests/integration/__init__.py": "",
        "tests/unit/test_version.py": test_version(pkg),
    }
    return files


def set_dependencies(path: Path, dists: list[str]) -> None:
    """Rewrite `[project] dependencies` of a seeded pyproject.toml."""
    text = path.read_text(encoding="utf-8")
    new, count = re.subn(
        r"^dependencies = \[[^\]]*\]$", f"dependencies = {toml_list(dists)}", text, flags=re.M
    )
    if count != 1:
        raise ValueError(f"{path}: no single `dependencies = [...]` to rewrite")
    write(path, new)


def grow(root: Path) -> dict[str, object]:
    packages = build_graph()
    for folder in packages:
        closure(packages, folder)  # raises on a cycle
        if not installers(packages, folder):
            raise ValueError(f"{folder}: no service installs it")
    for pkg in packages.values():
        base = root / pkg.rel
        if pkg.seeded:
            if pkg.kind == "library":
                continue
            set_dependencies(base / "pyproject.toml", [packages[d].dist for d in pkg.deps])
        else:
            write(base / "pyproject.toml", pyproject(pkg, packages))
            write(base / "README.md", readme(pkg, packages))
        if pkg.kind == "service":
            files = service_files(pkg, packages)
            if not pkg.seeded:
                write(
                    root / "python/deploy" / pkg.folder / "README.md",
                    f"# deploy/{pkg.folder}\n\nDeployment configuration of `{pkg.folder}` "
                    "(Dockerfile, docker-compose.yml) goes here.\n",
                )
        else:
            files = library_files(pkg, packages)
        for rel, text in files.items():
            write(base / rel, text)
    # No edit of python/pyproject.toml: ruff finds the first-party packages in every package's
    # source folder (its `src` setting).
    edit = choose_edit(packages)
    return {
        "packages": {
            f: {"kind": p.kind, "dist": p.dist, "import": p.import_name, "deps": p.deps}
            for f, p in packages.items()
        },
        "edit": {
            "package": edit,
            "module": f"{packages[edit].rel}/src/{packages[edit].import_name}/core.py",
        },
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a root holding the scaffolded seed tree")
    parser.add_argument("--manifest", type=Path, help="where to write the graph (JSON)")
    args = parser.parse_args(argv)
    if not (args.root / "python/apps/media-service/pyproject.toml").is_file():
        parser.error(f"{args.root}: no seed tree; run `cargo xtask --root ROOT scaffold` first")
    manifest = grow(args.root)
    if args.manifest is not None:
        args.manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    packages = manifest["packages"]
    assert isinstance(packages, dict)
    print(f"grown tree: {len(packages)} packages under {args.root / 'python'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
