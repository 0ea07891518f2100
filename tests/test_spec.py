"""Spec loading: schema, profiles, overrides and the error messages users see."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from snnrepro.spec import SpecError, load_spec, parse_set, resolve, spec_files

BASE = {
    "id": "digits-test",
    "paper": "stdbp",
    "table": "Table 1",
    "row": "test row",
    "reported": 98.1,
    "dataset": {"name": "digits", "params": {"size": 8}},
    "model": {"family": "relu", "arch": "64-32-10"},
    "train": {"epochs": 7, "batch_size": 32, "seeds": 3},
    "profiles": {"quick": {"train": {"epochs": 2}}, "smoke": {"dataset": {"params": {"size": 8}}}},
}


def res(raw: dict, **kw) -> object:
    return resolve(raw, where="t.yaml", check_registry=False, **kw)


def test_full_profile_is_the_spec_as_written() -> None:
    spec = res(BASE)
    assert spec.train.epochs == 7 and spec.train.seeds == 3 and spec.profile == "full"
    assert spec.optimizer.name == "adam" and spec.rule.name == "backprop"


def test_quick_and_smoke_override_budget_only() -> None:
    quick = res(BASE, profile="quick")
    smoke = res(BASE, profile="smoke")
    assert quick.train.epochs == 2 and quick.train.seeds == 1
    assert smoke.train.max_batches == 1 and smoke.train.epochs == 1
    assert quick.model == res(BASE).model and smoke.optimizer == res(BASE).optimizer
    assert quick.hash() != res(BASE).hash()


def test_profile_may_not_change_the_method() -> None:
    bad = {**BASE, "profiles": {"quick": {"model": {"arch": "64-10"}}}}
    with pytest.raises(SpecError, match=r"profiles\.quick\.model: a profile may only change train and dataset"):
        res(bad)


def test_profile_dataset_switch_replaces_params() -> None:
    raw = {**BASE, "dataset": {"name": "mnist", "params": {"augment": True}}}
    raw["profiles"] = {"quick": {"dataset": {"name": "digits", "params": {"size": 28}}}}
    spec = res(raw, profile="quick")
    assert spec.dataset.name == "digits" and spec.dataset.params == {"size": 28}


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        ({"trian": {}}, r"t\.yaml: trian: unknown key"),
        ({"train": {"epochs": "many"}}, r"train\.epochs: expected an integer, got 'many'"),
        ({"train": {"epochs": 0}}, r"train\.epochs: expected a positive integer"),
        ({"reported": 140}, r"reported: expected a percentage"),
        ({"paper": "nope"}, r"paper: unknown paper 'nope'"),
        ({"model": {"arch": "64-10"}}, r"model\.family: required key is missing"),
        ({"optimizer": {"name": "rmsprop"}}, r"optimizer\.name: expected adam, adamw or sgd"),
        ({"optimizer": {"lr": "1e-3x"}}, r"optimizer\.lr: expected a number"),
        ({"schedule": {"name": "cosine", "t_0": 3}}, r"schedule\.t_0: unknown key"),
        ({"analyses": [{"nam": "x"}]}, r"analyses\[0\]\.nam: unknown key"),
        ({"profiles": [1]}, r"profiles: expected a mapping of profile name"),
        ({"profiles": {"quick": 3}}, r"profiles\.quick: expected a mapping"),
        ({"profiles": {"quick": {"dataset": True}}}, r"profiles\.quick\.dataset: expected a mapping, got bool"),
    ],
)
def test_errors_name_file_key_and_expectation(mutation: dict, message: str) -> None:
    raw = {**BASE, **mutation}
    with pytest.raises(SpecError, match=message):
        res(raw, profile="quick" if "profiles" in mutation else "full")


@pytest.mark.parametrize(
    ("mutation", "key", "message"),
    [
        # an unknown key is met before any field's value at its level (pydantic reports the field first)
        ({"train": {"epochs": "many", "bogus": 1}}, "train.bogus", "unknown key; allowed keys here: amp, batch_size"),
        # fields in their declared order: dataset comes before model, whatever order the file has
        ({"model": {"arch": "64-10"}, "dataset": 3}, "dataset", "expected a mapping, got 3"),
        ({"optimizer": {"betas": [0.9, "x"], "lr": "y"}}, "optimizer.lr", "expected a number, got 'y'"),
        ({"optimizer": {"betas": [0.9, "x"]}}, "optimizer.betas[1]", "expected a number, got 'x'"),
        # depth first: the first field's deepest problem before the next field's
        ({"dataset": {"name": "digits", "params": {1: 2}}, "train": {"epochs": "x"}}, "dataset.params",
         "expected a mapping with string keys"),
        # the loader fills `profile` and `source`: a file may not
        ({"source": "x.yaml"}, "source", "unknown key; allowed keys here: analyses, baseline"),
    ],
)
def test_the_first_problem_in_reading_order_is_the_one_reported(mutation: dict, key: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        res({**BASE, **mutation})
    assert err.value.key == key and message in str(err.value), str(err.value)


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        ({"train": {"epochs": 7.0}}, r"train\.epochs: expected an integer, got 7\.0"),
        ({"train": {"epochs": "7"}}, r"train\.epochs: expected an integer, got '7'"),
        ({"train": {"deterministic": 1}}, r"train\.deterministic: expected true/false, got 1"),
        ({"optimizer": {"lr": True}}, r"optimizer\.lr: expected a number, got True"),
        ({"optimizer": {"lr": "inf"}}, r"optimizer\.lr: expected a finite number, got 'inf'"),
        ({"optimizer": {"lr": 10**400}}, r"optimizer\.lr: expected a finite number"),
        ({"reported": "high"}, r"reported: expected a number or null, got 'high'"),
        ({"schedule": {"milestones": {10, 20}}}, r"schedule\.milestones: expected a list of an integer"),
        ({"analyses": ["energy", 3]}, r"analyses\[1\]: expected a mapping, got 3"),
    ],
)
def test_values_are_strictly_typed(mutation: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        res({**BASE, **mutation})


def test_numbers_names_and_texts_are_converted_as_yaml_writes_them() -> None:
    spec = res({**BASE, "table": 2, "reported": 98, "encoder": "latency", "analyses": ["energy"],
                "optimizer": {"lr": 1, "betas": ["0.9", 0]}})  # fmt: skip
    assert spec.table == "2" and spec.reported == 98.0 and type(spec.reported) is float
    assert spec.encoder.name == "latency" and spec.encoder.params == {} and spec.analyses[0].name == "energy"
    assert spec.optimizer.lr == 1.0 and spec.optimizer.betas == [0.9, 0.0]
    assert all(type(b) is float for b in spec.optimizer.betas)


def test_yaml_scientific_notation_strings_are_numbers() -> None:
    spec = res({**BASE, "optimizer": {"name": "adamw", "lr": "1e-3", "weight_decay": "1e-4"}})
    assert spec.optimizer.lr == pytest.approx(1e-3) and spec.optimizer.weight_decay == pytest.approx(1e-4)


def test_set_overrides_are_validated_like_the_file() -> None:
    spec = res(BASE, overrides=parse_set(["train.epochs=3", "model.params.threshold=1.5", "optimizer.lr=0.01"]))
    assert spec.train.epochs == 3 and spec.model.params == {"threshold": 1.5} and spec.optimizer.lr == 0.01
    with pytest.raises(SpecError, match=r"train\.epochs: expected an integer"):
        res(BASE, overrides=parse_set(["train.epochs=abc"]))
    with pytest.raises(SpecError, match="expected key.sub=value"):
        parse_set(["train.epochs"])


def test_unknown_id_suggests_close_matches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "stdbp").mkdir()
    (tmp_path / "stdbp" / "digits-test.yaml").write_text(yaml.safe_dump(BASE))
    monkeypatch.setenv("SNNREPRO_EXPERIMENTS", str(tmp_path))
    assert "digits-test" in spec_files()
    with pytest.raises(SpecError, match="did you mean digits-test"):
        load_spec("digits-tset")


def test_malformed_yaml_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: [unclosed\n")
    with pytest.raises(SpecError, match=r"bad\.yaml: not valid YAML"):
        load_spec(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(SpecError, match="mapping at the top level"):
        load_spec(bad)


def test_every_committed_spec_validates_in_every_profile() -> None:
    files = spec_files()
    assert files, "no specs under experiments/"
    for sid, path in files.items():
        for profile in ("full", "quick", "smoke"):
            spec = load_spec(path, profile=profile, deep=True)  # built on the meta device too
            assert spec.id == sid
