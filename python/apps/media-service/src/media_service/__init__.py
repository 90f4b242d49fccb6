"""CPU-only stream worker of the live-broadcast dubbing platform."""

__version__ = "0.1.0"
