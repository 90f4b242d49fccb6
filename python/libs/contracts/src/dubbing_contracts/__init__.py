"""API contracts and schemas shared by the dubbing services."""

__version__ = "0.1.0"
