"""Spec validation's name checks: the torch-free name lists agree with the registries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from snnrepro import registry
from snnrepro.plugin_names import BUILTIN
from snnrepro.spec import SpecError, resolve
from snnrepro.spec_check import check_names

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_name_lists_equal_the_registries(name: str) -> None:
    assert tuple(getattr(registry, name).names()) == BUILTIN[name], f"update snnrepro/plugin_names.py ({name})"


def test_checking_names_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "from snnrepro.spec import load_spec\n"
        "from snnrepro.spec_check import check_names\n"
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
