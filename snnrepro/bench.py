"""Benchmark rows and the timing helper every registered benchmark uses.

Each benchmark measures a method and its reference (the same-shape ANN, or a peer
library) in the same process, so the *ratio* is meaningful on any machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass
class BenchRow:
    bench: str
    name: str
    ms_per_step: float
    reference: str | None = None
    ratio: float | None = None
    peak_mem_mb: float | None = None
    note: str = ""


def timed_ms(fn: Callable[[], object], device: torch.device) -> float:
    """Wall time of one ``fn()`` in milliseconds, synchronising CUDA before and after."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - t0) * 1000.0


def time_step(fn: Callable[[], object], device: torch.device, warmup: int = 2, repeats: int = 5) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = sorted(timed_ms(fn, device) for _ in range(repeats))
    return times[len(times) // 2]


def interleaved_ms(
    fns: dict[str, Callable[[], object]], device: torch.device, warmup: int = 1, repeats: int = 10, rewarm: int = 0
) -> dict[str, float]:
    """Median ms per call of each function, timed round-robin so that load changes hit all alike.

    A variant and its reference timed this way give a ratio that a slow phase of a shared machine
    (other tenants, clock changes) moves far less than two medians taken one after the other.  In each
    round every function first runs ``rewarm`` untimed calls, so that each timed call finds its own
    weights and buffers in the caches, as in a training loop, not the other function's (a small ANN
    step timed right after a large SNN step measured 10-30 % slower than in a loop of its own).
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            for _ in range(rewarm):
                fn()
            times[k].append(timed_ms(fn, device))
    return {k: sorted(v)[len(v) // 2] for k, v in times.items()}


def timed_against(
    bench: str,
    ref: tuple[str, Callable[[], object]],
    variant: tuple[str, Callable[[], object]],
    device: torch.device,
    *,
    warmup: int,
    repeats: int,
    rewarm: int,
    note: str,
    ref_note: str | None = None,
    more: tuple[tuple[str, Callable[[], object]], ...] = (),
) -> list[BenchRow]:
    """Rows for a reference step and variant steps timed alternately (:func:`interleaved_ms`).

    ``ref``/``variant`` (and each of ``more``, further variants of the same round-robin) are ``(name,
    step)``; each variant row carries the ratio to the reference and, on CUDA, the peak memory of the
    group.  ``ref_note`` is the reference row's note (default ``note``).  Returns the reference row, then
    the variants' rows in order.
    """
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    variants = (variant, *more)
    fns = {"ref": ref[1]} | {f"var{i}": v[1] for i, v in enumerate(variants)}
    ms = interleaved_ms(fns, device, warmup, repeats, rewarm)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    rows = [BenchRow(bench, ref[0], ms["ref"], note=note if ref_note is None else ref_note)]
    for i, (name, _) in enumerate(variants):
        var = ms[f"var{i}"]
        rows.append(BenchRow(bench, name, var, reference=ref[0], ratio=var / ms["ref"], peak_mem_mb=peak, note=note))
    return rows


def adam_step_fn(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    """One training step as benchmarks time it: zero grads, forward, cross-entropy, backward, Adam update."""
    import torch.nn.functional as F

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return step


#: glibc allocator variables that change CPU timings of multi-step SNNs (see docs/performance.md)
ALLOCATOR_VARS = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX", "LD_PRELOAD")


def allocator_setting() -> str:
    import os

    from snnrepro.engine import allocator

    env = " ".join(f"{k}={os.environ[k]}" for k in ALLOCATOR_VARS if k in os.environ)
    if allocator.APPLIED:
        return f"mallopt M_MMAP_MAX=0 M_TRIM_THRESHOLD={allocator.TRIM_THRESHOLD} (CLI default)" + (
            f" {env}" if env else ""
        )
    return env or "glibc defaults"


def machine_info(device: torch.device) -> dict[str, str]:
    """What a reader needs to compare two benchmark reports: machine, threads, versions, allocator setting."""
    import os
    import platform

    import snnrepro

    info = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "device": str(device),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": str(os.cpu_count()),
        "torch_threads": str(torch.get_num_threads()),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "snnrepro": snnrepro.__version__,
        "allocator": allocator_setting(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def bench_names(names: list[str] | None) -> list[str]:
    """The registered benchmarks ``names`` asks for (every one for none or ``all``); an unknown name is refused
    before anything runs."""
    from snnrepro.registry import BENCHES

    chosen = BENCHES.names() if not names or names == ["all"] else names
    for name in chosen:
        BENCHES.get(name)
    return chosen


def run_bench(name: str, device: torch.device, quick: bool) -> list[BenchRow]:
    """The rows of registered benchmark ``name``."""
    from snnrepro.registry import BENCHES

    return BENCHES.get(name)(device, quick)


def report_label(chosen: list[str]) -> str:
    """``all`` for every registered benchmark, else their names joined by ``-`` (the report's file name)."""
    from snnrepro.registry import BENCHES

    return "all" if chosen == BENCHES.names() else "-".join(chosen)


def markdown(rows: list[BenchRow], info: dict[str, str]) -> str:
    """A Markdown report: the machine facts, then one table row per measurement."""
    lines = ["# snnrepro bench", "", *(f"- {k}: {v}" for k, v in info.items()), ""]
    lines += ["| bench | variant | ms/step | reference | ratio | peak MB | note |", "|---|---|---:|---|---:|---:|---|"]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}x"
        peak = "" if r.peak_mem_mb is None else f"{r.peak_mem_mb:.0f}"
        cells = (r.bench, r.name, f"{r.ms_per_step:.2f}", r.reference or "", ratio, peak, r.note)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(rows: list[BenchRow], device: torch.device, folder: Path, label: str, quick: bool) -> list[Path]:
    """``<folder>/bench-<label>-<device type>[-quick].{md,csv}`` with the machine facts in both."""
    import pandas as pd

    from snnrepro.io import atomic_write_bytes

    info = machine_info(device)
    stem = f"bench-{label}-{device.type}" + ("-quick" if quick else "")
    md, csv = Path(folder) / f"{stem}.md", Path(folder) / f"{stem}.csv"
    atomic_write_bytes(md, markdown(rows, info).encode())
    frame = pd.DataFrame([r.__dict__ for r in rows])
    for k, v in info.items():
        frame[k] = v
    atomic_write_bytes(csv, frame.to_csv(index=False).encode())
    return [md, csv]
