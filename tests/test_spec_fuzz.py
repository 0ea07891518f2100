"""Fuzz the spec loader: any YAML document or mutation of a real spec ends in a SpecError or a valid spec."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnrepro.spec import SpecError, read_yaml, resolve, spec_files

scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=12)
documents = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
REAL = {sid: read_yaml(path) for sid, path in spec_files().items()}


def must_not_crash(raw: Any, profile: str = "full") -> None:
    try:
        resolve(raw, where="fuzz.yaml", profile=profile)
    except SpecError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents)
def test_random_documents(doc: Any) -> None:
    must_not_crash(doc)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutations_of_real_specs(data: st.DataObject) -> None:
    sid = data.draw(st.sampled_from(sorted(REAL)))
    raw = copy.deepcopy(REAL[sid])
    path = data.draw(st.sampled_from(_paths(raw)[1:]))
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    node = raw
    for key in path[:-1]:
        node = node[key]
    last = path[-1]
    if action == "replace":
        node[last] = data.draw(documents)
    elif action == "delete":
        del node[last]
    elif isinstance(node, dict):
        node[data.draw(st.text(max_size=8))] = data.draw(documents)
    profile = data.draw(st.sampled_from(["full", "quick", "smoke"]))
    must_not_crash(raw, profile)


def test_yaml_round_trip_of_every_real_spec_is_valid() -> None:
    for sid, raw in REAL.items():
        spec = resolve(yaml.safe_load(yaml.safe_dump(raw)), where=sid)
        assert spec.id == sid
