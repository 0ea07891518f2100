"""The ``relu`` family: the plain ANN with ReLU on the same architecture strings.

It is the RSN paper's own CIFAR10 baseline ("CNN with ReLU", Table 3: convolution and
max-pooling layers only) and the same-shape ANN reference of the benchmarks.  Layers:
``y = ReLU(W x + b)`` for every hidden conv/dense token, ``max``/``avg`` pooling for
``P``/``AP``/``S``, dropout for ``DP``; the last dense layer returns logits.  Convolutions
use ``same`` zero padding (``k // 2``) by default, as the RSN CNNs do.
"""

from __future__ import annotations

import math

from torch import nn

from snnrepro.models.arch import ArchError, Conv, Dense, Dropout, Input, Pool, Voting, parse_arch, split_input
from snnrepro.registry import MODELS


@MODELS.register("relu")
def build(
    arch: str, input_shape: tuple[int, ...], num_classes: int, padding: str = "same", bias: bool = True
) -> nn.Module:
    """``nn.Sequential`` ANN for ``arch`` on loader samples of ``input_shape``; returns logits [B, classes]."""
    if padding not in ("same", "valid"):
        raise ArchError(f"relu: padding must be 'same' or 'valid', got {padding!r}")
    shape, layers = split_input(parse_arch(arch), input_shape)
    if not layers or not isinstance(layers[-1], Dense):
        raise ArchError(f"relu: {arch!r} must end with a dense output layer")
    if layers[-1].width != num_classes:
        raise ArchError(f"relu: output width {layers[-1].width} but the dataset has {num_classes} classes")
    cur: tuple[int, ...] = tuple(shape)
    seq = nn.Sequential()
    for pos, ly in enumerate(layers):
        last = pos == len(layers) - 1
        if isinstance(ly, Conv):
            if len(cur) != 3:
                raise ArchError(f"relu: convolution {ly} needs an image input, got shape {cur} in {arch!r}")
            pad = (ly.kernel[0] // 2, ly.kernel[1] // 2) if padding == "same" else (0, 0)
            c, h, w = cur
            h2 = (h + 2 * pad[0] - ly.kernel[0]) // ly.stride + 1
            w2 = (w + 2 * pad[1] - ly.kernel[1]) // ly.stride + 1
            if h2 < 1 or w2 < 1:
                raise ArchError(f"relu: {ly} does not fit a {h}x{w} map in {arch!r}")
            seq.append(nn.Conv2d(c, ly.channels, ly.kernel, stride=ly.stride, padding=pad, bias=bias))
            seq.append(nn.ReLU())
            cur = (ly.channels, h2, w2)
        elif isinstance(ly, Pool):
            if len(cur) != 3:
                raise ArchError(f"relu: pooling {ly} needs an image input in {arch!r}")
            c, h, w = cur
            if h < ly.size or w < ly.size:
                raise ArchError(f"relu: pooling {ly} does not fit a {h}x{w} map in {arch!r}")
            seq.append(nn.MaxPool2d(ly.size) if ly.kind == "max" else nn.AvgPool2d(ly.size))
            cur = (c, h // ly.size, w // ly.size)
        elif isinstance(ly, Dense):
            if len(cur) != 1:
                seq.append(nn.Flatten())
                cur = (math.prod(cur),)
            seq.append(nn.Linear(cur[0], ly.width, bias=bias))
            if not last:
                seq.append(nn.ReLU())
            cur = (ly.width,)
        elif isinstance(ly, Dropout):
            seq.append(nn.Dropout(ly.p))
        elif isinstance(ly, Voting | Input):
            raise ArchError(f"relu: token {ly} is not supported in {arch!r}")
    return seq
