"""A raw mapping into the spec dataclasses, validated by pydantic, with the loader's one-line messages.

The field types are in :mod:`snnrepro.spec.fields` and :mod:`snnrepro.spec.classes`; pydantic checks
them all and reports every problem.  :func:`to_spec` turns the first of those, in the order a reader
meets them (at each level an unknown key first, then the fields in their declared order, depth first),
into a :class:`SpecError` naming the key path (``optimizer.betas[1]``) and what was expected:
"unknown key; allowed keys here: ...", "required key is missing", "expected an integer, got '3'".
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any

from pydantic import TypeAdapter, ValidationError

from snnrepro.spec.classes import NON_YAML_FIELDS, Spec
from snnrepro.spec.errors import SpecError
from snnrepro.spec.errors import short as _short
from snnrepro.spec.fields import NOT_FINITE

#: pydantic's error types for a key the class does not have
_UNKNOWN = ("unexpected_keyword_argument", "invalid_key")
#: pydantic's error types for a value that should have been a mapping of a class's keys
_NOT_A_MAPPING = ("dataclass_type", "dataclass_args_type")


@functools.cache
def spec_adapter() -> TypeAdapter[Spec]:
    """pydantic's validator of :class:`Spec` (built once; :mod:`snnrepro.spec.schema` takes its JSON Schema)."""
    return TypeAdapter(Spec)


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


def _yaml_fields(cls: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name not in NON_YAML_FIELDS]


def _inner(tp: Any) -> Any:
    """``X`` of ``X | None`` (the value was not null, or it would not have failed)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


@dataclasses.dataclass
class _Located:
    """Where one pydantic error lies: its key path, the annotation there, the class holding the key, and
    the order in which the loader's walk meets it."""

    key: str = ""
    tp: Any = Spec
    owner: Any = None
    order: tuple[tuple[int, Any], ...] = ()
    value: Any = None
    dict_key: bool = False


def _locate(loc: tuple[Any, ...], data: Any, unknown: bool) -> _Located:
    at = _Located(value=data)
    for i, seg in enumerate(loc):
        tp = _inner(at.tp)
        last = i == len(loc) - 1
        if dataclasses.is_dataclass(tp):
            names = _yaml_fields(tp)
            at.owner = tp
            at.key = f"{at.key}.{seg}" if at.key else str(seg)
            if (unknown and last) or seg not in names:
                at.order += ((0, str(seg)),)
                at.tp = None
            else:
                at.order += ((1, names.index(seg)),)
                at.tp = typing.get_type_hints(tp)[seg]
            at.value = at.value.get(seg) if isinstance(at.value, dict) else None
        elif typing.get_origin(tp) is list:
            at.key = f"{at.key}[{seg}]"
            at.order += ((1, seg),)
            at.tp = typing.get_args(tp)[0]
            at.value = at.value[seg] if isinstance(at.value, list) and isinstance(seg, int) else None
        else:  # a mapping of the plugin's own: the loader only checks that its keys are strings
            at.dict_key = True
            break
    return at


def _message(err: dict[str, Any], at: _Located) -> str:
    kind = err["type"]
    if kind in _UNKNOWN:
        return f"unknown key; allowed keys here: {', '.join(sorted(_yaml_fields(at.owner)))}"
    if kind == "missing":
        return "required key is missing"
    if kind == NOT_FINITE:
        return f"expected a finite number, got {_short(err['input'])}"
    if at.dict_key or typing.get_origin(_inner(at.tp)) is dict:
        return f"expected a mapping with string keys, got {_short(at.value)}"
    if kind in _NOT_A_MAPPING:
        return f"expected a mapping, got {_short(err['input'])}"
    return f"expected {_type_name(at.tp)}, got {_short(err['input'])}"


def to_spec(data: dict[str, Any], where: str) -> Spec:
    """The :class:`Spec` of the mapping ``data`` (keys and types checked), or the first problem as a
    :class:`SpecError`.  ``data`` is a mapping (:func:`snnrepro.spec.load.resolve` says so when it is not)."""
    if any(k in NON_YAML_FIELDS for k in data):  # `profile` and `source` are filled by the loader, never read
        unknown = sorted((k for k in data if k not in _yaml_fields(Spec)), key=str)
        raise SpecError(where, str(unknown[0]), _message({"type": _UNKNOWN[0]}, _Located(owner=Spec)))
    try:
        return spec_adapter().validate_python(data)
    except ValidationError as exc:
        located = [(_locate(e["loc"], data, e["type"] in _UNKNOWN), e) for e in exc.errors(include_url=False)]
        at, err = min(located, key=lambda pair: pair[0].order)
        raise SpecError(where, at.key, _message(err, at)) from None
