"""Installs this build context into the venv of the Python that runs it.

Written by `cargo xtask dist` into every service's context, and run both by the service's
Dockerfile and by dist's own check on the builder's machine, so that the two cannot drift:

1. the third-party pins of requirements.txt (the service's runtime lock), hash-checked, from the
   index the lock names, without resolving anything;
2. the wheels in wheels/ (the service and its local libraries), without an index and without
   dependencies.

With uv (`$UV`, else `uv` on PATH) when there is one, else with this Python's pip. Usage:

    /opt/venv/bin/python install.py
"""

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def installer() -> list[str]:
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv:
        return [uv, "pip", "install", "--python", sys.executable, "--no-config"]
    return [sys.executable, "-m", "pip", "install", "--no-input", "--disable-pip-version-check"]


def has_pins(lock: str) -> bool:
    with open(lock, encoding="utf-8") as f:
        lines = (line.strip() for line in f)
        return any(line and not line.startswith(("#", "-")) for line in lines)


def run(argv: list[str]) -> None:
    print("$ " + " ".join(argv), flush=True)
    subprocess.run(argv, check=True)


def main() -> int:
    install = installer() + ["--no-deps"]
    lock = os.path.join(HERE, "requirements.txt")
    if has_pins(lock):
        run(install + ["--require-hashes", "-r", lock])
    wheel_dir = os.path.join(HERE, "wheels")
    wheels = sorted(os.path.join(wheel_dir, w) for w in os.listdir(wheel_dir) if w.endswith(".whl"))
    if not wheels:
        print("install.py: no wheel in " + wheel_dir, file=sys.stderr)
        return 1
    run(install + ["--no-index"] + wheels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
