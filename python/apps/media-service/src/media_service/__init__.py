"""CPU-only stream worker of the live-broadcast dubbing platform."""

__version__ = "0.1.0"

#: Audio is cut into segments of this length before it is sent for dubbing.
DEFAULT_SEGMENT_MS = 2_000


def segment_count(duration_ms: int, segment_ms: int = DEFAULT_SEGMENT_MS) -> int:
    """How many segments a stretch of audio of `duration_ms` is cut into (the last may be short)."""
    if duration_ms < 0 or segment_ms <= 0:
        raise ValueError(f"bad durations: {duration_ms} ms of audio, {segment_ms} ms segments")
    return -(-duration_ms // segment_ms)
