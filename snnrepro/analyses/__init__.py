"""snnrepro.analyses: one module per analysis, each registering it in ``ANALYSES`` on import.

This package imports nothing by itself: :func:`snnrepro.registry.load_plugins` imports every module
here (the analyses need torch), while the tables import only the torch-free ``*_table.py`` modules
(:func:`snnrepro.registry.load_table_plugins`), where an analysis declares the table it adds
(:class:`snnrepro.results.contribution.TableContribution`).
"""
