"""Frame sequences (TIDIGITS filterbank frames, DVS frames) as multi-step input, with BRP's Eq. 3 generator."""

from __future__ import annotations

import torch
from torch import nn

from snnrepro.registry import ENCODERS


class Frames(nn.Module):
    """``[B, F, ...] -> [T, B, ...]``: frame ``t`` of the sample is the input of step ``t``.

    * ``T``: use the first ``T`` frames (all frames when ``None``); the BRP authors feed frame ``t``
      at step ``t`` and vary the window T over the first frames (Fig. 7).
    * ``i_rd``: Eq. 3's spike generator on each frame, ``s_t = 1[x_t > U_t * I_rd(alpha)]`` with fresh
      ``U_t ~ U(0, 1)``, i.e. spike probability ``clamp(x_t / I_rd, 0, 1)`` (``0.1`` for TIDIGITS);
      ``None`` passes the frame values through (DVS frames are spikes already).
    * ``time_axis``: the sample axis holding the frames (``0``: ``[F, ...]``; ``-1``: the audio
      features' ``[1, bands, frames]``); the other axes keep their order.
    * ``merge_channels``: sum the channel axis (the axis after time) into one channel, e.g. the two
      DVS polarities into one map as in the authors' one-channel DVS frames.
    * ``binarize``: ``1[x > 0]`` after merging (event counts -> spikes).
    """

    def __init__(
        self,
        T: int | None = None,
        i_rd: float | None = None,
        merge_channels: bool = False,
        binarize: bool = False,
        time_axis: int = 0,
    ) -> None:
        super().__init__()
        self.time_axis = int(time_axis)
        if T is not None and (int(T) != T or T < 1):
            raise ValueError(f"frames encoder: T must be a positive integer or null, got {T!r}")
        if i_rd is not None and not i_rd > 0:
            raise ValueError(f"frames encoder: i_rd must be positive, got {i_rd}")
        self.T = None if T is None else int(T)
        self.i_rd = None if i_rd is None else float(i_rd)
        self.merge_channels, self.binarize = bool(merge_channels), bool(binarize)

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step spike probability (or value, without ``i_rd``) ``[T, B, ...]`` of a batch ``[B, F, ...]``."""
        if x.dim() < 2:
            raise ValueError(f"frames encoder: expected [B, frames, ...], got shape {tuple(x.shape)}")
        axis = self.time_axis + 1 if self.time_axis >= 0 else x.dim() + self.time_axis
        if not 1 <= axis < x.dim():
            raise ValueError(f"frames encoder: time_axis {self.time_axis} is not a sample axis of {tuple(x.shape)}")
        x = x.movedim(axis, 0)
        if self.T is not None and x.shape[0] < self.T:
            raise ValueError(f"frames encoder: T={self.T} but the samples have only {x.shape[0]} frames")
        x = x[: self.T].float()
        if self.merge_channels:
            if x.dim() < 4:
                raise ValueError(f"frames encoder: merge_channels needs [B, F, C, ...] input, got {tuple(x.shape)}")
            x = x.sum(2, keepdim=True)
        if self.binarize:
            x = (x > 0).float()
        if self.i_rd is not None:
            x = (x / self.i_rd).clamp(0.0, 1.0)
        return x.contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.probabilities(x)
        if self.i_rd is None:
            return p
        return (torch.rand_like(p) < p).to(p.dtype)

    def extra_repr(self) -> str:
        return (
            f"T={self.T}, i_rd={self.i_rd}, merge_channels={self.merge_channels}, binarize={self.binarize}, "
            f"time_axis={self.time_axis}"
        )


@ENCODERS.register("frames")
def frames(
    T: int | None = None,
    i_rd: float | None = None,
    merge_channels: bool = False,
    binarize: bool = False,
    time_axis: int = 0,
) -> nn.Module:
    """Factory for :class:`Frames` (params ``T``, ``i_rd``, ``merge_channels``, ``binarize``, ``time_axis``)."""
    return Frames(T, i_rd, merge_channels, binarize, time_axis)
