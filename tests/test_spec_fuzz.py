"""Fuzz the spec loader: any YAML document or mutation of a real spec ends in a SpecError that names the file
and a key the document has (or the spec schema has), or in a valid spec whose every field has its declared
type and passes the loader's own range rules; nothing else.  A valid mutant differs from the unmutated spec
only in the part that was mutated."""

from __future__ import annotations

import copy
import dataclasses
import re
import types
import typing
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnrepro.spec import PAPERS, PROFILES, Spec, SpecError, read_yaml, resolve, spec_files

scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=True) | st.text(max_size=12)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
REAL = {sid: read_yaml(path) for sid, path in spec_files().items()}
WHERE = "fuzz.yaml"
SPEC_KEYS = {f.name for f in dataclasses.fields(Spec)} - {"profile", "source"}
#: top-level keys whose value can make another top-level key's check fail: the dataset's shape decides whether
#: the model builds; a profile overrides train and dataset (and so, again, the model).
AFFECTS = {"dataset": {"dataset", "model"}, "profiles": {"profiles", "train", "dataset", "model"}}


def _has_type(value: Any, tp: Any) -> bool:
    """Whether ``value`` is of the (resolved) annotation ``tp``: the types the loader promises."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, arg) for arg in typing.get_args(tp))
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = dataclasses.fields(tp)
        return type(value) is tp and all(_has_type(getattr(value, f.name), hints[f.name]) for f in fields)
    if origin is list:
        return isinstance(value, list) and all(_has_type(v, typing.get_args(tp)[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    if tp is Any:
        return True
    if tp is type(None):
        return value is None
    return type(value) is tp  # bool is not an int here, an int is not a float (the loader converts)


def _check_valid(spec: Spec, profile: str) -> None:
    assert _has_type(spec, Spec), spec
    assert spec.profile == profile and spec.source == WHERE
    assert spec.paper in PAPERS and spec.metric in ("test_acc", "best_test_acc")
    assert spec.reported is None or 0.0 <= spec.reported <= 100.0
    assert spec.tolerance >= 0 and spec.optimizer.lr > 0
    t = spec.train
    assert min(t.epochs, t.batch_size, t.eval_batch_size, t.seeds) >= 1
    assert all(v is None or v >= 1 for v in (t.train_subset, t.test_subset, t.max_batches, t.max_eval_batches))
    assert re.fullmatch(r"[0-9a-f]{12}", spec.hash())


def _under(key: str, tops: set[str]) -> bool:
    """Whether the error's key path ``key`` lies under one of the top-level keys ``tops``."""
    return any(key == k or key.startswith((k + ".", k + "[")) for k in tops)


def _check_error(exc: SpecError, raw: Any) -> None:
    assert exc.where == WHERE and str(exc).startswith(WHERE + ": "), str(exc)
    if not isinstance(raw, dict):
        assert exc.key == "" and "mapping" in str(exc), str(exc)
        return
    assert exc.key or "" in raw, str(exc)  # a mapping's error names the key (only "" may be unnamed)
    assert _under(exc.key, SPEC_KEYS | {k for k in raw if isinstance(k, str)}), (exc.key, str(exc))


def resolve_or_error(raw: Any, profile: str = "full") -> Spec | SpecError:
    """The spec or the SpecError, each checked as above; any other exception fails the test."""
    try:
        spec = resolve(raw, where=WHERE, profile=profile)
    except SpecError as exc:
        _check_error(exc, raw)
        return exc
    _check_valid(spec, profile)
    return spec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents)
def test_random_documents(doc: Any) -> None:
    resolve_or_error(doc)


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
    added = None
    if action == "replace":
        node[last] = data.draw(documents)
    elif action == "delete":
        del node[last]
    elif isinstance(node, dict):
        added = data.draw(st.text(max_size=8))
        node[added] = data.draw(documents)
    profile = data.draw(st.sampled_from(PROFILES))
    original = resolve(copy.deepcopy(REAL[sid]), where=WHERE, profile=profile)
    top = path[0] if len(path) > 1 or added is None else added
    touched = AFFECTS.get(top, {top})
    result = resolve_or_error(raw, profile)
    if isinstance(result, SpecError):
        # the error is about the mutated part (or what it feeds), not some other key of a valid spec
        assert _under(result.key, touched), (path, action, str(result))
    else:
        for name in SPEC_KEYS - touched:
            assert getattr(result, name) == getattr(original, name), (path, action, name)


KINDS = (None, True, 0, -1, 0.5, "x", [], {"x": 1})
#: one spec per paper (ones that resolve in milliseconds: assoc-iir builds its pattern memory at init)
PICKS = ("mnist-rsn-mlp", "mnist-stdbp-mlp400", "mnist-brp-cnn", "mnist-bpsta-small-baseline", "fsdd-iir-mlp")


def test_every_key_of_one_spec_per_paper_replaced_by_each_kind_of_value() -> None:
    """The exhaustive counterpart of the random mutations: every key path of one spec per paper, deleted or
    replaced by each kind of YAML value, gives a checked valid spec (equal elsewhere) or a SpecError naming it."""
    assert sorted(REAL[sid]["paper"] for sid in PICKS) == sorted(PAPERS)
    valid = errors = 0
    for sid in PICKS:
        original = resolve(copy.deepcopy(REAL[sid]), where=WHERE)
        for path in _paths(REAL[sid])[1:]:
            for value in (*KINDS, "delete"):
                raw = copy.deepcopy(REAL[sid])
                node = raw
                for key in path[:-1]:
                    node = node[key]
                if value == "delete":
                    del node[path[-1]]
                else:
                    node[path[-1]] = copy.deepcopy(value)
                touched = AFFECTS.get(path[0], {path[0]})
                result = resolve_or_error(raw)
                if isinstance(result, SpecError):
                    errors += 1
                    assert _under(result.key, touched), (sid, path, value, str(result))
                else:
                    valid += 1
                    for name in SPEC_KEYS - touched:
                        assert getattr(result, name) == getattr(original, name), (sid, path, value, name)
    assert valid > 50 and errors > 500, (valid, errors)


def test_checks_refuse_what_they_should() -> None:
    """The checks above are not vacuous: a wrong type, a missing key and an unknown key each fail them."""
    sid = sorted(REAL)[0]
    spec = resolve(copy.deepcopy(REAL[sid]), where=WHERE)
    assert _has_type(spec, Spec)
    assert not _has_type(dataclasses.replace(spec, tolerance=1), Spec)  # an int where a float belongs
    assert not _has_type(dataclasses.replace(spec, train=dataclasses.replace(spec.train, epochs=True)), Spec)
    assert not _has_type(dataclasses.replace(spec, notes=None), Spec)
    for mutate, key in ((lambda r: r.pop("dataset"), "dataset"), (lambda r: r.update(bogus=1), "bogus"),
                        (lambda r: r["train"].update(epochs="ten"), "train.epochs")):  # fmt: skip
        raw = copy.deepcopy(REAL[sid])
        raw.setdefault("train", {})
        mutate(raw)
        err = resolve_or_error(raw)
        assert isinstance(err, SpecError) and err.key == key, err
    assert isinstance(resolve_or_error([1, 2]), SpecError)


def test_yaml_round_trip_of_every_real_spec_is_valid() -> None:
    for sid, raw in REAL.items():
        spec = resolve(yaml.safe_load(yaml.safe_dump(raw)), where=sid)
        assert spec.id == sid
        assert spec == resolve(copy.deepcopy(raw), where=sid)
        assert _has_type(spec, Spec)
