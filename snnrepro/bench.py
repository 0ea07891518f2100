"""Benchmark rows and the timing helper every registered benchmark uses.

Each benchmark measures a method and its reference (the same-shape ANN, or a peer
library) in the same process, so the *ratio* is meaningful on any machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

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


def time_step(fn: Callable[[], object], device: torch.device, warmup: int = 2, repeats: int = 5) -> float:
    """Median wall time of ``fn()`` in milliseconds, synchronising CUDA around each call."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - t0) * 1000.0)
    times.sort()
    return times[len(times) // 2]
