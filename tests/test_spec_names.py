"""Spec validation without torch: the name and model-param lists agree with the registries, loading imports
no torch, and what only the code can check is refused by the build with the same messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from snnrepro import registry
from snnrepro.spec import SpecError, resolve
from snnrepro.spec.check import check_names
from snnrepro.spec.plugin_names import BUILTIN, MODEL_FAMILIES, MODEL_PARAMS, NAMED_ARCHS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_name_lists_equal_the_registries(name: str) -> None:
    assert tuple(getattr(registry, name).names()) == BUILTIN[name], f"update snnrepro/spec/plugin_names.py ({name})"


def test_checking_names_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "from snnrepro.spec import load_spec\n"
        "from snnrepro.spec.check import check_names\n"
        "spec = load_spec('mnist-stdbp-mlp800', check_registry=False)\n"
        "check_names(spec, 'x')\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})


def test_an_unlisted_plugin_name_is_looked_up_in_its_registry() -> None:
    raw = {"id": "x", "paper": "rsn", "table": "T", "row": "r", "dataset": {"name": "digits", "params": {"size": 8}},
           "model": {"family": "relu", "arch": "64-10"}}  # fmt: skip
    spec = resolve(raw, where="x.yaml", check_registry=False)
    spec.loss.name = "plugin_loss"
    with pytest.raises(SpecError, match=r"x\.yaml: loss\.name: unknown loss 'plugin_loss'; registered: cross_entropy"):
        check_names(spec, "x.yaml")
    registry.LOSSES.register("plugin_loss")(lambda: None)
    try:
        check_names(spec, "x.yaml")
    finally:
        registry.LOSSES._table.pop("plugin_loss")


def test_loading_every_committed_spec_imports_no_torch() -> None:
    """Loading and validating a spec (names, model params, architecture syntax) needs no torch, no model code."""
    code = (
        "import sys\n"
        "from snnrepro.spec import PROFILES, load_spec, spec_files\n"
        "for sid in spec_files():\n"
        "    for profile in PROFILES:\n"
        "        load_spec(sid, profile)\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "other = [m for m in sys.modules if m.startswith('snnrepro.') and m.split('.')[1] != 'spec']\n"
        "assert sorted(other) == ['snnrepro.models', 'snnrepro.models.arch'], other  # the planner's parser only\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})


def test_model_param_lists_equal_the_builders() -> None:
    """:data:`MODEL_PARAMS` is each built-in builder's keywords plus its config dataclass's fields."""
    import dataclasses
    import inspect

    from snnrepro.models.brp import BRPNeuronConfig
    from snnrepro.models.lif import RESNETS, LIFNodeConfig
    from snnrepro.neurons.iir import IIRConfig
    from snnrepro.neurons.relpsp import RelPspConfig
    from snnrepro.neurons.resonate import ResonateConfig

    configs = {"relpsp": RelPspConfig, "resonate": ResonateConfig, "iir": IIRConfig, "lif": LIFNodeConfig,
               "brp": BRPNeuronConfig}  # fmt: skip
    assert sorted(MODEL_PARAMS) == list(MODEL_FAMILIES)
    for family in MODEL_FAMILIES:
        params = inspect.signature(registry.MODELS.get(family)).parameters
        own = {n for n, p in params.items() if p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD}
        fields = {f.name for f in dataclasses.fields(configs[family])} if family in configs else set()
        expected = tuple(sorted((own | fields) - {"arch", "input_shape", "num_classes"}))
        assert MODEL_PARAMS[family] == expected, f"update MODEL_PARAMS[{family!r}] in snnrepro/spec/plugin_names.py"
    assert NAMED_ARCHS == {"lif": tuple(RESNETS)}


def test_unknown_model_param_and_unparsable_arch_without_torch() -> None:
    raw = {"id": "x", "paper": "rsn", "table": "T", "row": "r", "dataset": {"name": "digits", "params": {"size": 8}},
           "model": {"family": "relu", "arch": "64-10", "params": {"bogus": 1}}}  # fmt: skip
    with pytest.raises(SpecError, match=r"x\.yaml: model\.params: build\(\) got an unexpected keyword argument 'bog"):
        resolve(raw, where="x.yaml")
    raw["model"] = {"family": "relu", "arch": "64-x-10"}
    with pytest.raises(SpecError, match=r"x\.yaml: model\.arch: token 'x'"):
        resolve(raw, where="x.yaml")


def test_shape_errors_come_from_the_build_with_their_messages() -> None:
    """A shape only the code can check passes loading; ``deep=True`` and the engine's build refuse it alike."""
    import torch

    from snnrepro.data.base import DataBundle
    from snnrepro.engine.build import build
    from snnrepro.spec.deep import dataset_shape

    raw = {"id": "x", "paper": "rsn", "table": "T", "row": "r", "dataset": {"name": "digits", "params": {"size": 8}},
           "model": {"family": "relu", "arch": "6C3-P4-P4-10"}}  # fmt: skip
    spec = resolve(raw, where="x.yaml")  # the second 4x4 pool does not fit the 8x8 image: the shape tells
    with pytest.raises(SpecError, match=r"x\.yaml: model\.arch: relu: pooling .* does not fit a 2x2 map") as deep:
        resolve(raw, where="x.yaml", deep=True)
    shape, classes = dataset_shape(spec, "x.yaml")
    bundle = DataBundle(train=[], test=[], input_shape=shape, num_classes=classes)  # type: ignore[arg-type]
    spec.source = "x.yaml"
    with pytest.raises(SpecError) as engine:
        build(spec, bundle, torch.device("cpu"))
    assert str(engine.value) == str(deep.value)


@pytest.mark.parametrize(
    ("mutation", "phrase"),
    [
        ({"model": {"family": "relu", "arch": "6C3-P4-P4-10"}}, "model.arch: relu: pooling"),
        ({"dataset": {"name": "digits", "params": {"size": -1}}}, "dataset.params: ValueError: digits"),
        ({"rule": {"name": "backprop", "params": {"x": 1}}}, "rule.params: Backprop takes no"),
        ({"analyses": [{"name": "silent_neurons", "params": {"bogus": 1}}]}, "analyses[0].params"),
    ],
)
def test_fit_refuses_what_loading_cannot_check_before_writing(tmp_path: Path, mutation: dict, phrase: str) -> None:
    """``engine.fit`` on a spec loaded without the deep check: the same SpecError, and no file written."""
    import torch

    from snnrepro.engine.fit import fit

    raw = {"id": "x", "paper": "rsn", "table": "T", "row": "r", "dataset": {"name": "digits", "params": {"size": 8}},
           "model": {"family": "relu", "arch": "64-10"}, **mutation}  # fmt: skip
    spec = resolve(raw, where="x.yaml", profile="smoke")
    with pytest.raises(SpecError) as exc:
        fit(spec, 0, torch.device("cpu"), tmp_path / "results", tmp_path / "data")
    assert str(exc.value).startswith("x.yaml: ") and phrase in str(exc.value)
    with pytest.raises(SpecError) as deep:
        resolve(raw, where="x.yaml", profile="smoke", deep=True)
    assert str(deep.value) == str(exc.value)
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").rglob("*"))
