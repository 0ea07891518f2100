"""The checks of a spec that need its code, shared by the engine's build and ``--build`` validation.

Loading a spec (:func:`snnrepro.spec.load_spec`) imports no torch; what only the code can tell is
checked here and turned into the same :class:`~snnrepro.spec.errors.SpecError` (file, key path,
message): the dataset's shape from its params, the network built on the meta device (shape arithmetic,
its own param checks) and its size (:data:`MAX_MODEL_BYTES`), the encoder's, loss's and rule's own
complaints about their params, the analyses' parameters.  :mod:`snnrepro.engine.build` uses the pieces
when it builds a run (before any training or writing); :func:`check_buildable` runs them all on the meta
device, without data, for ``snnrepro show --build`` and ``snnrepro list --build``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from snnrepro.spec.errors import SpecError
from snnrepro.spec.errors import short as _short

if TYPE_CHECKING:
    from torch import nn

    from snnrepro.spec.classes import Spec

#: the most parameter and buffer bytes a spec's model may have (a hundred times the papers' largest)
MAX_MODEL_BYTES = 16 * 2**30


def model_bytes(arch: str) -> int:
    """A rough upper bound of a fully connected reading of ``arch``'s widths (for factories not buildable on meta)."""
    widths = [int(w) for w in re.findall(r"\d+", arch)]
    return 4 * sum(a * b for a, b in zip(widths, widths[1:], strict=False))


def weights_bytes(net: nn.Module) -> int:
    """Bytes of ``net``'s parameters and buffers (also on the meta device, where they take none)."""
    return sum(t.numel() * t.element_size() for t in (*net.parameters(), *net.buffers()))


def dataset_shape(spec: Spec, where: str) -> tuple[tuple[int, ...], int]:
    """The loader sample shape and class count of ``spec``'s dataset; its complaint at ``dataset.params``."""
    from snnrepro.registry import DATASETS

    try:
        input_shape, num_classes = DATASETS.get(spec.dataset.name).shape(**spec.dataset.params)
    except Exception as exc:  # a factory's own complaint about its params, whatever its type
        raise SpecError(where, "dataset.params", f"{type(exc).__name__}: {exc}") from None
    return tuple(input_shape), num_classes


@contextmanager
def model_errors(spec: Spec, where: str) -> Iterator[None]:
    """A model factory's complaint as a SpecError: the architecture at ``model.arch``, params at ``model.params``."""
    from snnrepro.models.arch import ArchError

    try:
        yield
    except SpecError:
        raise
    except ArchError as exc:
        raise SpecError(where, "model.arch", str(exc)) from None
    except TypeError as exc:
        raise SpecError(where, "model.params", str(exc)) from None
    except Exception as exc:  # impossible shapes surface as ValueError/RuntimeError from torch
        raise SpecError(where, "model", f"cannot build {spec.model.arch!r}: {type(exc).__name__}: {exc}") from None


def meta_network(spec: Spec, input_shape: tuple[int, ...], num_classes: int, where: str) -> nn.Module | None:
    """``spec``'s network built on the meta device (no memory), refused above :data:`MAX_MODEL_BYTES`;
    ``None`` for a factory that needs real tensors at init (its real build is then the check)."""
    import torch

    from snnrepro.registry import MODELS

    build = MODELS.get(spec.model.family)
    with model_errors(spec, where):
        try:
            with torch.device("meta"):
                net = build(spec.model.arch, input_shape, num_classes, **spec.model.params)
        except (NotImplementedError, RuntimeError):  # a factory doing data-dependent work at init
            if model_bytes(spec.model.arch) > MAX_MODEL_BYTES:
                raise ValueError("more parameters than any model could hold") from None
            return None
    check_size(spec, net, where)
    return net


def check_size(spec: Spec, net: nn.Module, where: str) -> None:
    """``net``'s weights within :data:`MAX_MODEL_BYTES`, else a SpecError at ``model.arch``."""
    size = weights_bytes(net)
    if size > MAX_MODEL_BYTES:
        raise SpecError(where, "model.arch", f"{_short(spec.model.arch)} needs {size / 2**30:,.1f} GiB of weights; "
                        f"at most {MAX_MODEL_BYTES / 2**30:.0f} GiB (the papers' largest model is under 0.1 GiB)")


@contextmanager
def param_errors(where: str, key: str) -> Iterator[None]:
    """A factory's TypeError/ValueError about its params as a SpecError at ``key`` (one line)."""
    try:
        yield
    except (TypeError, ValueError) as exc:
        raise SpecError(where, key, " ".join(str(exc).split())) from None


def check_analyses(spec: Spec, where: str) -> None:
    """Every analysis accepts its params (checked against its signature, nothing run)."""
    from snnrepro.registry import ANALYSES

    for i, comp in enumerate(spec.analyses):
        try:
            inspect.signature(ANALYSES.get(comp.name)).bind(None, None, None, None, **comp.params)
        except TypeError as exc:
            raise SpecError(where, f"analyses[{i}].params", f"{comp.name}: {exc}") from None


def check_buildable(spec: Spec, where: str) -> None:
    """Build ``spec``'s pieces (on the meta device where they allow it): each factory's complaint as a SpecError."""
    import torch

    from snnrepro.registry import ENCODERS, LOSSES, MODELS, RULES

    input_shape, num_classes = dataset_shape(spec, where)
    net = meta_network(spec, input_shape, num_classes, where)
    if net is None:
        with model_errors(spec, where):
            net = MODELS.get(spec.model.family)(spec.model.arch, input_shape, num_classes, **spec.model.params)
        check_size(spec, net, where)
    # encoder, loss, rule and analyses: their own checks of their params, now rather than mid-run
    encoder = _meta(where, "encoder.params", lambda: ENCODERS.get(spec.encoder.name)(**spec.encoder.params))
    _meta(where, "loss.params", lambda: LOSSES.get(spec.loss.name)(**spec.loss.params))
    if encoder is not None:  # the encoder built on meta: the rule sees the whole model
        _meta(where, "rule.params", lambda: RULES.get(spec.rule.name)(
            torch.nn.Sequential(encoder, net), lambda s, y: s.sum(), **spec.rule.params))  # fmt: skip
    check_analyses(spec, where)


def _meta(where: str, key: str, make: Callable[[], Any]) -> Any:
    """``make()`` on the meta device; its TypeError/ValueError as a SpecError at ``key``; ``None`` where it needs
    real tensors (checked when the run builds it)."""
    import torch

    try:
        with param_errors(where, key), torch.device("meta"):
            return make()
    except (NotImplementedError, RuntimeError):  # a factory doing data-dependent work at init
        return None
