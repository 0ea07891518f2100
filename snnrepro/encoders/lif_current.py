"""Current-based LIF encoder of the IIR-SNN paper (section 5.3): real-valued time series -> spikes on the fly.

One encoder neuron per input feature integrates the feature as an input current::

    x~[t] = normalised feature value at frame t          (see ``normalize``)
    V[t]  = lambda V[t-1] + gain * x~[t] + bias,         lambda = exp(-1 / tau)
    O[t]  = 1[V[t] >= v_th],   V[t] <- V[t] - v_th O[t]  (reset by subtraction)

Input: the loader's batch with time on the *last* axis (``[B, ..., n_frames]``, e.g. MFCCs
``[B, 1, 20, 90]`` or sensor channels ``[B, 1, 22, n]``); output ``[n_frames * repeat, B, ...]`` float
spikes (each frame held for ``repeat`` steps).  The paper names the encoder but gives no constants:
``tau`` 4, ``gain`` 1, ``bias`` 0, ``v_th`` 1 and per-sample, per-feature min-max normalisation to
[0, 1] (``normalize: minmax``; MFCCs are signed and of very different scales, so a raw current would
silence most features) are our choices.  ``normalize: none`` feeds the raw values.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snnrepro.registry import ENCODERS


class LIFCurrentEncoder(nn.Module):
    """See the module docstring.  No trainable parameters; runs under ``no_grad`` semantics (input data)."""

    def __init__(
        self,
        tau: float = 4.0,
        gain: float = 1.0,
        bias: float = 0.0,
        v_th: float = 1.0,
        repeat: int = 1,
        normalize: str = "minmax",
    ) -> None:
        super().__init__()
        if tau <= 0 or v_th <= 0:
            raise ValueError(f"lif_current: tau and v_th must be positive, got tau={tau}, v_th={v_th}")
        if int(repeat) < 1:
            raise ValueError(f"lif_current: repeat must be a positive integer, got {repeat}")
        if normalize not in ("minmax", "none"):
            raise ValueError(f"lif_current: normalize must be 'minmax' or 'none', got {normalize!r}")
        self.lam = math.exp(-1.0 / tau)
        self.tau, self.gain, self.bias, self.v_th = tau, gain, bias, v_th
        self.repeat, self.normalize = int(repeat), normalize

    def currents(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, ...]`` input currents from ``[B, ..., n_frames]``."""
        if x.dim() < 2:
            raise ValueError(f"lif_current expects [B, ..., n_frames] (time last), got {tuple(x.shape)}")
        x = x.float()
        if self.normalize == "minmax":
            lo = x.amin(dim=-1, keepdim=True)
            hi = x.amax(dim=-1, keepdim=True)
            x = (x - lo) / (hi - lo).clamp_min(1e-8)
        cur = self.gain * x + self.bias
        cur = cur.movedim(-1, 0)  # [frames, B, ...]
        if self.repeat > 1:
            cur = cur.repeat_interleave(self.repeat, dim=0)
        return cur

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cur = self.currents(x)
        v = torch.zeros_like(cur[0])
        out = torch.empty_like(cur)
        for t in range(cur.shape[0]):
            v = self.lam * v + cur[t]
            o = (v >= self.v_th).to(cur.dtype)
            v = v - self.v_th * o
            out[t] = o
        return out

    def extra_repr(self) -> str:
        return (
            f"tau={self.tau:g}, gain={self.gain:g}, bias={self.bias:g}, v_th={self.v_th:g}, repeat={self.repeat},"
            f" normalize={self.normalize}"
        )


@ENCODERS.register("lif_current")
def lif_current(**params: float | str) -> nn.Module:
    """Factory for :class:`LIFCurrentEncoder` (params: tau, gain, bias, v_th, repeat, normalize)."""
    return LIFCurrentEncoder(**params)  # type: ignore[arg-type]
