"""The ``iir`` family: deep SNNs of IIR synapse/neuron/reset filters (Fang et al. 2020, Eq. 5a-5f).

Input: multi-step spikes ``[T, B, *S]`` from the encoder (``rate`` for images, ``events`` for frame
datasets, ``lif_current`` for time series, ``events`` for the associative-memory patterns).
Every conv/dense token is one IIR layer: the synapse filter of Eq. 5d on its *input* axons (one
state per presynaptic neuron), the weights (Eq. 5b, applied to all ``T`` steps at once), and the
neuron with its reset filter (Eq. 5a, 5c, 5e).  ``P2`` max-pools spikes, ``AP`` averages them,
``DP`` drops whole axons (one mask per sample for all steps).  Convolutions use ``same`` padding.

Readouts: ``counts`` returns the output spike counts ``sum_t O^L[t]`` ``[B, classes]`` -- the logits
of Eq. 6-7, so the registered ``cross_entropy`` loss is exactly the paper's rate loss;
``pattern_distance`` (associative memory, section 5.1) returns ``-E_dist`` (Eq. 8) between the
output spike trains and each of the ``num_classes`` stored clean patterns, so the ``van_rossum``
loss is Eq. 8 against the sample's own pattern and argmax = nearest stored pattern.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
from torch import nn

from snnrepro.models.arch import ArchError, Conv, Dense, Dropout, Flatten, Pool, Wording, parse_arch, plan, split_input
from snnrepro.models.options import family_config
from snnrepro.neurons.iir import IIRConfig, IIRNeuron, SynapseFilter
from snnrepro.registry import MODELS

T = TypeVar("T")


class StepwiseOp(nn.Module):
    """Apply a stateless module (Linear, Conv2d, pooling) to ``[T, B, ...]`` as ``[T*B, ...]``."""

    def __init__(self, op: nn.Module) -> None:
        super().__init__()
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        z = self.op(x.reshape(t * b, *x.shape[2:]))
        return z.reshape(t, b, *z.shape[1:])


class SpikeDropout(nn.Module):
    """Dropout of presynaptic neurons with one mask per sample shared by all time steps."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ArchError(f"iir: dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        mask = torch.bernoulli(torch.full_like(x[:1], 1.0 - self.p)) / (1.0 - self.p)
        return x * mask


class IIRLayer(nn.Module):
    """Eq. 5a-5e: synapse filter on the input axons -> weights -> neuron with reset filter."""

    def __init__(self, synapse: SynapseFilter, weights: StepwiseOp, neuron: IIRNeuron) -> None:
        super().__init__()
        self.synapse, self.weights, self.neuron = synapse, weights, neuron

    def current(self, x: torch.Tensor) -> torch.Tensor:
        """``I[t] = W F[t]`` (Eq. 5b) for all steps."""
        return self.weights(self.synapse(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neuron(self.current(x))


class IIRNet(nn.Module):
    """Encoder spikes ``[T, B, *S]`` -> IIR layers -> readout (spike counts or pattern distances)."""

    def __init__(self, stages: nn.Sequential, step_shape: tuple[int, ...], readout: nn.Module | None) -> None:
        super().__init__()
        self.stages = stages
        self.step_shape = step_shape
        self.readout = readout

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() < 3 or tuple(x.shape[2:]) != self.step_shape:
            raise ValueError(
                f"iir model expects multi-step spikes [T, B, {', '.join(map(str, self.step_shape))}] from its"
                f" encoder, got {tuple(x.shape)}"
            )

    def layer_spikes(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Spikes ``[T, B, ...]`` of every IIR layer, first to last."""
        self._check(x)
        out = []
        for stage in self.stages:
            x = stage(x)
            if isinstance(stage, IIRLayer):
                out.append(x)
        return out

    def output_spikes(self, x: torch.Tensor) -> torch.Tensor:
        """Output layer spikes ``[T, B, N_L]``."""
        self._check(x)
        return self.stages(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spikes = self.output_spikes(x)
        if self.readout is not None:
            return self.readout(spikes)
        return spikes.sum(0)  # Eq. 7: spike counts are the logits of the softmax

    def synapse_filters(self) -> list[SynapseFilter]:
        return [s.synapse for s in self.stages if isinstance(s, IIRLayer)]


def step_shape_of(input_shape: Sequence[int], input_time_axis: int | None) -> tuple[int, ...]:
    """Shape of one time step of one sample, given the loader's sample shape and where its time axis is."""
    shape = tuple(int(s) for s in input_shape)
    if input_time_axis is None:
        return shape
    if input_time_axis == 0:
        return shape[1:]
    if input_time_axis == -1:
        return shape[:-1]
    raise ArchError(f"iir: input_time_axis must be null (static input), 0 (frames [T, ...]) or -1 (time last),"
                    f" got {input_time_axis}")


@MODELS.register("iir")
def build(
    arch: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    bias: bool = False,
    padding: str = "same",
    input_time_axis: int | None = None,
    weight_gain: float = 1.0,
    input_pool: int = 1,
    readout: str = "counts",
    memory: dict[str, Any] | None = None,
    **neuron: Any,
) -> nn.Module:
    """Build an IIR-filter SNN for ``arch`` (paper notation, e.g. ``64C3-P2-32C3-32C3-P2-256-10``).

    The neuron's params (:class:`~snnrepro.neurons.iir.IIRConfig`): synapse filter ``preset``
    ``dual_exp`` (``tau_m``, ``tau_s``; default 4/1 as the authors' MNIST config), ``alpha`` (``tau``),
    ``lif`` (no filter) or ``custom`` (``alpha`` = [alpha_1..alpha_P], ``beta`` = [beta_0..beta_Q]);
    ``delay`` 1 = paper's Eq. 4c ``x[t-1]``, 0 = authors' code ``x[t]``; ``psp_norm`` scales the dual-exp
    kernel to unit peak (the ``eta^{eta/(eta-1)}/(eta-1)`` factor of section 2; neither Eq. 4c nor the
    authors' cell applies it, so default off).  ``train_kernel`` learns alpha/beta (Eq. 15-17; False = the
    paper's "without kernel training" rows), ``kernel_param`` ``direct`` (paper) | ``poles`` (stable: real
    poles in (0, 1) via sigmoid).  Neuron: ``lam`` (lambda of Eq. 5a, default
    :func:`~snnrepro.neurons.iir.default_lambda`), reset filter ``theta`` (default ``e^{-1/tau_r}``,
    ``tau_r`` default ``tau_m`` as in the authors' code; the paper leaves ``tau_r`` open), ``v_th``,
    surrogate ``sigma`` (Eq. 19's erfc = the core's ``gaussian``; 0.4 in the authors' code) or another
    registered ``surrogate``; ``detach_reset`` cuts the reset path out of BPTT (the paper keeps it, Eq.
    11-12); ``reset_scale`` scales the reset impulse (1 = the paper's ``V_th``; ``lam`` with ``theta = 0``
    gives the core's soft-reset LIF).  ``backend`` ``fused`` (one autograd Function per filter/neuron with
    the adjoint backward) or ``autograd`` (step-by-step reference; the tests check they agree).

    The network's: ``bias`` adds a bias to Eq. 5b (the authors' code has one, the paper's equation not).
    ``input_time_axis``: where the loader's sample keeps time (null: static, the encoder adds T; 0: frames
    ``[T, ...]``; -1: time last).  ``weight_gain`` multiplies PyTorch's default (Kaiming-uniform) weight
    init -- the paper gives no init, and with ``v_th = 1`` and a PSP peak of ~0.47 the default is too weak
    to make deep layers fire.  ``input_pool`` max-pools the input spike maps by that factor before the
    first layer (a spike where any pixel of the window spiked; used to bring 128x128 DVS frames to a size
    the paper's small CNN can take).  ``readout`` ``counts`` | ``pattern_distance`` (``memory``: params of
    :class:`snnrepro.models.iir_readout.PatternMemoryReadout`).
    """
    cfg = family_config(IIRConfig, neuron)
    if padding not in ("same", "valid"):
        raise ArchError(f"iir: padding must be 'same' or 'valid', got {padding!r}")
    if readout not in ("counts", "pattern_distance"):
        raise ArchError(f"iir: readout must be 'counts' or 'pattern_distance', got {readout!r}")
    _checked(cfg.coefficients)
    _checked(cfg.decays)

    shape = step_shape_of(input_shape, input_time_axis)
    stages = nn.Sequential()
    pooled = shape
    if int(input_pool) != 1:
        if int(input_pool) < 1 or len(shape) != 3 or shape[1] < input_pool or shape[2] < input_pool:
            raise ArchError(f"iir: input_pool {input_pool} needs [C, H, W] maps at least that large, got {shape}")
        stages.append(StepwiseOp(nn.MaxPool2d(int(input_pool))))
        pooled = (shape[0], shape[1] // int(input_pool), shape[2] // int(input_pool))
    cur, layers = split_input(parse_arch(arch), pooled)
    wording = Wording(
        "iir: ",
        conv_image="{p}convolution {ly} needs a [C, H, W] input, got {cur} in {arch!r}",
        pool_image="{p}pooling {ly} needs a [C, H, W] input in {arch!r}",
    )
    classes = num_classes if readout == "counts" else None
    steps = plan(layers, cur, arch, classes, wording, padding=padding, strided=False)
    for step in steps:
        ly, c_in = step.token, step.in_shape[0]
        if isinstance(ly, Conv):
            synapse = _checked(cfg.synapse, step.in_shape)
            conv = nn.Conv2d(c_in, ly.channels, ly.kernel, padding=step.padding, bias=bias)
            stages.append(IIRLayer(synapse, StepwiseOp(conv), _checked(cfg.neuron)))
        elif isinstance(ly, Pool):
            stages.append(StepwiseOp(nn.MaxPool2d(ly.size) if ly.kind == "max" else nn.AvgPool2d(ly.size)))
        elif isinstance(ly, Flatten):  # the dense layer's synapse filter keeps one state per flattened axon
            stages.append(_Flatten())
        elif isinstance(ly, Dense):
            synapse = _checked(cfg.synapse, step.in_shape)
            linear = nn.Linear(c_in, ly.width, bias=bias)
            stages.append(IIRLayer(synapse, StepwiseOp(linear), _checked(cfg.neuron)))
        elif isinstance(ly, Dropout):
            stages.append(SpikeDropout(ly.p))
    head: nn.Module | None = None
    if readout == "pattern_distance":
        from snnrepro.models.iir_readout import PatternMemoryReadout

        if input_time_axis != 0:
            raise ArchError("iir: readout 'pattern_distance' needs time-first samples (input_time_axis: 0)")
        try:
            n_trains = steps[-1].out_shape[0]
            head = PatternMemoryReadout(num_patterns=num_classes, n_trains=n_trains, steps=int(input_shape[0]),
                                        **(memory or {}))  # fmt: skip
        except (TypeError, ValueError) as exc:
            raise ArchError(f"iir: memory readout: {exc}") from None
    elif memory:
        raise ArchError("iir: 'memory' is only read with readout 'pattern_distance'")
    if weight_gain != 1.0:
        with torch.no_grad():
            for st in stages:
                if isinstance(st, IIRLayer):
                    st.weights.op.weight.mul_(weight_gain)
    return IIRNet(stages, shape, head)


def _checked(make: Callable[..., T], *args: Any) -> T:
    """``make(*args)``, a ``ValueError`` about the params raised as :class:`ArchError` with its message."""
    try:
        return make(*args)
    except ValueError as exc:
        raise ArchError(str(exc)) from None


class _Flatten(nn.Module):
    """``[T, B, C, H, W] -> [T, B, C*H*W]`` before a dense layer's synapse filter."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2)


def kernels(model: nn.Module, steps: int) -> list[torch.Tensor]:
    """Impulse responses ``[steps, n_axons]`` of every layer's synapse filters (flattened per layer)."""
    net = model.net if hasattr(model, "net") else model
    return [f.impulse_response(steps).reshape(steps, -1) for f in net.synapse_filters()]

