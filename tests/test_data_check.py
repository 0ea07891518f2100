"""``snnrepro data check`` on a temporary data root: present / downloadable (with files) / licensed."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from snnrepro.cli import app
from snnrepro.data.audio.audio_io import write_sphere
from snnrepro.registry import DATASETS

OURS = ("nmnist", "dvsgesture", "cifar10dvs", "tidigits", "fsdd", "gsc", "auslan", "ntidigits", "standin_frames")

#: the status of every registered dataset under an empty data root: synthetic and bundled sets are present,
#: fetchable ones downloadable, TIDIGITS (LDC) licensed.  A new dataset must be added here with its status.
EMPTY_ROOT = {
    "assoc_patterns": "present", "auslan": "downloadable", "cifar10": "downloadable", "cifar100": "downloadable",
    "cifar10dvs": "downloadable", "digits": "present", "dvsgesture": "downloadable", "fashion_mnist": "downloadable",
    "fsdd": "downloadable", "gsc": "downloadable", "mnist": "downloadable", "nmnist": "downloadable",
    "ntidigits": "downloadable", "standin_frames": "present", "tidigits": "licensed", "xor": "present",
}  # fmt: skip


def run_check(root, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "400")
    res = CliRunner().invoke(app, ["data", "check", "--data-root", str(root)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def row(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.strip("│┃ ").startswith(name + " "))


def statuses(out: str) -> dict[str, str]:
    """The status column of every dataset row of ``data check``'s table."""
    return {name: row(out, name).split("│")[2].strip() for name in DATASETS.names()}


def place_tidigits_and_nmnist(root) -> None:
    """One TIDIGITS utterance and an N-MNIST Train/Test tree with one file per class."""
    d = root / "TIDIGITS" / "train" / "man" / "ab"
    d.mkdir(parents=True)
    write_sphere(d / "1a.wav", np.zeros(100, np.int16), 20000)
    for split in ("Train", "Test"):
        for k in range(10):
            (root / "NMNIST" / split / str(k)).mkdir(parents=True)
            (root / "NMNIST" / split / str(k) / "0.bin").write_bytes(b"\0" * 5)


def test_data_check_lists_every_dataset_with_its_status(tmp_path, monkeypatch):
    assert sorted(DATASETS.names()) == sorted(EMPTY_ROOT)  # a new dataset needs its expected status above
    out = run_check(tmp_path, monkeypatch)
    assert statuses(out) == EMPTY_ROOT
    assert "train.zip" in row(out, "nmnist") and "20959b8e626244a1b502305a9e6e2031" in out
    assert "ibmGestureTrain.tar.gz" in out and "speech_commands_v0.02.tar.gz" in out
    # empty class folders are not a dataset: nothing changes
    for split in ("Train", "Test"):
        (tmp_path / "NMNIST" / split).mkdir(parents=True)
    (tmp_path / "TIDIGITS" / "train").mkdir(parents=True)
    assert statuses(run_check(tmp_path, monkeypatch)) == EMPTY_ROOT
    # place a TIDIGITS utterance and an N-MNIST tree: these two (and only these) turn present
    (tmp_path / "TIDIGITS" / "train").rmdir()
    for split in ("Train", "Test"):
        (tmp_path / "NMNIST" / split).rmdir()
    place_tidigits_and_nmnist(tmp_path)
    assert statuses(run_check(tmp_path, monkeypatch)) == {**EMPTY_ROOT, "tidigits": "present", "nmnist": "present"}


def test_every_source_reports_availability_and_shape_without_disk(tmp_path):
    for name in OURS:
        src = DATASETS.get(name)
        a = src.check(tmp_path / "empty")
        assert a.status == EMPTY_ROOT[name], name
        assert a.dataset == name and (a.missing == []) == (a.status == "present"), (name, a.missing)
        shape, classes = src.shape()
        assert all(isinstance(s, int) and s > 0 for s in shape) and classes >= 2
    assert not (tmp_path / "empty").exists()  # neither check() nor shape() wrote anything
    place_tidigits_and_nmnist(tmp_path / "full")
    for name in ("tidigits", "nmnist"):
        a = DATASETS.get(name).check(tmp_path / "full")
        assert a.status == "present" and a.missing == [], (name, a)


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
