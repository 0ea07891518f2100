"""Same-process A/B of where the numba ReL-PSP kernel sorts long input rows: before the call for the whole
batch (``stable_sort``, NumPy's SIMD sort on one thread) or inside the kernel, row by row in parallel.

``kernel_numba.PRESORT_DENSITY`` 0.0 sorts every long row before the call (the kernel until 2026-12-06);
0.5 (the default) sorts sparse rows (MNIST pixels) inside the kernel.  Both give bitwise the same result
(tests/test_relpsp_numba.py), so only time differs.  Full Adam training steps of the ``snnrepro bench
stdbp`` networks and batch (spec settings, real MNIST from the data root when present), initial weights
and after 100 warm-up steps, timed alternately by :func:`snnrepro.bench.timed_against` in both orders
(each time is the mean of its two slots); writes a Markdown report.  docs/performance-stdbp.md quotes it::

    MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 SNNREPRO_DATA=../shared/data PYTHONPATH=$PWD \\
        python tools/stdbp_presort_ab.py --out results/bench/stdbp-presort-ab-2threads.md
    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 ... --out results/bench/stdbp-presort-ab-1thread.md
"""

from __future__ import annotations

import argparse
import copy
import datetime
from collections.abc import Callable
from pathlib import Path

import torch

from snnrepro.bench import adam_step_fn, timed_against
from snnrepro.benches.stdbp import BATCH, CASES, WARM_STEPS, _input_sets, _snn, _warm
from snnrepro.neurons.relpsp import kernel_numba


def _with_density(step: Callable[[], object], density: float) -> Callable[[], object]:
    def run() -> object:
        kernel_numba.PRESORT_DENSITY = density
        return step()

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    default = kernel_numba.PRESORT_DENSITY
    (x_all, source), *_ = _input_sets(4 * BATCH)
    torch.manual_seed(0)
    y_all = torch.randint(0, 10, (len(x_all),))
    x, y = x_all[:BATCH], y_all[:BATCH]
    lines = [
        "# numba ReL-PSP kernel: batch sort before the call vs sparse rows sorted inside it",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M:%S} UTC",
        f"- torch threads: {torch.get_num_threads()}; inputs: {source}, batch {BATCH}; repeats {args.repeats}",
        f"- before: PRESORT_DENSITY 0.0 (every row longer than {kernel_numba.SORT_IN_KERNEL} inputs sorted by "
        f"stable_sort before the call); after: PRESORT_DENSITY {default}",
        "",
        "| network | weights | before ms/step | after ms/step | after / before |",
        "|---|---|---:|---:|---:|",
    ]
    for spec_id, _ann in CASES:
        torch.manual_seed(0)
        snn, arch, lr = _snn(spec_id, "numba")
        for state in ("init", f"after {WARM_STEPS} steps"):
            if state != "init":
                _warm(snn, x_all, y_all, lr, WARM_STEPS)
            before = _with_density(adam_step_fn(copy.deepcopy(snn), x, y), 0.0)
            after = _with_density(adam_step_fn(copy.deepcopy(snn), x, y), default)
            ms = {"before": [], "after": []}
            for first, second in ((("before", before), ("after", after)), (("after", after), ("before", before))):
                # both orders: the second slot of an alternate pair ran 3-9 % slower in an A/A check
                a, b = timed_against(
                    "ab", first, second, torch.device("cpu"), note="", warmup=1, repeats=args.repeats, rewarm=3
                )
                ms[first[0]].append(a.ms_per_step)
                ms[second[0]].append(b.ms_per_step)
            t_before, t_after = (sum(v) / len(v) for v in (ms["before"], ms["after"]))
            lines.append(f"| {arch} | {state} | {t_before:.2f} | {t_after:.2f} | {t_after / t_before:.2f}x |")
            print(lines[-1], flush=True)
    kernel_numba.PRESORT_DENSITY = default
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
