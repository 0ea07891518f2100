"""The checks of a spec against its registry entries that need neither torch nor any model code.

:func:`check_names` compares the dataset, encoder, model family, rule, loss and analysis names with
:mod:`snnrepro.spec.plugin_names`; only a name not listed there imports the registries.  :func:`check_model`
parses the architecture string with :func:`snnrepro.models.arch.parse_arch` (the planner's own parser,
torch-free) and compares ``model.params`` with the family's declared names
(:data:`snnrepro.spec.plugin_names.MODEL_PARAMS`), with the messages the builder itself gives.  What needs
the code (the dataset's shape, the network's shape arithmetic and size, the encoder's, loss's, rule's and
analyses' own parameter checks) is :mod:`snnrepro.spec.deep`, run by the engine when it builds a run and
by ``snnrepro show --build`` / ``snnrepro list --build``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from snnrepro.spec.errors import SpecError
from snnrepro.spec.plugin_names import MODEL_PARAMS, NAMED_ARCHS, is_builtin

if TYPE_CHECKING:
    from snnrepro.spec.classes import Spec


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


def check_model(spec: Spec, where: str) -> None:
    """A built-in family takes every ``model.params`` name and can parse ``model.arch`` (or knows it by name)."""
    from snnrepro.models.arch import ArchError, parse_arch

    known = MODEL_PARAMS.get(spec.model.family)
    if known is None:  # a plugin family not listed: its builder checks its params and arch when it builds
        return
    for name in spec.model.params:
        if name not in known:  # what Python says for an unknown keyword of the builder (`build`)
            raise SpecError(where, "model.params", f"build() got an unexpected keyword argument {name!r}")
    if spec.model.arch.strip().lower() in NAMED_ARCHS.get(spec.model.family, ()):
        return
    try:
        parse_arch(spec.model.arch)
    except ArchError as exc:
        raise SpecError(where, "model.arch", str(exc)) from None
