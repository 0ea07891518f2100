"""Where an STDBP training step spends its time, per layer, on MNIST and on the dense upsampled digits.

The bench's density target (no input set more than 2x the MNIST step) is missed at one thread on 784-400-10
(results/bench/one-thread/bench-stdbp-cpu.md).  This tool times full Adam steps of the ``snnrepro bench stdbp``
784-400-10 network (spec settings, after the bench's 100 warm-up steps) and, inside them, each numba
first-spike call (forward: sort + Eq. 12 scan; backward: Eq. 14-15), and counts the work the scans do:
spiking inputs per row, fired fraction and the (position, neuron) pairs walked.  Writes a Markdown report;
docs/performance-stdbp.md quotes it::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 \\
        SNNREPRO_DATA=../shared/data PYTHONPATH=$PWD \\
        python tools/stdbp_step_breakdown.py --out results/bench/one-thread/stdbp-step-breakdown.md
"""

from __future__ import annotations

import argparse
import datetime
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from snnrepro.benches.stdbp import BATCH, WARM_STEPS, _input_sets, _snn, _warm
from snnrepro.neurons.relpsp import kernel_numba

SPEC = "mnist-stdbp-mlp400"


def _timed_steps(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, steps: int) -> dict:
    """Mean ms per Adam step and per numba call (keyed by layer shape), and what the first timed step's backward
    calls were given (saved forward, ``need_t``, ``need_w``), in layer order."""
    fn = kernel_numba._FirstSpikeNumba
    orig_fwd, orig_grads = fn.forward, kernel_numba._grads
    ms: dict[str, float] = defaultdict(float)
    calls: list[tuple[kernel_numba._Saved, bool, bool]] = []

    def forward(ctx, t_in, weight, theta, t_max):  # noqa: ANN001, ANN202
        t0 = time.perf_counter()
        out = orig_fwd(ctx, t_in, weight, theta, t_max)
        ms[f"forward {tuple(weight.shape)}"] += time.perf_counter() - t0
        return out

    def grads(sv, g, need_t, need_w):  # noqa: ANN001, ANN202
        t0 = time.perf_counter()
        out = orig_grads(sv, g, need_t, need_w)
        ms[f"backward {sv.w.shape}"] += time.perf_counter() - t0
        if step == 2:  # the first timed step
            calls.append((sv, need_t, need_w))
        return out

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    fn.forward, kernel_numba._grads = staticmethod(forward), grads
    try:
        for step in range(steps + 2):  # two untimed steps first
            if step == 2:
                ms.clear()
                t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        total = time.perf_counter() - t0
    finally:
        fn.forward, kernel_numba._grads = orig_fwd, orig_grads
    return {"step": 1e3 * total / steps, **{k: 1e3 * v / steps for k, v in ms.items()}, "calls": calls[::-1]}


def _work(sv: kernel_numba._Saved, need_t: bool, need_w: bool) -> str:
    fired = sv.n_causal > 0
    mode, lo, hi = kernel_numba.backward_mode(sv, need_t, need_w)
    scan = float(sv.n_spk.mean()) * sv.w.shape[1]
    return (
        f"{tuple(sv.w.shape)}: {sv.n_spk.mean():.0f} spiking inputs/row, {100 * fired.mean():.1f} % fired, "
        f"mean causal set {sv.n_causal[fired].mean():.0f}, forward walks {scan / 1e3:.0f}k (position, neuron)/row, "
        f"backward '{mode}' walks {float((hi - lo).mean()) * sv.w.shape[1] / 1e3:.0f}k/row"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    sets = _input_sets(4 * BATCH)
    results, work = {}, {}
    models = {}
    for x_all, source in sets:
        torch.manual_seed(0)
        y_all = torch.randint(0, 10, (len(x_all),))
        model, arch, lr = _snn(SPEC, "numba")
        _warm(model, x_all, y_all, lr, WARM_STEPS)
        models[source] = (model, x_all[:BATCH], y_all[:BATCH], lr)
    for _ in range(args.repeats):  # the input sets alternate
        for source, (model, x, y, lr) in models.items():
            r = _timed_steps(model, x, y, lr, args.steps)
            calls = r.pop("calls")
            if source not in work:  # the first repeat's
                work[source] = [_work(*call) for call in calls]
            for k, v in r.items():
                results.setdefault(source, defaultdict(list))[k].append(v)
    keys = list(next(iter(results.values())))
    names = list(results)
    lines = [
        f"# STDBP {arch}: where a training step spends its time",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M:%S} UTC",
        f"- torch threads: {torch.get_num_threads()}; batch {BATCH}; spec {SPEC}, after {WARM_STEPS} warm-up steps; "
        f"{args.steps} steps x {args.repeats} repeats, the input sets alternating; ms are min / max over repeats",
        "- forward = the whole numba call (the batch sort of dense rows, the Eq. 12 scan); backward = Eq. 14-15;"
        " rest = encoder, Eq. 13 loss, autograd and Adam",
        "",
        "| part | " + " | ".join(f"{n} ms" for n in names) + " | " + " / ".join(names[::-1]) + " |",
        "|---|" + "---:|" * (len(names) + 1),
    ]
    rest = {n: [results[n]["step"][i] - sum(results[n][k][i] for k in keys if k != "step")
                for i in range(args.repeats)] for n in names}  # fmt: skip
    for k in [*keys[1:], "rest", "step"]:
        vals = {n: (rest[n] if k == "rest" else results[n][k]) for n in names}
        cells = " | ".join(f"{min(v):.2f} / {max(v):.2f}" for v in vals.values())
        ratio = np.mean(vals[names[-1]]) / np.mean(vals[names[0]]) if len(names) > 1 else float("nan")
        lines.append(f"| {'**step**' if k == 'step' else k} | {cells} | {ratio:.2f}x |")
    lines += ["", "Work per row in the first timed step of the first repeat:", ""]
    lines += [f"- {n}: " + "; ".join(w) for n, w in work.items()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
