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
    names = {True: f"RSN {ARCH} (learnable delays)", False: f"RSN {ARCH} (no delays)"}
    fns = {"ref": ann_step}
    for delays in (True, False):
        net = nn.Sequential(AmountPhase(), build_resonate(ARCH, (1, 28, 28), 10, delays=delays)).to(device)
        fns[names[delays]] = adam_step_fn(net, x, y)
    # one round-robin: every printed ratio is its printed ms over the one printed ANN ms
    ms = interleaved_ms(fns, device, warmup=2, repeats=repeats, rewarm=3)
    note = f"batch {BATCH}, Adam, closed form (no time loop); timed round-robin with the ANN"
    rows = [BenchRow("rsn", f"relu ANN {ARCH}", ms["ref"], note=f"batch {BATCH}, Adam")]
    for name in names.values():
        ratio = ms[name] / ms["ref"]
        rows.append(BenchRow("rsn", name, ms[name], reference=f"relu ANN {ARCH}", ratio=ratio, note=note))
    return rows
