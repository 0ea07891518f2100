"""Resonate Spiking Neurons (RSN, Chen et al. AAAI 2021) in closed form.

Spike format
------------
An RSN spike carries an *amount* ``a`` (ions released, Eq. 8) and a *time* ``t``.  Every
neuron oscillates with the same period ``T`` (angular frequency ``omega = 2 pi / T``; the
paper writes ``cos(s)``, i.e. ``T = 2 pi``, which is the default here).  The
**time-to-phase mapping** is ``phi = omega * t (mod 2 pi)``, so a spike is the phasor
``a * exp(i * omega * t)``.  Layers pass spikes as a real tensor ``z`` of shape
``[2, B, ...]`` holding ``(a cos phi, a sin phi)``; :func:`amount` and :func:`phase` read
the amount and phase back.

Membrane (Eq. 6-7)
------------------
Once the input spikes have arrived (``t_i + d_ij <= t``), the membrane of neuron ``j`` is::

    V_j(t) = sum_i w_ij a_i cos(omega (t - (t_i + d_ij)))           (Eq. 6-7)
           = Re[conj(Z_j) exp(i omega t)] = |Z_j| cos(omega t - arg Z_j)
    Z_j    = sum_i w_ij a_i exp(i omega (t_i + d_ij))

(Eq. 7 prints the amount ``a_i`` a second time inside ``K``; Eq. 12 and 16-18 use it once,
which is what is implemented.)  A sum of equal-frequency cosines is one cosine, so in the
*resonating phase* -- after the *collecting window* ``W`` in which every input has arrived --
the crest is reached at ``omega t_j = arg Z_j (mod 2 pi)`` with height ``V_max = |Z_j|``.

Phase-locking activation (Eq. 8-9)
----------------------------------
The neuron fires once, at the first crest after the window, ``t_j = W + ((arg Z_j / omega - W)
mod T)``, with amount ``a_j = F(V_max) = V_max = |Z_j|`` (``F(V) = V``, Eq. 9).  The maximum of
``|Z| cos(.)`` over a full cycle is ``|Z| >= 0``, so **a crest amount is never negative**: a
negatively weighted sum does not produce a negative spike, it produces a positive one half a
period later (sign is carried by the phase).  ``Z = 0`` (no input, or perfect cancellation)
gives amount 0 -- no spike -- and a phase of 0 by convention.

The next layer's clock starts when this layer's collecting window ends, so the spike reaches
it at ``t' = t_j - W`` in ``[0, T)``, i.e. with phasor ``Z_j exp(-i omega W)``: the output
spike *is* the complex number ``Z_j`` rotated by a layer-independent angle (the identity when
``W`` is a whole number of periods).  Chaining layers is therefore exact with no time loop.

Delays (Eq. 18)
---------------
A synapse with delay ``d_ij`` multiplies its contribution by ``exp(i omega d_ij)``: the layer
uses the complex weight ``w_ij exp(i omega d_ij)``.  Delays act modulo ``T`` (``d`` and ``d + T``
reach the same crest); the effective delay is ``d mod T`` in ``[0, T)``, so a window of
``W >= t_in_max + T`` receives every spike.  Layers refuse a window shorter than their latest
possible arrival (``late='refuse'``, default): the paper's collecting phase receives *all* ions.
``late='drop'`` instead accepts any window and drops what arrives after it (see below).

Readings that add a nonlinearity (``psp``, ``late``)
----------------------------------------------------
With the defaults (``psp='linear'``, ``late='refuse'``) every layer is complex-linear in its
input phasors (``Z = W_c z``) and only the final modulus is nonlinear, so a deep network equals
``|W_eff z|`` for one complex matrix ``W_eff`` (tested).  Two readings of the text break this:

* ``psp='squared'`` -- Eq. 7 printed literally, ``K(s) = a_i cos(s)`` inside Eq. 6's
  ``w a K``: a spike of amount ``a`` contributes ``w a^2 cos(.)`` (each layer squares the
  amounts it receives, keeping their phases).  Eq. 12 and 16-18 contradict it (their
  derivatives are linear in ``a``); autograd gives the exact gradients of this membrane.
* ``late='drop'`` -- Fig. 2d: the neuron collects during one cycle (``window`` defaults to
  1 T) and fires at the crest of the next; a spike arriving at ``t_i + (d_ij mod T) >= W`` comes
  after the collecting phase and is not received.  Since ``t_i`` is the presynaptic crest time
  this is a gate that depends on the input, i.e. a nonlinearity.  The gate is a step in
  ``t_i`` and ``d_ij``: its derivative (0 almost everywhere) is what autograd uses, so Eq. 16-18
  hold for the received spikes.  Costs a ``[B, out, in, positions]`` mask per layer.

Gradients (Eq. 16-18)
---------------------
Autograd through the closed form is exact.  By the envelope theorem (``dV/dt = 0`` at the
crest) it equals the paper's rules at ``t = t_j``::

    d a_j / d w_ij     = a_i cos(omega t_j - omega (t_i + d_ij))            (Eq. 16)
    d a_j / d a_i      = w_ij cos(omega t_j - omega (t_i + d_ij))           (Eq. 17)
    d a_j / d d_ij     = w_ij a_i omega sin(omega t_j - omega (t_i + d_ij)) (Eq. 18)
    d a_j / d t_i      = w_ij a_i omega sin(omega t_j - omega (t_i + d_ij))

plus the derivative of the output *phase*, which the paper's SLDBP does not back-propagate.
``phase_grad=False`` stops it (the output phasor is ``a_j * stopgrad(exp(i arg Z_j))``), giving
exactly Eq. 16-18 with errors flowing through amounts only.  The modulus has a custom backward
that is 0 at ``Z = 0`` instead of NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

TWO_PI = 2.0 * math.pi
PSP_KINDS = ("linear", "squared")
LATE_KINDS = ("refuse", "drop")


class _Modulus(torch.autograd.Function):
    """``|z| = sqrt(re^2 + im^2)`` over dim 0 with gradient ``(re, im) / |z|`` (0 where ``|z| = 0``)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        r = torch.hypot(z[0], z[1])
        ctx.save_for_backward(z, r)
        return r

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        z, r = ctx.saved_tensors
        safe = torch.where(r > 0, r, torch.ones_like(r))
        scale = torch.where(r > 0, grad / safe, torch.zeros_like(r))
        return z * scale.unsqueeze(0)


def amount(z: torch.Tensor) -> torch.Tensor:
    """Spike amount ``a = |Z|`` (Eq. 8-9, ``F(V_max) = V_max``) of phasor spikes ``z`` [2, ...]."""
    return _Modulus.apply(z)


def phase(z: torch.Tensor) -> torch.Tensor:
    """Spike phase ``arg Z`` in ``[0, 2 pi)`` (0 where the amount is 0)."""
    return torch.remainder(torch.atan2(z[1], z[0]), TWO_PI)


def spikes(amounts: torch.Tensor, times: torch.Tensor, period: float) -> torch.Tensor:
    """Phasor spikes ``[2, ...]`` from amounts and times: ``a * exp(i * 2 pi t / T)``."""
    phi = times * (TWO_PI / period)
    return torch.stack((amounts * torch.cos(phi), amounts * torch.sin(phi)))


def fire_time(z: torch.Tensor, period: float, window: float) -> torch.Tensor:
    """Absolute firing time (in the layer's clock) of the first crest after the collecting window ``window``."""
    t_crest = phase(z) * (period / TWO_PI)
    return window + torch.remainder(t_crest - window, period)


def _rotate(z: torch.Tensor, angle: float) -> torch.Tensor:
    """Multiply phasors by ``exp(i * angle)`` (identity, and no work, for multiples of 2 pi)."""
    angle = math.remainder(angle, TWO_PI)
    if abs(angle) < 1e-12:
        return z
    c, s = math.cos(angle), math.sin(angle)
    return torch.stack((c * z[0] - s * z[1], s * z[0] + c * z[1]))


def _phase_only_amount_grad(z: torch.Tensor) -> torch.Tensor:
    """``a * stopgrad(unit phasor)``: the value of ``z``, gradient through the amount only (SLDBP Eq. 17)."""
    a = amount(z)
    with torch.no_grad():
        safe = torch.where(a > 0, a, torch.ones_like(a))
        unit = torch.where(a > 0, z / safe, torch.zeros_like(z))
    return a.unsqueeze(0) * unit


class _GaussWeights(torch.autograd.Function):
    """The three real weights of Gauss's complex product for ``w exp(i omega d)`` in one fused node.

    Forward: ``wc = w cos(omega d)``, ``ws = w sin(omega d)``; returns ``(wc, ws - wc, wc + ws)``.
    Backward (chain rule written out, tested against autograd): with incoming ``g1, g2, g3``,
    ``g_wc = g1 - g2 + g3``, ``g_ws = g2 + g3``, ``dL/dw = g_wc cos + g_ws sin`` and
    ``dL/dd = omega w (g_ws cos - g_wc sin)``.  One node instead of eight saves the
    intermediate weight-sized tensors autograd would keep.
    """

    @staticmethod
    def forward(ctx, w: torch.Tensor, d: torch.Tensor, omega: float):  # type: ignore[override]
        ang = d * omega
        c, s = torch.cos(ang), torch.sin(ang)
        wc, ws = w * c, w * s
        ctx.save_for_backward(w, c, s)
        ctx.omega = omega
        return wc, ws - wc, wc + ws

    @staticmethod
    def backward(ctx, g1: torch.Tensor, g2: torch.Tensor, g3: torch.Tensor):  # type: ignore[override]
        w, c, s = ctx.saved_tensors
        g_wc = g1 - g2 + g3
        g_ws = g2 + g3
        g_w = g_wc * c + g_ws * s if ctx.needs_input_grad[0] else None
        g_d = ctx.omega * w * (g_ws * c - g_wc * s) if ctx.needs_input_grad[1] else None
        return g_w, g_d, None


def _complex_product(
    z: torch.Tensor,
    weight: torch.Tensor,
    delay: torch.Tensor,
    omega: float,
    op: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """Complex-linear map ``w exp(i omega d) (z0 + i z1)`` with three real products instead of four.

    Gauss's trick with ``wc + i ws = w exp(i omega d)``: ``k1 = op(z0 + z1, wc)``,
    ``k2 = op(z0, ws - wc)``, ``k3 = op(z1, wc + ws)``; ``Re = k1 - k3 = wc z0 - ws z1`` and
    ``Im = k1 + k2 = ws z0 + wc z1``.  ``op`` is any real operator linear in both arguments
    (``F.linear``, a convolution).  It saves a quarter of the matrix products of the block form
    ``[[wc, -ws], [ws, wc]]``, forward and backward (measured in ``docs/performance.md``).
    """
    w1, w2, w3 = _GaussWeights.apply(weight, delay, omega)
    k1 = op(z[0] + z[1], w1)
    k2 = op(z[0], w2)
    k3 = op(z[1], w3)
    return torch.stack((k1 - k3, k1 + k2))


@dataclass(frozen=True)
class ResonateConfig:
    """Options of every RSN layer (the ``resonate`` family's neuron params, declared once).

    ``period`` (default 2 pi), ``window`` (collecting window in periods; default: the latest
    arrival), ``train_weights``, ``train_delays``, ``phase_grad`` (see the module docstring),
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

    Input and output are phasor spikes ``[2, B, features]`` (see the module docstring);
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


def membrane(
    amounts: torch.Tensor,
    times: torch.Tensor,
    weight: torch.Tensor,
    delay: torch.Tensor | None,
    t: torch.Tensor,
    period: float = TWO_PI,
    psp: str = "linear",
    window: float | None = None,
) -> torch.Tensor:
    """Membrane potential of one RSN on a time grid, simulated from Eq. 6-7 (not the closed form).

    ``amounts``, ``times``: [N] input spikes; ``weight``/``delay``: [N]; ``t``: [S] grid.
    Each input contributes ``w a cos(omega (t - t_i - d_i))`` (``psp='squared'``: ``w a^2 cos``,
    Eq. 7 printed literally) only once it has arrived; with ``window`` (absolute time) a spike
    arriving at or after it is not received (the collecting phase is over).
    """
    if psp not in PSP_KINDS:
        raise ValueError(f"membrane: psp must be one of {PSP_KINDS}, got {psp!r}")
    d = torch.zeros_like(weight) if delay is None else torch.remainder(delay, period)
    arrive = times + d  # [N]
    gain = amounts * amounts if psp == "squared" else amounts
    if window is not None:
        gain = torch.where(arrive < window, gain, torch.zeros_like(gain))
    s = t.unsqueeze(1) - arrive.unsqueeze(0)  # [S, N]
    psp_v = weight * gain * torch.cos(TWO_PI / period * s)
    return torch.where(s >= 0, psp_v, torch.zeros_like(psp_v)).sum(1)
