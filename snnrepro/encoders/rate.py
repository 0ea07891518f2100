"""Rate (Bernoulli) coding: at each step a pixel spikes with probability ``p = clamp(x * scale, 0, 1)``."""

from __future__ import annotations

import torch
from torch import nn

from snnrepro.registry import ENCODERS


class Rate(nn.Module):
    """``[B, ...] -> [T, B, ...]`` binary spikes, ``s_t = 1[U_t < x * scale]`` with fresh ``U_t ~ U(0, 1)``.

    BRP-SNN's Eq. 3 spike generator compares the raw input with a random number scaled by
    ``I_rd(alpha)`` (the authors' ``randKill``): ``s_t = 1[x > U_t * I_rd(alpha)]``, which is this encoder
    with ``scale = 1 / I_rd(alpha)``; pass ``i_rd`` instead of ``scale`` to write it that way
    (``i_rd = 1`` for images and DVS, ``0.1`` for TIDIGITS).  Inputs are expected in ``[0, 1]``.
    Random numbers come from torch's global generator (seeded by the engine).
    """

    def __init__(self, T: int = 20, scale: float | None = None, i_rd: float | None = None) -> None:
        super().__init__()
        if int(T) != T or T < 1:
            raise ValueError(f"rate encoder: T must be a positive integer, got {T!r}")
        if scale is not None and i_rd is not None:
            raise ValueError("rate encoder: give either scale or i_rd (= 1 / scale), not both")
        if i_rd is not None:
            if not i_rd > 0:
                raise ValueError(f"rate encoder: i_rd must be positive, got {i_rd}")
            scale = 1.0 / float(i_rd)
        scale = 1.0 if scale is None else float(scale)
        if not scale > 0:
            raise ValueError(f"rate encoder: scale must be positive, got {scale}")
        self.T, self.scale = int(T), scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = (x.float() * self.scale).clamp(0.0, 1.0)
        u = torch.rand((self.T, *p.shape), device=p.device, dtype=p.dtype)
        return (u < p.unsqueeze(0)).to(p.dtype)

    def extra_repr(self) -> str:
        return f"T={self.T}, scale={self.scale:g}"


@ENCODERS.register("rate")
def rate(T: int = 20, scale: float | None = None, i_rd: float | None = None) -> nn.Module:
    """Factory for :class:`Rate` (params ``T``, and ``scale`` or BRP's ``i_rd``)."""
    return Rate(T, scale, i_rd)
