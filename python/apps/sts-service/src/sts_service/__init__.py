"""GPU speech-to-speech service: speech recognition, translation and speech synthesis."""

__version__ = "0.1.0"
