"""Speech synthesis: translated text in, dubbed audio out."""
