"""The one training loop shared by every method (see :mod:`snnrepro.engine.fit`)."""
