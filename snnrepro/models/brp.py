"""The ``brp`` family: BRP-SNN's spiking CNN (Zhang et al., TNNLS 2021, Sec. II-A..C, Table II).

Every layer is synapse -> LIF (Eq. 2) over the whole window ``[T, B, ...]``:

    V_t = g * V_{t-1} * (1 - S_{t-1}) + sum_j W_ij X_j(t),   S_t = H(V_t - V_th),   V -> V_reset on a spike

with ``g = 0.2``, ``V_th = 0.5``, ``V_reset = 0`` and the rectangular pseudo-gradient of Eq. 10
(``dS/dV = 1`` for ``|V - V_th| < width/2``, width 1), via :mod:`snnrepro.neurons.lif`.
``tau_ref = 1 ms`` with ``dt = 1 ms``: Eq. 2's flag ``Spike = 1 if t - t_spike < tau_ref`` is set only
on the spike step itself, so it blocks the decay term (the reset) and nothing else - exactly the
authors' ``u = 0.2 u (1 - o) + W x``.  The LIF core's ``refractory`` counts *additional* frozen
steps after the spike, hence ``refractory: 0`` here (a model param, to try the other reading).

Tokens (``snnrepro.models.arch``): ``Conv5x5x28`` / ``Conv1x3x100`` spiking convolution (stride 1,
'same' zero padding as the authors' ``CONV_32_5_1_2``), ``S2`` average pooling of the spikes
(``S1`` = no subsampling), ``P2`` max pooling, ``FC1000`` / ``1000`` fully connected, ``DP``
dropout (one mask per sample for all steps).  The last dense layer is the LIF output layer; the
network returns its firing rate over T (Eq. 6, ``y = 1/T sum_t O_spikes(t)``), ``[B, classes]``,
whose argmax is the prediction.

Input: the encoder's ``[T, B, ...]``.  Per step a sample is ``[C, H, W]``, ``[H, W]`` (one channel)
or ``[F]`` (a 1-D map, ``[1, 1, F]``, on which ``Conv1xk`` kernels are the paper's 1-D kernels and
pooling is ``1 x s``).  ``time_axis`` names the loader sample's time axis (frames of TIDIGITS:
``-1`` in ``[1, bands, frames]``; DVS-Gesture: ``0`` in ``[T, 2, H, W]``); the per-step shape is the
sample shape without it (the ``frames`` encoder feeds frame t at step t).

BRP hook points (protocol :class:`snnrepro.rules.brp.LocalLayers`): ``hidden_shapes()`` and
``record_hidden(detach_inputs)``; a hidden layer's spike output ``h`` is recorded *before*
pooling, as in the authors' code (hook right after the LIF).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from snnrepro.models.arch import ArchError, Conv, Dense, Dropout, Flatten, Pool, Wording, parse_arch, plan, split_input
from snnrepro.models.multistep import SeqDropout, TimeDistributed
from snnrepro.models.options import family_config
from snnrepro.neurons.lif import LIF
from snnrepro.registry import MODELS


class SpikingBlock(nn.Module):
    """synapse (conv or linear, on all steps at once) -> LIF population -> optional pooling/dropout of the spikes."""

    def __init__(self, weights: nn.Module, neuron: nn.Module, out_shape: tuple[int, ...], name: str) -> None:
        super().__init__()
        self.synapse = TimeDistributed(weights)
        self.neuron = neuron
        self.post = nn.Sequential()
        self.out_shape = out_shape  # per-sample shape of the spikes (before self.post)
        self.name = name

    @property
    def weights(self) -> nn.Module:
        """The layer's ``nn.Conv2d`` or ``nn.Linear``."""
        inner = self.synapse.module
        return inner[-1] if isinstance(inner, nn.Sequential) else inner

    def spikes(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` [T, B, ...] -> spikes [T, B, *out_shape]."""
        return self.neuron(self.synapse(x))

    def after(self, s: torch.Tensor) -> torch.Tensor:
        return self.post(s)


class SpikingCNN(nn.Module):
    """Spiking conv/FC network returning output firing rates ``[B, classes]``; see the module docstring."""

    def __init__(self, blocks: list[SpikingBlock], step_shape: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.step_shape = step_shape  # per-step input as the first synapse sees it ([C, H, W] or [F])
        self.num_classes = num_classes
        self._record: list[torch.Tensor] | None = None
        self._detach = False

    # ---- the LocalLayers protocol (snnrepro.rules.brp) -------------------------------------------
    def hidden_shapes(self) -> list[tuple[int, ...]]:
        return [b.out_shape for b in self.blocks[:-1]]

    def layer_names(self) -> list[str]:
        """Names of the hidden layers, e.g. ``conv1 (Conv5x5x28)``, in forward order."""
        return [b.name for b in self.blocks[:-1]]

    @contextmanager
    def record_hidden(self, detach_inputs: bool = True) -> Iterator[list[torch.Tensor]]:
        """Collect hidden spike outputs ``[T, B, ...]``; with ``detach_inputs`` every layer's input is detached."""
        out: list[torch.Tensor] = []
        prev = (self._record, self._detach)
        self._record, self._detach = out, detach_inputs
        try:
            yield out
        finally:
            self._record, self._detach = prev

    # ---- forward ------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3:
            raise ValueError(f"brp model: expected encoder output [T, B, ...], got shape {tuple(x.shape)}")
        steps, batch = x.shape[:2]
        x = x.reshape(steps, batch, *self.step_shape).to(next(self.parameters()).dtype)
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            if self._detach:
                x = x.detach()
            s = block.spikes(x)
            if i < last:
                if self._record is not None:
                    self._record.append(s)
                x = block.after(s)
        return s.mean(0)


def _step_shape(input_shape: tuple[int, ...], time_axis: int | None) -> tuple[int, ...]:
    shape = tuple(int(d) for d in input_shape)
    if time_axis is not None:
        if not -len(shape) <= int(time_axis) < len(shape):
            raise ArchError(f"brp model: time_axis {time_axis} is not an axis of the sample shape {shape}")
        shape = shape[: int(time_axis) % len(shape)] + shape[int(time_axis) % len(shape) + 1 :]
    if not shape:
        raise ArchError(f"brp model: sample shape {tuple(input_shape)} leaves nothing per time step")
    return shape


@dataclass(frozen=True)
class BRPNeuronConfig:
    """The ``brp`` family's neuron params (declared once): Eq. 2's LIF and Eq. 10's pseudo-gradient.

    ``decay`` g, ``threshold`` V_th, ``v_reset``, ``refractory`` (additional frozen steps, see the module
    docstring), ``detach_reset``; ``width`` the rectangular pseudo-gradient's full width (Eq. 10, authors:
    1.0); ``surrogate`` may name another registered surrogate (then ``width`` is ignored unless it is
    ``rectangular``); ``backend`` of :class:`~snnrepro.neurons.lif.LIF`.
    """

    decay: float = 0.2
    threshold: float = 0.5
    v_reset: float = 0.0
    refractory: int = 0
    detach_reset: bool = False
    surrogate: str | dict[str, Any] = "rectangular"
    width: float = 1.0
    backend: str = "fused"

    def neuron(self) -> LIF:
        """A fresh LIF population with these settings (hard reset)."""
        sg: str | dict[str, Any] = self.surrogate
        if self.surrogate == "rectangular":
            sg = {"name": "rectangular", "width": float(self.width)}
        return LIF(
            decay=self.decay,
            threshold=self.threshold,
            reset="hard",
            v_reset=self.v_reset,
            detach_reset=self.detach_reset,
            refractory=self.refractory,
            surrogate=sg,
            backend=self.backend,
        )


BRP_WORDING = Wording(
    "brp model: ",
    token="{p}{where} is not supported",
    conv_image="{p}convolution after a dense layer at {where}",
    conv_fit="{p}kernel {kh}x{kw} does not fit a {h}x{w} map at {where}",
    pool_image="{p}pooling must follow a convolution, at {where}",
    pool_fit="{p}pooling {size} does not fit a {h}x{w} map at {where}",
)


@MODELS.register("brp")
def build(
    arch: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    padding: str = "same",
    bias: bool = True,
    time_axis: int | None = None,
    channels: int | None = None,
    T: int | None = None,  # noqa: N803 - the encoder's window, accepted for the family convention, unused
    **neuron: Any,
) -> SpikingCNN:
    """BRP-SNN network for ``arch`` on loader samples of ``input_shape``; see the module docstring.

    ``neuron``: the fields of :class:`BRPNeuronConfig`.  ``channels`` overrides the per-step channel
    count when the encoder changes it (DVS polarities merged into one map by the ``frames`` encoder's
    ``merge_channels``).
    """
    cfg = family_config(BRPNeuronConfig, neuron)
    if padding not in ("same", "valid"):
        raise ArchError(f"brp model: padding must be 'same' or 'valid', got {padding!r}")
    if T is not None and int(T) < 1:
        raise ArchError(f"brp model: T must be a positive number of steps, got {T}")
    step = _step_shape(tuple(input_shape), time_axis)
    if channels is not None:
        if int(channels) < 1 or len(step) != 3:
            raise ArchError(f"brp model: channels={channels} needs a [C, H, W] step input, got per-step shape {step}")
        step = (int(channels), *step[1:])
    if len(step) == 1:
        cur: tuple[int, ...] = (1, 1, step[0])
    elif len(step) == 2:
        cur = (1, *step)
    elif len(step) == 3:
        cur = step
    else:
        raise ArchError(f"brp model: per-step input {step} must be [F], [H, W] or [C, H, W]")
    _, layers = split_input(parse_arch(arch), cur)
    if len(step) == 1 and layers and isinstance(layers[0], Dense):
        cur = step  # a vector input to a fully connected network stays a vector
    steps = plan(layers, cur, arch, num_classes, BRP_WORDING, padding=padding, pool_1d=True)

    blocks: list[SpikingBlock] = []
    counts = {"conv": 0, "fc": 0}
    flatten = False
    for st in steps:
        ly, where = st.token, f"token {st.pos + 1} ({st.token}) of {arch!r}"
        if isinstance(ly, Conv):
            (kh, kw), c = ly.kernel, st.in_shape[0]
            counts["conv"] += 1
            conv = nn.Conv2d(c, ly.channels, (kh, kw), stride=ly.stride, padding=st.padding, bias=bias)
            name = f"conv{counts['conv']} (Conv{kh}x{kw}x{ly.channels})"
            blocks.append(SpikingBlock(conv, cfg.neuron(), st.out_shape, name))
        elif isinstance(ly, Pool):
            if not blocks:
                raise ArchError(f"brp model: pooling must follow a convolution, at {where}")
            if ly.size > 1:
                pool = nn.AvgPool2d(st.window) if ly.kind == "avg" else nn.MaxPool2d(st.window)
                blocks[-1].post.append(TimeDistributed(pool))
        elif isinstance(ly, Flatten):
            flatten = True
        elif isinstance(ly, Dense):
            synapse: nn.Module = nn.Linear(st.in_shape[0], ly.width, bias=bias)
            if flatten:
                synapse, flatten = nn.Sequential(nn.Flatten(), synapse), False
            counts["fc"] += 1
            blocks.append(SpikingBlock(synapse, cfg.neuron(), st.out_shape, f"fc{counts['fc']} (FC{ly.width})"))
        elif isinstance(ly, Dropout):
            if not blocks:
                raise ArchError(f"brp model: dropout must follow a layer, at {where}")
            blocks[-1].post.append(SeqDropout(ly.p))
    return SpikingCNN(blocks, steps[0].in_shape, num_classes)
