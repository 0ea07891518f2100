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

:func:`plan` walks the parsed layers once for every family: it checks the string (padding
option, output layer, output width, tokens the family refuses, image inputs for conv and
pooling, kernels and windows that fit) and gives one :class:`Step` per token with its input
and output shapes, inserting a :class:`Flatten` before the first dense layer after an image.
A family's builder then only maps each step to its modules::

    steps = plan(layers, shape, arch, num_classes, Wording("relu: "), padding="same")
    for step in steps:
        if isinstance(step.token, Conv): ...   # step.in_shape, step.out_shape, step.padding
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
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


@dataclass(frozen=True)
class Flatten:
    """Not a token: :func:`plan` inserts it before a dense layer that follows an image."""


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
    if layers and isinstance(layers[0], Input):
        declared = layers[0].shape
        if declared[-2:] != tuple(input_shape[-2:]):
            raise ArchError(f"architecture declares input {declared} but the data gives {tuple(input_shape)}")
        return tuple(input_shape), layers[1:]
    if layers and isinstance(layers[0], Dense) and layers[0].width == math.prod(input_shape):
        return tuple(input_shape), layers[1:]
    return tuple(input_shape), layers


@dataclass(frozen=True)
class Wording:
    """A family's error messages for :func:`plan` (``str.format`` templates).

    Fields: ``p`` the family's prefix, ``arch`` the string, ``ly`` the token, ``where``
    ``token <n> (<token>) of <arch>``, ``cur`` the shape before the token, ``h``/``w`` its map
    size, ``kh``/``kw`` the kernel, ``size`` the pooling window, ``width``/``classes`` the
    output width and the dataset's classes, ``padding`` the option.  The defaults are the
    common wording; a family overrides only what it words otherwise.
    """

    prefix: str = ""
    padding: str = "{p}padding must be 'same' or 'valid', got {padding!r}"
    end: str = "{p}{arch!r} must end with a dense output layer"
    width: str = "{p}output width {width} but the dataset has {classes} classes"
    token: str = "{p}token {ly} is not supported in {arch!r}"
    conv_image: str = "{p}convolution {ly} needs an image input, got shape {cur} in {arch!r}"
    strided: str = "{p}strided convolution {ly} is not supported in {arch!r}"
    conv_fit: str = "{p}{ly} does not fit a {h}x{w} map in {arch!r}"
    pool_kind: str = "{p}{kind} pooling {ly} is not supported in {arch!r}"
    pool_image: str = "{p}pooling {ly} needs an image input in {arch!r}"
    pool_fit: str = "{p}pooling {ly} does not fit a {h}x{w} map in {arch!r}"
    voting_last: str = "{p}nVoting must be the last token"

    def error(self, key: str, **fields: object) -> ArchError:
        """The :class:`ArchError` for message ``key`` filled with ``fields``."""
        return ArchError(getattr(self, key).format(p=self.prefix, **fields))


@dataclass(frozen=True)
class Step:
    """One token of a plan with the per-sample shapes around it.

    ``token``: the parsed layer (:class:`Conv`, :class:`Pool`, :class:`Dense`, :class:`Dropout`,
    :class:`Voting`) or an inserted :class:`Flatten`; ``pos`` its 0-based position among the
    planned layers; ``last``: the output layer; ``padding``: a convolution's zero padding;
    ``window``: a pooling window (``1 x s`` on the 1-D maps of ``pool_1d``).
    """

    token: Layer | Flatten
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    pos: int
    last: bool = False
    padding: tuple[int, int] = (0, 0)
    window: tuple[int, int] = (1, 1)


def plan(
    layers: list[Layer],
    in_shape: tuple[int, ...],
    arch: str,
    num_classes: int | None,
    wording: Wording,
    *,
    padding: str = "same",
    strided: bool = True,
    allowed: tuple[type, ...] = (Conv, Pool, Dense, Dropout),
    widths: Collection[int] | None = None,
    pools: tuple[str, ...] = ("max", "avg"),
    pool_1d: bool = False,
) -> list[Step]:
    """Check ``layers`` (parsed, after :func:`split_input`) on per-sample ``in_shape`` and plan them.

    ``padding`` ``same`` (``k // 2``) or ``valid`` for every convolution; ``strided`` whether
    convolutions may have a stride; ``allowed`` the token types the family builds (others are
    refused; :class:`Voting` counts as an output layer of ``num_classes * voters``);
    ``widths`` the output widths accepted (default: ``num_classes``; ``num_classes=None``: not
    checked); ``pools`` the pooling kinds built; ``pool_1d`` pools ``1 x s`` on maps of height 1.
    Raises :class:`ArchError` with ``wording``'s messages.
    """
    if padding not in ("same", "valid"):
        raise wording.error("padding", padding=padding)
    outputs = (Dense, Voting) if Voting in allowed else (Dense,)
    if not layers or not isinstance(layers[-1], outputs):
        raise wording.error("end", arch=arch)
    out = layers[-1]
    if isinstance(out, Dense) and num_classes is not None and out.width not in (widths or (num_classes,)):
        raise wording.error("width", width=out.width, classes=num_classes)
    steps: list[Step] = []
    cur = tuple(in_shape)
    for pos, ly in enumerate(layers):
        last = pos == len(layers) - 1
        where = f"token {pos + 1} ({ly}) of {arch!r}"
        if not isinstance(ly, allowed):
            raise wording.error("token", ly=ly, arch=arch, where=where)
        if isinstance(ly, Conv):
            if len(cur) != 3:
                raise wording.error("conv_image", ly=ly, cur=cur, arch=arch, where=where)
            if ly.stride != 1 and not strided:
                raise wording.error("strided", ly=ly, arch=arch, where=where)
            (kh, kw), (c, h, w) = ly.kernel, cur
            pad = (kh // 2, kw // 2) if padding == "same" else (0, 0)
            h2 = (h + 2 * pad[0] - kh) // ly.stride + 1
            w2 = (w + 2 * pad[1] - kw) // ly.stride + 1
            if h2 < 1 or w2 < 1:
                raise wording.error("conv_fit", ly=ly, h=h, w=w, kh=kh, kw=kw, arch=arch, where=where)
            steps.append(Step(ly, cur, (ly.channels, h2, w2), pos, last, padding=pad))
        elif isinstance(ly, Pool):
            if ly.kind not in pools:
                raise wording.error("pool_kind", ly=ly, kind=ly.kind, arch=arch, where=where)
            if len(cur) != 3:
                raise wording.error("pool_image", ly=ly, cur=cur, arch=arch, where=where)
            c, h, w = cur
            size = (1, ly.size) if pool_1d and h == 1 else (ly.size, ly.size)
            if h < size[0] or w < size[1]:
                raise wording.error("pool_fit", ly=ly, size=size, h=h, w=w, arch=arch, where=where)
            steps.append(Step(ly, cur, (c, h // size[0], w // size[1]), pos, last, window=size))
        elif isinstance(ly, Dense | Voting):
            if isinstance(ly, Voting) and not last:
                raise wording.error("voting_last", ly=ly, arch=arch, where=where)
            if len(cur) != 1:
                flat = (math.prod(cur),)
                steps.append(Step(Flatten(), cur, flat, pos))
                cur = flat
            width = ly.width if isinstance(ly, Dense) else int(num_classes or 0) * ly.voters
            steps.append(Step(ly, cur, (width,), pos, last))
        else:  # Dropout (Input never gets here: parse_arch allows it first only, split_input removes it)
            steps.append(Step(ly, cur, cur, pos, last))
        cur = steps[-1].out_shape
    return steps

