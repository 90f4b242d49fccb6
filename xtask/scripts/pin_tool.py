"""Prints the Rust `Tool` table of xtask/src/env/tools.rs for a tool and its dependencies: every
wheel of each pinned version on PyPI with its sha256 (from PyPI's JSON API).

    python3 xtask/scripts/pin_tool.py CONST_NAME TOOL==VERSION [DEP==VERSION ...]

Resolve the dependency pins first (one version each, for every Python the venvs use), e.g. with
`uv pip compile --universal --python-version 3.10` and the tool pinned.
"""

import json
import sys
import urllib.request


def wheels(name: str, version: str) -> list[tuple[str, str]]:
    url = f"https://pypi.org/pypi/{name}/json"
    with urllib.request.urlopen(url, timeout=60) as response:
        project = json.load(response)
    found = [
        (f["filename"], f["digests"]["sha256"])
        for f in project["releases"].get(version, [])
        if f["filename"].endswith(".whl")
    ]
    if not found:
        sys.exit(f"{name} {version}: no wheel on PyPI")
    return sorted(found)


def tool(name: str, version: str, deps: str, indent: str = "") -> str:
    lines = [f'{indent}Tool {{', f'{indent}    name: "{name}",', f'{indent}    version: "{version}",']
    lines.append(f"{indent}    dependencies: {deps},")
    lines.append(f"{indent}    on_path: false,")
    lines.append(f"{indent}    wheels: &[")
    for file, sha in wheels(name, version):
        lines.append(f'{indent}        wheel("{file}", "{sha}"),')
    lines.append(f"{indent}    ],")
    lines.append(f"{indent}}}")
    return "\n".join(lines)


def main() -> None:
    const, head, *deps = sys.argv[1:]
    pins = [p.split("==") for p in [head, *deps]]
    dep_tools = ",\n".join(tool(n, v, "&[]", "    ") for n, v in pins[1:])
    dep_list = f"&[\n{dep_tools},\n]" if pins[1:] else "&[]"
    print(f"pub const {const}: Tool = {tool(pins[0][0], pins[0][1], dep_list)};")


if __name__ == "__main__":
    main()
