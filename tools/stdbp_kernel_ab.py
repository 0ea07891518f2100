"""Same-process A/B of one setting of the numba ReL-PSP kernel module, on full STDBP training steps.

``--knob NAME --before VALUE`` sets ``kernel_numba.NAME`` to ``VALUE`` for the "before" steps and leaves the
module's default for the "after" ones.  The settings A/B'd so far change only time (tests/test_relpsp_numba.py
holds both sides bitwise equal):

- ``PRESORT_DENSITY`` 0.0: every row longer than ``SORT_IN_KERNEL`` inputs sorted for the whole batch by
  ``stable_sort`` before the call (the kernel until 2026-12-06); the default 0.5 sorts sparse rows (MNIST
  pixels) inside the kernel, row by row in parallel;
- ``SERIAL_AT_ONE_THREAD`` False: one-thread calls launch the parallel kernels on one block of rows (until
  2026-12-06); the default True runs their serially compiled twins.

Full Adam training steps of the ``snnrepro bench stdbp`` networks and batch (spec settings, real MNIST from the
data root when present), initial weights and after 100 warm-up steps, timed alternately by
:func:`snnrepro.bench.timed_against` in both orders (each time is the mean of its two slots); writes a Markdown
report.  docs/performance-stdbp.md quotes the reports::

    MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 SNNREPRO_DATA=../shared/data PYTHONPATH=$PWD \\
        python tools/stdbp_kernel_ab.py --knob PRESORT_DENSITY --before 0.0 \\
        --out results/bench/stdbp-presort-ab-2threads.md
    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 ... --out results/bench/stdbp-presort-ab-1thread.md
    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 ... --knob SERIAL_AT_ONE_THREAD --before False \\
        --out results/bench/one-thread/stdbp-serial-ab.md
"""

from __future__ import annotations

import argparse
import ast
import copy
import datetime
from collections.abc import Callable
from pathlib import Path

import torch

from snnrepro.bench import adam_step_fn, timed_against
from snnrepro.benches.stdbp import BATCH, CASES, WARM_STEPS, _input_sets, _snn, _warm
from snnrepro.neurons.relpsp import kernel_numba


def _with(step: Callable[[], object], knob: str, value: object) -> Callable[[], object]:
    def run() -> object:
        setattr(kernel_numba, knob, value)
        return step()

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--knob", required=True, help="a module-level setting of kernel_numba, e.g. PRESORT_DENSITY")
    ap.add_argument("--before", required=True, help="its value for the 'before' steps (a Python literal)")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if not hasattr(kernel_numba, args.knob):
        ap.error(f"kernel_numba has no setting {args.knob!r}")
    default, before_value = getattr(kernel_numba, args.knob), ast.literal_eval(args.before)
    (x_all, source), *_ = _input_sets(4 * BATCH)
    torch.manual_seed(0)
    y_all = torch.randint(0, 10, (len(x_all),))
    x, y = x_all[:BATCH], y_all[:BATCH]
    lines = [
        f"# numba ReL-PSP kernel: {args.knob} {before_value!r} (before) vs {default!r} (after)",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M:%S} UTC",
        f"- torch threads: {torch.get_num_threads()}; inputs: {source}, batch {BATCH}; repeats {args.repeats}",
        f"- tool: tools/stdbp_kernel_ab.py --knob {args.knob} --before {args.before}",
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
            before = _with(adam_step_fn(copy.deepcopy(snn), x, y), args.knob, before_value)
            after = _with(adam_step_fn(copy.deepcopy(snn), x, y), args.knob, default)
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
    setattr(kernel_numba, args.knob, default)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
