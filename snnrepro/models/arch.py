"""Parser for architecture strings written in the papers' own notation.

Grammar (tokens separated by ``-``, spaces ignored, case-insensitive letters):

============================  =====================================================
token                         meaning
============================  =====================================================
``28x28`` / ``2x34x34``       input size (H x W, or C x H x W); only as first token
``6C5`` / ``128C3``           convolution: 6 kernels of 5x5 (stride 1)
``Conv5x5x28``                convolution, BRP notation: kernel 5x5, 28 maps
``Conv1x3x100``               1-D-style kernel 1x3, 100 maps (BRP TIDIGITS)
``P2`` / ``MP2``              2x2 max pooling
``AP4``                       4x4 average pooling
``S2``                        2x2 subsampling (average pooling, as in BRP's code)
``400`` / ``FC1000``          fully connected layer of that width
``512FC``                     fully connected layer (suffix form, BPSA/BPTA and RSN)
``DP`` / ``DP0.3``            dropout (default p = 0.5)
``10Voting``                  output layer with 10 voting neurons per class
============================  =====================================================

The last dense width is the number of classes (or, for ``Voting``, the classes come
from the dataset).  Families decide how to realise each token (spiking conv of their
kind, pooling on spike times or spikes, ...), the parser only says *what* is asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class ArchError(ValueError):
    """An architecture string that cannot be parsed or realised."""


@dataclass(frozen=True)
class Input:
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Conv:
    channels: int
    kernel: tuple[int, int]
    stride: int = 1


@dataclass(frozen=True)
class Pool:
    kind: str  # "max" or "avg"
    size: int


@dataclass(frozen=True)
class Dense:
    width: int


@dataclass(frozen=True)
class Dropout:
    p: float = 0.5


@dataclass(frozen=True)
class Voting:
    voters: int


Layer = Input | Conv | Pool | Dense | Dropout | Voting

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(\d+)x(\d+)(?:x(\d+))?$"), "input"),
    (re.compile(r"^(\d+)c(\d+)(?:s(\d+))?$"), "conv"),
    (re.compile(r"^conv(\d+)x(\d+)x(\d+)$"), "conv_brp"),
    (re.compile(r"^m?p(\d+)$"), "maxpool"),
    (re.compile(r"^ap(\d+)$"), "avgpool"),
    (re.compile(r"^s(\d+)$"), "subsample"),
    (re.compile(r"^(?:fc)?(\d+)(?:fc)?$"), "dense"),
    (re.compile(r"^dp(\d*\.?\d*)$"), "dropout"),
    (re.compile(r"^(\d+)voting$"), "voting"),
]


def parse_arch(arch: str) -> list[Layer]:
    """Parse ``arch`` into a list of layer descriptions; raises :class:`ArchError`."""
    tokens = [t.strip() for t in arch.replace(" ", "").split("-") if t.strip()]
    if not tokens:
        raise ArchError("empty architecture string")
    layers: list[Layer] = []
    for pos, tok in enumerate(tokens):
        low = tok.lower()
        found = next(((kind, m) for pattern, kind in _PATTERNS if (m := pattern.match(low))), None)
        if found is None:
            raise ArchError(f"token {tok!r} (position {pos + 1} of {arch!r}) is not understood")
        kind, m = found
        if kind == "input":
            if pos != 0:
                raise ArchError(f"input size {tok!r} must come first in {arch!r}")
            dims = tuple(int(g) for g in m.groups() if g is not None)
            layers.append(Input(dims if len(dims) == 3 else (1, *dims)))
        elif kind == "conv":
            k = int(m.group(2))
            layers.append(Conv(int(m.group(1)), (k, k), int(m.group(3) or 1)))
        elif kind == "conv_brp":
            layers.append(Conv(int(m.group(3)), (int(m.group(1)), int(m.group(2)))))
        elif kind == "maxpool":
            layers.append(Pool("max", int(m.group(1))))
        elif kind in ("avgpool", "subsample"):
            layers.append(Pool("avg", int(m.group(1))))
        elif kind == "dense":
            layers.append(Dense(int(m.group(1))))
        elif kind == "dropout":
            layers.append(Dropout(float(m.group(1)) if m.group(1) else 0.5))
        elif kind == "voting":
            layers.append(Voting(int(m.group(1))))
    for layer in layers:
        if isinstance(layer, Dense | Conv) and (getattr(layer, "width", 1) <= 0 or getattr(layer, "channels", 1) <= 0):
            raise ArchError(f"zero-width layer in {arch!r}")
    return layers


def split_input(layers: list[Layer], input_shape: tuple[int, ...]) -> tuple[tuple[int, ...], list[Layer]]:
    """Return (input shape, remaining layers).

    A leading pure-number token equal to the flattened input size (``784`` in
    ``784-400-10``) is the input layer, not a hidden layer.  A leading ``28x28`` must
    match the dataset's spatial size.
    """
    import math

    if layers and isinstance(layers[0], Input):
        declared = layers[0].shape
        if declared[-2:] != tuple(input_shape[-2:]):
            raise ArchError(f"architecture declares input {declared} but the data gives {tuple(input_shape)}")
        return tuple(input_shape), layers[1:]
    if layers and isinstance(layers[0], Dense) and layers[0].width == math.prod(input_shape):
        return tuple(input_shape), layers[1:]
    return tuple(input_shape), layers
