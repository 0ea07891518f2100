"""Shared test helpers: small real-data (digits) specs and a private experiments/results/data folder.

Without CUDA, ``TRITON_INTERPRET=1`` is set here, before anything imports ``triton`` (``torch._dynamo``
does, through ``snnrepro.engine``): Triton's CPU interpreter is chosen at that import, and
``tests/test_lif_triton.py`` runs the LIF Triton kernels in it.  With CUDA that file runs itself in a
child process instead, so that ``tests/test_gpu.py`` gets compiled kernels.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from snnrepro.engine.fit import ProgressSink


def digits_spec(spec_id: str, paper: str = "rsn", arch: str = "64-32-10", **train: Any) -> dict[str, Any]:
    """A tiny ANN spec on scikit-learn's digits (real data, always present) with the given train keys."""
    return {
        "id": spec_id,
        "paper": paper,
        "table": "Table 3",
        "row": f"{spec_id} test row",
        "dataset": {"name": "digits", "params": {"size": 8}},
        "model": {"family": "relu", "arch": arch},
        "optimizer": {"name": "adam", "lr": 0.01},
        "train": {"epochs": 2, "batch_size": 64, "seeds": 1, **train},
    }


@pytest.fixture
def spec_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``write(*specs)`` puts specs into a private experiments folder; results, data, offline mode private too."""
    exp = tmp_path / "experiments"
    paths = {"SNNREPRO_EXPERIMENTS": exp, "SNNREPRO_RESULTS": tmp_path / "results", "SNNREPRO_DATA": tmp_path / "data"}
    for k, v in paths.items():
        monkeypatch.setenv(k, str(v))
    monkeypatch.setenv("SNNREPRO_OFFLINE", "1")

    def write(*specs: dict[str, Any]) -> dict[str, Path]:
        for spec in specs:
            folder = exp / spec["paper"]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{spec['id']}.yaml").write_text(yaml.safe_dump(spec))
        return {"exp": exp, "results": tmp_path / "results", "tmp": tmp_path}

    return write


class StopAfter(ProgressSink):
    """Behaves like Ctrl-C right after the given epoch's checkpoint was written."""

    def __init__(self, epoch: int) -> None:
        self.stop_epoch = epoch

    def epoch(self, epoch: int, row: dict) -> None:
        if epoch == self.stop_epoch:
            raise KeyboardInterrupt
