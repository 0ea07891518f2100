"""Profiles and overrides: the budget a profile (``full``, ``quick``, ``smoke``) sets, and ``--set``.

A profile changes budget keys only (``train.*`` and ``dataset.*``), never the method; ``--set key=value``
overrides anything, its values read as YAML.
"""

from __future__ import annotations

import copy
from typing import Any

from snnrepro.spec.errors import SpecError
from snnrepro.spec.yaml_file import load_yaml_text

PROFILES = ("full", "quick", "smoke")
#: keys a profile (or the CLI's --profile) may change; everything else is the method.
PROFILE_KEYS = ("train", "dataset")

#: budget defaults each profile starts from before the spec's own ``profiles.<name>``.
PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    "full": {},
    "quick": {"train": {"epochs": 5, "seeds": 1, "train_subset": 10000, "test_subset": 2000}},
    "smoke": {
        "train": {
            "epochs": 1,
            "seeds": 1,
            "max_batches": 1,
            "max_eval_batches": 1,
            "batch_size": 4,
            "eval_batch_size": 8,
            "train_subset": 8,
            "test_subset": 8,
        }
    },
}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "params":
            out[k] = deep_merge(out[k], v)
        elif isinstance(v, dict) and isinstance(out.get(k), dict) and k == "params":
            out[k] = {**out[k], **copy.deepcopy(v)}
        else:
            out[k] = copy.deepcopy(v)
    return out


def profile_overrides(raw: dict[str, Any], profile: str, where: str) -> dict[str, Any]:
    if profile not in PROFILES:
        raise SpecError(where, "profile", f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    over = deep_merge(PROFILE_DEFAULTS[profile], (raw.get("profiles") or {}).get(profile) or {})
    bad = sorted(set(over) - set(PROFILE_KEYS))
    if bad:
        raise SpecError(
            where, f"profiles.{profile}.{bad[0]}", f"a profile may only change {' and '.join(PROFILE_KEYS)}"
        )
    for key, value in over.items():
        if not isinstance(value, dict):
            raise SpecError(where, f"profiles.{profile}.{key}", f"expected a mapping, got {type(value).__name__}")
    # a dataset switch in a profile replaces the dataset's params instead of merging into them
    if (
        "dataset" in over
        and "name" in over["dataset"]
        and over["dataset"]["name"] != (raw.get("dataset") or {}).get("name")
    ):
        over["dataset"].setdefault("params", {})
        over["dataset"]["__replace__"] = True
    return over


def parse_set(assignments: list[str], where: str = "--set") -> dict[str, Any]:
    """``["train.epochs=3", "model.params.T=8"]`` -> nested dict; values parsed as YAML."""
    out: dict[str, Any] = {}
    for item in assignments:
        if "=" not in item:
            raise SpecError(where, item, "expected key.sub=value")
        path, _, text = item.partition("=")
        keys = [k for k in path.strip().split(".") if k]
        if not keys:
            raise SpecError(where, item, "empty key")
        value = load_yaml_text(text, where, path)
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise SpecError(where, path, "conflicts with another --set")
        node[keys[-1]] = value
    return out


def apply_overrides(raw: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    over = copy.deepcopy(over)
    ds = over.get("dataset")
    if isinstance(ds, dict) and ds.pop("__replace__", False):
        raw = {**raw, "dataset": {"name": ds["name"], "params": ds.get("params", {})}}
        over.pop("dataset")
    return deep_merge(raw, over)

