"""The GPU throughput options of ``train.*`` (docs/performance.md "GPU options"), checked on the CPU.

Each trains a tiny digits spec and must give the result of the run without it: exactly
(``data_on_device``, ``channels_last``, the non-blocking copies), or within the documented tolerance
(``amp: bf16``, ``compile``).  At their defaults they leave every spec hash alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import digits_spec

from snnrepro.engine import distributed as ddp
from snnrepro.engine.checkpoint import load_checkpoint
from snnrepro.engine.device_data import DeviceSplit, IndexBatches
from snnrepro.engine.fit import fit
from snnrepro.engine.loaders import train_loader
from snnrepro.results.record import RunRecord, checkpoint_path
from snnrepro.spec import SpecError, load_spec, parse_set, resolve
from snnrepro.spec.schema import spec_schema

CPU = torch.device("cpu")
CONV = "4C3-MP2-10"  # a conv net, so channels_last has 4-D weights and inputs to act on


def _spec(**train: Any):
    raw = digits_spec("digits-gpuopts", arch=CONV, epochs=2, max_batches=6, **train)
    return resolve(raw, where="test")


def _train(tmp_path: Path, name: str, **train: Any) -> tuple[RunRecord, dict[str, torch.Tensor]]:
    spec = _spec(**train)
    results = tmp_path / name
    record = fit(spec, 0, CPU, results, tmp_path / "data")
    assert record.status == "ok", record.error
    saved, _ = load_checkpoint(checkpoint_path(results, spec.id, spec.profile, 0))
    assert saved is not None
    return record, saved["model"]


def _history(record: RunRecord) -> list[tuple[float, ...]]:
    keys = ("train_loss", "train_acc", "test_loss", "test_acc")
    return [tuple(row[k] for k in keys) for row in record.history]


def test_defaults_keep_the_hash_and_set_keys_change_it() -> None:
    base = _spec()
    assert "amp" not in base.method_dict()["train"] and "compile" not in base.method_dict()["train"]
    assert _spec(amp="none", channels_last=False, compile=False, data_on_device=False).hash() == base.hash()
    for key, value in (("amp", "bf16"), ("channels_last", True), ("compile", True), ("data_on_device", True)):
        assert _spec(**{key: value}).hash() != base.hash(), key


def test_options_are_validated_and_in_the_schema() -> None:
    with pytest.raises(SpecError, match="train.amp: expected none or bf16"):
        _spec(amp="fp16")
    with pytest.raises(SpecError, match="train.compile: expected true/false"):
        _spec(compile="sometimes")
    raw = load_spec("mnist-stdbp-mlp400").to_dict()
    with pytest.raises(SpecError, match="train.amp: bf16 autocast is refused for the relpsp family"):
        load_spec("mnist-stdbp-mlp400", overrides=parse_set(["train.amp=bf16"]))
    assert raw["train"]["amp"] == "none"
    over = parse_set(["train.amp=bf16", "train.channels_last=true", "train.data_on_device=true"])
    spec = load_spec("mnist-rsn-mlp", overrides=over)
    assert (spec.train.amp, spec.train.channels_last, spec.train.data_on_device) == ("bf16", True, True)
    props = spec_schema()["properties"]["train"]["properties"]
    assert props["amp"]["enum"] == ["none", "bf16"]
    assert props["compile"] == {"type": "boolean", "default": False} == props["data_on_device"]


def test_device_batches_follow_the_loader_order() -> None:
    """The index batches of data_on_device are the DataLoader's batches, epoch by epoch."""
    x = torch.randn(37, 3, 4, 4)
    y = torch.arange(37) % 5
    ds = torch.utils.data.TensorDataset(x, y)
    split = DeviceSplit.collate(ds, "test")
    off = ddp.DistInfo()
    for epoch in range(3):
        loader = train_loader(ds, 8, 7, epoch, off, 0, False)
        pairs = list(zip(loader, IndexBatches(split, 8, 7, epoch), strict=True))
        assert len(pairs) == 5
        for (xa, ya), (xb, yb) in pairs:
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    fixed = [b for _, b in IndexBatches(split, 10)]
    assert torch.equal(torch.cat(fixed), y)


def test_data_on_device_trains_the_same_weights(tmp_path: Path) -> None:
    plain, w0 = _train(tmp_path, "plain")
    on_dev, w1 = _train(tmp_path, "device", data_on_device=True)
    assert _history(on_dev) == _history(plain)
    assert all(torch.equal(w0[k], w1[k]) for k in w0)


def test_data_on_device_refuses_augmented_data(tmp_path: Path) -> None:
    raw = digits_spec("digits-gpuopts-aug", arch=CONV, epochs=1, max_batches=1, data_on_device=True)
    raw["dataset"]["params"].update(crop_padding=1, hflip=True)
    with pytest.raises(SpecError, match="train.data_on_device: the training set draws a random augmentation"):
        fit(resolve(raw, where="test"), 0, CPU, tmp_path / "r", tmp_path / "data")
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_channels_last_trains_the_same_weights(tmp_path: Path) -> None:
    plain, w0 = _train(tmp_path, "plain")
    cl, w1 = _train(tmp_path, "cl", channels_last=True)
    assert list(w0) == list(w1)  # checkpoints keep the plain model's keys
    worst = max(float((w0[k].float() - w1[k].float()).abs().max()) for k in w0)
    assert worst <= CHANNELS_LAST_ATOL, worst
    assert _history(cl)[-1][3] == pytest.approx(_history(plain)[-1][3], abs=0.02)


def test_bf16_autocast_trains_within_tolerance(tmp_path: Path) -> None:
    plain, w0 = _train(tmp_path, "plain")
    amp, w1 = _train(tmp_path, "amp", amp="bf16")
    assert list(w0) == list(w1) and all(w1[k].dtype == w0[k].dtype for k in w0)  # float32 weights either way
    assert _history(amp)[-1][3] == pytest.approx(_history(plain)[-1][3], abs=BF16_ACC_TOL)
    assert _history(amp)[-1][2] == pytest.approx(_history(plain)[-1][2], rel=BF16_LOSS_RTOL)


@pytest.mark.slow
def test_compile_trains_within_tolerance_and_keeps_checkpoint_keys(tmp_path: Path) -> None:
    pytest.importorskip("torch._inductor")
    plain, w0 = _train(tmp_path, "plain")
    comp, w1 = _train(tmp_path, "compiled", compile=True)
    assert list(w0) == list(w1)  # no "_orig_mod." prefix: loadable into the uncompiled model
    worst = max(float((w0[k] - w1[k]).abs().max()) for k in w0)
    assert worst <= COMPILE_ATOL, worst
    assert _history(comp)[-1][3] == pytest.approx(_history(plain)[-1][3], abs=0.02)


#: tolerances (docs/performance.md "GPU options"), from these tests' own runs on the CPU
CHANNELS_LAST_ATOL = 1e-5
COMPILE_ATOL = 1e-4
BF16_ACC_TOL = 0.05
BF16_LOSS_RTOL = 0.1


def test_throughput_bench_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bench's rows on small nets: a plain loop, the engine and one row per option with its ratio; an option
    the family refuses, and compile on the CPU, are rows that say why."""
    from snnrepro.benches import throughput

    monkeypatch.setattr(throughput, "ROWS", ("mnist-rsn-mlp", "mnist-stdbp-mlp400"))
    rows = {r.name: r for r in throughput.run(CPU, quick=True)}
    for sid in throughput.ROWS:
        plain = rows[f"{sid} plain loop"]
        assert plain.ratio is None and plain.ms_per_step > 0 and "samples/s" in plain.note
        for name in ("engine", "engine + channels_last", "engine + data_on_device"):
            r = rows[f"{sid} {name}"]
            assert r.reference == plain.name and r.ratio == pytest.approx(r.ms_per_step / plain.ms_per_step)
        assert rows[f"{sid} engine + compile"].note.startswith("skipped on the CPU")
    assert rows["mnist-rsn-mlp engine + amp bf16"].ratio is not None
    assert "refused" in rows["mnist-stdbp-mlp400 engine + amp bf16"].note


def test_throughput_option_rows_timed_apart() -> None:
    """An option timed in a group of its own (how compile rows run on a GPU): only its row, against a re-timed
    plain loop."""
    from snnrepro.benches import throughput

    s = {"batches": 1, "batch_cap": 2, "repeats": 1, "compile": False, "budget": 60.0}
    rows = throughput._rows_of("mnist-rsn-mlp", CPU, s, float("inf"), (("cl", "channels_last", True),), False)
    assert [r.name for r in rows] == ["mnist-rsn-mlp engine + cl"]
    assert rows[0].ratio is not None and "plain loop re-timed here" in rows[0].note
