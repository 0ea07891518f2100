"""The ``relu`` family: the plain ANN with ReLU on the same architecture strings.

It is the RSN paper's own CIFAR10 baseline ("CNN with ReLU", Table 3: convolution and
max-pooling layers only) and the same-shape ANN reference of the benchmarks.  Layers:
``y = ReLU(W x + b)`` for every hidden conv/dense token, ``max``/``avg`` pooling for
``P``/``AP``/``S``, dropout for ``DP``; the last dense layer returns logits.  Convolutions
use ``same`` zero padding (``k // 2``) by default, as the RSN CNNs do.
"""

from __future__ import annotations

from torch import nn

from snnrepro.models.arch import Conv, Dense, Dropout, Flatten, Pool, Wording, parse_arch, plan, split_input
from snnrepro.registry import MODELS


@MODELS.register("relu")
def build(
    arch: str, input_shape: tuple[int, ...], num_classes: int, padding: str = "same", bias: bool = True
) -> nn.Module:
    """``nn.Sequential`` ANN for ``arch`` on loader samples of ``input_shape``; returns logits [B, classes]."""
    shape, layers = split_input(parse_arch(arch), input_shape)
    seq = nn.Sequential()
    for step in plan(layers, shape, arch, num_classes, Wording("relu: "), padding=padding):
        ly, c_in = step.token, step.in_shape[0]
        if isinstance(ly, Conv):
            seq.append(nn.Conv2d(c_in, ly.channels, ly.kernel, stride=ly.stride, padding=step.padding, bias=bias))
            seq.append(nn.ReLU())
        elif isinstance(ly, Pool):
            seq.append(nn.MaxPool2d(ly.size) if ly.kind == "max" else nn.AvgPool2d(ly.size))
        elif isinstance(ly, Flatten):
            seq.append(nn.Flatten())
        elif isinstance(ly, Dense):
            seq.append(nn.Linear(c_in, ly.width, bias=bias))
            if not step.last:
                seq.append(nn.ReLU())
        elif isinstance(ly, Dropout):
            seq.append(nn.Dropout(ly.p))
    return seq
