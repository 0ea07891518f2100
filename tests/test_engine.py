"""The training engine end to end on real data (scikit-learn digits): records, resume, divergence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import StopAfter

from snnrepro.engine.checkpoint import CheckpointError, load_checkpoint
from snnrepro.engine.fit import fit
from snnrepro.engine.optim import lr_factor
from snnrepro.results.record import checkpoint_path, iter_records, record_path
from snnrepro.results.tables import markdown_tables, rebuild_all
from snnrepro.spec import ScheduleSpec, resolve

RAW = {
    "id": "digits-relu-mlp",
    "paper": "rsn",
    "table": "Table 3",
    "row": "engine test",
    "reported": 90.0,
    "tolerance": 5.0,
    "dataset": {"name": "digits", "params": {"size": 8}},
    "model": {"family": "relu", "arch": "64-64-10"},
    "optimizer": {"name": "adam", "lr": 0.01},
    "train": {"epochs": 4, "batch_size": 64, "eval_batch_size": 512, "seeds": 1},
    "references": [{"method": "Someone 2020", "value": 80.0}],
}
CPU = torch.device("cpu")


def spec_for(**overrides: object):
    from snnrepro.spec import deep_merge

    return resolve(deep_merge(RAW, overrides), where="engine-test.yaml")


def test_fit_writes_a_record_with_provenance(tmp_path: Path) -> None:
    rec = fit(spec_for(), 0, CPU, tmp_path, tmp_path / "data")
    assert rec.status == "ok" and rec.epochs == 4
    assert rec.best_test_acc >= 0.9, rec.history
    on_disk = json.loads(record_path(tmp_path, "digits-relu-mlp", "full", 0).read_text())
    for key in ("spec_hash", "git_commit", "versions", "history", "device", "started_at", "finished_at", "spec"):
        assert on_disk[key], key
    assert len(on_disk["history"]) == 4 and on_disk["data_source"] == "real"


def test_interrupt_then_resume_gives_the_same_result(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    spec = spec_for()
    full = fit(spec, 0, CPU, a, tmp_path / "data")
    cut = fit(spec, 0, CPU, b, tmp_path / "data", progress=StopAfter(1))
    assert cut.status == "interrupted" and cut.epochs == 2
    resumed = fit(spec, 0, CPU, b, tmp_path / "data", resume=True)
    assert resumed.status == "ok" and resumed.metrics["resumed_from_epoch"] == 1
    assert [h["test_acc"] for h in resumed.history] == [h["test_acc"] for h in full.history]
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in full.history]


def test_resume_refuses_a_checkpoint_of_another_spec(tmp_path: Path) -> None:
    fit(spec_for(train={"epochs": 1}), 0, CPU, tmp_path, tmp_path / "data")
    with pytest.raises(CheckpointError, match="different spec"):
        fit(spec_for(train={"epochs": 2}), 0, CPU, tmp_path, tmp_path / "data", resume=True)


def test_corrupted_checkpoint_falls_back_to_the_previous_one(tmp_path: Path) -> None:
    fit(spec_for(train={"epochs": 2}), 0, CPU, tmp_path, tmp_path / "data", keep_checkpoints="all")
    ck = checkpoint_path(tmp_path, "digits-relu-mlp", "full", 0)
    data = ck.read_bytes()
    ck.write_bytes(data[: len(data) // 2])
    state, warnings = load_checkpoint(ck)
    assert state["epoch"] == 0 and "checksum mismatch" in warnings[0]
    ck.with_suffix(".prev.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load_checkpoint(ck)


def test_nan_loss_stops_with_status_diverged_and_keeps_history(tmp_path: Path) -> None:
    spec = spec_for(optimizer={"lr": 1.0e30}, train={"epochs": 3})
    rec = fit(spec, 0, CPU, tmp_path, tmp_path / "data")
    assert rec.status == "diverged" and "loss became" in rec.error
    on_disk = json.loads(record_path(tmp_path, spec.id, "full", 0).read_text())
    assert on_disk["status"] == "diverged"
    assert "diverged" in markdown_tables([spec], iter_records(tmp_path), "t")


def test_tables_compare_with_the_paper(tmp_path: Path) -> None:
    spec = spec_for(train={"epochs": 2})
    fit(spec, 0, CPU, tmp_path, tmp_path / "data")
    fit(spec, 1, CPU, tmp_path, tmp_path / "data")
    md = markdown_tables([spec], iter_records(tmp_path), "title")
    assert "| engine test | `digits-relu-mlp` | digits | 90.00 |" in md
    assert "2 ok (needs 1)" in md and "Someone 2020" in md and "reference" in md
    written = rebuild_all([spec], tmp_path)
    assert (tmp_path / "runs.csv").exists() and (tmp_path / "tables" / "rsn.md") in written


@pytest.mark.parametrize(
    ("schedule", "epoch", "expected"),
    [
        (ScheduleSpec("constant"), 5, 1.0),
        (ScheduleSpec("step", step_size=2, gamma=0.5), 5, 0.25),
        (ScheduleSpec("multistep", milestones=[2, 4], gamma=0.1), 4, 0.01),
        (ScheduleSpec("cosine"), 0, 1.0),
        (ScheduleSpec("cosine"), 5, 0.5),
        (ScheduleSpec("cosine", warmup_epochs=5), 0, 0.2),
        (ScheduleSpec("cosine_restarts", t0=4), 4, 1.0),
        (ScheduleSpec("cosine_restarts", t0=4), 2, 0.5),
    ],
)
def test_lr_schedules(schedule: ScheduleSpec, epoch: int, expected: float) -> None:
    assert lr_factor(schedule, epoch, 10) == pytest.approx(expected)


def test_optimizer_and_schedule_registries_match_the_names_specs_are_checked_against() -> None:
    import subprocess
    import sys

    from snnrepro.registry import OPTIMIZERS, SCHEDULES
    from snnrepro.spec.optim_names import OPTIMIZER_NAMES, SCHEDULE_NAMES

    assert OPTIMIZERS.names() == sorted(OPTIMIZER_NAMES) and SCHEDULES.names() == sorted(SCHEDULE_NAMES)
    check = (  # the spec's name checks run without torch
        "import sys\n"
        "from snnrepro.spec import OptimizerSpec, ScheduleSpec, SpecError\n"
        "from snnrepro.spec.validate import validate_optimizer, validate_schedule\n"
        "validate_optimizer(OptimizerSpec('sgd'), 'x.yaml')\n"
        "validate_schedule(ScheduleSpec('cosine_restarts'), 10, 'x.yaml')\n"
        "try:\n    validate_optimizer(OptimizerSpec('rmsprop'), 'x.yaml')\n"
        "except SpecError as exc:\n    print(exc)\n"
        "try:\n    validate_schedule(ScheduleSpec('linear'), 10, 'x.yaml')\n"
        "except SpecError as exc:\n    print(exc)\n"
        "assert 'torch' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout
    assert "optimizer.name" in out and "expected adam, adamw or sgd" in out
    assert "schedule.name" in out and "expected constant, step, multistep, cosine or cosine_restarts" in out


def test_an_interrupted_run_keeps_its_checkpoints_whatever_keep_says(tmp_path: Path) -> None:
    spec = spec_for()
    cut = fit(spec, 0, CPU, tmp_path, tmp_path / "data", progress=StopAfter(1), keep_checkpoints="none")
    ck = checkpoint_path(tmp_path, spec.id, "full", 0)
    assert cut.status == "interrupted" and ck.exists() and ck.with_suffix(".prev.pt").exists()
    done = fit(spec, 0, CPU, tmp_path, tmp_path / "data", resume=True, keep_checkpoints="none")
    assert done.status == "ok" and done.metrics["resumed_from_epoch"] == 1
    assert not list(ck.parent.glob("seed-0.*")), "a finished run with keep 'none' leaves no checkpoint files"


def test_keep_checkpoints_choices_and_jobs_carry_it(tmp_path: Path) -> None:
    from snnrepro.choices import KeepCheckpoints
    from snnrepro.engine.checkpoint import KEEP_CHECKPOINTS
    from snnrepro.run.plan import Job

    assert tuple(k.value for k in KeepCheckpoints) == KEEP_CHECKPOINTS
    job = Job("x", 1, "smoke", tmp_path, None, "cpu", "none")
    assert Job.from_json(job.to_json()) == job
    with pytest.raises(ValueError, match="not one of all, last, none"):
        fit(spec_for(), 0, CPU, tmp_path, tmp_path / "data", keep_checkpoints="some")
    assert not (tmp_path / "runs").exists()
