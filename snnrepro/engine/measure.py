"""Measured training-step cost of a spec at its full budget's batch size (``snnrepro cost --measure``).

One untimed step (allocation, first-call costs), then ``steps`` timed steps of the spec's own rule on
one batch of ``train.batch_size`` samples: the real data when it is on disk, else the dataset's
stand-in of the same sample shape (the record says which).  The result feeds the cost column of the
tables (:mod:`snnrepro.results.cost`).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import torch

from snnrepro.data.loading import load_data
from snnrepro.engine.build import build
from snnrepro.engine.device import describe, to_device
from snnrepro.engine.seeding import seed_everything
from snnrepro.io import atomic_write_bytes
from snnrepro.results.cost import load_measurements
from snnrepro.results.record import git_commit
from snnrepro.spec import Spec


def _batch(ds: torch.utils.data.Dataset, size: int) -> tuple[object, torch.Tensor]:
    """``size`` samples of ``ds`` (cycled when it is smaller), collated as the loaders do."""
    n = len(ds)  # type: ignore[arg-type]
    items = [ds[i % n] for i in range(size)]
    return torch.utils.data.default_collate(items)  # type: ignore[return-value]


def measure_step(spec: Spec, device: torch.device, data_root: Path, steps: int = 2, budget_s: float = 120.0) -> dict:
    """Seconds per training sample of ``spec`` (full budget's batch size) on ``device``.

    Stops timing early once ``budget_s`` seconds were spent (a slow spec then gets fewer timed steps,
    at least one).
    """
    # On a CPU the clock is this process's CPU time: with one thread it is the wall time the step takes on a
    # free core, whatever else shares the machine (run with OMP_NUM_THREADS=1).  On a GPU: wall time, synced.
    clock = time.perf_counter if device.type == "cuda" else time.process_time
    seed_everything(0)
    bundle, source = load_data(spec, data_root, allow_standin=True)
    b = build(spec, bundle, device)
    b.model.train()
    x, y = _batch(bundle.train, spec.train.batch_size)
    x, y = to_device(x, device), y.to(device)
    t0 = clock()
    b.rule.step(x, y, b.optimizer, spec.train.grad_clip)  # untimed
    first = clock() - t0
    times: list[float] = []
    spent = first
    for _ in range(steps):
        if times and spent > budget_s:
            break
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t = clock()
        b.rule.step(x, y, b.optimizer, spec.train.grad_clip)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(clock() - t)
        spent += times[-1]
    step_s = statistics.median(times) if times else first
    return {
        "s_per_sample": step_s / spec.train.batch_size,
        "step_s": step_s,
        "batch_size": spec.train.batch_size,
        "timed_steps": len(times),
        "first_step_s": first,
        "data": "real" if source == "real" else source,
        "clock": "wall" if device.type == "cuda" else f"process CPU time, {torch.get_num_threads()} thread(s)",
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "spec_hash": spec.hash(),
    }


def write_measurements(path: Path, device: torch.device, specs: dict[str, dict]) -> None:
    """Merge ``specs`` into the measurement file ``path`` (other specs' entries are kept)."""
    data: dict = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except ValueError:
            data = {}
    data.setdefault("specs", {}).update(specs)
    data.update(
        device=describe(device),
        threads=torch.get_num_threads(),
        git_commit=git_commit(),
        measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    atomic_write_bytes(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


#: what a spec that cannot be timed raises (it is reported and skipped; the others are still measured)
NOT_MEASURED = (RuntimeError, MemoryError, ValueError, FileNotFoundError)


def measure_specs(
    specs: list[Spec], device: torch.device, data_root: Path, steps: int, results: Path, skip_measured: bool = True
) -> Iterator[tuple[Spec, dict | None, BaseException | None]]:
    """``snnrepro cost --measure``: time each spec and store it in ``<results>/cost/<cpu|cuda>.json``.

    Yields ``(spec, measurement, None)`` for each spec timed (already stored) and ``(spec, None, error)`` for
    each that could not be; with ``skip_measured``, specs measured before at their spec hash are skipped.
    """
    kind = "cpu" if device.type == "cpu" else "cuda"
    path = results / "cost" / f"{kind}.json"
    done = load_measurements(results).get(kind, {})
    for s in specs:
        if skip_measured and done.get(s.id, {}).get("spec_hash") == s.hash():
            continue
        try:
            m = measure_step(s, device, data_root, steps)
        except NOT_MEASURED as exc:
            yield s, None, exc
            continue
        m["threads"] = torch.get_num_threads()
        write_measurements(path, device, {s.id: m})
        yield s, m, None
