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

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from snnrepro.models.arch import ArchError, Conv, Dense, Dropout, Input, Pool, Voting, parse_arch, split_input
from snnrepro.neurons.iir import (
    IIRNeuron,
    SynapseFilter,
    dual_exp_peak_norm,
    preset_coefficients,
)
from snnrepro.registry import MODELS


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


def default_lambda(preset: str, tau_m: float) -> float:
    """Neuron filter lambda when the spec gives none.

    ``dual_exp``/``alpha``/``custom``: 0 -- Eq. 4a has no ``v[t-1]`` term because the membrane time
    constant is already inside the PSP kernel (and the authors' code keeps ``membrane_filter`` off).
    ``lif``: ``e^{-1/tau_m}``, the plain leaky neuron the paper says the preset reduces to.
    """
    return math.exp(-1.0 / tau_m) if preset == "lif" else 0.0


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
    preset: str = "dual_exp",
    tau_m: float = 4.0,
    tau_s: float = 1.0,
    tau: float = 2.0,
    delay: int = 1,
    alpha: list[float] | None = None,
    beta: list[float] | None = None,
    psp_norm: bool = False,
    lam: float | None = None,
    tau_r: float | None = None,
    theta: float | None = None,
    v_th: float = 1.0,
    sigma: float = 0.4,
    surrogate: str | dict[str, Any] | None = None,
    detach_reset: bool = False,
    reset_scale: float = 1.0,
    train_kernel: bool = True,
    kernel_param: str = "direct",
    bias: bool = False,
    padding: str = "same",
    input_time_axis: int | None = None,
    weight_gain: float = 1.0,
    input_pool: int = 1,
    backend: str = "fused",
    readout: str = "counts",
    memory: dict[str, Any] | None = None,
) -> nn.Module:
    """Build an IIR-filter SNN for ``arch`` (paper notation, e.g. ``64C3-P2-32C3-32C3-P2-256-10``).

    Synapse filter: ``preset`` ``dual_exp`` (``tau_m``, ``tau_s``; default 4/1 as the authors' MNIST
    config), ``alpha`` (``tau``), ``lif`` (no filter) or ``custom`` (``alpha`` = [alpha_1..alpha_P],
    ``beta`` = [beta_0..beta_Q]); ``delay`` 1 = paper's Eq. 4c ``x[t-1]``, 0 = authors' code ``x[t]``;
    ``psp_norm`` scales the dual-exp kernel to unit peak (the ``eta^{eta/(eta-1)}/(eta-1)`` factor of
    section 2; neither Eq. 4c nor the authors' cell applies it, so default off).
    ``train_kernel`` learns alpha/beta (Eq. 15-17; False = the paper's "without kernel training" rows),
    ``kernel_param`` ``direct`` (paper) | ``poles`` (stable: real poles in (0, 1) via sigmoid).
    Neuron: ``lam`` (lambda of Eq. 5a, default :func:`default_lambda`), reset filter ``theta``
    (default ``e^{-1/tau_r}``, ``tau_r`` default ``tau_m`` as in the authors' code; the paper leaves
    ``tau_r`` open), ``v_th``, surrogate ``sigma`` (Eq. 19's erfc = the core's ``gaussian``; 0.4 in the
    authors' code) or another registered ``surrogate``; ``detach_reset`` cuts the reset path out of BPTT
    (the paper keeps it, Eq. 11-12); ``reset_scale`` scales the reset impulse (1 = the paper's ``V_th``;
    ``lam`` with ``theta = 0`` gives the core's soft-reset LIF).  ``bias`` adds a
    bias to Eq. 5b (the authors' code has one, the paper's equation not).  ``input_time_axis``: where
    the loader's sample keeps time (null: static, the encoder adds T; 0: frames ``[T, ...]``; -1: time
    last).  ``weight_gain`` multiplies PyTorch's default (Kaiming-uniform) weight init -- the paper gives no
    init, and with ``v_th = 1`` and a PSP peak of ~0.47 the default is too weak to make deep layers fire.
    ``input_pool`` max-pools the input spike maps by that factor before the first layer (a spike where any
    pixel of the window spiked; used to bring 128x128 DVS frames to a size the paper's small CNN can take).
    ``backend`` ``fused`` (one autograd Function per filter/neuron with the adjoint backward) or
    ``autograd`` (step-by-step reference; the tests check they agree).
    ``readout`` ``counts`` | ``pattern_distance`` (``memory``: params of
    :class:`snnrepro.models.iir_readout.PatternMemoryReadout`).
    """
    if padding not in ("same", "valid"):
        raise ArchError(f"iir: padding must be 'same' or 'valid', got {padding!r}")
    if readout not in ("counts", "pattern_distance"):
        raise ArchError(f"iir: readout must be 'counts' or 'pattern_distance', got {readout!r}")
    try:
        a_coef, b_coef = preset_coefficients(preset, tau_m, tau_s, tau, delay, alpha, beta)
    except ValueError as exc:
        raise ArchError(str(exc)) from None
    if psp_norm:
        if preset != "dual_exp":
            raise ArchError(f"iir: psp_norm applies to the dual_exp preset only, not {preset!r}")
        b_coef = [b * dual_exp_peak_norm(tau_m, tau_s) for b in b_coef]
    lam_v = default_lambda(preset, tau_m) if lam is None else float(lam)
    theta_v = float(theta) if theta is not None else math.exp(-1.0 / float(tau_r if tau_r is not None else tau_m))
    if not (0.0 <= lam_v <= 1.0 and 0.0 <= theta_v <= 1.0):
        raise ArchError(f"iir: lam and theta must lie in [0, 1], got lam={lam_v}, theta={theta_v}")

    shape = step_shape_of(input_shape, input_time_axis)
    stages = nn.Sequential()
    pooled = shape
    if int(input_pool) != 1:
        if int(input_pool) < 1 or len(shape) != 3 or shape[1] < input_pool or shape[2] < input_pool:
            raise ArchError(f"iir: input_pool {input_pool} needs [C, H, W] maps at least that large, got {shape}")
        stages.append(StepwiseOp(nn.MaxPool2d(int(input_pool))))
        pooled = (shape[0], shape[1] // int(input_pool), shape[2] // int(input_pool))
    cur, layers = split_input(parse_arch(arch), pooled)
    syn = [ly for ly in layers if isinstance(ly, Conv | Dense)]
    if not syn or not isinstance(layers[-1], Dense):
        raise ArchError(f"iir: {arch!r} must end with a dense output layer")
    if readout == "counts" and layers[-1].width != num_classes:  # type: ignore[union-attr]
        raise ArchError(f"iir: output width {layers[-1].width} but the dataset has {num_classes} classes")  # type: ignore[union-attr]

    def neuron() -> IIRNeuron:
        try:
            sg = surrogate if surrogate is not None else {"name": "gaussian", "sigma": sigma}
            return IIRNeuron(lam_v, theta_v, v_th, sg, detach_reset, reset_scale, backend)
        except ValueError as exc:
            raise ArchError(str(exc)) from None

    def synapse(shape_in: tuple[int, ...]) -> SynapseFilter:
        try:
            return SynapseFilter(shape_in, a_coef, b_coef, train_kernel, kernel_param, backend)
        except ValueError as exc:
            raise ArchError(str(exc)) from None

    cur = tuple(cur)
    for ly in layers:
        if isinstance(ly, Conv):
            if len(cur) != 3:
                raise ArchError(f"iir: convolution {ly} needs a [C, H, W] input, got {cur} in {arch!r}")
            if ly.stride != 1:
                raise ArchError(f"iir: strided convolution {ly} is not supported in {arch!r}")
            pad = (ly.kernel[0] // 2, ly.kernel[1] // 2) if padding == "same" else (0, 0)
            c, h, w = cur
            h2, w2 = h + 2 * pad[0] - ly.kernel[0] + 1, w + 2 * pad[1] - ly.kernel[1] + 1
            if h2 < 1 or w2 < 1:
                raise ArchError(f"iir: {ly} does not fit a {h}x{w} map in {arch!r}")
            conv = nn.Conv2d(c, ly.channels, ly.kernel, padding=pad, bias=bias)
            stages.append(IIRLayer(synapse(cur), StepwiseOp(conv), neuron()))
            cur = (ly.channels, h2, w2)
        elif isinstance(ly, Pool):
            if len(cur) != 3:
                raise ArchError(f"iir: pooling {ly} needs a [C, H, W] input in {arch!r}")
            c, h, w = cur
            if h < ly.size or w < ly.size:
                raise ArchError(f"iir: pooling {ly} does not fit a {h}x{w} map in {arch!r}")
            op = nn.MaxPool2d(ly.size) if ly.kind == "max" else nn.AvgPool2d(ly.size)
            stages.append(StepwiseOp(op))
            cur = (c, h // ly.size, w // ly.size)
        elif isinstance(ly, Dense):
            if len(cur) != 1:  # the dense layer's synapse filter keeps one state per flattened axon
                stages.append(_Flatten())
                cur = (math.prod(cur),)
            linear = nn.Linear(cur[0], ly.width, bias=bias)
            stages.append(IIRLayer(synapse(cur), StepwiseOp(linear), neuron()))
            cur = (ly.width,)
        elif isinstance(ly, Dropout):
            stages.append(SpikeDropout(ly.p))
        elif isinstance(ly, Voting | Input):
            raise ArchError(f"iir: token {ly} is not supported in {arch!r}")
    head: nn.Module | None = None
    if readout == "pattern_distance":
        from snnrepro.models.iir_readout import PatternMemoryReadout

        if input_time_axis != 0:
            raise ArchError("iir: readout 'pattern_distance' needs time-first samples (input_time_axis: 0)")
        try:
            steps = int(input_shape[0])
            head = PatternMemoryReadout(num_patterns=num_classes, n_trains=cur[0], steps=steps, **(memory or {}))
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


class _Flatten(nn.Module):
    """``[T, B, C, H, W] -> [T, B, C*H*W]`` before a dense layer's synapse filter."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2)


def kernels(model: nn.Module, steps: int) -> list[torch.Tensor]:
    """Impulse responses ``[steps, n_axons]`` of every layer's synapse filters (flattened per layer)."""
    net = model.net if hasattr(model, "net") else model
    return [f.impulse_response(steps).reshape(steps, -1) for f in net.synapse_filters()]

