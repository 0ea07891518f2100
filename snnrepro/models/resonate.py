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
from typing import Any

import torch
from torch import nn

from snnrepro.models.arch import ArchError, Conv, Dense, Dropout, Flatten, Pool, Wording, parse_arch, plan, split_input
from snnrepro.models.options import family_config
from snnrepro.neurons.resonate import (
    ResonateConfig,
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
    delays: bool | list[int] = True,
    padding: str = "same",
    threshold: float = 0.5,
    **neuron: Any,
) -> nn.Module:
    """Build an RSN network for ``arch``.

    Params: the neuron's (:class:`~snnrepro.neurons.resonate.ResonateConfig`): ``period`` T of the
    oscillation (default 2 pi, the paper's ``cos(s)``; must equal the encoder's); ``window`` the
    collecting window in periods (default: 1 T without delays, 2 T with delays -- the shortest that
    receives every spike); ``train_weights`` / ``train_delays`` freeze either (weights-only /
    delays-only training); ``phase_grad`` False back-propagates through amounts only (the paper's
    Eq. 17); ``weight_gain`` init std ``gain / sqrt(fan_in)``; ``weight_init`` a constant instead;
    ``delay_init`` ``zero`` | ``uniform`` (U[0, T)) | a number; ``psp`` ``linear`` (PSP ``w a cos``,
    Eq. 12/16-18) | ``squared`` (``w a^2 cos``, Eq. 7 literally); ``late`` ``refuse`` (the window must
    receive every spike) | ``drop`` (window default 1 T, Fig. 2d; spikes arriving after it are not
    received).  The network's: ``delays`` True/False or the indices of the synaptic (conv/dense)
    layers with learnable delays (Eq. 18); ``padding`` ``same`` | ``valid``; ``threshold`` the decision
    level of a single output neuron for two classes.  See :mod:`snnrepro.neurons.resonate`.
    """
    cfg = family_config(ResonateConfig, neuron)
    shape, layers = split_input(parse_arch(arch), input_shape)
    flatten_input = bool(layers) and isinstance(layers[0], Dense | Dropout) and len(shape) > 1
    if flatten_input:
        shape = (math.prod(shape),)
    widths = (num_classes, 1 if num_classes == 2 else num_classes)
    steps = plan(layers, shape, arch, num_classes, Wording("resonate: "), padding=padding, strided=False, widths=widths)
    with_delay = _delay_layers(delays, sum(isinstance(step.token, Conv | Dense) for step in steps))
    seq = nn.Sequential()
    k = 0
    for step in steps:
        ly, c_in = step.token, step.in_shape[0]
        if isinstance(ly, Conv):
            seq.append(ResonateConv2d(c_in, ly.channels, ly.kernel, padding=step.padding, config=cfg,
                                      delays=k in with_delay))  # fmt: skip
            k += 1
        elif isinstance(ly, Pool):
            seq.append(SpikePool2d(ly.size, ly.kind))
        elif isinstance(ly, Flatten):
            seq.append(_Flatten())
        elif isinstance(ly, Dense):
            seq.append(ResonateDense(c_in, ly.width, config=cfg, delays=k in with_delay))
            k += 1
        elif isinstance(ly, Dropout):
            seq.append(SpikeDropout(ly.p))
    single = layers[-1].width == 1 and num_classes == 2  # type: ignore[union-attr]
    return ResonateNet(seq, float(cfg.period), flatten_input, threshold if single else None)
