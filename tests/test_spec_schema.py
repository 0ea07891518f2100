"""The published JSON Schema of spec files: current, and it accepts every spec in experiments/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from snnrepro.cli import app
from snnrepro.spec import experiments_dir, spec_files
from snnrepro.spec.schema import spec_schema
from snnrepro.spec.yaml_file import read_yaml_file

COMMITTED = Path(__file__).resolve().parent.parent / "experiments" / "spec.schema.json"
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer", "number"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok and (kind == "number" or isinstance(value, int))
    return isinstance(value, TYPES[kind])


def errors(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """A small validator for the keywords the spec schema uses (no jsonschema dependency)."""
    out: list[str] = []
    kinds = schema.get("type")
    if kinds is not None and not any(_is(value, k) for k in ([kinds] if isinstance(kinds, str) else kinds)):
        return [f"{path}: not {kinds}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} not in enum")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        out.append(f"{path}: {value!r} does not match")
    if "minimum" in schema and _is(value, "number") and value < schema["minimum"]:
        out.append(f"{path}: below minimum")
    if "maximum" in schema and _is(value, "number") and value > schema["maximum"]:
        out.append(f"{path}: above maximum")
    if "anyOf" in schema and all(errors(value, s, path) for s in schema["anyOf"]):
        out.append(f"{path}: matches no branch")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                out.append(f"{path}.{key}: required")
        for key, v in value.items():
            if "propertyNames" in schema:
                out += errors(key, schema["propertyNames"], f"{path}.{key} (name)")
            if key in props:
                out += errors(v, props[key], f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{path}.{key}: unknown key")
            elif isinstance(schema.get("additionalProperties"), dict):
                out += errors(v, schema["additionalProperties"], f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            out += errors(v, schema["items"], f"{path}[{i}]")
    if "if" in schema:
        out += errors(value, schema["then" if not errors(value, schema["if"], path) else "else"], path)
    return out


def test_the_committed_schema_is_current() -> None:
    res = CliRunner().invoke(app, ["schema"], catch_exceptions=False)
    assert res.exit_code == 0
    assert json.loads(res.stdout) == spec_schema()
    assert COMMITTED.read_text() == res.stdout, "regenerate it: snnrepro schema > experiments/spec.schema.json"


def test_every_spec_file_as_written_matches_the_schema() -> None:
    schema = spec_schema()
    files = spec_files(experiments_dir())
    assert files
    for sid, path in files.items():
        assert errors(read_yaml_file(path), schema) == [], sid


@pytest.mark.parametrize(
    ("doc", "phrase"),
    [
        ({"id": "x", "extends": "y", "trian": {}}, ".trian: unknown key"),
        ({"id": "x", "paper": "rsn", "table": "T", "row": "r", "dataset": "mnist"}, ".model: required"),
        ({"id": "X", "extends": "y"}, ".id: 'X' does not match"),
        ({"id": "x", "extends": "y", "encoder": "morse"}, ".encoder: matches no branch"),
        ({"id": "x", "extends": "y", "train": {"epochs": 0}}, ".train.epochs: below minimum"),
        ({"id": "x", "extends": "y", "profiles": {"huge": {}}}, ".profiles.huge (name): 'huge' not in enum"),
        ({"id": "x", "extends": "y", "profiles": {"quick": {"model": {}}}}, "matches no branch"),
        ({"extends": "y"}, ".id: required"),
    ],
)
def test_the_schema_refuses_what_the_loader_refuses(doc: dict[str, Any], phrase: str) -> None:
    assert any(phrase in e for e in errors(doc, spec_schema())), errors(doc, spec_schema())
