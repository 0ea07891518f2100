"""Benchmark: one STDBP training step (784-400-10 and the MNIST CNN) vs the same-shape ReLU ANN.

Input: real MNIST digits from the data root (``$SNNREPRO_DATA``/``./data``) when present, else the
bundled sklearn digits upsampled to 28x28 (real handwriting, more non-zero pixels than MNIST:
about 70 % against 19 %) -- the row note says which.  Latency-coded with black pixels silent.
"""

from __future__ import annotations

import torch
from torch import nn

from snnrepro.bench import BenchRow, adam_step_fn, timed_against
from snnrepro.encoders.latency import Latency
from snnrepro.models.relpsp import build as build_relpsp
from snnrepro.models.relu import build as build_relu
from snnrepro.registry import BENCHES, DATASETS

BATCH = 128
CASES = (("784-400-10", "relu 784-400-10"), ("28x28-6C5-P2-16C5-P2-1024-128-10", "relu CNN (valid)"))


def _images(n: int) -> tuple[torch.Tensor, str]:
    from snnrepro.data.loading import data_root

    try:
        bundle = DATASETS.get("mnist").load(data_root(), download=False)
        source = "MNIST"
    except Exception:  # noqa: BLE001 - any missing/unreadable MNIST falls back to the bundled digits
        bundle = DATASETS.get("digits").load(data_root(), download=False, size=28)
        source = "sklearn digits 28x28"
    x = torch.stack([bundle.train[i][0] for i in range(n)])
    return x, source


@BENCHES.register("stdbp")
def run(device: torch.device, quick: bool) -> list[BenchRow]:
    """ms per Adam step (encode, forward, Eq. 13, backward, update) at batch 128; ratio = STDBP / ANN."""
    torch.manual_seed(0)
    x, source = _images(BATCH)
    x = x.to(device)
    y = torch.randint(0, 10, (BATCH,), device=device)
    nonzero = float((x > 0).float().mean())
    repeats = 3 if quick else 15
    rows: list[BenchRow] = []
    for arch, ann_name in CASES:
        ann = build_relu(arch, (1, 28, 28), 10, padding="valid").to(device)
        snn = nn.Sequential(Latency(), build_relpsp(arch, (1, 28, 28), 10, t_max=8.0, mean=5.0)).to(device)
        rows += timed_against(
            "stdbp", (f"{ann_name} ANN", adam_step_fn(ann, x, y)), (f"STDBP {arch}", adam_step_fn(snn, x, y)),
            device, warmup=1, repeats=repeats, rewarm=3, ref_note=f"batch {BATCH}, Adam",
            note=f"batch {BATCH}, {source}, {100 * nonzero:.0f} % pixels spike, init weights; timed alternately",
        )
    return rows
