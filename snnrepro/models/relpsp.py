"""The ``relpsp`` family: deep networks of ReL-PSP neurons trained with STDBP (exact spike-time gradients).

Input: spike times from the ``latency`` encoder, ``[B, C, H, W]`` (or ``[B, N]``).  Every conv/dense
token is a ReL-PSP layer (:mod:`snnrepro.neurons.relpsp`: first-spike time by Eq. 12, gradients
Eq. 14-15), ``P2`` is earliest-spike pooling (min of times; ``AP``/``S`` are refused: averaging
spike times is not a spiking operation).  The output is ``scores = -t_out`` ``[B, classes]``, so
the ``cross_entropy`` loss on it is exactly Eq. 13 and the earliest output spike is the class.

Choices where the paper is silent (all parameters):

* ``theta`` = 1 and the window ``t_max`` = 4 (input times in ``[0, 1]``); silent neurons output
  ``t_max`` (no spike, zero gradient), the same ``t_max`` in every layer.
* Convolutions are ``valid`` (``padding``), as in LeNet-5 whose notation the paper uses:
  ``28x28-6C5-P2-16C5-P2`` gives 28->24->12->8->4, i.e. 16x4x4 = 256 spike times; the ``1024`` that
  follows is therefore a hidden dense layer of 1024 neurons (256 -> 1024 -> 128 -> 10), not the
  flattened size.
* Weights ``N(mean / fan_in, gain^2 / fan_in)`` (``init``: normal | uniform); the specs use a small
  positive ``mean`` so that most neurons fire at the start (the paper uses no weight constraint or
  regularisation -- "Additional Strategy: None" in Table 1 -- so none is offered here).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from snnrepro.models.arch import ArchError, Conv, Dense, Flatten, Pool, Wording, parse_arch, plan, split_input
from snnrepro.models.options import family_config
from snnrepro.neurons.relpsp import MinPool2d, RelPspConfig, RelPspConv2d, RelPspDense
from snnrepro.registry import MODELS


class _Flatten(nn.Module):
    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return t.flatten(1)


class RelPspNet(nn.Module):
    """Latency-coded input times -> ReL-PSP layers -> scores ``-t_out`` ``[B, classes]``."""

    def __init__(
        self,
        layers: nn.Sequential,
        flatten_input: bool,
        t_max: float,
        silent_output: str = "zero",
        silent_slope: float = 1.0,
    ) -> None:
        super().__init__()
        if silent_output not in SILENT_OUTPUT:
            raise ArchError(f"relpsp: silent_output must be one of {', '.join(SILENT_OUTPUT)}, got {silent_output!r}")
        if not silent_slope > 0:
            raise ArchError(f"relpsp: silent_slope must be positive, got {silent_slope}")
        self.layers = layers
        self.flatten_input = flatten_input
        self.t_max = t_max
        self.silent_output = silent_output
        self.silent_slope = silent_slope

    def _prepare(self, t_in: torch.Tensor) -> torch.Tensor:
        return t_in.flatten(1) if self.flatten_input else t_in

    def forward(self, t_in: torch.Tensor) -> torch.Tensor:
        t = self._prepare(t_in)
        for layer in self.layers[:-1]:
            t = layer(t)
        out = self.layers[-1]
        t_out = out(t)
        if self.silent_output == "window_end" and torch.is_grad_enabled():
            t_out = window_end_times(t_out, t, out.weight, self.t_max, self.silent_slope)
        return -t_out

    def spike_times(self, t_in: torch.Tensor) -> list[torch.Tensor]:
        """Spike times of every ReL-PSP layer (hidden ones first, output last), each ``[B, ...]``."""
        out, t = [], self._prepare(t_in)
        for layer in self.layers:
            t = layer(t)
            if isinstance(layer, RelPspDense | RelPspConv2d):
                out.append(t)
        return out


#: what an output neuron that stays silent in the window gives back to the loss (see :func:`window_end_times`).
SILENT_OUTPUT = ("zero", "window_end")


def window_end_times(
    t_out: torch.Tensor, t_in: torch.Tensor, weight: torch.Tensor, t_max: float, slope: float
) -> torch.Tensor:
    """Silent output neurons read as firing at the window's end, with a gradient (option ``window_end``).

    The value is unchanged (``t_max``).  The gradient is that of the linear extrapolation
    ``t_hat = t_max - (V(t_max) - theta) / slope`` with the potential at the window's end
    ``V(t_max) = sum_i w_i relu(t_max - t_i)`` (Eq. 10 at ``t = t_max`` over every input that spiked):
    ``d t_hat / d w_i = -relu(t_max - t_i) / slope`` and ``d t_hat / d t_i = w_i [t_i < t_max] / slope``.
    So a silent target is pulled towards firing instead of its rivals being pushed to silence, which is
    the exit that Eq. 14 (zero gradient for a silent neuron) leaves open under Eq. 13's loss.  This is the
    convention of S4NN-style temporal-coding work for output neurons that do not fire; the STDBP paper
    does not say how it treats them (docs/stdbp.md has the experiment that chose it).  Firing neurons keep
    their exact Eq. 14-15 gradients.
    """
    silent = t_out >= t_max
    if not bool(silent.any()):
        return t_out
    v_end = torch.relu(t_max - t_in.clamp(max=t_max)) @ weight
    return torch.where(silent, t_out - (v_end - v_end.detach()) / slope, t_out)


@MODELS.register("relpsp")
def build(
    arch: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    padding: str = "valid",
    silent_output: str = "zero",
    silent_slope: float = 1.0,
    **neuron: Any,
) -> nn.Module:
    """Build a ReL-PSP network for ``arch`` (e.g. ``784-400-10``, ``28x28-6C5-P2-16C5-P2-1024-128-10``).

    Params: the neuron's (:class:`~snnrepro.neurons.relpsp.RelPspConfig`): ``theta`` threshold;
    ``t_max`` simulation window (silent neurons output ``t_max``); ``init``/``gain``/``mean`` weight
    init N(mean/fan_in, gain^2/fan_in); ``chunk`` inputs per scan step of the PyTorch kernel (``None``:
    chosen per layer); ``kernel`` auto | torch | numba (``auto``: the compiled CPU kernel on CPU tensors,
    ``$SNNREPRO_RELPSP_KERNEL`` overrides it; see ``resolve_kernel``); ``reference`` the slow reference
    kernel (tests).  The network's: ``padding``
    valid | same (padding = no spike); ``silent_output`` ``zero`` (Eq. 14: a silent output neuron has
    no gradient) or ``window_end`` (:func:`window_end_times`), ``silent_slope`` its assumed ``dV/dt``
    at the window's end.
    """
    cfg = family_config(RelPspConfig, neuron)
    if padding not in ("same", "valid"):
        raise ArchError(f"relpsp: padding must be 'same' or 'valid', got {padding!r}")
    if cfg.theta <= 0 or cfg.t_max <= 0:
        raise ArchError(f"relpsp: theta and t_max must be positive, got theta={cfg.theta}, t_max={cfg.t_max}")
    shape, layers = split_input(parse_arch(arch), input_shape)
    flatten_input = bool(layers) and isinstance(layers[0], Dense) and len(shape) > 1
    if flatten_input:
        shape = (math.prod(shape),)
    wording = Wording("relpsp: ", pool_kind="{p}only earliest-spike pooling (P/MP) is supported, got {ly} in {arch!r}")
    steps = plan(layers, shape, arch, num_classes, wording, padding=padding, strided=False,
                 allowed=(Conv, Pool, Dense), pools=("max",))  # fmt: skip
    seq = nn.Sequential()
    for step in steps:
        ly, c_in = step.token, step.in_shape[0]
        if isinstance(ly, Conv):
            seq.append(RelPspConv2d(c_in, ly.channels, ly.kernel, padding=step.padding, config=cfg))
        elif isinstance(ly, Pool):
            seq.append(MinPool2d(ly.size))
        elif isinstance(ly, Flatten):
            seq.append(_Flatten())
        elif isinstance(ly, Dense):
            seq.append(RelPspDense(c_in, ly.width, config=cfg))
    return RelPspNet(seq, flatten_input, float(cfg.t_max), silent_output, float(silent_slope))
