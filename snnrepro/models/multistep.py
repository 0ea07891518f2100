"""Building blocks for multi-step (``[T, B, ...]``) spiking networks, reusable by every such family.

* :class:`TimeDistributed` applies a stateless module (conv, BN, pooling, linear) to all steps at
  once as ``[T*B, ...]``; BN statistics are therefore shared over time steps.
* :class:`SeqDropout` draws one dropout mask per sample and keeps it for all steps (the BPSA/BPTA
  authors' ``NDropout``, Lee et al. 2020).
* :class:`VotingReadout` (``10Voting``) averages each class's voters and the steps -> rates in [0, 1].
* :func:`checkpoint_segments` trades compute for memory: activation (gradient) checkpointing of each
  synapse-to-spike segment over all T steps (``model.params.checkpoint``).
* :func:`build_multistep` turns :func:`snnrepro.models.arch.parse_arch` layers into a network with a
  caller-given spiking node factory, so a family only supplies its neuron::

      net = build_multistep(parse_arch("128C3-MP2-256C3-AP2-512FC-10Voting"), (2, 34, 34), 10,
                            node=lambda shape: LIF(decay=0.9, threshold=0.5), relu=True)
      scores = net(x_seq)     # x_seq [T, B, 2, 34, 34] -> [B, 10]

  ``C`` tokens become Conv(k, stride, 'same' padding) -> [BN] -> [ReLU] -> node; ``MP``/``AP``
  pooling acts on the node's spikes; hidden dense tokens Linear -> [ReLU] -> node; ``DP`` -> SeqDropout;
  the last dense token (or ``nVoting``) is the output layer Linear -> node followed by the readout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from snnrepro.models.arch import ArchError, Conv, Dense, Dropout, Flatten, Input, Layer, Pool, Voting, Wording, plan

MULTISTEP_WORDING = Wording(
    end="a multi-step network must end with a dense output layer or nVoting",
    conv_image="convolution {ly} needs an image input, got features {cur}",
    conv_fit="{ly} does not fit a {h}x{w} map",
    pool_image="pooling {ly} needs an image input, got features {cur}",
    pool_fit="pooling {ly} does not fit a {h}x{w} map",
)
"""Messages of :func:`build_multistep` (no family prefix: the BPSA/BPTA family's builder adds none)."""

NodeFactory = Callable[[tuple[int, ...]], nn.Module]
"""``node(feature_shape) -> module`` mapping ``[T, B, *feature_shape]`` currents to spikes of the same shape."""


class TimeDistributed(nn.Module):
    """Apply ``module`` to ``[T, B, ...]`` as one ``[T*B, ...]`` batch.

    An input that is constant over time as an expanded view (stride 0 along T, e.g. from the
    ``direct`` encoder) is processed once and expanded again: same values and gradients, T times
    less work (BN's running variance then uses the unbiased factor of B instead of T*B samples).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps, batch = x.shape[:2]
        if steps > 1 and x.stride(0) == 0:
            y = self.module(x[0])
            return y.unsqueeze(0).expand(steps, *y.shape)
        y = self.module(x.reshape(steps * batch, *x.shape[2:]))
        return y.view(steps, batch, *y.shape[1:])


class SeqDropout(nn.Module):
    """Dropout with one Bernoulli mask per sample shared by all time steps (scaled by 1/(1-p))."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ArchError(f"dropout probability must lie in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty((1, *x.shape[1:]), device=x.device, dtype=x.dtype).bernoulli_(1.0 - self.p)
        return x * keep.div_(1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p:g}"


class VotingReadout(nn.Module):
    """``[T, B, classes * voters] -> [B, classes]``: mean over each class's voters and over time."""

    def __init__(self, classes: int, voters: int) -> None:
        super().__init__()
        self.classes, self.voters = classes, voters

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return s.view(*s.shape[:2], self.classes, self.voters).mean(dim=(0, 3))

    def extra_repr(self) -> str:
        return f"classes={self.classes}, voters={self.voters}"


class RateReadout(nn.Module):
    """``[T, B, classes] -> [B, classes]``: mean (``rate``) or sum (``count``) of the spikes over time."""

    def __init__(self, kind: str = "rate") -> None:
        super().__init__()
        if kind not in ("rate", "count"):
            raise ArchError(f"readout must be 'rate' or 'count', got {kind!r}")
        self.kind = kind

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return s.mean(0) if self.kind == "rate" else s.sum(0)

    def extra_repr(self) -> str:
        return self.kind


class Resize(nn.Module):
    """Resize every frame to ``size x size`` (nearest), as the BPSA/BPTA code does for 128x128 DVS frames."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = int(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=(self.size, self.size), mode="nearest")

    def extra_repr(self) -> str:
        return f"size={self.size}"


class MultiStepNet(nn.Module):
    """``[T, B, ...]`` -> ``body`` (spikes) -> ``readout`` -> scores ``[B, classes]``.

    ANN warm-up (TSSL-BP's, as ``--warm-up N`` in the BPSA/BPTA authors' code): with
    ``ann_warmup_epochs = N`` the training loop's per-epoch hook :meth:`set_epoch` puts the network in
    *ANN mode* for epochs ``0 .. N-1``: while training, every spiking node with a ``bypass`` attribute
    (:class:`snnrepro.neurons.lif.LIF`) passes its input currents through unchanged, so the body is a
    plain Conv-BN-ReLU / Linear-ReLU network and the readout averages the output layer's currents; a
    static input (the ``direct`` encoder's stride-0 view) is then run for a single step, as the authors
    do.  From epoch ``N`` on the nodes spike again.  Evaluation (``eval()``) always runs the SNN: the
    authors also tested the ANN during the warm-up, we do not, so that every test accuracy in a run
    record (and the best one) is the spiking network's.  A run shorter than the warm-up
    (``epochs <= N``, e.g. a quick or smoke budget) keeps its last epoch spiking (effective warm-up
    ``min(N, epochs - 1)``).  A freshly built network is in SNN mode.
    """

    def __init__(self, body: nn.Sequential, readout: nn.Module, ann_warmup_epochs: int = 0) -> None:
        super().__init__()
        if int(ann_warmup_epochs) != ann_warmup_epochs or ann_warmup_epochs < 0:
            raise ArchError(f"ann_warmup_epochs must be a non-negative integer, got {ann_warmup_epochs!r}")
        self.body = body
        self.readout = readout
        self.ann_warmup_epochs = int(ann_warmup_epochs)
        self.ann_mode = False

    def set_ann_mode(self, flag: bool) -> None:
        """Bypass (``True``) or re-enable (``False``) every spiking node of the body."""
        self.ann_mode = bool(flag)
        for m in self.body.modules():
            if hasattr(m, "bypass"):
                m.bypass = self.ann_mode

    def set_epoch(self, epoch: int, epochs: int | None = None) -> None:
        """Per-epoch hook of the training loop (0-based ``epoch`` of ``epochs``): ANN mode during the warm-up."""
        warmup = self.ann_warmup_epochs if epochs is None else min(self.ann_warmup_epochs, max(int(epochs) - 1, 0))
        self.set_ann_mode(epoch < warmup)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3:
            raise ValueError(f"multi-step network expects [T, B, ...] input, got shape {tuple(x.shape)}")
        if self.ann_mode and self.training and x.shape[0] > 1 and x.stride(0) == 0:
            x = x[:1]  # static input, nodes bypassed: every step would be identical
        return self.readout(self.body(x))

    def extra_repr(self) -> str:
        return f"ann_warmup_epochs={self.ann_warmup_epochs}" if self.ann_warmup_epochs else ""


def build_multistep(
    layers: list[Layer],
    in_shape: tuple[int, ...],
    num_classes: int,
    node: NodeFactory,
    *,
    bn: bool = True,
    relu: bool = False,
    conv_bias: bool = True,
    dense_bias: bool = True,
    padding: str = "same",
    dense_as_flatten: bool = True,
    readout: str = "rate",
    resize: int | None = None,
    ann_warmup_epochs: int = 0,
) -> MultiStepNet:
    """A :class:`MultiStepNet` for parsed ``layers`` on per-step samples of ``in_shape`` (C, H, W) or (N,).

    ``dense_as_flatten``: a dense token right after the conv part whose width equals the flattened
    feature count is read as the flatten itself (the BPSA/BPTA papers' ``512FC`` after ``512C3-AP4``),
    not as an extra layer.  ``readout`` applies to a plain dense output layer (``rate``/``count``);
    ``nVoting`` always uses :class:`VotingReadout`.  ``resize`` resizes input frames first.
    ``ann_warmup_epochs``: see :class:`MultiStepNet`.
    """
    layers = [ly for ly in layers if not isinstance(ly, Input)]
    body = nn.Sequential()
    cur: tuple[int, ...] = tuple(in_shape)
    if resize is not None:
        if len(cur) != 3:
            raise ArchError(f"resize needs image frames, got per-step shape {cur}")
        body.append(TimeDistributed(Resize(resize)))
        cur = (cur[0], int(resize), int(resize))
    steps = plan(layers, cur, "", num_classes, MULTISTEP_WORDING, padding=padding,
                 allowed=(Conv, Pool, Dense, Dropout, Voting))  # fmt: skip
    last_out: nn.Module | None = None
    for i, step in enumerate(steps):
        ly, c_in = step.token, step.in_shape[0]
        if isinstance(ly, Conv):
            conv = nn.Conv2d(c_in, ly.channels, ly.kernel, stride=ly.stride, padding=step.padding, bias=conv_bias)
            block = nn.Sequential(conv)
            if bn:
                block.append(nn.BatchNorm2d(ly.channels))
            if relu:
                block.append(nn.ReLU())
            body.append(TimeDistributed(block))
            body.append(node(step.out_shape))
        elif isinstance(ly, Pool):
            body.append(TimeDistributed(nn.MaxPool2d(ly.size) if ly.kind == "max" else nn.AvgPool2d(ly.size)))
        elif isinstance(ly, Dropout):
            body.append(SeqDropout(ly.p))
        elif isinstance(ly, Flatten):
            body.append(TimeDistributed(nn.Flatten()))
        elif isinstance(ly, Dense | Voting):
            after_flatten = i > 0 and isinstance(steps[i - 1].token, Flatten)
            if dense_as_flatten and after_flatten and isinstance(ly, Dense) and ly.width == c_in and not step.last:
                continue
            width = step.out_shape[0]
            if step.last:
                last_out = VotingReadout(num_classes, ly.voters) if isinstance(ly, Voting) else RateReadout(readout)
            linear = nn.Linear(c_in, width, bias=dense_bias)
            body.append(TimeDistributed(nn.Sequential(linear, nn.ReLU()) if relu and not step.last else linear))
            body.append(node(step.out_shape))
    assert last_out is not None
    return MultiStepNet(body, last_out, ann_warmup_epochs)


@contextmanager
def _bn_stats_frozen(module: nn.Module) -> Iterator[None]:
    """Restore every batch-norm buffer (running mean/var, batch counter) of ``module`` on exit."""
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [[b.clone() for b in bn.buffers()] for bn in bns]
    try:
        yield
    finally:
        with torch.no_grad():
            for bn, buffers in zip(bns, saved, strict=True):
                for b, old in zip(bn.buffers(), buffers, strict=True):
                    b.copy_(old)


class CheckpointedSequential(nn.Sequential):
    """An ``nn.Sequential`` (same children, same state-dict keys) run segment by segment under
    activation checkpointing while training with gradients.

    A segment ends at each spiking node, i.e. at each child that is not a :class:`TimeDistributed`
    synapse or pooling (a ResNet block is one segment).  Backward needs the activations of every
    step of a segment; instead of keeping them, only the segment's input ``[T, B, ...]`` is saved
    and its forward runs again during backward (``torch.utils.checkpoint``, non-reentrant, RNG state
    preserved so dropout masks repeat).  Gradients are those of the plain network; the
    recomputation restores batch-norm running statistics, so they are updated once per step as
    without checkpointing (both tested).

    Checkpointing runs over layers with all T steps in a segment, not over chunks of time, because
    batch norm takes its statistics over all ``T * B`` samples (:class:`TimeDistributed`); cutting T
    into chunks would change them.
    """

    def segments(self) -> list[nn.Sequential]:
        out, start = [], 0
        children = list(self)
        for i, module in enumerate(children):
            if not isinstance(module, TimeDistributed) or i == len(children) - 1:
                out.append(nn.Sequential(*children[start : i + 1]))
                start = i + 1
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and torch.is_grad_enabled()):
            return super().forward(x)
        for segment in self.segments():
            x = _checkpointed(segment, x)
        return x


def _checkpointed(segment: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    calls = 0

    def run(inp: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        if calls == 1:
            return segment(inp)
        with _bn_stats_frozen(segment):  # the recomputation during backward
            return segment(inp)

    return checkpoint(run, x, use_reentrant=False)


def checkpoint_segments(body: nn.Sequential) -> CheckpointedSequential:
    """``body`` with the same children (and state-dict keys), run under :class:`CheckpointedSequential`.

    Memory for backward then holds one ``[T, B, ...]`` tensor per segment (its input spikes)
    instead of every synaptic output, BN output and membrane; the price is a second forward pass.
    """
    return CheckpointedSequential(*body)
