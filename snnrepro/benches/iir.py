"""Benchmark: one training step of the IIR family vs the shared LIF core on the same network.

Network: the authors' MNIST MLP 784-500-500-10, T = 25 rate-coded steps, batch 64, Adam, spike-count
cross-entropy (Eq. 6-7).  The reference is the same weights with the core's fused multi-step LIF
(:func:`snnrepro.neurons.lif.lif_multistep`, soft reset, gaussian surrogate) in place of the IIR
synapse/neuron/reset filters; ratio = IIR ms / LIF-core ms, measured in the same process.  The reference
and the three variants are timed round-robin in one :func:`snnrepro.bench.interleaved_ms` call, so the one
reference row printed is the one every ratio divides by (ratio = the printed ms / the printed reference ms).
"""

from __future__ import annotations

import torch
from torch import nn

from snnrepro.bench import BenchRow, adam_step_fn, interleaved_ms
from snnrepro.models.iir import build as build_iir
from snnrepro.neurons.lif import LIF
from snnrepro.registry import BENCHES

ARCH = "784-500-500-10"
STEPS = 25
BATCH = 64


class _LIFCoreNet(nn.Module):
    """784-500-500-10 of Linear layers on ``[T*B, ...]`` and the core's fused LIF; output spike counts."""

    def __init__(self) -> None:
        super().__init__()
        widths = [784, 500, 500, 10]
        self.fcs = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(widths, widths[1:], strict=False))
        self.lif = LIF(decay=0.9, threshold=1.0, reset="soft", surrogate={"name": "gaussian", "sigma": 0.4})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.flatten(2)
        for fc in self.fcs:
            z = self.lif(fc(z))
        return z.sum(0)


@BENCHES.register("iir")
def run(device: torch.device, quick: bool) -> list[BenchRow]:
    """ms per Adam step; rows: LIF core (reference), IIR ``lif`` preset, IIR dual-exp fixed and trained kernels."""
    torch.manual_seed(0)
    x = (torch.rand(STEPS, BATCH, 1, 28, 28, device=device) < 0.2).float()
    y = torch.randint(0, 10, (BATCH,), device=device)
    repeats = 3 if quick else 10
    ref = _LIFCoreNet().to(device)
    ref_step = adam_step_fn(ref, x, y)
    note = f"T {STEPS}, batch {BATCH}, Adam, spike-count CE; timed alternately with the LIF core"
    ref_name = f"LIF core (fused) {ARCH}"
    variants = (
        ("IIR lif preset (no synapse filter)", {"preset": "lif", "lam": 0.9, "theta": 0.0, "reset_scale": 0.9}),
        ("IIR dual-exp, fixed kernel", {"train_kernel": False}),
        ("IIR dual-exp, trained kernel", {"train_kernel": True}),
    )
    steps = {ref_name: ref_step}
    for name, params in variants:
        net = build_iir(ARCH, (1, 28, 28), 10, **params).to(device)
        steps[f"{name} {ARCH}"] = adam_step_fn(net, x, y)
    ms = interleaved_ms(steps, device, warmup=1, repeats=repeats, rewarm=1)
    peak: dict[str, float | None] = dict.fromkeys(steps)
    if device.type == "cuda":  # peak allocated MB during one more step of each (all four nets resident)
        for name, step in steps.items():
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            step()
            torch.cuda.synchronize(device)
            peak[name] = torch.cuda.max_memory_allocated(device) / 2**20
    rows = [BenchRow("iir", ref_name, ms[ref_name], peak_mem_mb=peak[ref_name], note=note)]
    for name in list(steps)[1:]:
        rows.append(
            BenchRow(
                "iir",
                name,
                ms[name],
                reference=ref_name,
                ratio=ms[name] / ms[ref_name],
                peak_mem_mb=peak[name],
                note=note,
            )
        )
    return rows
