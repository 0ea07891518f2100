"""Trained networks as NIR graphs (Neuromorphic Intermediate Representation, package ``nir``).

NIR describes neurons by continuous-time equations; simulators discretise them.  snnrepro's families
are discrete-time, so every exported time constant assumes **one time step = one time unit**
(``dt = 1``, stored as the graph's ``dt`` metadata) and **forward Euler** with the input term of each
equation multiplied by ``dt / tau``::

    LIF     tau dv/dt = (v_leak - v) + r I   ->  v[t] = (1 - 1/tau) v[t-1] + (r/tau) I[t]
    IF          dv/dt = r I                  ->  v[t] = v[t-1] + r I[t]
    CubaLIF tau_syn dI/dt = -I + w_in S      ->  I[t] = (1 - 1/tau_syn) I[t-1] + (w_in/tau_syn) S[t]
            tau_mem dv/dt = (v_leak - v) + r I ->  v[t] = (1 - 1/tau_mem) v[t-1] + (r/tau_mem) I[t]
    then  z[t] = v[t] > v_threshold,  v[t] <- v_reset where z[t]   (hard reset)

The graph's input is the encoder's output at one step (``[C, H, W]`` or ``[N]``: the ``direct``
encoder repeats the image ``T`` times, stored as ``time_steps``); its output is the spikes of the last
layer.  The readout that turns them into scores (``rate``: mean over time; ``count``: sum; ``nVoting``:
mean over each class's voters and time) is named in the ``readout`` metadata, not a node.

Thresholds: the families spike at ``v >= threshold``, NIR at ``v > threshold``; the two differ only
for a membrane exactly at threshold.

``lif`` family (:mod:`snnrepro.models.lif`, ``h_t = lambda u_{t-1} + x_t``, hard reset to 0):

* each LIF population -> ``LIF(tau = 1/(1 - lambda), r = 1/(1 - lambda), v_leak = 0,
  v_threshold = theta, v_reset = 0)`` (so the Euler update is exactly ``v = lambda v + x``), or
  ``IF(r = 1)`` for ``lambda = 1``;
* ``Conv2d`` (+ ``BatchNorm2d`` folded in with its running statistics: ``W' = W s``,
  ``b' = (b - mean) s + beta``, ``s = gamma / sqrt(var + eps)``), ``Linear`` -> ``Affine``
  (``Linear`` without bias), flatten -> ``Flatten``, ``AP`` -> ``AvgPool2d`` (exact), dropout -> nothing
  (identity at inference);
* refused, with the reason: a ReLU between synapse and neuron (``model.params.relu: true``; NIR has
  no ReLU node), max pooling (``MP``; NIR has only sum/average pooling), soft or no reset, a refractory
  period, a non-zero initial membrane, frame resizing, spiking ResNet blocks.

``iir`` family (:mod:`snnrepro.models.iir`): a layer is synapse filter (Eq. 5d) on the input axons ->
weights -> neuron ``V[t] = lambda V[t-1] + I[t] - V_th R[t]``, ``R[t] = theta R[t-1] + O[t-1]``.  A
second-order synapse filter ``F[t] = a1 F[t-1] + a2 F[t-2] + g x[t-d]`` with real poles
``p_mem >= p_syn`` in (0, 1) (roots of ``z^2 - a1 z - a2``; the ``dual_exp`` preset has
``p_mem = e^{-1/tau_m}``, ``p_syn = e^{-1/tau_s}``, ``g = p_mem - p_syn``) factors into
``A[t] = p_syn A[t-1] + x[t-d]``, ``F[t] = p_mem F[t-1] + g A[t]``.  When every axon of the layer has the
same coefficients the filter commutes with the weights, and with the Euler rule above the layer is

    [Delay(1) when d = 1] -> weights -> CubaLIF(tau_syn = 1/(1 - p_syn), tau_mem = 1/(1 - p_mem),
                                                r = g tau_syn tau_mem, w_in = 1, v_leak = 0,
                                                v_threshold = V_th, v_reset = 0)

whose membrane equals the IIR membrane exactly below threshold (tested).  Conditions, else the layer
is refused: ``lambda = 0`` (the membrane decay is inside the PSP kernel, the family's default),
``theta = p_mem`` (the reset filter decays with the membrane: the default ``tau_r = tau_m``), no bias,
identical coefficients on every axon (kernels trained per axon, ``train_kernel: true``, are not).
The reset then differs in kind, and this is stated in each CubaLIF node's ``reset`` metadata: the IIR
neuron subtracts ``reset_scale V_th`` from the membrane at the step after a spike, NIR's CubaLIF sets it
to ``v_reset``; spike trains agree up to each neuron's first spike.

Other families (``relpsp``, ``resonate``, ``brp``, ``relu``) have no NIR equivalent and are refused.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

DT = 1.0

#: why each family NIR cannot express is refused (one line each)
REFUSED_FAMILIES = {
    "relpsp": "relpsp (STDBP's relative-PSP time-to-first-spike neurons) has no NIR neuron model",
    "resonate": "resonate (the RSN's resonate-and-fire amounts and phases) has no NIR neuron model",
    "brp": "brp (the BRP-SNN's refractory LIF with its random-projection output layer) has no NIR equivalent",
    "relu": "relu is a non-spiking ANN; NIR graphs describe spiking networks",
}


class ExportRefused(ValueError):
    """This model (or one of its layers) cannot be written in the requested format; the message says why."""


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float32).numpy().copy()


def _full(shape: tuple[int, ...], value: float) -> np.ndarray:
    return np.full(shape, value, dtype=np.float32)


def _fold_bn(weight: torch.Tensor, bias: torch.Tensor, bn: nn.Module, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(W', b')`` with a batch norm (its running statistics, as at inference) folded into the layer before it."""
    if bn.running_mean is None or bn.running_var is None:
        raise ExportRefused(f"{where}: batch norm without running statistics cannot be folded into the weights")
    w = weight.detach().double()
    b = bias.detach().double()
    scale = 1.0 / torch.sqrt(bn.running_var.double() + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.detach().double()
    shift = -bn.running_mean.double() * scale
    if bn.bias is not None:
        shift = shift + bn.bias.detach().double()
    w = w * scale.view(-1, *([1] * (w.dim() - 1)))
    return w.float(), (b * scale + shift).float()


def _conv_node(conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor, cur: tuple[int, ...], where: str) -> Any:
    import nir

    if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        raise ExportRefused(f"{where}: convolution padding {conv.padding!r}/{conv.padding_mode} is not exported")
    return nir.Conv2d(
        input_shape=(int(cur[1]), int(cur[2])), weight=_np(weight), stride=tuple(conv.stride),
        padding=tuple(conv.padding), dilation=tuple(conv.dilation), groups=conv.groups, bias=_np(bias),
    )  # fmt: skip


def _conv_out(conv: nn.Conv2d, cur: tuple[int, ...]) -> tuple[int, ...]:
    hw = []
    for i in range(2):
        k, s, p, d = conv.kernel_size[i], conv.stride[i], conv.padding[i], conv.dilation[i]  # type: ignore[index]
        hw.append((cur[1 + i] + 2 * p - d * (k - 1) - 1) // s + 1)
    return (conv.out_channels, *hw)


def _pool_node(pool: nn.Module, cur: tuple[int, ...], where: str) -> tuple[Any, tuple[int, ...]]:
    import nir

    if isinstance(pool, nn.MaxPool2d):
        raise ExportRefused(
            f"{where}: max pooling (MP) has no NIR node (NIR pools by sum or average only); "
            "models with AP instead export"
        )
    if not isinstance(pool, nn.AvgPool2d) or pool.ceil_mode or pool.divisor_override is not None:
        raise ExportRefused(f"{where}: {pool} has no exact NIR pooling node")
    k = _pair(pool.kernel_size)
    s = _pair(pool.stride if pool.stride is not None else pool.kernel_size)
    p = _pair(pool.padding)
    if any(p) and pool.count_include_pad is False:
        raise ExportRefused(f"{where}: average pooling that excludes padding from the count is not exact in NIR")
    out = (cur[0], (cur[1] + 2 * p[0] - k[0]) // s[0] + 1, (cur[2] + 2 * p[1] - k[1]) // s[1] + 1)
    node = nir.AvgPool2d(kernel_size=np.array(k), stride=np.array(s), padding=np.array(p))
    node.input_type = {"input": np.array(cur)}
    node.output_type = {"output": np.array(out)}
    return node, out


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _flatten_node(cur: tuple[int, ...]) -> Any:
    import nir

    return nir.Flatten(input_type={"input": np.array(cur)}, start_dim=0, end_dim=-1)


def _dense_node(linear: nn.Linear, weight: torch.Tensor, bias: torch.Tensor | None) -> Any:
    import nir

    if bias is None:
        return nir.Linear(weight=_np(weight))
    return nir.Affine(weight=_np(weight), bias=_np(bias))


# --------------------------------------------------------------------------- lif family
def _synapse_ops(mods: list[nn.Module], cur: tuple[int, ...], where: str) -> tuple[list[Any], tuple[int, ...]]:
    """NIR nodes for the stateless modules of one time-distributed block (conv/linear [+BN], pooling, flatten)."""
    from snnrepro.models.multistep import Resize

    nodes: list[Any] = []
    i = 0
    while i < len(mods):
        m = mods[i]
        if isinstance(m, nn.Conv2d | nn.Linear):
            weight = m.weight
            bias = m.bias if m.bias is not None else None
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            if isinstance(nxt, nn.modules.batchnorm._BatchNorm):
                zero = torch.zeros(weight.shape[0], dtype=weight.dtype)
                weight, bias = _fold_bn(weight, bias if bias is not None else zero, nxt, where)
                i += 1
            if isinstance(m, nn.Conv2d):
                if len(cur) != 3:
                    raise ExportRefused(f"{where}: convolution on features of shape {cur}")
                zero = torch.zeros(weight.shape[0], dtype=weight.dtype)
                nodes.append(_conv_node(m, weight, bias if bias is not None else zero, cur, where))
                cur = _conv_out(m, cur)
            else:
                nodes.append(_dense_node(m, weight, bias))
                cur = (m.out_features,)
        elif isinstance(m, nn.ReLU):
            raise ExportRefused(
                f"{where}: the ReLU between synapse and neuron (model.params.relu: true) has no NIR node; "
                "models trained with relu: false export"
            )
        elif isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
            node, cur = _pool_node(m, cur, where)
            nodes.append(node)
        elif isinstance(m, nn.Flatten):
            nodes.append(_flatten_node(cur))
            cur = (math.prod(cur),)
        elif isinstance(m, nn.Dropout | nn.Identity):
            pass
        elif isinstance(m, Resize):
            raise ExportRefused(f"{where}: frame resizing (model.params.input_size) has no NIR node")
        else:
            raise ExportRefused(f"{where}: {type(m).__name__} has no NIR equivalent")
        i += 1
    return nodes, cur


def _lif_neuron_node(node: nn.Module, cur: tuple[int, ...], where: str) -> Any:
    import nir

    cfg = node.cfg
    if cfg.reset != "hard":
        raise ExportRefused(
            f"{where}: LIF reset {cfg.reset!r} has no NIR equivalent (NIR's LIF resets the membrane to v_reset)"
        )
    if cfg.refractory:
        raise ExportRefused(f"{where}: a refractory period ({cfg.refractory} steps) has no NIR LIF equivalent")
    if cfg.initial != 0.0:
        raise ExportRefused(f"{where}: an initial membrane of {cfg.initial:g} (NIR neurons start at rest, 0)")
    lam = cfg.decay
    if lam == 1.0:
        return nir.IF(r=_full(cur, 1.0 / DT), v_threshold=_full(cur, cfg.threshold), v_reset=_full(cur, cfg.v_reset))
    tau = DT / (1.0 - lam)
    return nir.LIF(
        tau=_full(cur, tau), r=_full(cur, tau / DT), v_leak=_full(cur, 0.0), v_threshold=_full(cur, cfg.threshold),
        v_reset=_full(cur, cfg.v_reset),
    )  # fmt: skip


def lif_nodes(net: nn.Module, step_shape: tuple[int, ...]) -> list[Any]:
    """The ``lif`` family's :class:`~snnrepro.models.multistep.MultiStepNet` body as a chain of NIR nodes."""
    from snnrepro.models.multistep import SeqDropout, TimeDistributed
    from snnrepro.neurons.lif import LIF

    body = getattr(net, "body", None)
    if body is None:
        raise ExportRefused(f"lif: expected a multi-step network with a body, got {type(net).__name__}")
    nodes: list[Any] = []
    cur = tuple(step_shape)
    for i, m in enumerate(body):
        where = f"lif: layer {i} ({type(m).__name__})"
        if isinstance(m, TimeDistributed):
            inner = list(m.module) if isinstance(m.module, nn.Sequential) else [m.module]
            new, cur = _synapse_ops(inner, cur, where)
            nodes += new
        elif isinstance(m, LIF):
            nodes.append(_lif_neuron_node(m, cur, where))
        elif isinstance(m, SeqDropout | nn.Dropout):
            continue
        else:
            raise ExportRefused(f"{where}: has no NIR equivalent (spiking ResNet blocks are not exported)")
    return nodes


# --------------------------------------------------------------------------- iir family
def _uniform(t: torch.Tensor, what: str, where: str) -> float:
    """The single value of ``t`` (every element equal), else refuse."""
    flat = t.detach().double().flatten()
    if flat.numel() == 0:
        raise ExportRefused(f"{where}: no {what}")
    v = float(flat[0])
    if not torch.allclose(flat, torch.full_like(flat, v), rtol=1e-6, atol=1e-9):
        raise ExportRefused(
            f"{where}: the synapse filter's {what} differs between input axons (kernels trained per axon, "
            "train_kernel: true); NIR's CubaLIF has one synaptic filter per postsynaptic neuron"
        )
    return v


def iir_layer_params(layer: nn.Module, where: str) -> dict[str, float]:
    """``tau_syn, tau_mem, r, v_threshold, delay`` (and the poles and gain) of one IIR layer as a CubaLIF."""
    syn, neuron = layer.synapse, layer.neuron
    if getattr(layer.weights.op, "bias", None) is not None:
        raise ExportRefused(f"{where}: a bias after the synapse filter (model.params.bias: true) has no CubaLIF form")
    if syn.order_p != 2:
        raise ExportRefused(
            f"{where}: a synapse filter of order {syn.order_p} does not map to CubaLIF (needs the second-order"
            " dual_exp or alpha kernel)"
        )
    a1 = _uniform(syn.alpha[0], "alpha_1", where)
    a2 = _uniform(syn.alpha[1], "alpha_2", where)
    betas = [_uniform(syn.beta[q], f"beta_{q}", where) for q in range(syn.order_q + 1)]
    taps = [q for q, b in enumerate(betas) if b != 0.0]
    if len(taps) != 1 or taps[0] > 1:
        raise ExportRefused(f"{where}: feed-forward coefficients {betas} are not one tap at delay 0 or 1")
    delay, gain = taps[0], betas[taps[0]]
    disc = a1 * a1 + 4.0 * a2
    if disc < -1e-12:
        raise ExportRefused(f"{where}: the synapse filter oscillates (complex poles); CubaLIF's filters do not")
    root = math.sqrt(max(disc, 0.0))
    p_mem, p_syn = (a1 + root) / 2.0, (a1 - root) / 2.0
    if not (0.0 < p_syn <= p_mem < 1.0):
        raise ExportRefused(f"{where}: synapse filter poles {p_syn:.4g}, {p_mem:.4g} are not decays in (0, 1)")
    if neuron.lam != 0.0:
        raise ExportRefused(
            f"{where}: a neuron filter lambda = {neuron.lam:g} adds a third pole; CubaLIF has two (needs lam: 0)"
        )
    if not math.isclose(neuron.theta, p_mem, rel_tol=1e-6, abs_tol=1e-9):
        raise ExportRefused(
            f"{where}: the reset filter decays with theta = {neuron.theta:.6g}, the membrane with {p_mem:.6g};"
            " CubaLIF's reset acts on its membrane (needs tau_r = tau_m)"
        )
    tau_syn, tau_mem = DT / (1.0 - p_syn), DT / (1.0 - p_mem)
    return {
        "tau_syn": tau_syn, "tau_mem": tau_mem, "r": gain * tau_syn * tau_mem / DT, "v_threshold": neuron.v_th,
        "delay": float(delay), "p_syn": p_syn, "p_mem": p_mem, "gain": gain, "reset_amount": neuron.reset_scale
        * neuron.v_th,
    }  # fmt: skip


def iir_nodes(net: nn.Module, step_shape: tuple[int, ...]) -> list[Any]:
    """The ``iir`` family's :class:`~snnrepro.models.iir.IIRNet` as a chain of NIR nodes (see the module doc)."""
    import nir

    from snnrepro.models.iir import IIRLayer, SpikeDropout, StepwiseOp, _Flatten

    if getattr(net, "readout", None) is not None:
        raise ExportRefused("iir: the pattern-distance readout (associative memory) has no NIR equivalent")
    nodes: list[Any] = []
    cur = tuple(step_shape)
    for i, m in enumerate(net.stages):
        where = f"iir: layer {i} ({type(m).__name__})"
        if isinstance(m, IIRLayer):
            p = iir_layer_params(m, where)
            op = m.weights.op
            if isinstance(op, nn.Conv2d):
                zero = torch.zeros(op.out_channels)
                nodes.append(_conv_node(op, op.weight, zero, cur, where))
                cur = _conv_out(op, cur)
            else:
                nodes.append(_dense_node(op, op.weight, None))
                cur = (op.out_features,)
            if p["delay"]:
                nodes.append(nir.Delay(delay=_full(cur, p["delay"] * DT)))
            meta = {
                "reset": f"IIR reset filter: subtracts {p['reset_amount']:g} from the membrane at the step after a"
                " spike (theta = exp(-1/tau_mem)); NIR's CubaLIF resets to v_reset instead",
                "synapse_gain": p["gain"],
            }
            nodes.append(nir.CubaLIF(
                tau_syn=_full(cur, p["tau_syn"]), tau_mem=_full(cur, p["tau_mem"]), r=_full(cur, p["r"]),
                v_leak=_full(cur, 0.0), v_threshold=_full(cur, p["v_threshold"]), v_reset=_full(cur, 0.0),
                w_in=1.0, metadata=meta,
            ))  # fmt: skip
        elif isinstance(m, StepwiseOp):
            node, cur = _pool_node(m.op, cur, where)
            nodes.append(node)
        elif isinstance(m, _Flatten):
            nodes.append(_flatten_node(cur))
            cur = (math.prod(cur),)
        elif isinstance(m, SpikeDropout):
            continue
        else:
            raise ExportRefused(f"{where}: has no NIR equivalent")
    return nodes


# --------------------------------------------------------------------------- entry point
def to_nir(model: nn.Module, family: str, input_shape: tuple[int, ...], metadata: dict[str, Any] | None = None) -> Any:
    """A ``nir.NIRGraph`` (Input -> nodes -> Output) of ``model`` (``nn.Sequential(encoder, net)`` or the net).

    ``input_shape`` is one loader sample's shape (as given to the family's factory).  Raises
    :class:`ExportRefused` for a family or layer NIR cannot express.
    """
    if family in REFUSED_FAMILIES:
        raise ExportRefused(f"cannot export to NIR: {REFUSED_FAMILIES[family]}; use --format safetensors")
    try:
        import nir
    except ImportError:  # pragma: no cover - the optional extra
        raise ExportRefused("NIR export needs the optional package nir: pip install 'snnrepro[export]'") from None
    net = model.net if isinstance(model, nn.Sequential) and hasattr(model, "net") else model
    if family == "lif":
        from snnrepro.models.lif import step_shape

        shape = step_shape(input_shape)
        nodes = lif_nodes(net, shape)
    elif family == "iir":
        shape = tuple(int(s) for s in net.step_shape)
        nodes = iir_nodes(net, shape)
    else:
        raise ExportRefused(f"cannot export to NIR: the {family} family has no NIR mapping; use --format safetensors")
    if not nodes:
        raise ExportRefused(f"{family}: the network has no layers to export")
    graph = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array(shape)}), *nodes)
    readout = getattr(net, "readout", None)
    graph.metadata = {
        "dt": DT, "family": family,
        "discretisation": "forward Euler, one time step = dt = 1; input term scaled by dt/tau (see snnrepro.export."
        "nir_graph)",
        "readout": repr(readout) if readout is not None else "spike counts (sum over time)",
        **(metadata or {}),
    }  # fmt: skip
    return graph
