"""Checks a venv that install.py filled, from inside it (run with -I, from an empty folder).

argv[1] is a JSON object: `imports` (every import package of the install set, each imported with
every module in it but `__main__`: a module that imports a dev tool fails here as in the image),
`modules` (import name -> the modules its source holds: one the installed package lacks while
a module it ships imports it is a subpackage the build left out by mistake),
`allowed` (the
normalised distribution names the venv may hold: the lock's pins and the local wheels), and
`forbidden` (name -> why: dev tools, other services), `forbidden_imports` (import name -> why)
and `data` (import name -> the data files its source folder holds, which the installed package
must hold too).
Prints one line per problem, each starting with "problem: ", and a last line "installed: N".
"""

import ast
import importlib
import importlib.metadata
import importlib.util
import json
import os
import pkgutil
import re
import sys


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def where(module: object) -> str:
    path = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", [])), "")
    return os.path.realpath(path) if path else ""


def submodule_problems(package: object, name: str) -> list[str]:
    """Imports every module under a package but `__main__` (which runs the program): those
    pkgutil's walk finds, then those in folders it does not enter (a folder without an
    `__init__.py` is a namespace package) that a shipped module names."""
    problems = []
    # Its own failures to import a subpackage are the loop's findings: not raised there.
    walk = pkgutil.walk_packages(
        getattr(package, "__path__", []), name + ".", onerror=lambda _: None
    )
    walked = [info.name for info in walk]
    seen = set(walked)
    others = [m for m in folder_modules(package, name) if m not in seen]
    # Only those a shipped module names (an import, or the dotted name in a string, as a plugin
    # loader has it): one that nothing names may be a template or a script, never imported.
    named = shipped_imports(package, name) if others else set()
    names = walked + [m for m in others if m in named]
    for module in names:
        if module.rsplit(".", 1)[-1] == "__main__":
            continue
        try:
            importlib.import_module(module)
        # A module that exits on import (`sys.exit`) is a finding too, not the probe's end.
        except (Exception, SystemExit) as error:  # noqa: BLE001 - every failure is a finding
            problems.append(f"`import {module}` fails: {type(error).__name__}: {error}")
    return problems


def folder_modules(package: object, name: str) -> list[str]:
    """Every module below the package's folders that Python can import by name: each `.py` file
    whose folders from the package down and own name are identifiers (`__pycache__` aside)."""
    found = []
    for place in getattr(package, "__path__", []):
        for folder, dirs, files in os.walk(place):
            dirs[:] = sorted(d for d in dirs if d.isidentifier() and d != "__pycache__")
            rel = os.path.relpath(folder, place)
            dotted = name if rel == "." else name + "." + rel.replace(os.sep, ".")
            for file in sorted(files):
                stem = file[:-3]
                if not file.endswith(".py") or not stem.isidentifier():
                    continue
                module = dotted if stem == "__init__" else dotted + "." + stem
                if module != name:
                    found.append(module)
    return found


def shipped_imports(package: object, name: str) -> set[str]:
    """The absolute names the installed modules of a package import (read, not run)."""
    imported: set[str] = set()
    for place in getattr(package, "__path__", []):
        for folder, _, files in os.walk(place):
            rel = os.path.relpath(folder, place)
            dotted = name if rel == "." else name + "." + rel.replace(os.sep, ".")
            for file in (f for f in files if f.endswith(".py")):
                module = dotted if file == "__init__.py" else dotted + "." + file[:-3]
                is_package = file == "__init__.py"
                imported |= imports_of(os.path.join(folder, file), module, is_package)
    return imported


def imports_of(path: str, module: str, is_package: bool) -> set[str]:
    """What one module's import statements name, relative ones made absolute, and the strings
    it holds that are dotted names (`importlib.import_module("pkg.plugins.loud")`)."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read())
    except (SyntaxError, ValueError, OSError):
        return set()  # a template or a script in a data folder: no module of the package
    names: set[str] = set()
    here = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if all(part.isidentifier() for part in node.value.split(".")):
                names.add(node.value)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = here.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def left_out(package: object, name: str, source: list[str]) -> list[str]:
    """The source's modules the install lacks while an installed module imports them (the
    installed modules are read only when one is missing)."""
    missing = [module for module in source if not installed_module(module)]
    if not missing:
        return []
    imported = shipped_imports(package, name)
    return [
        f"{module} is in the source, and an installed module imports it, but the installed"
        " package lacks it: the editable dev venv imports it, the image cannot; the build"
        " leaves it out (setuptools: [tool.setuptools] packages, or packages.find)"
        for module in missing
        if module in imported
    ]


def installed_module(module: str) -> bool:
    """Whether the venv has the module (its parents imported to find it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (Exception, SystemExit):  # noqa: BLE001 - a parent that is missing or fails
        return False


def missing_data(data: dict[str, list[str]]) -> list[str]:
    """The data files of the source's import packages that the installed packages lack."""
    problems = []
    for name, files in data.items():
        found = importlib.util.find_spec(name)
        places = list(found.submodule_search_locations or []) if found else []
        top = name.split(".")[0]
        for rel in files:
            if not any(os.path.isfile(os.path.join(place, rel)) for place in places):
                problems.append(
                    f"{name.replace('.', '/')}/{rel} is not in the installed package: the image "
                    f"lacks it, though the source (and the editable dev venv) has it; declare it "
                    f"as package data (setuptools: [tool.setuptools.package-data] "
                    f'{top} = ["{rel}"]), or move it out of the package'
                )
    return problems


def main() -> int:
    spec = json.loads(sys.argv[1])
    prefix = os.path.realpath(sys.prefix)
    problems = []
    for name in spec["imports"]:
        try:
            module = importlib.import_module(name)
        except (Exception, SystemExit) as error:  # noqa: BLE001 - every failure is a finding
            problems.append(f"`import {name}` fails: {type(error).__name__}: {error}")
            continue
        found = where(module)
        if not found.startswith(prefix + os.sep):
            problems.append(f"`import {name}` comes from {found or 'nowhere'}, not from the venv")
            continue
        problems.extend(submodule_problems(module, name))
        problems.extend(left_out(module, name, spec.get("modules", {}).get(name, [])))
    installed = sorted({normalize(d.metadata["Name"]) for d in importlib.metadata.distributions()})
    for name in installed:
        if name in spec["forbidden"]:
            problems.append(f"{name} is installed: {spec['forbidden'][name]}")
        elif name not in spec["allowed"]:
            problems.append(f"{name} is installed, yet neither the lock nor a wheel names it")
    for name, why in spec["forbidden_imports"].items():
        if importlib.util.find_spec(name) is not None:
            problems.append(f"`import {name}` works: {why}")
    problems.extend(missing_data(spec.get("data", {})))
    for problem in problems:
        print("problem: " + problem)
    print(f"installed: {len(installed)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
