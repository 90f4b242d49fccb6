"""Audio is cut into segments of a fixed length; the last one may be short."""

import pytest

from media_service import DEFAULT_SEGMENT_MS, segment_count


@pytest.mark.parametrize(
    ("duration_ms", "expected"),
    [(0, 0), (1, 1), (DEFAULT_SEGMENT_MS, 1), (DEFAULT_SEGMENT_MS + 1, 2), (9_000, 5)],
)
def test_segment_count(duration_ms: int, expected: int) -> None:
    assert segment_count(duration_ms) == expected


def test_bad_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="bad durations"):
        segment_count(-1)
    with pytest.raises(ValueError, match="bad durations"):
        segment_count(10, segment_ms=0)
