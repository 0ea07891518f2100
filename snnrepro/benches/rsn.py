"""Benchmark: one SLDBP training step of the 784-400-10 RSN vs the same-shape ReLU ANN."""

from __future__ import annotations

import torch
from torch import nn

from snnrepro.bench import BenchRow, adam_step_fn, timed_against
from snnrepro.encoders.amount_phase import AmountPhase
from snnrepro.models.relu import build as build_relu
from snnrepro.models.resonate import build as build_resonate
from snnrepro.registry import BENCHES

ARCH = "784-400-10"
BATCH = 128


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
        net = nn.Sequential(AmountPhase(), build_resonate(ARCH, (1, 28, 28), 10, delays=delays)).to(device)
        ref_row, row = timed_against(
            "rsn", (f"relu ANN {ARCH}", ann_step),
            (f"RSN {ARCH} ({'learnable delays' if delays else 'no delays'})", adam_step_fn(net, x, y)),
            device, warmup=2, repeats=repeats, rewarm=3, ref_note=f"batch {BATCH}, Adam",
            note=f"batch {BATCH}, Adam, closed form (no time loop); timed alternately with the ANN",
        )
        rows += [row] if rows else [ref_row, row]
    return rows
