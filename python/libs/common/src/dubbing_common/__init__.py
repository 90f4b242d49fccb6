"""Shared utilities of the dubbing services."""

__version__ = "0.1.0"
