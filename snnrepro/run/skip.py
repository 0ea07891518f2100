"""The one check whether a (spec, seed) already finished: its record says ``ok`` at the same spec hash.

``snnrepro run`` (inside ``reproduce --executor inline``) and the local/SLURM executors all skip
finished runs through :func:`finished`.
"""

from __future__ import annotations

from pathlib import Path

from snnrepro.results.record import RunRecord, read_record, record_path
from snnrepro.run.plan import Job
from snnrepro.spec import Spec


def finished(results: Path, spec_id: str, profile: str, seed: int, spec_hash: str | None) -> RunRecord | None:
    """The run's record when it finished ``ok`` for this spec hash, else None (to run, or run again)."""
    rec = read_record(record_path(results, spec_id, profile, seed))
    if rec is not None and rec.status == "ok" and rec.spec_hash == spec_hash:
        return rec
    return None


def finished_spec(results: Path, spec: Spec, seed: int) -> RunRecord | None:
    """:func:`finished` for a resolved spec."""
    return finished(results, spec.id, spec.profile, seed, spec.hash())


def split_finished(jobs: list[Job], specs: list[Spec], force: bool) -> tuple[list[Job], list[Job]]:
    """Split into (to run, already finished at the same spec hash); ``force`` runs everything."""
    hashes = {s.id: s.hash() for s in specs}
    todo, complete = [], []
    for job in jobs:
        done = not force and finished(job.results, job.spec_id, job.profile, job.seed, hashes.get(job.spec_id))
        (complete if done else todo).append(job)
    return todo, complete
