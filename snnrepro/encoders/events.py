"""Event-frame input: a frame dataset's ``[B, T, C, H, W]`` batch as the multi-step ``[T, B, C, H, W]``."""

from __future__ import annotations

import torch
from torch import nn

from snnrepro.registry import ENCODERS


class Events(nn.Module):
    """``[B, T, ...] -> [T, B, ...]`` (float, contiguous).

    Frames keep their values (event counts per bin, as in the BPSA/BPTA authors' SpikingJelly
    pipeline) unless ``binarize`` is set (``x_t = 1[count > 0]``).
    """

    def __init__(self, binarize: bool = False) -> None:
        super().__init__()
        self.binarize = bool(binarize)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3:
            raise ValueError(f"events encoder: expected [B, T, ...] frames, got shape {tuple(x.shape)}")
        x = x.transpose(0, 1).float()
        if self.binarize:
            x = (x > 0).float()
        return x.contiguous()

    def extra_repr(self) -> str:
        return f"binarize={self.binarize}"


@ENCODERS.register("events")
def events(binarize: bool = False) -> nn.Module:
    """Factory for :class:`Events`."""
    return Events(binarize)
