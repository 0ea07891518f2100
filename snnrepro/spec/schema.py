"""A JSON Schema (draft 2020-12) of spec files: pydantic's schema of the types the loader validates with.

``snnrepro schema`` prints it; ``experiments/spec.schema.json`` is the committed copy (a test checks it
is current), for editors (e.g. ``# yaml-language-server: $schema=../spec.schema.json`` atop a spec).
The schema describes what a file may contain; the loader (:mod:`snnrepro.spec`) stays the authority:
it also checks what a schema cannot say (an architecture string that does not parse, a model param the
family does not take; with the engine's build, :mod:`snnrepro.spec.deep`, an architecture the family
cannot build or a parameter the encoder refuses) and gives the precise one-line messages.
"""

from __future__ import annotations

from typing import Any

from snnrepro.spec.classes import ID_PATTERN, NON_YAML_FIELDS, PAPERS
from snnrepro.spec.convert import spec_adapter
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


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with every ``{"$ref": "#/$defs/X"}`` replaced by a copy of ``X`` (a key path's constraints
    differ where two paths share a class: ``encoder.name`` and ``loss.name`` are both a Component's name)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**_inline(defs[ref.rsplit("/", 1)[1]], defs), **_inline(rest, defs)}
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _tidy(node: dict[str, Any], path: str) -> dict[str, Any]:
    """pydantic's schema of the key path ``path``, narrowed by :data:`CONSTRAINTS` and described by
    :data:`_FIELD_DOCS`, without titles.  Nested keys are not marked required: a file that ``extends:``
    another states only what differs (the top level's required keys are checked in :func:`spec_schema`)."""
    out = {k: v for k, v in node.items() if k != "title" and not (k == "required" and path)}
    if "anyOf" in out:  # `encoder: latency` is short for `encoder: {name: latency}`: the name's constraints
        name = CONSTRAINTS.get(f"{path}.name" if path else "name", {})
        out["anyOf"] = [_only(b, name) if b == {"type": "string"} else _tidy(b, path) for b in out["anyOf"]]
    if "items" in out:
        out["items"] = _tidy(out["items"], f"{path}[]")
    if "properties" in out:
        props = {}
        for key, prop in out["properties"].items():
            if key in NON_YAML_FIELDS:
                continue
            sub = f"{path}.{key}" if path else key
            prop = _only(_tidy(prop, sub), CONSTRAINTS.get(sub, {}))
            doc = _FIELD_DOCS.get(sub)
            props[key] = {"description": doc, **prop} if doc else prop
        out["properties"] = props
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
    """The JSON Schema of a spec file (``extends:`` included: a child needs only its ``id``), from
    pydantic's schema of :class:`Spec`, the same types the loader validates with."""
    derived = spec_adapter().json_schema()
    top = _tidy(_inline(derived, derived.pop("$defs", {})), "")
    required = [k for k in top.pop("required") if k not in NON_YAML_FIELDS]
    top.pop("description", None)
    top["properties"] = {
        EXTENDS_KEY: {
            "description": "the parent spec: a spec id or a .yaml path relative to this file; this file's keys "
            "are merged into it (mappings recursively, lists and scalars replaced)",
            "type": "string",
        },
        **top["properties"],
    }
    train = top["properties"]["train"]
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
