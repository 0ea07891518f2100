"""The checks of a spec that need its registry entries: names, then a build on the meta device.

:func:`check_names` compares the dataset, encoder, model family, rule, loss and analysis names with
:mod:`snnrepro.plugin_names` (no torch, no model code); only a name not listed there imports the
registries.  :func:`check_buildable` is what truly needs the code: the dataset's shape, the network
built once on the meta device (no memory, no data) and its size, the encoder built once (its params,
then reused for the rule), the loss, the rule and the analyses' parameters.
"""

from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING, Any

from snnrepro.plugin_names import is_builtin
from snnrepro.spec_errors import SpecError
from snnrepro.spec_errors import short as _short

if TYPE_CHECKING:
    from snnrepro.spec import Spec

#: the most parameter and buffer bytes a spec's model may have (a hundred times the papers' largest)
MAX_MODEL_BYTES = 16 * 2**30


def model_bytes(arch: str) -> int:
    """A rough upper bound of a fully connected reading of ``arch``'s widths (for factories not buildable on meta)."""
    widths = [int(w) for w in re.findall(r"\d+", arch)]
    return 4 * sum(a * b for a, b in zip(widths, widths[1:], strict=False))


def _check_name(registry: str, name: str, where: str, key: str, what: str = "") -> None:
    """``name`` must be registered in ``registry``: built-in names without imports, others via the registry."""
    if is_builtin(registry, name):
        return
    from snnrepro import registry as registries

    reg = getattr(registries, registry)
    if name not in reg:
        raise SpecError(where, key, f"unknown {what or reg.kind} {name!r}; registered: {', '.join(reg.names())}")


def check_names(spec: Spec, where: str) -> None:
    """Every registry name of ``spec`` exists (the same messages as the registries give)."""
    _check_name("DATASETS", spec.dataset.name, where, "dataset.name")
    _check_name("ENCODERS", spec.encoder.name, where, "encoder.name")
    _check_name("RULES", spec.rule.name, where, "rule.name")
    _check_name("LOSSES", spec.loss.name, where, "loss.name")
    for i, comp in enumerate(spec.analyses):
        _check_name("ANALYSES", comp.name, where, f"analyses[{i}].name", "analysis")
    _check_name("MODELS", spec.model.family, where, "model.family")


def check_buildable(spec: Spec, where: str) -> None:
    """Build ``spec``'s pieces (on the meta device where they allow it): each factory's complaint as a SpecError."""
    import torch

    from snnrepro.models.arch import ArchError
    from snnrepro.registry import ANALYSES, DATASETS, ENCODERS, LOSSES, MODELS, RULES

    try:
        input_shape, num_classes = DATASETS.get(spec.dataset.name).shape(**spec.dataset.params)
    except Exception as exc:  # a factory's own complaint about its params, whatever its type
        raise SpecError(where, "dataset.params", f"{type(exc).__name__}: {exc}") from None
    build = MODELS.get(spec.model.family)
    try:
        try:
            with torch.device("meta"):
                net = build(spec.model.arch, tuple(input_shape), num_classes, **spec.model.params)
        except (NotImplementedError, RuntimeError):  # a factory doing data-dependent work at init
            if model_bytes(spec.model.arch) > MAX_MODEL_BYTES:
                raise ValueError("more parameters than any model could hold") from None
            net = build(spec.model.arch, tuple(input_shape), num_classes, **spec.model.params)
    except ArchError as exc:
        raise SpecError(where, "model.arch", str(exc)) from None
    except TypeError as exc:
        raise SpecError(where, "model.params", str(exc)) from None
    except Exception as exc:  # impossible shapes surface as ValueError/RuntimeError from torch
        raise SpecError(where, "model", f"cannot build {spec.model.arch!r}: {type(exc).__name__}: {exc}") from None
    size = sum(t.numel() * t.element_size() for t in (*net.parameters(), *net.buffers()))
    if size > MAX_MODEL_BYTES:
        raise SpecError(where, "model.arch", f"{_short(spec.model.arch)} needs {size / 2**30:,.1f} GiB of weights; "
                        f"at most {MAX_MODEL_BYTES / 2**30:.0f} GiB (the papers' largest model is under 0.1 GiB)")
    # encoder, loss, rule and analyses: their own checks of their params, now rather than mid-run
    encoder = _meta(where, "encoder.params", lambda: ENCODERS.get(spec.encoder.name)(**spec.encoder.params))
    _meta(where, "loss.params", lambda: LOSSES.get(spec.loss.name)(**spec.loss.params))
    if encoder is not None:  # the encoder built on meta: the rule sees the whole model
        _meta(where, "rule.params", lambda: RULES.get(spec.rule.name)(
            torch.nn.Sequential(encoder, net), lambda s, y: s.sum(), **spec.rule.params))  # fmt: skip
    for i, comp in enumerate(spec.analyses):
        try:
            inspect.signature(ANALYSES.get(comp.name)).bind(None, None, None, None, **comp.params)
        except TypeError as exc:
            raise SpecError(where, f"analyses[{i}].params", f"{comp.name}: {exc}") from None


def _meta(where: str, key: str, make: Any) -> Any:
    """``make()`` on the meta device; its TypeError/ValueError as a SpecError at ``key``; ``None`` where it needs
    real tensors (checked when the run builds it)."""
    import torch

    try:
        with torch.device("meta"):
            return make()
    except (TypeError, ValueError) as exc:
        raise SpecError(where, key, " ".join(str(exc).split())) from None
    except (NotImplementedError, RuntimeError):
        return None
