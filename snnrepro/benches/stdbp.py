"""Benchmark: STDBP training steps in the regime the specs train in, against the same-shape ReLU ANN.

Settings are the specs' own (``mnist-stdbp-mlp400`` and ``mnist-stdbp-cnn``: ``t_max`` 1000, silent
outputs read at the window's end, weights N(5/fan_in, 1/fan_in), Adam at the spec's learning rate),
because the cost of the exact spike-time kernel depends on them: on how many inputs spike (the
input density) and on where the neurons fire (the weights).  Each architecture is timed on:

* two input sets: real MNIST from the data root (about 19 % of pixels spike) when present, and the
  bundled sklearn digits upsampled to 28x28 (real handwriting, about 70 % of pixels spike);
* two weight states: the initial weights, and the weights after ``WARM_STEPS`` Adam steps on that
  input set (deterministic: seed 0, the same batches) -- the step time moves as the firing pattern
  changes during training.

Each STDBP network is timed with each CPU kernel of :mod:`snnrepro.neurons.relpsp` (``numba``, the
default on CPUs, and ``torch``; on a GPU only ``torch``), the same weights in both, alternately with the
ANN of the same shape (same batch, Adam) in the same run; the ratio is SNN / ANN.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from snnrepro.bench import BenchRow, adam_step_fn, timed_against
from snnrepro.encoders.latency import Latency
from snnrepro.models.relpsp import build as build_relpsp
from snnrepro.models.relu import build as build_relu
from snnrepro.registry import BENCHES, DATASETS

BATCH = 128
WARM_STEPS = 100
#: (spec whose model params and learning rate are used, ANN name)
CASES = (("mnist-stdbp-mlp400", "relu 784-400-10"), ("mnist-stdbp-cnn", "relu CNN (valid)"))


def _input_sets(n: int) -> list[tuple[torch.Tensor, str]]:
    """``[n, 1, 28, 28]`` images of MNIST (when present) and of the upsampled digits, with their names."""
    from snnrepro.data.loading import data_root

    sets = []
    try:
        bundle = DATASETS.get("mnist").load(data_root(), download=False)
        sets.append((torch.stack([bundle.train[i][0] for i in range(n)]), "MNIST"))
    except Exception:  # noqa: BLE001 - a missing/unreadable MNIST leaves the bundled digits
        pass
    digits = DATASETS.get("digits").load(data_root(), download=False, size=28)
    sets.append((torch.stack([digits.train[i][0] for i in range(n)]), "digits 28x28"))
    return sets


def _kernels(device: torch.device) -> tuple[str, ...]:
    """The first-spike kernels to time: numba (when it imports) and torch on CPUs, torch elsewhere."""
    from snnrepro.neurons.relpsp import kernel_numba

    return ("numba", "torch") if device.type == "cpu" and kernel_numba.AVAILABLE else ("torch",)


def _snn(spec_id: str, kernel: str = "auto") -> tuple[nn.Module, str, float]:
    from snnrepro.spec import load_spec

    spec = load_spec(spec_id)
    net = build_relpsp(spec.model.arch, (1, 28, 28), 10, **spec.model.params, kernel=kernel)
    return nn.Sequential(Latency(**spec.encoder.params), net), spec.model.arch, spec.optimizer.lr


def _warm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, steps: int) -> None:
    """``steps`` deterministic Adam steps (the spec's lr) over batches of ``x``."""
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (BATCH,))
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()


@BENCHES.register("stdbp")
def run(device: torch.device, quick: bool) -> list[BenchRow]:
    """ms per Adam step (encode, forward, Eq. 13, backward, update) at batch 128; ratio = STDBP / ANN."""
    repeats = 3 if quick else 10
    warm_steps = 10 if quick else WARM_STEPS
    rows: list[BenchRow] = []
    for x_all, source in _input_sets(4 * BATCH):
        torch.manual_seed(0)
        x_all = x_all.to(device)
        y_all = torch.randint(0, 10, (len(x_all),), device=device)
        x, y = x_all[:BATCH], y_all[:BATCH]
        density = 100 * float((x > 0).float().mean())
        for spec_id, ann_name in CASES:
            snns = {}
            for kernel in _kernels(device):
                torch.manual_seed(0)
                snn, arch, lr = _snn(spec_id, kernel)
                snns[kernel] = snn.to(device)
            first, *others = snns.values()
            ann = build_relu(arch, (1, 28, 28), 10, padding="valid").to(device)
            for state in ("init", f"after {warm_steps} steps"):
                if state != "init":
                    _warm(first, x_all, y_all, lr, warm_steps)
                    for other in others:
                        other.load_state_dict(first.state_dict())
                steps = [  # copies: the timed steps must not move the state being measured
                    (f"STDBP {arch} {kernel} [{source}, {state}]", adam_step_fn(copy.deepcopy(snn), x, y))
                    for kernel, snn in snns.items()
                ]
                note = f"batch {BATCH}, {source} ({density:.0f} % pixels spike), t_max 1000, {state}; alternate"
                rows += timed_against(
                    "stdbp", (f"{ann_name} ANN", adam_step_fn(ann, x, y)), steps[0], device, warmup=1,
                    repeats=repeats, rewarm=3, ref_note=f"batch {BATCH}, Adam", note=note, more=tuple(steps[1:]),
                )  # fmt: skip
    return _relative_to_mnist_init(rows)


def _relative_to_mnist_init(rows: list[BenchRow]) -> list[BenchRow]:
    """Add to each STDBP row its cost over the same architecture and kernel's first (MNIST, init) row.

    Two factors: the raw step-time ratio (the density target's measure on a quiet machine, issue #17: no
    input set or weight state more than 2x the MNIST init step), and the same ratio with each step time
    first divided by its ANN's (timed alternately beside it).  The ANN's work does not depend on the input
    density or the weights, so the second cancels what a shared machine's load did between the two slots.
    """
    base: dict[str, BenchRow] = {}
    for r in rows:
        if r.name.startswith("STDBP "):
            arch = r.name.split(" [")[0]
            first = base.setdefault(arch, r)
            what = f"the {arch.removeprefix('STDBP ')} first-input init step"
            r.note += f"; {r.ms_per_step / first.ms_per_step:.2f}x {what}"
            if r.ratio is not None and first.ratio:
                r.note += f" ({r.ratio / first.ratio:.2f}x over the ANN beside each)"
    return rows
