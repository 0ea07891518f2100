"""Same-process A/B of two ReL-PSP kernels: forward + backward of the STDBP bench net, old vs new.

Loads a previous kernel file (``snnrepro/neurons/relpsp/kernel.py``, or ``snnrepro/neurons/relpsp.py``
before it was split from the layers) beside the current one, swaps each into the
same model (same batch of ``snnrepro bench stdbp``, same weights), checks that they agree, and times them
round-robin with the same-shape ReLU ANN (no optimizer step).  docs/performance-stdbp.md quotes its output::

    git show e964216:snnrepro/neurons/relpsp.py > /tmp/relpsp_old.py
    MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 SNNREPRO_DATA=../shared/data \\
        PYTHONPATH=$PWD python tools/relpsp_ab.py /tmp/relpsp_old.py --threads 1 --repeats 25
    ... --threads 2
    ... --arch 28x28-6C5-P2-16C5-P2-1024-128-10 --repeats 5

With ``--threads 1`` the times are ``time.thread_time`` (CPU time of this thread), else wall clock.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from types import ModuleType

import torch
import torch.nn.functional as F
from torch import nn

from snnrepro.benches.stdbp import BATCH, _input_sets
from snnrepro.encoders.latency import Latency
from snnrepro.models.relpsp import build as build_relpsp
from snnrepro.models.relu import build as build_relu
from snnrepro.neurons.relpsp import kernel as relpsp
from snnrepro.neurons.relpsp import layers as relpsp_layers


def load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("relpsp_old", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", help="path of the other kernel (relpsp/kernel.py, or an old relpsp.py)")
    ap.add_argument("--arch", default="784-400-10")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    old = load(args.old)
    torch.manual_seed(0)
    (x, source), *_ = _input_sets(BATCH)  # MNIST when the data root has it, else the upsampled digits
    print(f"inputs: {source}")
    y = torch.randint(0, 10, (BATCH,))
    snn = nn.Sequential(Latency(), build_relpsp(args.arch, (1, 28, 28), 10, t_max=8.0, mean=5.0))
    ann = build_relu(args.arch, (1, 28, 28), 10, padding="valid")

    def kernel(module: ModuleType):  # noqa: ANN202 - a bound replacement for _RelPspLayer._times
        def times(layer: relpsp_layers._RelPspLayer, t_in: torch.Tensor) -> torch.Tensor:
            chunk = [] if layer.chunk is None else [layer.chunk]
            return module.first_spike_times(t_in, layer.weight, layer.theta, layer.t_max, *chunk)

        return times

    def step(model: nn.Module, module: ModuleType | None = None) -> torch.Tensor:
        if module is not None:
            relpsp_layers._RelPspLayer._times = kernel(module)  # type: ignore[method-assign]
        model.zero_grad(set_to_none=True)
        out = model(x)
        F.cross_entropy(out, y).backward()
        return out.detach()

    outs = {}
    for name, module in (("old", old), ("new", relpsp)):
        outs[name] = (step(snn, module), [p.grad.clone() for p in snn.parameters()])
    d_out = float((outs["old"][0] - outs["new"][0]).abs().max())
    pairs = zip(outs["old"][1], outs["new"][1], strict=True)
    d_grad = max(float((a - b).abs().max() / (a.abs().max() + 1e-30)) for a, b in pairs)
    print(f"max |scores old - new| {d_out:.3g}; max gradient difference / max |gradient| {d_grad:.3g}")
    fns = {"old": lambda: step(snn, old), "new": lambda: step(snn, relpsp), "ann": lambda: step(ann)}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(args.repeats):
        for name, fn in fns.items():
            t0 = clock()
            fn()
            times[name].append((clock() - t0) * 1000)
    best = {k: min(v) for k, v in times.items()}
    print(f"{args.arch}, {args.threads} thread(s), min of {args.repeats}: "
          + " | ".join(f"{k} {v:.2f} ms" for k, v in best.items())
          + f" | new/old {best['new'] / best['old']:.2f}x, new/ANN {best['new'] / best['ann']:.2f}x")


if __name__ == "__main__":
    main()
