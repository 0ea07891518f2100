"""Amount-and-time spike encoding of the RSN paper (section "Encoding")."""

from __future__ import annotations

import math

import torch
from torch import nn

from snnrepro.registry import ENCODERS


class AmountPhase(nn.Module):
    """One spike per input value ``x``, carrying an amount and a time.

    With ``v = clamp(x / i_max, 0, 1)``::

        a = a_min + (a_max - a_min) * v          (paper: a = x / I_max, i.e. a_min=0, a_max=1)
        t = t_max * period * v                   (paper: t = a * 0.5 T, i.e. t_max=0.5)

    so brighter pixels fire larger spikes, and equal pixels fire at the same time, all within
    ``[0, 0.5 T]``.  The same affine code expresses the XOR inputs: absolute XOR is
    ``a_min=0.1, a_max=0.9, t_max=0`` (equal times) and relative XOR ``a_min=a_max=1,
    t_max=0.5`` (True and False half a period apart).

    Output: ``[B, 2, *S]`` with ``[:, 0]`` the amounts and ``[:, 1]`` the times (same units as
    ``period``, which must equal the RSN model's ``period``; both default to ``2 pi``, the
    paper's ``cos(s)``).  The loader must yield raw intensities in ``[0, i_max]`` (not
    mean/std-normalised values).
    """

    def __init__(
        self,
        i_max: float = 1.0,
        period: float = 2.0 * math.pi,
        a_min: float = 0.0,
        a_max: float = 1.0,
        t_max: float = 0.5,
    ) -> None:
        super().__init__()
        if i_max <= 0 or period <= 0:
            raise ValueError(f"amount_phase: i_max and period must be positive, got {i_max}, {period}")
        if not 0.0 <= t_max < 1.0:
            raise ValueError(f"amount_phase: t_max is a fraction of the period in [0, 1), got {t_max}")
        self.i_max, self.period, self.a_min, self.a_max, self.t_max = i_max, period, a_min, a_max, t_max

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = (x.float() / self.i_max).clamp(0.0, 1.0)
        a = self.a_min + (self.a_max - self.a_min) * v
        t = (self.t_max * self.period) * v
        return torch.stack((a, t), dim=1)

    def extra_repr(self) -> str:
        return f"i_max={self.i_max:g}, period={self.period:g}, a=[{self.a_min:g},{self.a_max:g}], t_max={self.t_max:g}T"


@ENCODERS.register("amount_phase")
def amount_phase(**params: float) -> nn.Module:
    """Factory for :class:`AmountPhase` (params: i_max, period, a_min, a_max, t_max)."""
    return AmountPhase(**params)
