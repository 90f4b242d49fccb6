"""The command line the image runs: `sts-service --version` is dist's smoke test."""

import pytest

from sts_service import __version__
from sts_service.__main__ import main


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"sts-service {__version__}"


def test_no_arguments_is_success() -> None:
    assert main([]) == 0
