"""``snnrepro data check`` on a temporary data root: present / downloadable (with files) / licensed."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from snnrepro.cli import app
from snnrepro.data.audio_io import write_sphere
from snnrepro.registry import DATASETS

OURS = ("nmnist", "dvsgesture", "cifar10dvs", "tidigits", "fsdd", "gsc", "auslan", "ntidigits", "standin_frames")


def run_check(root, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "400")
    res = CliRunner().invoke(app, ["data", "check", "--data-root", str(root)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def row(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.strip("│┃ ").startswith(name + " "))


def test_data_check_lists_every_dataset_with_its_status(tmp_path, monkeypatch):
    out = run_check(tmp_path, monkeypatch)
    for name in OURS:
        assert name in out
    assert "downloadable" in row(out, "nmnist") and "train.zip" in out and "20959b8e626244a1b502305a9e6e2031" in out
    assert "licensed" in row(out, "tidigits")
    assert "ibmGestureTrain.tar.gz" in out and "speech_commands_v0.02.tar.gz" in out
    # place a TIDIGITS utterance and an N-MNIST tree: they turn present
    d = tmp_path / "TIDIGITS" / "train" / "man" / "ab"
    d.mkdir(parents=True)
    write_sphere(d / "1a.wav", np.zeros(100, np.int16), 20000)
    for split in ("Train", "Test"):
        for k in range(10):
            (tmp_path / "NMNIST" / split / str(k)).mkdir(parents=True)
            (tmp_path / "NMNIST" / split / str(k) / "0.bin").write_bytes(b"\0" * 5)
    out = run_check(tmp_path, monkeypatch)
    assert "present" in row(out, "tidigits") and "present" in row(out, "nmnist")


def test_every_source_reports_availability_and_shape_without_disk(tmp_path):
    for name in OURS:
        src = DATASETS.get(name)
        a = src.check(tmp_path / "empty")
        assert a.status in ("present", "missing", "downloadable", "licensed")
        shape, classes = src.shape()
        assert all(isinstance(s, int) and s > 0 for s in shape) and classes >= 2
    assert not (tmp_path / "empty").exists()  # neither check() nor shape() wrote anything


def test_data_bench_rows(monkeypatch):
    """The loading rows are measured for real; the (slow) training reference is stubbed here."""
    from snnrepro.benches import data as bench

    monkeypatch.setattr(bench, "N_FILES", 4)
    monkeypatch.setattr(bench, "_train_ms_per_sample", lambda device, repeats, batch: (100.0, "stub"))
    import torch

    rows = bench.run(torch.device("cpu"), quick=True)
    names = [r.name for r in rows]
    assert names[:3] == ["N-MNIST frames convert", "N-MNIST frames uncached", "N-MNIST frames cached"]
    assert all(r.ms_per_step > 0 and r.ratio == r.ms_per_step / 100.0 for r in rows[:3])
    assert "frames/s" in rows[0].note
