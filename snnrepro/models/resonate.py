"""The ``resonate`` family: deep networks of Resonate Spiking Neurons trained with SLDBP.

Input: the ``amount_phase`` encoder's ``[B, 2, *S]`` (amounts, times).  Output: the output
layer's spike amounts ``[B, classes]`` (Eq. 8-9), the scores of Eq. 13's cross-entropy.
Every conv/dense token is an RSN layer (:mod:`snnrepro.neurons.resonate`), ``P2`` is spike
pooling (largest amount, its phase kept), ``AP``/``S`` average the phasors, ``DP`` drops whole
spikes.  Convolutions use zero ("no spike") ``same`` padding by default.

A single output neuron with two classes (the XOR experiments, arch ``2-1``) is read out by
comparing its amount with ``threshold``: scores ``[threshold - a, a - threshold]``, so class 1
is predicted when the neuron fires more than ``threshold`` and Eq. 13's cross-entropy on these
scores pushes the amount above/below it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from snnrepro.models.arch import ArchError, Conv, Dense, Dropout, Input, Pool, Voting, parse_arch, split_input
from snnrepro.neurons.resonate import (
    TWO_PI,
    ResonateConv2d,
    ResonateDense,
    SpikeDropout,
    SpikePool2d,
    amount,
    spikes,
)
from snnrepro.registry import MODELS


class _Flatten(nn.Module):
    """``[2, B, C, H, W] -> [2, B, C*H*W]``."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z.flatten(2)


class ResonateNet(nn.Module):
    """Encoder output ``[B, 2, *S]`` -> phasor spikes -> RSN layers -> output amounts ``[B, classes]``."""

    def __init__(self, layers: nn.Sequential, period: float, flatten_input: bool, threshold: float | None) -> None:
        super().__init__()
        self.layers = layers
        self.period = period
        self.flatten_input = flatten_input
        self.threshold = threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3 or x.shape[1] != 2:
            raise ValueError(
                "resonate model expects [B, 2, ...] (amounts, times) from the amount_phase encoder,"
                f" got {tuple(x.shape)}"
            )
        z = spikes(x[:, 0], x[:, 1], self.period)
        if self.flatten_input:
            z = z.flatten(2)
        out = amount(self.layers(z))
        if self.threshold is not None:
            return torch.cat((self.threshold - out, out - self.threshold), 1)
        return out

    def output_spikes(self, x: torch.Tensor) -> torch.Tensor:
        """Phasor spikes ``[2, B, classes]`` of the output layer (amount and phase)."""
        z = spikes(x[:, 0], x[:, 1], self.period)
        if self.flatten_input:
            z = z.flatten(2)
        return self.layers(z)


def _delay_layers(delays: bool | Sequence[int], n_syn: int) -> set[int]:
    if isinstance(delays, bool):
        return set(range(n_syn)) if delays else set()
    chosen = {int(i) for i in delays}
    bad = sorted(i for i in chosen if not -n_syn <= i < n_syn)
    if bad:
        raise ArchError(f"delays: layer index {bad[0]} out of range for {n_syn} synaptic layers")
    return {i % n_syn for i in chosen}


@MODELS.register("resonate")
def build(
    arch: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    period: float = TWO_PI,
    window: float | None = None,
    delays: bool | list[int] = True,
    train_weights: bool = True,
    train_delays: bool = True,
    phase_grad: bool = True,
    weight_gain: float = 1.0,
    weight_init: float | None = None,
    delay_init: str | float = "zero",
    padding: str = "same",
    threshold: float = 0.5,
    psp: str = "linear",
    late: str = "refuse",
) -> nn.Module:
    """Build an RSN network for ``arch``.

    Params: ``period`` T of the oscillation (default 2 pi, the paper's ``cos(s)``; must equal
    the encoder's); ``window`` the collecting window in periods (default: 1 T without delays,
    2 T with delays -- the shortest that receives every spike); ``delays`` True/False or the
    indices of the synaptic (conv/dense) layers with learnable delays (Eq. 18);
    ``train_weights`` / ``train_delays`` freeze either (weights-only / delays-only training);
    ``phase_grad`` False back-propagates through amounts only (the paper's Eq. 17);
    ``weight_gain`` init std ``gain / sqrt(fan_in)``; ``weight_init`` a constant instead;
    ``delay_init`` ``zero`` | ``uniform`` (U[0, T)) | a number; ``padding`` ``same`` | ``valid``;
    ``threshold`` the decision level of a single output neuron for two classes;
    ``psp`` ``linear`` (PSP ``w a cos``, Eq. 12/16-18) | ``squared`` (``w a^2 cos``, Eq. 7 literally);
    ``late`` ``refuse`` (the window must receive every spike) | ``drop`` (window default 1 T, Fig. 2d;
    spikes arriving after it are not received).  See :mod:`snnrepro.neurons.resonate`.
    """
    if padding not in ("same", "valid"):
        raise ArchError(f"resonate: padding must be 'same' or 'valid', got {padding!r}")
    shape, layers = split_input(parse_arch(arch), input_shape)
    syn = [ly for ly in layers if isinstance(ly, Conv | Dense)]
    if not syn or not isinstance(layers[-1], Dense):
        raise ArchError(f"resonate: {arch!r} must end with a dense output layer")
    with_delay = _delay_layers(delays, len(syn))
    win = window
    common = dict(
        period=period,
        window=win,
        train_weights=train_weights,
        train_delays=train_delays,
        phase_grad=phase_grad,
        weight_gain=weight_gain,
        weight_init=weight_init,
        delay_init=delay_init,
        psp=psp,
        late=late,
    )
    cur: tuple[int, ...] = tuple(shape)
    flatten_input = False
    if layers and isinstance(layers[0], Dense | Dropout) and len(cur) > 1:
        flatten_input, cur = True, (math.prod(cur),)
    seq = nn.Sequential()
    k = 0
    for pos, ly in enumerate(layers):
        if isinstance(ly, Conv):
            if len(cur) != 3:
                raise ArchError(f"resonate: convolution {ly} needs an image input, got shape {cur} in {arch!r}")
            if ly.stride != 1:
                raise ArchError(f"resonate: strided convolution {ly} is not supported in {arch!r}")
            pad = (ly.kernel[0] // 2, ly.kernel[1] // 2) if padding == "same" else (0, 0)
            c, h, w = cur
            h2, w2 = h + 2 * pad[0] - ly.kernel[0] + 1, w + 2 * pad[1] - ly.kernel[1] + 1
            if h2 < 1 or w2 < 1:
                raise ArchError(f"resonate: {ly} does not fit a {h}x{w} map in {arch!r}")
            seq.append(ResonateConv2d(c, ly.channels, ly.kernel, padding=pad, delays=k in with_delay, **common))
            cur, k = (ly.channels, h2, w2), k + 1
        elif isinstance(ly, Pool):
            if len(cur) != 3:
                raise ArchError(f"resonate: pooling {ly} needs an image input in {arch!r}")
            c, h, w = cur
            if h < ly.size or w < ly.size:
                raise ArchError(f"resonate: pooling {ly} does not fit a {h}x{w} map in {arch!r}")
            seq.append(SpikePool2d(ly.size, ly.kind))
            cur = (c, h // ly.size, w // ly.size)
        elif isinstance(ly, Dense):
            if len(cur) != 1:
                seq.append(_Flatten())
                cur = (math.prod(cur),)
            last = pos == len(layers) - 1
            if last and ly.width not in (num_classes, 1 if num_classes == 2 else num_classes):
                raise ArchError(f"resonate: output width {ly.width} but the dataset has {num_classes} classes")
            seq.append(ResonateDense(cur[0], ly.width, delays=k in with_delay, **common))
            cur, k = (ly.width,), k + 1
        elif isinstance(ly, Dropout):
            seq.append(SpikeDropout(ly.p))
        elif isinstance(ly, Voting | Input):
            raise ArchError(f"resonate: token {ly} is not supported in {arch!r}")
    single = layers[-1].width == 1 and num_classes == 2  # type: ignore[union-attr]
    return ResonateNet(seq, float(period), flatten_input, threshold if single else None)
