"""Dispatch many (spec, seed) jobs: as local child processes or on SLURM.

(In this process, one after the other, is :mod:`snnrepro.run.serial`.)

* ``local``: up to ``parallel`` worker processes (``python -m snnrepro.run.worker JOB_JSON``, which
  calls :func:`snnrepro.run.job.run_job`) at once; with CUDA GPUs present each child is pinned to one
  GPU through ``CUDA_VISIBLE_DEVICES`` and ``parallel`` defaults to the GPU count.
* ``slurm``: a submitit job array (``submitit.AutoExecutor``); each task runs the job in a worker
  process (it resumes from its checkpoint), and on pre-emption or timeout submitit requeues it
  through :meth:`RunTask.checkpoint`, which continues from the last epoch checkpoint.
  ``cluster="local"`` runs the same code path with submitit's local executor (tests).

Every job writes its own log under ``<results>/logs/``; its record gives the outcome.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from snnrepro.run.plan import Job, Outcome


def worker_argv(job: Job) -> list[str]:
    """The child process that runs ``job`` (:mod:`snnrepro.run.worker`)."""
    return [sys.executable, "-m", "snnrepro.run.worker", job.to_json()]


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
    """Run jobs as worker processes, ``parallel`` at a time, one GPU each when GPUs exist."""
    gpus = gpu_slots()
    parallel = parallel or max(1, len(gpus))
    free = list(gpus) if gpus else [None] * parallel
    free = free[:parallel] if gpus and len(free) >= parallel else free
    pending = list(jobs)
    running: list[tuple[subprocess.Popen, Job, str | None, object]] = []
    done: list[Outcome] = []
    while pending or running:
        while pending and len(running) < parallel and free:
            job, slot = pending.pop(0), free.pop(0)
            env = dict(os.environ)
            if slot is not None:
                env["CUDA_VISIBLE_DEVICES"] = slot
            job.log_path().parent.mkdir(parents=True, exist_ok=True)
            log = open(job.log_path(), "w")  # noqa: SIM115 - closed when the child ends
            proc = subprocess.Popen(worker_argv(job), stdout=log, stderr=subprocess.STDOUT, env=env)
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
        proc = subprocess.run(worker_argv(job), capture_output=True, text=True)
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


def execute(
    jobs: list[Job],
    executor: str,
    root: Path,
    parallel: int | None = None,
    cluster: str | None = None,
    partition: str | None = None,
    timeout_min: int = 240,
) -> list[Outcome]:
    """Run ``jobs`` through the ``local`` or ``slurm`` executor (submitit's files under ``root/slurm``)."""
    if executor == "local":
        return run_local(jobs, parallel)
    if executor == "slurm":
        return run_slurm(jobs, root / "slurm", cluster=cluster, partition=partition, timeout_min=timeout_min)
    raise ValueError(f"--executor {executor}: expected inline, local or slurm")
