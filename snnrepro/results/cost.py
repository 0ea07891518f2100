"""What a row's full budget costs, and what keeps it from running here.

Cost = measured seconds per training sample x training samples of the full budget
(``full train size x epochs x seeds``), per device kind.  Measurements come from

1. ``results/cost/<device>.json``, written by ``snnrepro cost --measure``: a few training steps of the
   full-profile spec at its batch size, timed after one untimed step, on the real data when it is on
   disk, else on its stand-in of the same sample shape (the stand-in gives the same tensor shapes; for
   the STDBP kernel, whose cost depends on how many inputs spike, the record says which data it timed).
   On a CPU the clock is the process's CPU time with one thread, so other work on the machine does not
   inflate it; it is the wall time on one free core;
2. else run records (``epoch_s / train_size`` of their epochs) on that device kind: wall time, which
   other processes sharing the CPU inflate.

A measurement counts only for the spec hash it was made for.  Evaluation passes are not counted (one
test pass costs well under one training epoch for every spec here).

Blockers: the dataset's files are missing (which ones), the corpus is licensed (cannot be downloaded),
or the full budget needs more than :data:`CPU_HOURS_PER_SEED` CPU hours per seed (*needs a GPU*).
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from snnrepro.results.record import RunRecord, results_root
from snnrepro.spec import Spec

#: a row "fits this CPU" when one seed of its full budget takes at most this many hours here.
CPU_HOURS_PER_SEED = 6.0

#: training samples per epoch of each dataset's full split as the loaders build it (from the datasets'
#: documentation and the loaders' docstrings; a full-profile run record's ``data_info.train_size`` wins).
FULL_TRAIN_SIZE: dict[str, int] = {
    "mnist": 60000,
    "fashion_mnist": 60000,
    "cifar10": 50000,
    "cifar100": 50000,
    "nmnist": 60000,
    "dvsgesture": 1176,  # SpikingJelly's cut of DvsGesture.tar.gz (tonic's release differs; see data/dvsgesture)
    "cifar10dvs": 9000,  # 0.9 of 10 000 per class
    "gsc": 84843,  # v2, 35 words, before rebalancing (which adds repeats: a lower bound)
    "fsdd": 2700,  # index 5-49 of 3 000 recordings
    "tidigits": 2464,  # isolated digits, adult speakers, official train split (random70: 0.7 of 3 586)
    "ntidigits": 2463,
    "auslan": 1710,  # days 1-6 of 9, 95 signs x 3
    "xor": 4,
    "assoc_patterns": 1,
    "digits": 1437,
}


@dataclass
class Cost:
    """Full-budget cost of one row on one device kind."""

    device: str  # "cpu" or "cuda (<name>)"
    s_per_sample: float
    source: str  # "run records (quick)" or "cost --measure (stand-in data)"
    hours_per_seed: float
    seeds: int

    @property
    def hours(self) -> float:
        return self.hours_per_seed * self.seeds


def full_train_size(spec: Spec, records: list[RunRecord]) -> int | None:
    for r in records:
        if r.id == spec.id and r.profile == "full" and r.data_source == "real":
            size = r.data_info.get("train_size")
            if isinstance(size, int) and size > 0:
                return size
    return FULL_TRAIN_SIZE.get(spec.dataset.name)


def _kind(device: str) -> str:
    return "cpu" if device.startswith("cpu") else "cuda" if device.startswith("cuda") else device


def _from_records(spec: Spec, records: list[RunRecord], kind: str) -> tuple[float, str] | None:
    """Median seconds per training sample over the epochs of this row's records on ``kind``."""
    rates, profiles = [], set()
    for r in records:
        if r.id != spec.id or _kind(r.device) != kind or "DDP" in r.device:
            continue
        size = r.data_info.get("train_size")
        max_batches = (r.spec.get("train") or {}).get("max_batches")
        if not isinstance(size, int) or size < 1 or max_batches is not None:
            continue
        for h in r.history:
            if isinstance(h.get("epoch_s"), int | float) and h["epoch_s"] > 0:
                rates.append(h["epoch_s"] / size)
                profiles.add(r.profile)
    if not rates:
        return None
    return statistics.median(rates), f"run records ({', '.join(sorted(profiles))})"


def load_measurements(results: Path) -> dict[str, dict[str, dict[str, object]]]:
    """``{device kind: {spec id: measurement}}`` from ``results/cost/*.json``."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    for path in sorted((results / "cost").glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        kind = _kind(str(data.get("device", path.stem)))
        out.setdefault(kind, {}).update(data.get("specs", {}))
    return out


def row_cost(
    spec: Spec, records: list[RunRecord], measurements: dict[str, dict[str, dict[str, object]]], kind: str
) -> Cost | None:
    """The full-budget cost of ``spec`` on ``kind`` (``cpu`` | ``cuda``), ``None`` without a measurement."""
    size = full_train_size(spec, records)
    if size is None:
        return None
    m = measurements.get(kind, {}).get(spec.id)
    if m and isinstance(m.get("s_per_sample"), int | float) and m.get("spec_hash") in (None, spec.hash()):
        found: tuple[float, str] | None = (float(m["s_per_sample"]), f"cost --measure ({m.get('data', '?')} data)")  # type: ignore[arg-type]
    else:
        found = _from_records(spec, records, kind)
    if found is None:
        return None
    s_per_sample, source = found
    hours = s_per_sample * size * spec.train.epochs / 3600.0
    return Cost(kind, s_per_sample, source, hours, spec.train.seeds)


def blocker(spec: Spec, data_root: Path, cpu: Cost | None) -> str:
    """Why the full budget cannot run on this machine ('' when nothing blocks it)."""
    from snnrepro.registry import DATASETS

    reasons = []
    try:
        avail = DATASETS.get(spec.dataset.name).check(data_root)
    except Exception as exc:  # a broken data root must not break the table
        reasons.append(f"data check failed: {exc}")
    else:
        if avail.status == "licensed":
            reasons.append(f"licensed data: place {', '.join(avail.missing) or 'the corpus'} in {avail.folder}")
        elif avail.status != "present":
            what = ", ".join(avail.missing[:3]) + (" ..." if len(avail.missing) > 3 else "")
            reasons.append(f"data missing: {what or spec.dataset.name} in {avail.folder}")
    if cpu is None:
        reasons.append("no CPU measurement (snnrepro cost --measure)")
    elif cpu.hours_per_seed > CPU_HOURS_PER_SEED:
        reasons.append(f"needs a GPU ({cpu.hours_per_seed:.0f} CPU h per seed)")
    return "; ".join(reasons)


def fmt_hours(h: float) -> str:
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.1f} h" if h < 100 else f"{h:.0f} h"


def cost_text(cpu: Cost | None, gpu: Cost | None) -> str:
    """``CPU 1.2 h x 3 seeds; GPU –`` for a table cell."""
    parts = []
    for label, c in (("CPU", cpu), ("GPU", gpu)):
        if c is None:
            parts.append(f"{label} –")
        else:
            parts.append(f"{label} {fmt_hours(c.hours_per_seed)} x {c.seeds}")
    return "; ".join(parts)


def fits_cpu(spec: Spec, records: list[RunRecord], measurements: dict, data_root: Path) -> bool:
    cpu = row_cost(spec, records, measurements, "cpu")
    return cpu is not None and not blocker(spec, data_root, cpu)


def steps_per_epoch(spec: Spec, records: list[RunRecord]) -> int | None:
    size = full_train_size(spec, records)
    return None if size is None else math.ceil(size / spec.train.batch_size)


@dataclass
class CostContext:
    """What the tables need to state a row's cost and blocker: the measurements and the data root."""

    measurements: dict[str, dict[str, dict[str, object]]]
    data_root: Path | None = None

    @classmethod
    def load(cls, results: Path, data_root: Path | None = None) -> CostContext:
        return cls(load_measurements(results), data_root)

    @classmethod
    def here(cls, results: Path | None, data_root: Path | None) -> CostContext:
        """As the CLI's ``--results`` and ``--data-root`` say (their defaults resolved)."""
        from snnrepro.data.loading import data_root as resolve_data_root

        return cls.load(results_root(results), resolve_data_root(data_root))

    def describe(self, spec: Spec, records: list[RunRecord]) -> dict[str, object]:
        cpu = row_cost(spec, records, self.measurements, "cpu")
        gpu = row_cost(spec, records, self.measurements, "cuda")
        return {
            "cpu_h_per_seed": None if cpu is None else round(cpu.hours_per_seed, 3),
            "gpu_h_per_seed": None if gpu is None else round(gpu.hours_per_seed, 3),
            "cost": cost_text(cpu, gpu),
            "cost_source": "; ".join(f"{c.device}: {c.source}" for c in (cpu, gpu) if c is not None),
            "blocker": "" if self.data_root is None else blocker(spec, self.data_root, cpu),
        }


def pick_specs(specs: list[Spec], refs: list[str] | None) -> list[Spec]:
    """The specs whose id or paper is among ``refs`` (every spec without ``refs``); none is refused."""
    if not refs:
        return specs
    chosen = [s for s in specs if s.id in refs or s.paper in refs]
    if not chosen:
        raise ValueError(f"no spec has id or paper {' '.join(refs)!r}; `snnrepro list` shows them")
    return chosen


def cost_rows(specs: list[Spec], records: list[RunRecord], ctx: CostContext) -> list[dict[str, object]]:
    """``snnrepro cost``: id, paper, full-budget cost and blocker of each spec."""
    return [{"id": s.id, "paper": s.paper, **ctx.describe(s, records)} for s in specs]
