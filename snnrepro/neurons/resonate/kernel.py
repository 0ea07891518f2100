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

This module holds the closed form (phasors, modulus, Gauss's complex product, the simulated
:func:`membrane`); the layers built on it are in :mod:`snnrepro.neurons.resonate.layers`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

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
