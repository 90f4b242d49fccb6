"""The command line the image runs: `media-service --version` is dist's smoke test."""

import pytest

from media_service import __version__
from media_service.__main__ import main


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"media-service {__version__}"


def test_no_arguments_is_success() -> None:
    assert main([]) == 0
