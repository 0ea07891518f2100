"""Spec inheritance (``extends:``): merge semantics, chains, refusals, unchanged hashes, ``show``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import digits_spec
from typer.testing import CliRunner

from snnrepro.cli import app
from snnrepro.spec import PROFILES, SpecError, load_spec, read_yaml, resolve, spec_files, spec_parents
from snnrepro.spec.extends import merge

#: the hashes (per profile) of every spec in experiments/ written with ``extends:``, computed from the
#: files before they were rewritten: the merged spec must hash exactly as the flat file did
PINNED = json.loads((Path(__file__).parent / "spec_extends_hashes.json").read_text())


def _write(folder: Path, name: str, data: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def exp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private experiments folder with one parent spec, ``rsn/base``."""
    root = tmp_path / "experiments"
    monkeypatch.setenv("SNNREPRO_EXPERIMENTS", str(root))
    monkeypatch.setenv("SNNREPRO_RESULTS", str(tmp_path / "results"))
    base = digits_spec("base")
    base["analyses"] = [{"name": "silent_neurons"}]
    base["profiles"] = {"quick": {"train": {"epochs": 1, "batch_size": 16}}}
    _write(root / "rsn", "base", base)
    return root


def test_merge_mappings_recursively_and_replaces_lists_and_scalars() -> None:
    parent = {"a": 1, "m": {"x": 1, "p": {"k": 1, "j": 2}}, "l": [1, 2], "n": 5}
    child = {"a": 2, "m": {"p": {"j": 3}, "y": 2}, "l": [3], "n": None}
    out = merge(parent, child)
    assert out == {"a": 2, "m": {"x": 1, "p": {"k": 1, "j": 3}, "y": 2}, "l": [3], "n": None}
    assert parent == {"a": 1, "m": {"x": 1, "p": {"k": 1, "j": 2}}, "l": [1, 2], "n": 5}  # inputs untouched
    assert merge(parent, {"l": {"now": "a mapping"}})["l"] == {"now": "a mapping"}


def test_child_states_only_what_differs(exp: Path) -> None:
    nested = {"id": "nested", "extends": "base", "model": {"params": {"hidden": {"a": 1, "b": 2}}}}
    _write(exp / "rsn", "nested", nested)
    child = {"id": "child", "extends": "nested", "row": "child row",
             "model": {"params": {"hidden": {"b": 3}}}, "train": {"epochs": 9},
             "analyses": [], "profiles": {"quick": {"train": {"epochs": 2}}}}  # fmt: skip
    path = _write(exp / "rsn", "child", child)
    spec = load_spec("child", check_registry=False)  # relu takes no `hidden`: the merge is what is tested
    assert spec.id == "child" and spec.row == "child row" and spec.table == "Table 3"
    assert spec.model.params == {"hidden": {"a": 1, "b": 3}}  # params merged key by key, recursively
    assert spec.train.epochs == 9 and spec.train.batch_size == 64 and spec.analyses == []
    quick = load_spec("child", profile="quick", check_registry=False)
    assert quick.train.epochs == 2 and quick.train.batch_size == 16
    assert spec_parents(path) == [exp / "rsn" / "nested.yaml", exp / "rsn" / "base.yaml"]
    assert "extends" not in read_yaml(path)


def test_the_merged_spec_hashes_as_the_same_spec_written_out(exp: Path, tmp_path: Path) -> None:
    child = {"id": "child", "extends": "base", "model": {"arch": "64-16-10"}}
    _write(exp / "rsn", "child", child)
    flat = merge(read_yaml(exp / "rsn" / "base.yaml"), child)
    flat.pop("extends")
    flat_path = _write(tmp_path / "elsewhere", "child", flat)
    for profile in PROFILES:
        assert load_spec("child", profile).hash() == load_spec(flat_path, profile).hash()
        assert load_spec("child", profile).to_dict() == load_spec(flat_path, profile).to_dict()


def test_relative_paths_and_chains(exp: Path) -> None:
    _write(exp / "iir", "mid", {"id": "mid", "extends": "../rsn/base.yaml", "paper": "iir", "train": {"seeds": 2}})
    _write(exp / "iir", "leaf", {"id": "leaf", "extends": "mid.yaml", "train": {"epochs": 4}})
    spec = load_spec("leaf")
    assert (spec.paper, spec.train.seeds, spec.train.epochs, spec.train.batch_size) == ("iir", 2, 4, 64)
    assert spec_parents(exp / "iir" / "leaf.yaml") == [exp / "iir" / "mid.yaml", exp / "rsn" / "base.yaml"]


def test_a_child_must_state_its_own_id(exp: Path) -> None:
    path = _write(exp / "rsn", "child", {"extends": "base", "row": "no id"})
    with pytest.raises(SpecError, match=r"child\.yaml: id: required key is missing \(a spec that extends"):
        load_spec(path)


@pytest.mark.parametrize(
    ("ref", "phrase"),
    [
        ("nope", "extends: parent spec 'nope' not found"),
        ("nope.yaml", "extends: parent spec file 'nope.yaml' not found"),
        ("../../../etc/passwd", "extends: parent spec '../../../etc/passwd' not found"),
        ("", "extends: expected a relative path to a .yaml file or a spec id"),
        (["base"], "extends: expected a relative path"),
    ],
)
def test_a_missing_parent_is_named(exp: Path, ref: object, phrase: str) -> None:
    path = _write(exp / "rsn", "child", {"id": "child", "extends": ref})
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}: ") and phrase in str(info.value) and "\n" not in str(info.value)


def test_cycles_are_refused_naming_the_files(exp: Path) -> None:
    a = _write(exp / "rsn", "a", {"id": "a", "extends": "b"})
    b = _write(exp / "rsn", "b", {"id": "b", "extends": "a.yaml"})
    with pytest.raises(SpecError) as info:
        load_spec("a")
    msg = str(info.value)
    assert "extends: extends itself through a cycle" in msg and f"{a} -> {b} -> {a}" in msg and "\n" not in msg
    self_loop = _write(exp / "rsn", "me", {"id": "me", "extends": "me"})
    with pytest.raises(SpecError, match="cycle"):
        load_spec(self_loop)


def test_the_merged_spec_is_validated_and_errors_name_the_child(exp: Path) -> None:
    path = _write(exp / "rsn", "child", {"id": "child", "extends": "base", "train": {"epochs": 0}})
    with pytest.raises(SpecError, match=rf"^{path}: train\.epochs: expected a positive integer"):
        load_spec(path)
    bad_parent = _write(exp / "rsn", "broken", {"id": "broken", "extends": "base", "train": {"epoch": 3}})
    _write(exp / "rsn", "child2", {"id": "child2", "extends": "broken"})
    with pytest.raises(SpecError, match=r"child2\.yaml: train\.epoch: unknown key"):
        load_spec("child2")
    assert bad_parent.exists()


def test_extends_only_in_files() -> None:
    raw = {**digits_spec("x"), "extends": "base"}
    with pytest.raises(SpecError, match="x.yaml: extends: only a spec file may extend another"):
        resolve(raw, where="x.yaml", check_registry=False)
    with pytest.raises(SpecError, match="extends: only a spec file"):
        resolve(digits_spec("x"), where="x.yaml", overrides={"extends": "base"}, check_registry=False)


def test_show_prints_the_merged_spec(exp: Path) -> None:
    _write(exp / "rsn", "child", {"id": "child", "extends": "base", "train": {"epochs": 9}})
    res = CliRunner().invoke(app, ["show", "child"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    shown = yaml.safe_load(res.stdout)
    expected = load_spec("child").to_dict()
    expected.pop("profile")
    assert shown == expected and "extends" not in shown and shown["train"]["epochs"] == 9
    assert "base.yaml" in " ".join(res.stderr.split()).replace(" ", "")  # the parent is named (rich may wrap it)


def test_converted_specs_keep_their_hashes() -> None:
    """Every spec in experiments/ written with ``extends:`` hashes (per profile) as its flat file did.

    A deliberate change of a spec (or of its parent) re-pins its hashes here, in the same commit; its earlier
    records then no longer count for the row (mnist-stdbp-mlp800: silent_slope 10, then 1, 2026-12-06)."""
    files = spec_files()
    with_parents = {sid for sid, path in files.items() if spec_parents(path)}
    assert with_parents == set(PINNED), "a spec gained or lost extends: pin its hashes in spec_extends_hashes.json"
    for sid, hashes in PINNED.items():
        for profile, expected in hashes.items():
            assert load_spec(files[sid], profile, check_registry=False).hash() == expected, (sid, profile)
