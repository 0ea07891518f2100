"""The ``lif`` family: BPSA/BPTA networks of multi-step LIF neurons (Shen, Zhao & Zeng 2022).

Architecture strings are the paper's (``128C3-MP2-128C3-256C3-MP2-2048FC-DP-10Voting``):

* ``C`` = Conv3x3 (stride 1, 'same' padding, bias) -> BatchNorm (one BN shared by all steps) ->
  ReLU (``relu: true``, as in the authors' code and the paper's "Conv-BN-ReLU-LIF") -> LIF;
* ``MP``/``AP`` pool the spikes after the node; ``DP`` drops with one mask per sample for all steps;
* a dense token right after the conv part whose width equals the flattened features (``512FC``
  after ``512C3-AP4``) is that flatten, as in the authors' code (``dense_as_flatten``); other hidden
  dense tokens are Linear -> ReLU (with ``relu``, as the authors' MNIST net) -> LIF;
* ``10Voting`` = Linear -> LIF with 10 neurons per class, averaged per class and over time.

Scores are the voted rates ``[B, classes]`` in [0, 1] (Eq. 5's MSE compares them with one-hot).

``gradient`` selects the paper's training mode (Tables 4 and 6), see
:data:`snnrepro.neurons.lif.GRADIENT_MODES`:

* ``baseline``  - surrogate BPTT as in the authors' ``SGLIFNode`` (Wu et al.): rectangular
  surrogate of width 1 around ``threshold``, reset path differentiated;
* ``bpsa``      - Eq. 9, reset detached (``where``-select);
* ``bpsa_bpta`` - Eq. 9 + Eq. 10 with ``alpha`` (0.2).

``arch: resnet18 | resnet34`` builds a spiking ResNet (the paper gives no block design; ours):
stem ``C3(64)`` -> BasicBlocks [2,2,2,2] / [3,4,6,3] with 64-128-256-512 channels, strides
1-2-2-2; a block is ``LIF(ReLU?(BN(conv3x3(LIF(ReLU?(BN(conv3x3(s))))) + shortcut(s))))`` with the
shortcut identity or Conv1x1-BN when the shape changes (the residual is added to the membrane
input, as in Zheng et al. 2021's spiking ResNet); global average pooling of the spikes ->
``10Voting`` output.

``ann_warmup_epochs`` (default 0): TSSL-BP's ANN warm-up as the authors' ``--warm-up N`` (their
CIFAR script: 80): for the first N epochs every LIF node is bypassed (a Conv-BN-ReLU ANN, static
inputs for one step); see :class:`snnrepro.models.multistep.MultiStepNet`.  Needs the training loop's
per-epoch ``set_epoch`` hook.

Input: ``[T, B, C, H, W]`` from the ``direct`` or ``events`` encoders; ``input_shape`` is the loader
sample's: ``(C, H, W)``, ``(T, C, H, W)`` for frames, ``(H, W)`` read as one channel.
``input_size`` resizes frames (the authors resize 128x128 DVS frames to 64x64, nearest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from snnrepro.models.arch import ArchError, parse_arch, split_input
from snnrepro.models.multistep import (
    MultiStepNet,
    NodeFactory,
    Resize,
    TimeDistributed,
    VotingReadout,
    build_multistep,
    checkpoint_segments,
)
from snnrepro.models.options import family_config
from snnrepro.neurons.lif import GRADIENT_MODES, LIF
from snnrepro.registry import MODELS

RESNETS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}


@dataclass(frozen=True)
class LIFNodeConfig:
    """The ``lif`` family's neuron params (declared once): BPSA/BPTA ``gradient`` mode and the LIF's settings.

    ``gradient`` one of :data:`~snnrepro.neurons.lif.GRADIENT_MODES`; ``detach_reset`` defaults to the
    mode's (see the module docstring); ``surrogate`` defaults to the rectangular one of width 1; ``backend``
    defaults to ``auto`` (the Triton kernels for CUDA float32/16 tensors, else the fused PyTorch loop; not
    part of a spec's hash unless the spec sets it); the other fields are
    :class:`~snnrepro.neurons.lif.LIFConfig`'s and :class:`~snnrepro.neurons.lif.LIF`'s.
    """

    gradient: str = "bpsa_bpta"
    decay: float = 0.9
    threshold: float = 0.5
    alpha: float = 0.2
    surrogate: Any = None
    reset: str = "hard"
    detach_reset: bool | None = None
    backend: str = "auto"

    def factory(self) -> NodeFactory:
        """``shape -> LIF`` with these settings, validated once here with a clear message."""
        if self.gradient not in GRADIENT_MODES:
            raise ArchError(f"lif: gradient must be one of {sorted(GRADIENT_MODES)}, got {self.gradient!r}")
        mode = dict(GRADIENT_MODES[self.gradient])
        if self.detach_reset is not None:
            mode["detach_reset"] = bool(self.detach_reset)
        sg = self.surrogate if self.surrogate is not None else {"name": "rectangular", "width": 1.0}
        kwargs = dict(decay=self.decay, threshold=self.threshold, alpha=self.alpha, surrogate=sg, reset=self.reset,
                      backend=self.backend, **mode)  # fmt: skip
        LIF(**kwargs)  # validate once, with a clear message

        def make(_shape: tuple[int, ...]) -> nn.Module:
            return LIF(**kwargs)

        return make


class SpikingBasicBlock(nn.Module):
    """ResNet BasicBlock on ``[T, B, C, H, W]`` spikes (see the module docstring)."""

    def __init__(self, cin: int, cout: int, stride: int, node: NodeFactory, relu: bool) -> None:
        super().__init__()
        first = [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv1 = TimeDistributed(nn.Sequential(*first, *([nn.ReLU()] if relu else [])))
        self.node1 = node((cout,))
        self.conv2 = TimeDistributed(nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)))
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = TimeDistributed(
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            )
        self.relu = relu
        self.node2 = node((cout,))

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        z = self.conv2(self.node1(self.conv1(s))) + self.shortcut(s)
        return self.node2(torch.relu(z) if self.relu else z)


def build_spiking_resnet(
    blocks: tuple[int, ...], in_shape: tuple[int, int, int], num_classes: int, node: NodeFactory, relu: bool,
    voters: int = 10, resize: int | None = None, ann_warmup_epochs: int = 0,
) -> MultiStepNet:
    body = nn.Sequential()
    c = in_shape[0]
    if resize is not None:
        body.append(TimeDistributed(Resize(resize)))
    stem = [nn.Conv2d(c, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), *([nn.ReLU()] if relu else [])]
    body.append(TimeDistributed(nn.Sequential(*stem)))
    body.append(node((64,)))
    cin = 64
    for stage, (n, cout) in enumerate(zip(blocks, (64, 128, 256, 512), strict=True)):
        for i in range(n):
            body.append(SpikingBasicBlock(cin, cout, 2 if (i == 0 and stage > 0) else 1, node, relu))
            cin = cout
    body.append(TimeDistributed(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())))
    body.append(TimeDistributed(nn.Linear(512, num_classes * voters)))
    body.append(node((num_classes * voters,)))
    return MultiStepNet(body, VotingReadout(num_classes, voters), ann_warmup_epochs)


def step_shape(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Per-step feature shape from a loader sample's shape (drop a leading T of frame datasets)."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 4:
        return shape[1:]
    if len(shape) == 2:
        return (1, *shape)
    return shape


@MODELS.register("lif")
def build(
    arch: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    relu: bool = True,
    bn: bool = True,
    input_size: int | None = None,
    dense_as_flatten: bool = True,
    voters: int = 10,
    ann_warmup_epochs: int = 0,
    checkpoint: bool = False,
    T: int | None = None,
    **neuron: Any,
) -> nn.Module:
    """A BPSA/BPTA network for ``arch`` (paper string or ``resnet18``/``resnet34``); returns scores [B, classes].

    ``neuron``: the fields of :class:`LIFNodeConfig`.
    ``checkpoint``: activation checkpointing of each synapse-to-spike segment over all T steps (see
    :func:`checkpoint_segments`): much less memory for backward when T is large, one extra forward.
    ``T`` is accepted for symmetry with the encoder's params and not used (time comes from the input).
    """
    del T
    cfg = family_config(LIFNodeConfig, neuron)
    try:
        node = cfg.factory()
    except ValueError as exc:
        raise ArchError(f"lif: {exc}") from None
    shape = step_shape(input_shape)
    key = arch.strip().lower()
    if key in RESNETS:
        if len(shape) != 3:
            raise ArchError(f"lif: {arch} needs image inputs, got sample shape {tuple(input_shape)}")
        net = build_spiking_resnet(
            RESNETS[key], shape, num_classes, node, relu, voters, input_size, ann_warmup_epochs
        )
    else:
        spatial, layers = split_input(parse_arch(arch), shape)
        net = build_multistep(
            layers, spatial, num_classes, node, bn=bn, relu=relu, dense_as_flatten=dense_as_flatten,
            resize=input_size, ann_warmup_epochs=ann_warmup_epochs,
        )  # fmt: skip
    if checkpoint:
        net.body = checkpoint_segments(net.body)
    return net
