"""Direct input encoding (Wu et al. 2019): the static image is the input current at every step."""

from __future__ import annotations

import torch
from torch import nn

from snnrepro.registry import ENCODERS


class Direct(nn.Module):
    """``[B, ...] -> [T, B, ...]`` with ``x_t = x`` for every step ``t``.

    The result is an *expanded view* (stride 0 along time, no copy); multi-step models may detect
    that (``x.stride(0) == 0``) and apply their first synaptic layer once instead of T times, which
    gives identical values and gradients.
    """

    def __init__(self, T: int = 16) -> None:
        super().__init__()
        if int(T) != T or T < 1:
            raise ValueError(f"direct encoder: T must be a positive integer, got {T!r}")
        self.T = int(T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        return x.unsqueeze(0).expand(self.T, *x.shape)

    def extra_repr(self) -> str:
        return f"T={self.T}"


@ENCODERS.register("direct")
def direct(T: int = 16) -> nn.Module:
    """Factory for :class:`Direct` (param ``T``, the number of time steps)."""
    return Direct(T)
