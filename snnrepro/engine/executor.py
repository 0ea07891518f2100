"""Dispatch many (spec, seed) runs: in this process, as local processes, or on SLURM.

* ``inline``: one after the other in this process (the default; what CI uses).
* ``local``: up to ``jobs`` child processes ``python -m snnrepro run ID --seed S --resume``
  at once; with CUDA GPUs present each child is pinned to one GPU through
  ``CUDA_VISIBLE_DEVICES`` and ``jobs`` defaults to the GPU count.
* ``slurm``: a submitit job array (``submitit.AutoExecutor``); each task re-runs with
  ``--resume``, and on pre-emption or timeout submitit requeues it through
  :meth:`RunTask.checkpoint`, which continues from the last epoch checkpoint.
  ``cluster="local"`` runs the same code path with submitit's local executor (tests).

Jobs whose record already says ``ok`` for the same spec hash are skipped before dispatch;
every child writes its own log under ``<results>/logs/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from snnrepro.results.record import read_record, record_path


@dataclass(frozen=True)
class Job:
    spec_id: str
    seed: int
    profile: str
    results: Path
    data_root: Path | None = None
    device: str = "auto"

    @property
    def name(self) -> str:
        return f"{self.spec_id}-{self.profile}-seed{self.seed}"

    def argv(self) -> list[str]:
        cmd = [sys.executable, "-m", "snnrepro", "run", self.spec_id, "--seed", str(self.seed)]
        cmd += ["--profile", self.profile, "--results", str(self.results), "--device", self.device, "--resume"]
        cmd += ["--json"]
        if self.data_root is not None:
            cmd += ["--data-root", str(self.data_root)]
        return cmd

    def log_path(self) -> Path:
        return self.results / "logs" / f"{self.name}.log"

    def status(self) -> str:
        rec = read_record(record_path(self.results, self.spec_id, self.profile, self.seed))
        return rec.status if rec is not None else "failed"


@dataclass
class Outcome:
    job: Job
    status: str
    log: Path


def gpu_slots() -> list[str]:
    """GPU ids to pin children to (honours an existing CUDA_VISIBLE_DEVICES)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [v for v in visible.split(",") if v.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:  # pragma: no cover - torch without a working CUDA runtime
        return []


def run_local(jobs: list[Job], parallel: int | None = None, poll_s: float = 0.2) -> list[Outcome]:
    """Run jobs as child processes, ``parallel`` at a time, one GPU each when GPUs exist."""
    gpus = gpu_slots()
    parallel = parallel or max(1, len(gpus))
    free = list(gpus) if gpus else [None] * parallel
    free = free[:parallel] if gpus and len(free) >= parallel else free
    pending = list(jobs)
    running: list[tuple[subprocess.Popen, Job, str | None, object]] = []
    done: list[Outcome] = []
    while pending or running:
        while pending and len(running) < parallel and free:
            job = pending.pop(0)
            slot = free.pop(0)
            env = dict(os.environ)
            if slot is not None:
                env["CUDA_VISIBLE_DEVICES"] = slot
            job.log_path().parent.mkdir(parents=True, exist_ok=True)
            log = open(job.log_path(), "w")  # noqa: SIM115 - closed when the child ends
            proc = subprocess.Popen(job.argv(), stdout=log, stderr=subprocess.STDOUT, env=env)
            running.append((proc, job, slot, log))
        time.sleep(poll_s)
        still = []
        for proc, job, slot, log in running:
            if proc.poll() is None:
                still.append((proc, job, slot, log))
                continue
            log.close()  # type: ignore[attr-defined]
            free.append(slot)
            done.append(Outcome(job, job.status(), job.log_path()))
        running = still
    return done


class RunTask:
    """A picklable callable for submitit; requeues itself with ``--resume`` semantics."""

    def __call__(self, job: Job) -> str:
        proc = subprocess.run(job.argv(), capture_output=True, text=True)
        job.log_path().parent.mkdir(parents=True, exist_ok=True)
        job.log_path().write_text(proc.stdout + proc.stderr)
        return job.status()

    def checkpoint(self, job: Job) -> object:
        """Called by submitit on pre-emption/timeout: resubmit the same job (it resumes)."""
        import submitit

        return submitit.helpers.DelayedSubmission(RunTask(), job)


def run_slurm(
    jobs: list[Job],
    folder: Path,
    cluster: str | None = None,
    timeout_min: int = 240,
    gpus_per_task: int = 1,
    partition: str | None = None,
    array_parallelism: int = 64,
) -> list[Outcome]:
    """Submit a job array through submitit and wait for it."""
    try:
        import submitit
    except ImportError as exc:
        raise ValueError("the slurm executor needs submitit: pip install 'snnrepro[slurm]'") from exc
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    params: dict[str, object] = {"timeout_min": timeout_min}
    if executor.cluster == "slurm":
        params.update(
            slurm_array_parallelism=array_parallelism,
            gpus_per_node=gpus_per_task,
            tasks_per_node=1,
            slurm_requeue=True,
        )
        if partition:
            params["slurm_partition"] = partition
    executor.update_parameters(**params)
    handles = executor.map_array(RunTask(), jobs)
    outcomes = []
    for job, handle in zip(jobs, handles, strict=True):
        try:
            status = handle.result()
        except Exception:  # submitit re-raises the task's failure; the record says what happened
            status = job.status()
        outcomes.append(Outcome(job, status, job.log_path()))
    return outcomes


def pending_jobs(jobs: list[Job], spec_hashes: dict[str, str], force: bool) -> tuple[list[Job], list[Job]]:
    """Split into (to run, already complete with the same spec hash)."""
    todo, complete = [], []
    for job in jobs:
        rec = read_record(record_path(job.results, job.spec_id, job.profile, job.seed))
        if not force and rec is not None and rec.status == "ok" and rec.spec_hash == spec_hashes.get(job.spec_id):
            complete.append(job)
        else:
            todo.append(job)
    return todo, complete
