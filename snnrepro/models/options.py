"""A family's neuron params from a spec's ``model.params``: one config dataclass per family.

A builder declares its own (network-level) keywords and takes the neuron's as ``**neuron``;
:func:`family_config` turns those into the family's config dataclass (``RelPspConfig``,
``ResonateConfig``, ``IIRConfig``, ...), refusing an unknown name with the message Python gives
for an unknown keyword of the builder itself, so a spec's typo reads the same as before.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

C = TypeVar("C")


def family_config(cls: type[C], params: dict[str, Any], func: str = "build") -> C:
    """``cls(**params)``; a name that is not a field of ``cls`` raises ``TypeError`` as ``func()`` would."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    for name in params:
        if name not in known:
            raise TypeError(f"{func}() got an unexpected keyword argument {name!r}")
    return cls(**params)
