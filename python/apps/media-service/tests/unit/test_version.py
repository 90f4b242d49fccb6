"""The version the package reports is the one its installed distribution declares."""

from importlib.metadata import version

import media_service


def test_version_matches_distribution_metadata() -> None:
    assert media_service.__version__ == version("media-service")
