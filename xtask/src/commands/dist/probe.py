"""Checks a venv that install.py filled, from inside it (run with -I, from an empty folder).

argv[1] is a JSON object: `imports` (every import package of the install set, each imported with
every module in it but `__main__`: a module that imports a dev tool fails here as in the image),
`modules` (import name -> the modules its source holds, which must import too: a subpackage the
wheel leaves out, or one in a folder without `__init__.py`, which a walk of the installed
package does not find),
`allowed` (the
normalised distribution names the venv may hold: the lock's pins and the local wheels), and
`forbidden` (name -> why: dev tools, other services), `forbidden_imports` (import name -> why)
and `data` (import name -> the data files its source folder holds, which the installed package
must hold too).
Prints one line per problem, each starting with "problem: ", and a last line "installed: N".
"""

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


def submodule_problems(package: object, name: str, source: list[str]) -> list[str]:
    """Imports every module under a package but `__main__` (which runs the program): those the
    installed package holds, and those its source holds (`source`)."""
    problems = []
    # Its own failures to import a subpackage are the loop's findings: not raised there.
    walk = pkgutil.walk_packages(
        getattr(package, "__path__", []), name + ".", onerror=lambda _: None
    )
    names = {info.name for info in walk} | set(source)
    for module in sorted(names):
        if module.rsplit(".", 1)[-1] == "__main__":
            continue
        try:
            importlib.import_module(module)
        except Exception as error:  # noqa: BLE001 - every failure is a finding
            problem = f"`import {module}` fails: {type(error).__name__}: {error}"
            missing = getattr(error, "name", None) if isinstance(error, ImportError) else None
            if module in source and missing and (module + ".").startswith(missing + "."):
                problem += (
                    "; the source holds it, so the editable dev venv imports it, but the"
                    " installed package lacks it: the build leaves it out (setuptools:"
                    " [tool.setuptools] packages, or packages.find)"
                )
            problems.append(problem)
    return problems


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
        except Exception as error:  # noqa: BLE001 - every failure is a finding
            problems.append(f"`import {name}` fails: {type(error).__name__}: {error}")
            continue
        found = where(module)
        if not found.startswith(prefix + os.sep):
            problems.append(f"`import {name}` comes from {found or 'nowhere'}, not from the venv")
            continue
        problems.extend(submodule_problems(module, name, spec.get("modules", {}).get(name, [])))
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
