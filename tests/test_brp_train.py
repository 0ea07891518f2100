"""BRP and pseudo-BP learn (the MNIST spec's method on sklearn digits, through the engine); BRP resumes exactly."""

from __future__ import annotations

from pathlib import Path

import torch
from conftest import StopAfter

from snnrepro.engine.checkpoint import load_checkpoint
from snnrepro.engine.fit import fit
from snnrepro.results.record import checkpoint_path
from snnrepro.spec import deep_merge, experiments_dir, read_yaml, resolve

CPU = torch.device("cpu")
#: a brief budget: T = 10 instead of 20 and lr 5e-4 instead of 1e-4, so that 3 epochs suffice
BRIEF = {
    "dataset": {"name": "digits", "params": {"size": 8}},
    "encoder": {"params": {"T": 10}},
    "optimizer": {"lr": 5.0e-4},
    "train": {"epochs": 3, "eval_batch_size": 360},
    "analyses": [],
}


def _spec(spec_id: str, **overrides: object):
    raw = read_yaml(experiments_dir() / "brp" / f"{spec_id}.yaml")
    raw = deep_merge(raw, BRIEF)
    raw["dataset"] = BRIEF["dataset"]
    return resolve(deep_merge(raw, overrides), where=f"{spec_id} (brief)")


def test_brp_learns_digits(tmp_path: Path) -> None:
    rec = fit(_spec("mnist-brp-cnn"), 0, CPU, tmp_path, tmp_path / "data")
    assert rec.status == "ok" and rec.spec["rule"]["name"] == "brp"
    assert rec.best_test_acc >= 0.90, rec.history


def test_pseudo_bp_learns_digits(tmp_path: Path) -> None:
    rec = fit(_spec("mnist-bp-cnn"), 0, CPU, tmp_path, tmp_path / "data")
    assert rec.status == "ok" and rec.spec["rule"]["name"] == "backprop"
    assert rec.best_test_acc >= 0.95, rec.history


def test_brp_run_resumes_with_the_same_feedback_matrices(tmp_path: Path) -> None:
    small = {
        "model": {"arch": "Conv3x3x4-S2-FC40-FC10"},
        "encoder": {"params": {"T": 4}},
        "train": {"epochs": 2, "train_subset": 300, "test_subset": 100},
        "rule": {"params": {"signal": "err"}},
    }
    spec = _spec("mnist-brp-cnn", **small)
    a, b = tmp_path / "a", tmp_path / "b"
    full = fit(spec, 0, CPU, a, tmp_path / "data")
    cut = fit(spec, 0, CPU, b, tmp_path / "data", progress=StopAfter(0))
    assert cut.status == "interrupted"
    resumed = fit(spec, 0, CPU, b, tmp_path / "data", resume=True)
    assert resumed.status == "ok" and resumed.metrics["resumed_from_epoch"] == 0
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in full.history]
    state_a, _ = load_checkpoint(checkpoint_path(a, spec.id, spec.profile, 0))
    state_b, _ = load_checkpoint(checkpoint_path(b, spec.id, spec.profile, 0))
    for key in ("net.brp_feedback_0", "net.brp_feedback_1"):
        assert torch.equal(state_a["model"][key], state_b["model"][key])
    for key, value in state_a["model"].items():
        assert torch.equal(value, state_b["model"][key]), key
