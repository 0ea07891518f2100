"""Benchmark: one SLDBP training step of the 784-400-10 RSN vs the same-shape ReLU ANN."""

from __future__ import annotations

import torch
from torch import nn

from snnrepro.bench import BenchRow, adam_step_fn, interleaved_ms
from snnrepro.encoders.amount_phase import AmountPhase
from snnrepro.models.relu import build as build_relu
from snnrepro.models.resonate import build as build_resonate
from snnrepro.registry import BENCHES

ARCH = "784-400-10"
BATCH = 128


def _peak_mb(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20


@BENCHES.register("rsn")
def run(device: torch.device, quick: bool) -> list[BenchRow]:
    """ms per Adam step (forward, Eq. 13 loss, backward, update) at batch 128 on MNIST-shaped input.

    Rows: the RSN with learnable delays (the specs' setting), the RSN without delays, and the
    same-shape ReLU ANN as the reference; ratio = RSN ms / ANN ms, measured in the same process.
    """
    torch.manual_seed(0)
    x = torch.rand(BATCH, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (BATCH,), device=device)
    repeats = 5 if quick else 20
    ann = build_relu(ARCH, (1, 28, 28), 10).to(device)
    ann_step = adam_step_fn(ann, x, y)
    rows: list[BenchRow] = []
    for delays in (True, False):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        net = nn.Sequential(AmountPhase(), build_resonate(ARCH, (1, 28, 28), 10, delays=delays)).to(device)
        ms = interleaved_ms({"ann": ann_step, "rsn": adam_step_fn(net, x, y)}, device, 2, repeats, rewarm=3)
        if not rows:
            rows.append(BenchRow("rsn", f"relu ANN {ARCH}", ms["ann"], note=f"batch {BATCH}, Adam"))
        rows.append(
            BenchRow(
                "rsn",
                f"RSN {ARCH} ({'learnable delays' if delays else 'no delays'})",
                ms["rsn"],
                reference=f"relu ANN {ARCH}",
                ratio=ms["rsn"] / ms["ann"],
                peak_mem_mb=_peak_mb(device),
                note=f"batch {BATCH}, Adam, closed form (no time loop); timed alternately with the ANN",
            )
        )
    return rows
