"""Latency (time-to-first-spike) coding of the STDBP paper (section 4.1, Fig. 4).

One spike per input; the brighter the pixel, the earlier the spike::

    x' = clamp(x / i_max, 0, 1),     t = t_in_max * (1 - x')

so a white pixel spikes at 0 and the faintest visible pixel just before ``t_in_max``.  The
paper does not say what a black pixel (``x = 0``) does.  ``zero="none"`` (default) emits no
spike for it (time ``+inf``; the ReL-PSP layers treat any time ``>= t_max`` as no spike): a black
pixel carries no salience, and it keeps the input sparse as in event-driven hardware.
``zero="latest"`` lets it spike at ``t_in_max`` like every other pixel (the literal "each neuron
firing only once").
"""

from __future__ import annotations

import torch
from torch import nn

from snnrepro.registry import ENCODERS

ZERO_MODES = ("none", "latest")


class Latency(nn.Module):
    """``[B, ...]`` intensities in ``[0, i_max]`` -> ``[B, ...]`` spike times in ``[0, t_in_max]`` (or ``inf``)."""

    def __init__(self, t_in_max: float = 1.0, i_max: float = 1.0, zero: str = "none") -> None:
        super().__init__()
        if t_in_max <= 0 or i_max <= 0:
            raise ValueError(f"latency: t_in_max and i_max must be positive, got {t_in_max}, {i_max}")
        if zero not in ZERO_MODES:
            raise ValueError(f"latency: zero must be one of {ZERO_MODES}, got {zero!r}")
        self.t_in_max, self.i_max, self.zero = float(t_in_max), float(i_max), zero

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = (x.float() / self.i_max).clamp(0.0, 1.0)
        t = self.t_in_max * (1.0 - v)
        if self.zero == "none":
            t = torch.where(v > 0, t, torch.full_like(t, float("inf")))
        return t

    def extra_repr(self) -> str:
        return f"t_in_max={self.t_in_max:g}, i_max={self.i_max:g}, zero={self.zero}"


@ENCODERS.register("latency")
def latency(t_in_max: float = 1.0, i_max: float = 1.0, zero: str = "none") -> nn.Module:
    """Factory for :class:`Latency` (params: t_in_max, i_max, zero = none | latest)."""
    return Latency(t_in_max=t_in_max, i_max=i_max, zero=zero)
