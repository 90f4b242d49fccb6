"""Media pipelines of the stream worker."""
