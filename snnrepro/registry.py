"""Name -> factory tables: one place where every pluggable piece is registered.

A new dataset, neuron family, model, rule, loss, surrogate, analysis or benchmark is one
new module plus one decorator::

    from snnrepro.registry import MODELS

    @MODELS.register("relpsp")
    def build_relpsp(arch: str, input_shape: tuple[int, ...], num_classes: int, **params) -> nn.Module:
        ...

Registration happens at import time; :func:`load_plugins` imports every built-in module
so that the tables are complete before a spec is validated.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T", bound=Callable[..., Any])


class Registry(Generic[T]):
    """A named table of factories (a class or a function) with a decorator to fill it."""

    def __init__(self, kind: str, load: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self._table: dict[str, T] = {}
        self._load = load  # what fills the table before a lookup (default: every plugin, :func:`load_plugins`)

    def _fill(self) -> None:
        (self._load or load_plugins)()

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._table and self._table[name] is not obj:
                raise KeyError(f"{self.kind} {name!r} is registered twice")
            self._table[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        self._fill()
        try:
            return self._table[name]
        except KeyError:
            known = ", ".join(sorted(self._table)) or "(none)"
            raise KeyError(f"unknown {self.kind} {name!r}; registered: {known}") from None

    def __contains__(self, name: object) -> bool:
        self._fill()
        return name in self._table

    def names(self) -> list[str]:
        self._fill()
        return sorted(self._table)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


DATASETS: Registry = Registry("dataset")
"""name -> ``build(root: Path, download: bool, **params) -> DataBundle`` (snnrepro.data.base)."""
ENCODERS: Registry = Registry("encoder")
"""name -> ``nn.Module`` class/factory taking ``**params``; maps a float batch to the family's input."""
MODELS: Registry = Registry("model family")
"""family -> ``build(arch, input_shape, num_classes, **params) -> nn.Module`` returning scores [B, classes]."""
RULES: Registry = Registry("learning rule")
"""name -> class ``Rule(model, loss_fn, **params)`` with ``.step(x, y, optimizer)``."""
LOSSES: Registry = Registry("loss")
"""name -> factory ``(**params) -> callable(scores, target) -> scalar``."""
SURROGATES: Registry = Registry("surrogate gradient")
"""name -> class with ``__init__(**params)``; see snnrepro.neurons.surrogate."""
ANALYSES: Registry = Registry("analysis")
"""name -> ``run(model, loader, device, out_dir, **params) -> dict[str, float]``."""
BENCHES: Registry = Registry("benchmark")
"""name -> ``run(device, quick: bool) -> list[BenchRow]`` (snnrepro.bench)."""
OPTIMIZERS: Registry = Registry("optimizer")
"""name -> ``build(params, spec: OptimizerSpec) -> torch.optim.Optimizer`` (snnrepro.engine.optim)."""
SCHEDULES: Registry = Registry("schedule")
"""name -> ``factor(spec: ScheduleSpec, epoch, e, span) -> float``, the lr multiplier after warm-up.

An optimizer or schedule name also goes into :mod:`snnrepro.spec.optim_names`, which specs are checked
against without torch."""



def load_table_plugins() -> None:
    """Import the analyses' table declarations (``snnrepro/analyses/*_table.py``) alone: no torch, no analysis."""
    import pkgutil

    package = importlib.import_module("snnrepro.analyses")  # its __init__ imports nothing
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.endswith("_table"):
            importlib.import_module(f"{package.__name__}.{info.name}")


TABLES: Registry = Registry("analysis table", load=load_table_plugins)
"""analysis name -> :class:`snnrepro.results.contribution.TableContribution`: the table an analysis adds
(``snnrepro table KEY --analysis NAME``, ``results/tables/<paper>-<name>.md``).  Declared in a torch-free
module beside the analysis, ``snnrepro/analyses/<name>_table.py``, so that the tables never import torch."""

_PLUGIN_MODULES = (
    "snnrepro.data",
    "snnrepro.encoders",
    "snnrepro.neurons",
    "snnrepro.models",
    "snnrepro.rules",
    "snnrepro.losses",
    "snnrepro.analyses",
    "snnrepro.benches",
    "snnrepro.engine.optim",
)
_loaded = False


def load_plugins() -> None:
    """Import every built-in package whose modules register factories (idempotent)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from snnrepro.plugins import import_submodules

    for mod in _PLUGIN_MODULES:
        if hasattr(importlib.import_module(mod), "__path__"):  # a package: every module in it, recursively
            import_submodules(mod)
