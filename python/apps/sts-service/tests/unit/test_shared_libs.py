"""sts-service imports the shared libraries it depends on (SC-003)."""

from importlib.metadata import version
from types import ModuleType

import pytest

import dubbing_common
import dubbing_contracts


@pytest.mark.parametrize(
    ("module", "distribution"),
    [
        (dubbing_common, "dubbing-common"),
        (dubbing_contracts, "dubbing-contracts"),
    ],
)
def test_shared_library_is_importable(module: ModuleType, distribution: str) -> None:
    assert module.__version__ == version(distribution)
