"""The command line of sts-service: `sts-service --version` prints its version."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sts_service import __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sts-service", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.parse_args(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
