"""Benchmark: the engine's training throughput against a plain PyTorch loop of the same network.

For each row in :data:`ROWS`, the spec is built by the engine (:func:`snnrepro.engine.build.build`, the
model in SNN mode as in its last epoch) and one "epoch" of ``batches`` batches of the spec's batch size
is timed two ways, alternately (:func:`snnrepro.bench.interleaved_ms`):

* **plain**: ``for x, y in batches: x, y = x.to(dev), y.to(dev); opt.zero_grad(); loss = loss_fn(model(x), y);
  loss.backward(); opt.step()`` on the engine's own model object, loss and optimizer (for ``cifar10-brp-cnn``
  this is end-to-end backprop, where the engine runs the spec's ``brp`` rule);
* **engine**: what ``snnrepro run`` runs per epoch: the run's loaders (:func:`~snnrepro.engine.loaders.eval_loaders`
  and ``train_batches``: a DataLoader shuffled per (seed, epoch), pinned on CUDA) and
  :func:`~snnrepro.engine.fit.train_one_epoch` (the rule's step, loss and accuracy bookkeeping);
* **engine + option**: the same with one GPU option of ``train.*`` turned on (``amp: bf16``,
  ``channels_last``, ``compile``, ``data_on_device``), built anew.

The optimizer runs at a tiny learning rate (:data:`SLOW_LR`; same cost per step).  The data are synthetic
tensors of the dataset's sample shape (``rand`` in [0, 1), labels uniform): the
step's cost does not depend on the pixel values for these families' dense kernels (the LIF, BRP and
RSN convolutions), and CIFAR10 / DVS Gesture need not be on the machine.  ``ms/step`` is per batch;
``ratio`` is engine ms / plain ms (above 1: the engine is slower); the note gives samples/s.

``--quick`` (and on the CPU always, where these networks take seconds per sample): batch 2, 2 batches per
epoch, 2 timed rounds, and no ``compile`` rows on the CPU (inductor's C++ build takes minutes per
network there).  The ``compile`` rows come after every other row (they take the longest), and a time budget
(:data:`BUDGET_S`) skips the remaining rows once spent (they say so).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import TensorDataset

from snnrepro.bench import BenchRow, interleaved_ms
from snnrepro.data.base import DataBundle
from snnrepro.engine import distributed as ddp
from snnrepro.engine.build import Built, build
from snnrepro.engine.fit import ProgressSink, _epoch_hook, train_one_epoch
from snnrepro.engine.loaders import RunData, eval_loaders
from snnrepro.engine.seeding import seed_everything
from snnrepro.registry import BENCHES
from snnrepro.spec import Spec, SpecError, load_spec
from snnrepro.spec.deep import dataset_shape

ROWS = ("cifar10-bpsta-middle", "cifar10-brp-cnn", "cifar10-rsn-cnn", "dvsgesture-bpsta-large")
#: one engine variant per option: (row label, train key, value)
OPTIONS: tuple[tuple[str, str, Any], ...] = (
    ("amp bf16", "amp", "bf16"),
    ("channels_last", "channels_last", True),
    ("compile", "compile", True),
    ("data_on_device", "data_on_device", True),
)
#: the spec's optimizer at a tiny learning rate: the step costs the same, and the weights, shared by the plain
#: loop and the engine and stepped by both, stay near their initial values on random data (at the spec's rate
#: cifar10-rsn-cnn's SGD reached NaN within a dozen such steps, which would stop the engine's epoch)
SLOW_LR = {"optimizer": {"lr": 1e-7}}
#: seconds after which the remaining rows and variants are skipped; ``$SNNREPRO_THROUGHPUT_BUDGET_S`` overrides
#: (tools/device-check.sh sets it below its own timeout, so that the report is always written)
BUDGET_S = {"full": 420.0, "quick": 300.0}


def _settings(device: torch.device, quick: bool) -> dict[str, Any]:
    """Batches per timed epoch, batch-size cap, timed rounds, and whether ``compile`` rows run."""
    small = quick or device.type == "cpu"
    return {
        "batches": 2 if small else 5,
        "batch_cap": 2 if small else None,
        "repeats": 2 if small else 3,
        "compile": device.type != "cpu",
        "budget": float(os.environ.get("SNNREPRO_THROUGHPUT_BUDGET_S") or BUDGET_S["quick" if small else "full"]),
    }


def _synthetic(spec: Spec, n: int) -> DataBundle:
    """``n`` samples of the dataset's shape (uniform in [0, 1)) and uniform labels, as train and test split."""
    shape, classes = dataset_shape(spec, spec.id)
    g = torch.Generator().manual_seed(0)
    ds = TensorDataset(torch.rand((n, *shape), generator=g), torch.randint(0, classes, (n,), generator=g))
    return DataBundle(ds, ds, tuple(shape), classes, shape[0] if len(shape) == 4 else None)


class _Engine:
    """One built run and its timed epoch (the engine path), over ``batches`` batches of synthetic data."""

    def __init__(self, spec: Spec, bundle: DataBundle, device: torch.device, batches: int) -> None:
        seed_everything(0)
        self.spec, self.device, self.batches, self.dist = spec, device, batches, ddp.DistInfo()
        self.b: Built = build(spec, bundle, device, self.dist)
        _epoch_hook(self.b.model, spec.train.epochs - 1, spec.train.epochs)  # SNN mode (past any ANN warm-up)
        self.data = RunData(bundle, bundle.train, bundle.test, None, "synthetic", {})
        self.loaders = eval_loaders(spec, self.data, device, self.dist)
        self.epoch = 0

    def step(self) -> None:
        loader = self.loaders.train_batches(self.data, 0, self.epoch, self.dist, self.spec.train.num_workers)
        train_one_epoch(self.b, loader, self.device, self.epoch, self.batches, self.spec.train.grad_clip, self.dist,
                        ProgressSink())  # fmt: skip
        self.epoch += 1


def _plain(b: Built, bundle: DataBundle, batch: int, batches: int, device: torch.device) -> Callable[[], None]:
    """The plain PyTorch loop over the same batches (host tensors, copied as a user's loop would)."""
    x_all, y_all = bundle.train.tensors  # type: ignore[attr-defined]
    pairs = [(x_all[i * batch : (i + 1) * batch], y_all[i * batch : (i + 1) * batch]) for i in range(batches)]
    model, opt, loss_fn = b.model, b.optimizer, b.loss_fn

    def step() -> None:
        model.train()
        for x, y in pairs:
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()

    return step


def _rows_of(
    spec_id: str, device: torch.device, s: dict[str, Any], deadline: float, options: tuple, base_rows: bool = True
) -> list[BenchRow]:
    """The plain loop, the engine and the engine with each of ``options``, timed alternately; with ``base_rows``
    False only the options' rows (their ratio is to the plain loop timed alongside them, named in the note)."""
    base = load_spec(spec_id)
    batch = base.train.batch_size if s["batch_cap"] is None else min(base.train.batch_size, s["batch_cap"])
    train = {"batch_size": batch, "eval_batch_size": batch, "num_workers": 0}
    bundle = _synthetic(base, batch * s["batches"])
    spec = load_spec(spec_id, overrides={"train": train, **SLOW_LR})
    engine = _Engine(spec, bundle, device, s["batches"])
    fns: dict[str, Callable[[], None]] = {"plain": _plain(engine.b, bundle, batch, s["batches"], device)}
    if base_rows:
        fns["engine"] = engine.step
    skipped: dict[str, str] = {}
    for label, key, value in options:
        try:
            variant = load_spec(spec_id, overrides={"train": {**train, key: value}, **SLOW_LR})
            fns[f"engine + {label}"] = _Engine(variant, bundle, device, s["batches"]).step
        except SpecError as exc:
            skipped[f"engine + {label}"] = f"refused: {exc}"
    for name in list(fns):  # a variant that cannot run here (a compiler error, no memory) is reported, not timed
        if not name.startswith("engine + "):
            continue
        if time.perf_counter() > deadline:
            skipped[name] = "skipped: time budget spent"
            del fns[name]
            continue
        try:
            fns[name]()  # also the compilation, before the timed rounds
        except Exception as exc:  # noqa: BLE001 - reported in the row
            skipped[name] = f"failed: {type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
            del fns[name]
    ms = interleaved_ms(fns, device, warmup=1, repeats=s["repeats"]) if len(fns) > 1 or base_rows else {}
    ms = {k: v / s["batches"] for k, v in ms.items()}
    where = f"{spec.model.family} {spec.model.arch}, batch {batch} x {s['batches']}, synthetic {bundle.input_shape}"
    rows = []
    if base_rows:
        plain_note = f"{where}; {1000 * batch / ms['plain']:,.1f} samples/s"
        rows.append(BenchRow("throughput", f"{spec_id} plain loop", ms["plain"], note=plain_note))
    for name, v in ms.items():
        if name == "plain":
            continue
        note = f"{where}; {1000 * batch / v:,.1f} samples/s; throughput engine/plain {ms['plain'] / v:.2f}x; alternate"
        if not base_rows:
            note += f" with the plain loop re-timed here ({ms['plain']:.2f} ms)"
        rows.append(BenchRow("throughput", f"{spec_id} {name}", v, reference=f"{spec_id} plain loop",
                             ratio=v / ms["plain"], note=note))  # fmt: skip
    rows += [BenchRow("throughput", f"{spec_id} {name}", float("nan"), note=why) for name, why in skipped.items()]
    return rows


@BENCHES.register("throughput")
def run(device: torch.device, quick: bool) -> list[BenchRow]:
    """ms per training batch of four CIFAR10 / DVS Gesture rows: the engine, with each GPU option, vs a plain loop.

    Every row's plain loop, engine and cheap options first; then, while the budget lasts, ``compile`` (its
    compilation takes the longest) for each row in turn.
    """
    s = _settings(device, quick)
    deadline = time.perf_counter() + s["budget"]
    cheap = tuple(o for o in OPTIONS if o[1] != "compile")
    compiled = tuple(o for o in OPTIONS if o[1] == "compile")
    rows: list[BenchRow] = []
    for spec_id in ROWS:
        if time.perf_counter() > deadline:
            note = f"skipped: time budget {s['budget']:.0f} s spent"
            rows.append(BenchRow("throughput", spec_id, float("nan"), note=note))
            continue
        rows += _rows_of(spec_id, device, s, deadline, cheap)
    for spec_id in ROWS:
        name = f"{spec_id} engine + compile"
        if not s["compile"]:
            rows.append(BenchRow("throughput", name, float("nan"), note="skipped on the CPU (inductor's C++ build "
                                 "takes minutes per network here)"))  # fmt: skip
        elif time.perf_counter() > deadline:
            rows.append(BenchRow("throughput", name, float("nan"), note="skipped: time budget spent"))
        else:
            rows += _rows_of(spec_id, device, s, deadline, compiled, base_rows=False)
    return rows
