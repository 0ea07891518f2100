"""snnrepro: reproduce the experiment tables of five deep-SNN training papers."""

__version__ = "0.1.0"
