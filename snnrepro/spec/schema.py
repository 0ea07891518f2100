"""A JSON Schema (draft 2020-12) of spec files, derived from the same dataclasses the loader fills.

``snnrepro schema`` prints it; ``experiments/spec.schema.json`` is the committed copy (a test checks it
is current), for editors (e.g. ``# yaml-language-server: $schema=../spec.schema.json`` atop a spec).
The schema describes what a file may contain; the loader (:mod:`snnrepro.spec`) stays the authority:
it also checks what a schema cannot say (an architecture string that does not parse, a model param the
family does not take; with the engine's build, :mod:`snnrepro.spec.deep`, an architecture the family
cannot build or a parameter the encoder refuses) and gives the precise one-line messages.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from snnrepro.spec.classes import ID_PATTERN, NON_YAML_FIELDS, PAPERS, Component, Spec, TrainSpec
from snnrepro.spec.extends import KEY as EXTENDS_KEY
from snnrepro.spec.optim_names import OPTIMIZER_NAMES, SCHEDULE_NAMES
from snnrepro.spec.plugin_names import (
    ANALYSIS_NAMES,
    DATASET_NAMES,
    ENCODER_NAMES,
    LOSS_NAMES,
    MODEL_FAMILIES,
    RULE_NAMES,
)
from snnrepro.spec.profiles import PROFILE_KEYS, PROFILES
from snnrepro.spec.validate import AMP_MODES, MAX_WORKERS, TRAIN_LIMITS

#: a number written as a string (YAML 1.1 reads ``1e-3`` as one), which the loader accepts
NUMBER_STRING = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
#: extra constraints per key path ("" the top level), merged into the derived schema
CONSTRAINTS: dict[str, dict[str, Any]] = {
    "id": {"pattern": ID_PATTERN.pattern},
    "paper": {"enum": list(PAPERS)},
    "metric": {"enum": ["test_acc", "best_test_acc"]},
    "dataset.name": {"enum": list(DATASET_NAMES)},
    "encoder.name": {"enum": list(ENCODER_NAMES)},
    "model.family": {"enum": list(MODEL_FAMILIES)},
    "rule.name": {"enum": list(RULE_NAMES)},
    "loss.name": {"enum": list(LOSS_NAMES)},
    "analyses[].name": {"enum": list(ANALYSIS_NAMES)},
    "optimizer.name": {"enum": list(OPTIMIZER_NAMES)},
    "schedule.name": {"enum": list(SCHEDULE_NAMES)},
    **{f"train.{k}": {"minimum": 1, "maximum": top} for k, top in TRAIN_LIMITS.items()},
    "train.num_workers": {"minimum": 0, "maximum": MAX_WORKERS},
    "train.amp": {"enum": list(AMP_MODES)},
}


def _only(schema: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``schema`` narrowed by ``extra``: a name or id (an enum or a pattern) must be a string."""
    if "enum" in extra or "pattern" in extra:
        return {"type": "string", **extra}
    return {**schema, **extra}


def _of(tp: Any, path: str) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        branches = [_of(a, path) for a in typing.get_args(tp)]  # nested anyOf spliced into one
        return {"anyOf": [b for br in branches for b in (br["anyOf"] if list(br) == ["anyOf"] else [br])]}
    if dataclasses.is_dataclass(tp):
        return _dataclass(tp, path)
    if origin is list:
        return {"type": "array", "items": _of(typing.get_args(tp)[0], f"{path}[]")}
    if origin is dict or tp is Any:
        return {"type": "object"} if origin is dict else {}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"anyOf": [{"type": "number"}, {"type": "string", "pattern": NUMBER_STRING}]}
    if tp is str:
        return {"type": ["string", "number"]}
    if tp is type(None):
        return {"type": "null"}
    raise TypeError(f"no JSON Schema for {tp!r} at {path}")


def _dataclass(cls: Any, path: str) -> dict[str, Any]:
    """An object schema of ``cls``'s YAML fields.  Nested keys are not marked required: a file that
    ``extends:`` another states only what differs (the top level's required keys are checked below)."""
    hints = typing.get_type_hints(cls)
    props: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in NON_YAML_FIELDS:
            continue
        sub = f"{path}.{f.name}" if path else f.name
        prop = _only(_of(hints[f.name], sub), CONSTRAINTS.get(sub, {}))
        doc = _FIELD_DOCS.get(sub)
        props[f.name] = {"description": doc, **prop} if doc else prop
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if cls is Component:  # `encoder: latency` is short for `encoder: {name: latency}`
        name = props["name"]
        return {"anyOf": [name, out]}
    return out


_FIELD_DOCS = {
    "id": "equals the file stem; the public name users type",
    "table": "the paper's table/figure this row belongs to",
    "reported": "the paper's number, percent (null for figure-only rows)",
    "tolerance": "points below `reported` still called reproduced",
    "baseline": "the row this row's claim is a difference against",
    "profiles": "per-profile overrides of train and dataset keys only",
}


def spec_schema() -> dict[str, Any]:
    """The JSON Schema of a spec file (``extends:`` included: a child needs only its ``id``)."""
    top = _dataclass(Spec, "")
    required = [f.name for f in dataclasses.fields(Spec) if f.name not in NON_YAML_FIELDS
                and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]  # fmt: skip
    top["properties"] = {
        EXTENDS_KEY: {
            "description": "the parent spec: a spec id or a .yaml path relative to this file; this file's keys "
            "are merged into it (mappings recursively, lists and scalars replaced)",
            "type": "string",
        },
        **top["properties"],
    }
    train = _dataclass(TrainSpec, "train")
    overrides = {"train": train, "dataset": {"type": "object"}}
    top["properties"]["profiles"] = {
        "description": _FIELD_DOCS["profiles"],
        "type": "object",
        "propertyNames": {"enum": list(PROFILES)},
        "additionalProperties": {
            "anyOf": [
                {"type": "null"},
                {"type": "object", "properties": {k: overrides[k] for k in PROFILE_KEYS},
                 "additionalProperties": False},
            ]
        },  # fmt: skip
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/snnrepro/snnrepro/experiments/spec.schema.json",
        "title": "snnrepro experiment spec (experiments/<paper>/<id>.yaml)",
        **top,
        "if": {"required": [EXTENDS_KEY]},
        "then": {"required": ["id"]},
        "else": {"required": required},
    }
