"""Run records, the CSV store and the Markdown comparison tables."""
