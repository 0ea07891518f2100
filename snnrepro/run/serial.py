"""Runs in this process, one after the other: ``snnrepro run`` and ``reproduce --executor inline``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from snnrepro.engine.device import describe, pick_device
from snnrepro.engine.fit import fit
from snnrepro.engine.lifecycle import RunFailed
from snnrepro.results.record import RunRecord, iter_records, results_root
from snnrepro.run.plan import check_writable, load_specs, seeds_of
from snnrepro.run.report import Reporter
from snnrepro.run.skip import finished_spec
from snnrepro.spec import Spec


def run_specs(
    refs: list[str],
    profile: str,
    seeds: int | None,
    seed: int | None,
    device_name: str,
    sets: list[str],
    data_root_dir: Path | None,
    resume: bool,
    epochs: int | None,
    results: Path | None,
    reporter: Reporter,
    skip_done: bool = False,
    keep_checkpoints: str = "last",
) -> list[RunRecord]:
    """Load and validate every spec first, then run each (spec, seed) here; the summary at the end."""
    from snnrepro.data.loading import data_root

    specs = load_specs(refs, profile, sets, epochs)
    device = pick_device(device_name)
    root = results_root(results)
    check_writable(root)
    done = run_serial(specs, lambda s: seeds_of(s, seeds, seed), device, root, data_root(data_root_dir), resume,
                      reporter, skip_done, keep_checkpoints)  # fmt: skip
    if done:
        reporter.summary(done)
    return done


def run_serial(
    specs: list[Spec],
    seeds_for: Callable[[Spec], list[int]],
    device: torch.device,
    root: Path,
    droot: Path,
    resume: bool,
    reporter: Reporter,
    skip_done: bool = False,
    keep_checkpoints: str = "last",
) -> list[RunRecord]:
    """Each (spec, seed) through :func:`~snnrepro.engine.fit.fit`; finished ones skipped with ``skip_done``.

    A failed run ends its spec's seeds (one line, its record says why); an interrupted one (Ctrl-C,
    SIGTERM) ends everything, keeping what was written.
    """
    done: list[RunRecord] = []
    try:
        for spec in specs:
            _announce_long_run(spec, seeds_for(spec), skip_done, root, device, reporter)
            for s in seeds_for(spec):
                prev = finished_spec(root, spec, s) if skip_done else None
                if prev is not None:
                    done.append(prev)
                    continue
                try:
                    rec = fit(spec, s, device, root, droot, resume=resume, keep_checkpoints=keep_checkpoints,
                              progress=reporter.sink(f"{spec.id} s{s}", spec, s))
                except RunFailed as exc:  # the record says failed; one line, and no more seeds of this spec
                    reporter.failed(str(exc))
                    done.append(exc.record)
                    break
                done.append(rec)
                reporter.finished(rec)
                if rec.status == "interrupted":
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        reporter.interrupted()
    return done


def _announce_long_run(
    spec: Spec, seeds: list[int], skip_done: bool, root: Path, device: torch.device, reporter: Reporter
) -> None:
    """Say before it starts when a run is estimated (from a measurement) at more than about an hour."""
    from snnrepro.progress import long_run_note
    from snnrepro.results.cost import load_measurements

    if skip_done:
        seeds = [s for s in seeds if finished_spec(root, spec, s) is None]
    note = long_run_note(spec, len(seeds), describe(device), iter_records(root), load_measurements(root))
    if note:
        reporter.note(note)
