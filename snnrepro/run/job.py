"""One job in this process: what a worker process or SLURM task does (it resumes from a checkpoint)."""

from __future__ import annotations

from snnrepro.run.plan import Job, Outcome
from snnrepro.run.report import Reporter
from snnrepro.run.serial import run_specs


def run_job(job: Job, reporter: Reporter | None = None) -> Outcome:
    """Run (or continue with ``--resume`` semantics) one (spec, seed); its record gives the status.

    Progress goes to stderr as plain lines, the run's JSON summary to stdout (the job's log).
    """
    reporter = reporter or Reporter(as_json=True)
    run_specs([job.spec_id], job.profile, None, job.seed, job.device, [], job.data_root, True, None, job.results,
              reporter, keep_checkpoints=job.keep_checkpoints)  # fmt: skip
    return Outcome(job, job.status(), job.log_path())
