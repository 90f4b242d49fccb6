"""Machine translation of transcripts."""
