"""Run a comparison: each (family, seed) in its own process, so that its peak memory is its own.

The derived specs are written to ``OUT/specs/<id>.yaml`` (re-runnable on their own with
``snnrepro run OUT/specs/<id>.yaml``); records land in ``OUT/runs/`` like any run's.  Peak memory
is the child process's maximum resident set (``ru_maxrss`` from ``wait4``), i.e. what the run
needed including Python and torch; on a GPU the run's own ``torch.cuda.max_memory_allocated`` is
recorded by the ``neuromorphic`` analysis instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from snnrepro.compare.plan import Entry
from snnrepro.io import atomic_write_bytes


@dataclass
class Outcome:
    family: str
    seed: int
    returncode: int
    peak_rss_bytes: float


def spec_file(out: Path, entry: Entry) -> Path:
    assert entry.spec is not None
    return out / "specs" / f"{entry.spec['id']}.yaml"


def write_specs(out: Path, entries: list[Entry]) -> None:
    for e in entries:
        if e.spec is not None:
            text = yaml.safe_dump(e.spec, sort_keys=False, allow_unicode=True, width=100)
            atomic_write_bytes(spec_file(out, e), text.encode())


def _finished(out: Path, entry: Entry, seed: int) -> bool:
    """The one skip check of ``snnrepro run`` (record ``ok`` at the same spec hash) on the written spec."""
    from snnrepro.run.skip import finished_spec
    from snnrepro.spec import load_spec

    return finished_spec(out, load_spec(spec_file(out, entry)), seed) is not None


def run_entry(
    out: Path, entry: Entry, seed: int, device: str, data_root: Path | None, log: Callable[[str], None]
) -> Outcome:
    """Train one (family, seed) in a child ``snnrepro run`` and measure its peak memory."""
    cmd = [
        sys.executable,
        "-m",
        "snnrepro",
        "run",
        str(spec_file(out, entry)),
        "--profile",
        "full",
        "--seed",
        str(seed),
        "--device",
        device,
        "--results",
        str(out),
    ]
    if data_root is not None:
        cmd += ["--data-root", str(data_root)]
    log(f"compare: {entry.family} seed {seed}: {' '.join(cmd[1:])}")
    proc = subprocess.Popen(cmd)
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    outcome = Outcome(entry.family, seed, proc.returncode, float(usage.ru_maxrss) * 1024.0)
    memo = out / "peak_rss.json"
    peaks = json.loads(memo.read_text()) if memo.exists() else {}
    peaks[f"{entry.spec['id']}/seed-{seed}"] = outcome.peak_rss_bytes if outcome.returncode == 0 else None
    atomic_write_bytes(memo, json.dumps(peaks, indent=1, sort_keys=True).encode())
    return outcome


def run_all(
    out: Path,
    entries: list[Entry],
    seeds: int,
    device: str,
    data_root: Path | None,
    force: bool,
    log: Callable[[str], None],
) -> list[Outcome]:
    """Every (family, seed) not already finished (or all with ``force``); a failing one does not stop the rest."""
    write_specs(out, entries)
    outcomes = []
    for e in entries:
        if e.spec is None:
            log(f"compare: {e.skipped}")
            continue
        for seed in range(seeds):
            if not force and _finished(out, e, seed):
                log(f"compare: {e.family} seed {seed}: finished record kept (--force to re-run)")
                continue
            outcomes.append(run_entry(out, e, seed, device, data_root, log))
    return outcomes
