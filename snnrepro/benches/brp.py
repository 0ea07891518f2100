"""Benchmark: one BRP training step vs one pseudo-BP (surrogate BPTT) step on the same spiking CNN.

The paper's Table I claims a lower complexity for BRP (``O(nK + (m+1)K)``) than for pseudo-BP
(``O(nK + m(m+1)K)``): BRP skips the layer-to-layer error chain (no gradient w.r.t. any layer's
input is computed; each hidden layer gets ``TP @ B^l`` directly).  Both share the forward pass, so
the rows give the whole step and its learning part (step minus forward) with ratio BRP / BP.
"""

from __future__ import annotations

import torch
from torch import nn

from snnrepro.bench import BenchRow, time_step
from snnrepro.encoders.frames import Frames
from snnrepro.encoders.rate import Rate
from snnrepro.losses.classification import mse_onehot
from snnrepro.models.brp import build
from snnrepro.registry import BENCHES, RULES

BATCH = 50  # the paper's batch size


def _setups(quick: bool) -> list[tuple[str, str, tuple[int, ...], nn.Module, torch.Tensor, dict]]:
    t_img = 10 if quick else 20
    img = torch.rand(BATCH, 1, 28, 28)
    seq = torch.rand(BATCH, 1, 30, 30) * 0.05  # audio features [1, bands, frames]
    return [
        ("MNIST", "Conv5x5x28-FC1000-FC10", (1, 28, 28), Rate(T=t_img, i_rd=1.0), img, {}),
        (
            "TIDIGITS 1-D",
            "Conv1x3x100-S1-FC1000-FC10",
            (1, 30, 30),
            Frames(T=30, i_rd=0.1, time_axis=-1),
            seq,
            {"time_axis": -1},
        ),
    ]


def _model(arch: str, shape: tuple[int, ...], encoder: nn.Module, params: dict, device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("encoder", encoder)
    model.add_module("net", build(arch, shape, 10, **params))
    return model.to(device)


@BENCHES.register("brp")
def run(device: torch.device, quick: bool) -> list[BenchRow]:
    """ms per Adam step (forward, MSE, gradients, update) at batch 50 for rules ``backprop`` and ``brp``.

    Each network is built once per rule from the same seed; the forward pass alone (with the graph)
    is timed too, so that ``learning = step - forward`` isolates what the rule itself costs.
    """
    repeats = 3 if quick else 10
    rows: list[BenchRow] = []
    y = torch.arange(BATCH, device=device) % 10
    for label, arch, shape, encoder, x, params in _setups(quick):
        x = x.to(device)
        t_steps = encoder.T
        timings: dict[str, float] = {}
        for rule_name in ("backprop", "brp"):
            model = _model(arch, shape, encoder, params, device)
            rule = RULES.get(rule_name)(model, mse_onehot())
            opt = torch.optim.Adam(model.parameters(), lr=1e-4)
            step = lambda r=rule, o=opt, xb=x: r.step(xb, y, o)  # noqa: E731
            timings[rule_name] = time_step(step, device, warmup=1, repeats=repeats)
            if rule_name == "backprop":
                timings["forward"] = time_step(lambda m=model, xb=x: m(xb), device, warmup=1, repeats=repeats)
        fwd, bp, brp = timings["forward"], timings["backprop"], timings["brp"]
        note = f"batch {BATCH}, T={t_steps}, Adam, {device.type}"
        name = f"{label} {arch}"
        rows += [
            BenchRow("brp", f"forward only, {name}", fwd, note=note),
            BenchRow("brp", f"pseudo-BP step, {name}", bp, note=note),
            BenchRow("brp", f"BRP step, {name}", brp, reference=f"pseudo-BP step, {name}", ratio=brp / bp, note=note),
            BenchRow(
                "brp",
                f"BRP learning part (step - forward), {name}",
                brp - fwd,
                reference="pseudo-BP learning part",
                ratio=(brp - fwd) / max(bp - fwd, 1e-9),
                note=note,
            ),
        ]
    return rows
