"""snnrepro.models: one builder module per neuron family, registered in ``MODELS`` on import.

Importing the package alone imports no family (so :mod:`snnrepro.models.arch`, the planner, stays
free of torch for spec checks); :func:`snnrepro.registry.load_plugins` imports every module here.
"""
