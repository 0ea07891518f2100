"""RSN layers around the closed form of :mod:`snnrepro.neurons.resonate.kernel` (Chen et al., AAAI 2021).

Every layer maps phasor spikes ``z`` ``[2, B, ...]`` to ``Z_j = sum_i w_ij exp(i omega d_ij) z_i`` (Eq. 6-7, 18),
rotated by ``exp(-i omega W)`` for the next layer's clock, with amount ``a_j = |Z_j|`` (Eq. 8-9):
:class:`ResonateDense`, :class:`ResonateConv2d` (the sum over a receptive field), :class:`SpikePool2d`,
:class:`SpikeDropout`; :class:`ResonateConfig` holds the family's neuron params.  The spike format, the
collecting window ``W``, the ``psp``/``late`` readings and the gradients are described in the kernel module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from snnrepro.neurons.resonate.kernel import (
    LATE_KINDS,
    PSP_KINDS,
    TWO_PI,
    _complex_product,
    _phase_only_amount_grad,
    _rotate,
    amount,
    phase,
)


@dataclass(frozen=True)
class ResonateConfig:
    """Options of every RSN layer (the ``resonate`` family's neuron params, declared once).

    ``period`` (default 2 pi), ``window`` (collecting window in periods; default: the latest
    arrival), ``train_weights``, ``train_delays``, ``phase_grad`` (see the kernel's docstring),
    ``weight_gain`` (init std gain / sqrt(fan_in)), ``weight_init`` (a constant instead),
    ``delay_init`` (``zero``, ``uniform`` or a number), ``psp``, ``late``.
    """

    period: float = TWO_PI
    window: float | None = None
    train_weights: bool = True
    train_delays: bool = True
    phase_grad: bool = True
    weight_gain: float = 1.0
    weight_init: float | None = None
    delay_init: str | float = "zero"
    psp: str = "linear"
    late: str = "refuse"


class _ResonateLayer(nn.Module):
    """Shared bookkeeping: weights, optional per-synapse delays, window and output mapping.

    Options: a :class:`ResonateConfig` (``config``) or its fields as keywords; per layer
    ``input_span`` (latest input time, default 1 T) and ``delays`` (learnable per-synapse delays).
    """

    weight: nn.Parameter
    delay: nn.Parameter | None

    def __init__(
        self,
        weight_shape: tuple[int, ...],
        fan_in: int,
        config: ResonateConfig | None = None,
        *,
        input_span: float | None = None,
        delays: bool = False,
        **options: Any,
    ) -> None:
        cfg = config or ResonateConfig(**options)
        period, window, psp, late = cfg.period, cfg.window, cfg.psp, cfg.late
        super().__init__()
        input_span = period if input_span is None else input_span
        if period <= 0:
            raise ValueError(f"resonate: period must be positive, got {period}")
        if psp not in PSP_KINDS:
            raise ValueError(f"resonate: psp must be one of {PSP_KINDS}, got {psp!r}")
        if late not in LATE_KINDS:
            raise ValueError(f"resonate: late must be one of {LATE_KINDS}, got {late!r}")
        self.period = float(period)
        self.omega = TWO_PI / self.period
        self.psp, self.late = psp, late
        latest = input_span + (self.period if delays else 0.0)
        if window is None:
            self.window = self.period if late == "drop" else float(latest)
        else:
            self.window = float(window * self.period)
        if window is not None and window <= 0:
            raise ValueError(f"resonate: collecting window must be positive, got {window} T")
        if late == "refuse" and self.window < latest - 1e-9:
            raise ValueError(
                f"resonate: collecting window {self.window / self.period:g} T is shorter than the latest arrival"
                f" {latest / self.period:g} T (inputs span {input_span / self.period:g} T"
                f"{', delays up to 1 T' if delays else ''}); the collecting phase must receive every spike"
            )
        self.phase_grad = cfg.phase_grad
        w = torch.empty(weight_shape)
        if cfg.weight_init is None:
            nn.init.normal_(w, 0.0, cfg.weight_gain / math.sqrt(fan_in))
        else:
            nn.init.constant_(w, float(cfg.weight_init))
        self.weight = nn.Parameter(w, requires_grad=cfg.train_weights)
        if delays:
            d, delay_init = torch.empty(weight_shape), cfg.delay_init
            if delay_init == "zero":
                nn.init.zeros_(d)
            elif delay_init == "uniform":
                nn.init.uniform_(d, 0.0, self.period)
            elif isinstance(delay_init, int | float):
                nn.init.constant_(d, float(delay_init))
            else:
                raise ValueError(f"resonate: delay_init must be 'zero', 'uniform' or a number, got {delay_init!r}")
            self.delay = nn.Parameter(d, requires_grad=cfg.train_delays)
        else:
            self.register_parameter("delay", None)

    def complex_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``w exp(i omega d)`` as (real, imaginary) parts."""
        assert self.delay is not None
        ang = self.delay * self.omega
        return self.weight * torch.cos(ang), self.weight * torch.sin(ang)

    def _psp_input(self, z: torch.Tensor) -> torch.Tensor:
        """Eq. 7's kernel factor: ``psp='squared'`` scales each spike by its amount (``a^2 cos``)."""
        return z * amount(z).unsqueeze(0) if self.psp == "squared" else z

    def _gates(self) -> bool:
        """Whether some spike can arrive after the window (then it is dropped, ``late='drop'``)."""
        return self.late == "drop" and (self.delay is not None or self.window < self.period)

    def _arrival_gate(self, t_in: torch.Tensor) -> torch.Tensor:
        """``[B, O, P, L]`` float mask: 1 where ``t_i + (d_ij mod T) < window`` (received), else 0.

        ``t_in`` [B, P, L] are the input spike times in ``[0, T)`` (this layer's clock); the delays
        have shape [O, P] (``P`` = inputs of one neuron, ``L`` = output positions).
        """
        o, p = self.weight.shape[0], t_in.shape[1]
        with torch.no_grad():
            d = torch.zeros(o, p, dtype=t_in.dtype, device=t_in.device)
            if self.delay is not None:
                d = torch.remainder(self.delay.detach().reshape(o, p), self.period)
            return ((t_in.unsqueeze(1) + d[None, :, :, None]) < self.window).to(t_in.dtype)

    def _gated_sum(self, cols: torch.Tensor) -> torch.Tensor:
        """``Z_j = sum_i gate_ij w_ij exp(i omega d_ij) z_i`` for unfolded ``cols`` [2, B, P, L] -> [2, B, O, L]."""
        t_in = phase(cols) / self.omega
        gate = self._arrival_gate(t_in)  # [B, O, P, L]
        o, p = gate.shape[1], gate.shape[2]
        if self.delay is None:
            wc, ws = self.weight.reshape(o, p), torch.zeros_like(self.weight.reshape(o, p))
        else:
            wc, ws = (w.reshape(o, p) for w in self.complex_weight())
        gc = gate * wc[None, :, :, None]
        gs = gate * ws[None, :, :, None]
        z0, z1 = cols[0].unsqueeze(1), cols[1].unsqueeze(1)  # [B, 1, P, L]
        re = (gc * z0 - gs * z1).sum(2)
        im = (gs * z0 + gc * z1).sum(2)
        return torch.stack((re, im))

    def _finish(self, z: torch.Tensor) -> torch.Tensor:
        if not self.phase_grad:
            z = _phase_only_amount_grad(z)
        return _rotate(z, -self.omega * self.window)

    def extra_repr(self) -> str:
        return (
            f"period={self.period:g}, window={self.window / self.period:g}T, delays={self.delay is not None},"
            f" phase_grad={self.phase_grad}, psp={self.psp}, late={self.late}"
        )


class ResonateDense(_ResonateLayer):
    """Fully connected RSN layer: ``Z_j = sum_i w_ij exp(i omega d_ij) z_i``, output ``a_j = |Z_j|`` (Eq. 6-9).

    Input and output are phasor spikes ``[2, B, features]`` (see the kernel's docstring);
    ``input_span`` is the latest input time (``0.5 T`` for the pixel encoder, ``T`` for RSN inputs).
    """

    def __init__(
        self, in_features: int, out_features: int, config: ResonateConfig | None = None, **options: Any
    ) -> None:
        super().__init__((out_features, in_features), in_features, config, **options)
        self.in_features, self.out_features = in_features, out_features

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = self._psp_input(z)
        if self._gates():
            out = self._gated_sum(z.unsqueeze(-1)).squeeze(-1)
        elif self.delay is None:
            out = F.linear(z, self.weight)  # real weights act on both parts at once
        else:
            out = _complex_product(z, self.weight, self.delay, self.omega, F.linear)
        return self._finish(out)


class ResonateConv2d(_ResonateLayer):
    """Convolutional RSN layer: Eq. 6-9 with the sum over a receptive field; per-synapse delays
    (one per kernel tap, shape of the weight) make the kernel complex, ``w exp(i omega d)``.

    Input/output phasor spikes ``[2, B, C, H, W]``; stride 1, ``padding`` zeros (= no spike).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int],
        *,
        padding: int | tuple[int, int] = 0,
        config: ResonateConfig | None = None,
        **options: Any,
    ) -> None:
        fan_in = in_channels * kernel[0] * kernel[1]
        super().__init__((out_channels, in_channels, *kernel), fan_in, config, **options)
        self.out_channels = out_channels
        self.padding = padding

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        two, b = z.shape[:2]
        z = self._psp_input(z)
        if self._gates():
            h, w = z.shape[-2:]
            pad = (self.padding, self.padding) if isinstance(self.padding, int) else tuple(self.padding)
            k = tuple(self.weight.shape[-2:])
            cols = F.unfold(z.reshape(two * b, *z.shape[2:]), k, padding=pad)  # [2B, C*kh*kw, L]
            y = self._gated_sum(cols.view(two, b, *cols.shape[1:]))  # [2, B, O, L]
            ho, wo = h + 2 * pad[0] - k[0] + 1, w + 2 * pad[1] - k[1] + 1
            out = y.view(two, b, self.out_channels, ho, wo)
        elif self.delay is None:
            y = F.conv2d(z.reshape(two * b, *z.shape[2:]), self.weight, padding=self.padding)
            out = y.view(two, b, *y.shape[1:])
        else:
            conv = lambda x, k: F.conv2d(x, k, padding=self.padding)  # noqa: E731
            out = _complex_product(z, self.weight, self.delay, self.omega, conv)
        return self._finish(out)


class SpikePool2d(nn.Module):
    """Spike pooling: in each ``k x k`` window keep the spike with the largest amount, with its phase.

    ``kind="avg"`` (for ``AP``/``S`` tokens) instead averages the phasors, i.e. an RSN with fixed
    weights ``1/k^2`` and no delays.
    """

    def __init__(self, size: int, kind: str = "max") -> None:
        super().__init__()
        if kind not in ("max", "avg"):
            raise ValueError(f"spike pooling kind must be 'max' or 'avg', got {kind!r}")
        self.size, self.kind = size, kind

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        two, b, c, h, w = z.shape
        if self.kind == "avg":
            y = F.avg_pool2d(z.reshape(two * b, c, h, w), self.size)
            return y.view(two, b, *y.shape[1:])
        with torch.no_grad():
            _, idx = F.max_pool2d(amount(z), self.size, return_indices=True)  # [B, C, h', w']
        flat = z.reshape(two, b, c, h * w)
        picked = flat.gather(3, idx.flatten(2).unsqueeze(0).expand(two, -1, -1, -1))
        return picked.view(two, b, c, *idx.shape[2:])

    def extra_repr(self) -> str:
        return f"size={self.size}, kind={self.kind}"


class SpikeDropout(nn.Module):
    """Dropout of whole spikes (amount and phase together): one mask shared by both phasor parts."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = p

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return z
        keep = torch.empty_like(z[0]).bernoulli_(1.0 - self.p) / (1.0 - self.p)
        return z * keep.unsqueeze(0)
