"""The identity encoder: the loader's tensor goes to the network unchanged."""

from __future__ import annotations

from torch import nn

from snnrepro.registry import ENCODERS


@ENCODERS.register("identity")
def identity() -> nn.Module:
    """For ANN families and for datasets that already yield the family's input format."""
    return nn.Identity()
