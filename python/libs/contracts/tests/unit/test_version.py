"""The version the package reports is the one its installed distribution declares."""

from importlib.metadata import version

import dubbing_contracts


def test_version_matches_distribution_metadata() -> None:
    assert dubbing_contracts.__version__ == version("dubbing-contracts")
