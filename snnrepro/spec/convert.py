"""Typing-driven conversion of a raw mapping into the spec dataclasses, with one-line messages.

Each value is checked against its field's type hint (``int``, ``float`` (finite; YAML 1.1's ``"1e-3"``
strings too), ``str``, ``bool``, ``X | None``, ``list[X]``, ``dict``, a nested dataclass); an unknown
key, a missing required key or a wrong type raises :class:`SpecError` naming the key path
(``optimizer.betas[1]``) and what was expected.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from snnrepro.spec.classes import NON_YAML_FIELDS, Component
from snnrepro.spec.errors import SpecError
from snnrepro.spec.errors import short as _short


def _type_name(tp: Any) -> str:
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false", type(None): "null"}.get(
        tp, str(tp)
    )


def convert(value: Any, tp: Any, where: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(value, arg, where, key)
            except SpecError as exc:
                errors.append(exc)
        if len(errors) == 1 and "finite" in str(errors[0]):  # `x | None`: the one type's own complaint
            raise errors[0]
        raise SpecError(where, key, f"expected {_type_name(tp)}, got {_short(value)}")
    if dataclasses.is_dataclass(tp):
        return build_dataclass(tp, value, where, key)
    if origin is list:
        if not isinstance(value, list):
            raise SpecError(where, key, f"expected {_type_name(tp)}, got {_short(value)}")
        (inner,) = typing.get_args(tp)
        return [convert(v, inner, where, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise SpecError(where, key, f"expected a mapping with string keys, got {_short(value)}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value) if abs(value) < 1e308 or isinstance(value, float) else math.inf
        elif isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                number = float(value)
            except ValueError:
                pass
        if number is not None:
            if not math.isfinite(number):
                raise SpecError(where, key, f"expected a finite number, got {_short(value)}")
            return number
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    raise SpecError(where, key, f"expected {_type_name(tp)}, got {_short(value)}")


def build_dataclass(cls: Any, data: Any, where: str, key: str) -> Any:
    if cls is Component and isinstance(data, str):
        data = {"name": data}
    if not isinstance(data, dict):
        raise SpecError(where, key or "(top level)", f"expected a mapping, got {_short(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in NON_YAML_FIELDS}
    unknown = sorted((k for k in data if k not in fields), key=str)
    if unknown:
        path = f"{key}.{unknown[0]}" if key else unknown[0]
        raise SpecError(where, path, f"unknown key; allowed keys here: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, f in fields.items():
        sub = f"{key}.{name}" if key else name
        if name in data:
            kwargs[name] = convert(data[name], hints[name], where, sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SpecError(where, sub, "required key is missing")
    return cls(**kwargs)

