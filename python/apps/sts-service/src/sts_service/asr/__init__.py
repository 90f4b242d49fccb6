"""Automatic speech recognition: audio in, transcript out."""
