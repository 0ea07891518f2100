"""snnrepro.metrics: the engine's metrics proper (accuracy); losses and analyses are in their own packages."""
