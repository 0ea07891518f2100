"""The value types of spec fields, as pydantic validates them (:mod:`snnrepro.spec.convert`).

A spec file is YAML written by hand, so the types say exactly what the loader accepts and nothing more:

- :data:`Int`, :data:`Bool`: strict (``"3"``, ``3.0`` and ``true`` are not integers; ``1`` is not a bool);
- :data:`Number`: a finite float; an integer, or a number written as a string (YAML 1.1 reads ``1e-3``
  as one), is converted; ``inf``, ``nan`` and integers past float range are refused;
- :data:`Text`: a string; a number is taken as its text (``table: 2`` is table ``"2"``);
- :data:`Mapping`: a mapping with string keys (its values are the plugin's to check);
- :data:`IntList`, :data:`NumberList`: a list (not a set or a tuple) of integers or numbers.

Each class of :mod:`snnrepro.spec.classes` sets :data:`FORBID_EXTRA`, so an unknown key is an error.
The JSON Schema of the same types (:mod:`snnrepro.spec.schema`) comes from these annotations too.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Strict, WithJsonSchema
from pydantic_core import PydanticCustomError

#: the pydantic configuration of every spec dataclass: an unknown key is an error
FORBID_EXTRA = ConfigDict(extra="forbid")
#: a number written as a string (YAML 1.1 reads ``1e-3`` as one), which the loader accepts
NUMBER_STRING = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
#: the pydantic error type of an infinite or NaN number (its message: "expected a finite number")
NOT_FINITE = "finite_number"


def _number(value: Any) -> Any:
    """An int or a numeric string as a float, refused when not finite; anything else is left to the type check."""
    if isinstance(value, bool):
        return value
    number: float | None = None
    if isinstance(value, int):
        number = float(value) if abs(value) < 1e308 else math.inf
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
    if number is not None and not math.isfinite(number):
        raise PydanticCustomError(NOT_FINITE, "expected a finite number")
    return value if number is None else number


def _text(value: Any) -> Any:
    """A number as its text (``str(0.001)``); anything else is left to the type check."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Number = Annotated[
    float,
    BeforeValidator(_number),
    Strict(),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "pattern": NUMBER_STRING}]}),
]
Text = Annotated[str, BeforeValidator(_text), Strict(), WithJsonSchema({"type": ["string", "number"]})]
Mapping = Annotated[dict[Annotated[str, Strict()], Any], Strict()]
IntList = Annotated[list[Int], Strict()]
NumberList = Annotated[list[Number], Strict()]
