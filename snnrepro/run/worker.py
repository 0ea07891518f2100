"""``python -m snnrepro.run.worker JOB_JSON``: one job in a fresh process (local and SLURM executors).

The JSON is :meth:`snnrepro.run.plan.Job.to_json`; the exit code is 0 when the run's record says
``ok``, 1 otherwise, 2 for an error before it started (bad spec, busy run, missing data).
"""

from __future__ import annotations

import sys

from snnrepro.run.plan import Job


def main(argv: list[str] | None = None) -> int:
    """Run the job given as JSON; one ``error:`` line for a mistake found before training."""
    from snnrepro.data.base import DatasetMissing
    from snnrepro.engine.allocator import tune_glibc_malloc
    from snnrepro.engine.checkpoint import CheckpointError
    from snnrepro.models.arch import ArchError
    from snnrepro.results.record import RunBusy
    from snnrepro.run.job import run_job
    from snnrepro.spec import SpecError

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m snnrepro.run.worker JOB_JSON\n")
        return 2
    tune_glibc_malloc()
    try:
        outcome = run_job(Job.from_json(args[0]))
    except (SpecError, ArchError, CheckpointError, RunBusy, DatasetMissing, KeyError, ValueError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0 if outcome.status == "ok" else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
