"""Live progress without a terminal: plain per-epoch lines, record and metrics.csv after every epoch, TensorBoard."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import digits_spec
from typer.testing import CliRunner

from snnrepro.cli import app
from snnrepro.engine.fit import ProgressSink, fit
from snnrepro.progress import PlainProgress, hms
from snnrepro.results.record import METRIC_COLUMNS, metrics_csv_path, read_record, record_path
from snnrepro.spec import load_spec

SPEC = digits_spec("digits-progress", epochs=3)


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_plain_progress_epoch_and_batch_lines_with_eta() -> None:
    out, clock = io.StringIO(), FakeClock()
    p = PlainProgress("run s0", stream=out, clock=clock)
    p.start(total_epochs=3, batches_per_epoch=100, start_epoch=0)
    for done in range(1, 101):  # 1 s per batch: a long epoch gets ~10 batch lines (every 10 batches, >= 10 s apart)
        clock.t += 1.0
        p.batch(0, done, loss=0.5, acc=0.75, samples_per_s=64.0)
    row = {"train_loss": 0.5, "train_acc": 0.75, "test_loss": 0.4, "test_acc": 0.8, "samples_per_s": 64.0,
           "epoch_s": 100.0}  # fmt: skip
    p.epoch(0, row)
    lines = out.getvalue().splitlines()
    assert lines[0] == "[run s0] starting: 3 epochs of 100 batches"
    batch_lines = [x for x in lines if " batch " in x]
    assert len(batch_lines) == 9  # batches 10, 20, ..., 90; the last batch is covered by the epoch line
    # after 10 of 100 batches at 1 s each: 90 s left in this epoch + 2 more epochs of 100 s
    assert batch_lines[0] == (
        "[run s0] epoch 1/3 batch 10/100  loss 0.5000 acc 75.00%  64 samples/s  ETA 0:04:50"
    )
    assert lines[-1] == (
        "[run s0] epoch 1/3  train loss 0.5000 acc 75.00%  test loss 0.4000 acc 80.00%  64 samples/s"
        "  100.0 s/epoch  ETA 0:03:20"
    )


def test_plain_progress_short_epochs_print_epoch_lines_only_unless_asked() -> None:
    out, clock = io.StringIO(), FakeClock()
    p = PlainProgress("r", stream=out, clock=clock)
    p.start(2, 20, 0)
    for done in range(1, 21):
        clock.t += 5.0
        p.batch(0, done, 1.0, 0.1, 10.0)
    assert " batch " not in out.getvalue()
    out2 = io.StringIO()
    p2 = PlainProgress("r", stream=out2, log_every=5, clock=FakeClock())  # explicit: every 5, no time gate
    p2.start(2, 20, 0)
    for done in range(1, 21):
        p2.batch(0, done, 1.0, 0.1, 10.0)
    assert [x.split(" batch ")[1].split()[0] for x in out2.getvalue().splitlines()[1:]] == ["5/20", "10/20", "15/20"]
    assert hms(3725) == "1:02:05" and hms(float("nan")) == "?"


def test_run_without_terminal_prints_epoch_lines_and_writes_metrics_csv(spec_env) -> None:
    env = spec_env(SPEC)
    res = invoke("run", "digits-progress", "--device", "cpu", "--seed", "0")
    assert res.exit_code == 0, res.output
    epoch_lines = [x for x in res.stderr.splitlines() if x.startswith("[digits-progress s0] epoch ")]
    assert [x.split()[3] for x in epoch_lines] == ["1/3", "2/3", "3/3"]
    assert all("samples/s" in x and "ETA" in x and "acc" in x and "loss" in x for x in epoch_lines)
    assert epoch_lines[-1].endswith("ETA 0:00:00")
    rec = read_record(record_path(env["results"], "digits-progress", "full", 0))
    assert rec is not None and rec.status == "ok" and len(rec.history) == 3
    path = metrics_csv_path(env["results"], "digits-progress", "full", 0)
    assert path == env["results"] / "runs" / "digits-progress" / "full" / "seed-0" / "metrics.csv"
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == list(METRIC_COLUMNS)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    for r, h in zip(rows, rec.history, strict=True):
        assert float(r["test_acc"]) == pytest.approx(h["test_acc"], rel=1e-5)
        assert float(r["train_loss"]) == pytest.approx(h["train_loss"], rel=1e-5)
        assert float(r["epoch_s"]) > 0


class ReadsRecordEachEpoch(ProgressSink):
    """Reads the record and metrics.csv from disk at every epoch report, as a watcher of a running job would."""

    def __init__(self, results: Path, spec_id: str) -> None:
        self.results, self.spec_id, self.seen = results, spec_id, []

    def epoch(self, epoch: int, row: dict) -> None:
        rec = read_record(record_path(self.results, self.spec_id, "full", 0))
        lines = metrics_csv_path(self.results, self.spec_id, "full", 0).read_text().splitlines()
        self.seen.append((rec.status, len(rec.history), rec.epochs, len(lines) - 1))


def test_record_and_metrics_csv_hold_the_history_so_far_while_running(spec_env, tmp_path: Path) -> None:
    env = spec_env(SPEC)
    spec = load_spec("digits-progress")
    sink = ReadsRecordEachEpoch(env["results"], "digits-progress")
    rec = fit(spec, 0, torch.device("cpu"), env["results"], tmp_path / "data", progress=sink)
    assert rec.status == "ok"
    assert sink.seen == [("running", 1, 1, 1), ("running", 2, 2, 2), ("running", 3, 3, 3)]


def test_nohup_style_run_prints_lines_to_a_log_file(spec_env, tmp_path: Path) -> None:
    """A real child process whose stderr is a file (as under nohup or SLURM) shows per-epoch lines."""
    spec_env(SPEC)
    log = tmp_path / "run.log"
    with log.open("w") as fh:
        proc = subprocess.run(
            [sys.executable, "-m", "snnrepro", "run", "digits-progress", "--device", "cpu", "--seed", "0", "--json"],
            stdout=subprocess.PIPE, stderr=fh, stdin=subprocess.DEVNULL, text=True, timeout=300,
            env={**os.environ, "TERM": "dumb"},
        )  # fmt: skip
    assert proc.returncode == 0, log.read_text()
    text = log.read_text()
    assert "\x1b[" not in text  # no terminal control sequences in a log file
    assert sum(line.startswith("[digits-progress s0] epoch ") for line in text.splitlines()) == 3
    assert json.loads(proc.stdout.splitlines()[-1])["status"] == "ok"


def test_tensorboard_writes_scalars(spec_env, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec_env(SPEC)
    res = invoke("run", "digits-progress", "--device", "cpu", "--seed", "0", "--tensorboard", str(tmp_path / "tb"))
    assert res.exit_code == 0, res.output
    acc = EventAccumulator(str(tmp_path / "tb" / "digits-progress" / "full" / "seed-0"))
    acc.Reload()
    assert {"test_acc", "train_loss", "samples_per_s"} <= set(acc.Tags()["scalars"])
    assert [e.step for e in acc.Scalars("test_acc")] == [1, 2, 3]


def test_tensorboard_absent_is_one_clear_line(spec_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = spec_env(SPEC)
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard -> ImportError
    res = invoke("run", "digits-progress", "--seed", "0", "--tensorboard", str(tmp_path / "tb"))
    assert res.exit_code == 2 and "pip install tensorboard" in res.output and "Traceback" not in res.output
    assert not (env["results"] / "runs" / "digits-progress").exists()  # nothing ran
