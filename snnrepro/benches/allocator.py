"""Benchmark: what a CPU user gets by default -- the CLI's allocator setting against glibc's defaults.

Every ``snnrepro`` process applies ``mallopt`` at start-up (:mod:`snnrepro.engine.allocator`); opting
out (``SNNREPRO_MALLOC=default``) leaves glibc's defaults.  The setting is per process and glibc's
default mmap threshold adapts to what a process frees, so the two cases cannot share one process:
each round starts one child per setting (alternately, ``ROUNDS`` rounds) that times training steps of
the LIF bench net (:class:`snnrepro.benches.lif.SnnreproNet`, fused time loop, ``T`` = 4, batch 64:
the shape of a multi-step CPU run) after the same start-up as the CLI.  Rows: median ms per step of
each setting; the "default CLI" row's ratio is against glibc's defaults (< 1: the default is faster).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

import torch

from snnrepro.bench import BenchRow
from snnrepro.registry import BENCHES

T, BATCH, STEPS, WARMUP = 4, 64, 8, 2
ROUNDS = 3
CHILD = """
import json, sys, time
from snnrepro.engine.allocator import tune_glibc_malloc
applied = tune_glibc_malloc()
import torch, torch.nn.functional as F
from snnrepro.benches.lif import SnnreproNet, _step_fn
torch.manual_seed(0)
T, B, steps, warm = (int(a) for a in sys.argv[1:5])
x = (torch.rand(T, B, 2, 34, 34) < 0.15).float()
target = F.one_hot(torch.randint(0, 10, (B,)), 10).float()
step = _step_fn(SnnreproNet("fused"), x, target)
for _ in range(warm):
    step()
ms = []
for _ in range(steps):
    t0 = time.perf_counter(); step(); ms.append(1e3 * (time.perf_counter() - t0))
print(json.dumps({"applied": applied, "ms": sorted(ms)[len(ms) // 2]}))
"""


def _child(env_malloc: str | None, steps: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_")}
    env.pop("SNNREPRO_MALLOC", None)
    if env_malloc is not None:
        env["SNNREPRO_MALLOC"] = env_malloc
    env.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))
    args = [sys.executable, "-c", CHILD, str(T), str(BATCH), str(steps), str(WARMUP)]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@BENCHES.register("allocator")
def run(device: torch.device, quick: bool) -> list[BenchRow]:
    """Median ms per LIF training step in a child process: glibc defaults vs the CLI's default setting."""
    if device.type != "cpu":
        return [BenchRow("allocator", "default CLI", float("nan"), note="CPU only: the setting is glibc's heap")]
    steps, rounds = (4, 1) if quick else (STEPS, ROUNDS)
    runs: dict[str, list[float]] = {"glibc": [], "cli": []}
    applied = False
    for _ in range(rounds):
        runs["glibc"].append(_child("default", steps)["ms"])
        res = _child(None, steps)
        runs["cli"].append(res["ms"])
        applied = applied or bool(res["applied"])
    glibc, cli = statistics.median(runs["glibc"]), statistics.median(runs["cli"])
    note = f"LIF bench net, fused, T={T}, B={BATCH}, {steps} steps x {rounds} alternating child processes"
    if not applied:
        note += "; mallopt not applied here (not Linux/glibc): both rows are glibc defaults"
    return [
        BenchRow("allocator", "glibc defaults (SNNREPRO_MALLOC=default)", glibc, note=note),
        BenchRow("allocator", "default CLI (mallopt at start-up)", cli, reference="glibc defaults", ratio=cli / glibc,
                 note=note),
    ]  # fmt: skip
