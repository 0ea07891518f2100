"""A run's life around the training loop: its first record and lock, its final record, SIGTERM, errors.

Every run that starts ends its record with a status (``ok``, ``diverged``, ``interrupted``,
``failed``); these helpers are the pieces of :func:`snnrepro.engine.fit.fit` that make that so.
"""

from __future__ import annotations

import errno
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch

from snnrepro.engine import distributed as ddp
from snnrepro.engine.device import describe
from snnrepro.results.record import (
    RunLock,
    RunRecord,
    git_commit,
    keep_aside,
    lock_path,
    previous_path,
    record_path,
    versions,
)
from snnrepro.spec import Spec


class Diverged(RuntimeError):
    """The loss became NaN or infinite."""


class RunFailed(RuntimeError):
    """A run that had started ended by an unexpected error; its record (status ``failed``) is ``.record``.

    The original exception is the ``__cause__``; the message is one line.
    """

    def __init__(self, message: str, record: RunRecord) -> None:
        super().__init__(message)
        self.record = record


def describe_error(exc: BaseException) -> str:
    """One line for a record's ``error`` and the CLI: a full disk said plainly, anything else as type: message."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = f" writing {exc.filename}" if exc.filename else ""
        return f"disk full (no space left on device{where}); free some space, then run again with --resume"
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= 400 else text[:380] + " ..."


def now() -> str:
    """The current UTC time, ISO 8601 to the second (records' ``started_at`` / ``finished_at``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_record(spec: Spec, seed: int, device: torch.device, dist: ddp.DistInfo) -> RunRecord:
    """The record of a run about to start, with its provenance (spec hash, commit, versions, device)."""
    return RunRecord(
        id=spec.id,
        paper=spec.paper,
        profile=spec.profile,
        seed=seed,
        epochs_planned=spec.train.epochs,
        device=describe(device) + (f" x{dist.world} (DDP)" if dist.enabled else ""),
        spec_hash=spec.hash(),
        git_commit=git_commit(),
        versions=versions(),
        started_at=now(),
        spec=spec.to_dict(),
    )


def begin(results: Path, spec: Spec, seed: int, record: RunRecord, save_record: Callable[[], None]) -> RunLock:
    """Take the run's lock, keep a finished record of an earlier run aside, write the ``running`` record.

    Raises :class:`RunBusy` when another process runs the same (id, profile, seed), and
    :class:`RunFailed` when the record cannot be written (nothing is left behind then).
    """
    lock = RunLock(lock_path(results, spec.id, spec.profile, seed)).acquire()
    try:
        keep_aside(record_path(results, spec.id, spec.profile, seed), previous_path(results, spec.id, spec.profile,
                                                                                    seed))
        save_record()
    except Exception as exc:
        lock.release()
        record.status, record.error = "failed", describe_error(exc)
        raise RunFailed(f"{spec.id} seed {seed}: {record.error}", record) from exc
    return lock


def save_final(
    save_record: Callable[[], None], record: RunRecord, failure: BaseException | None
) -> BaseException | None:
    """Write the record with its final status; a write that fails (full disk) becomes the run's failure."""
    try:
        save_record()
    except OSError as exc:
        if failure is None:
            record.status, record.error = "failed", describe_error(exc)
        return failure or exc
    return failure


def sigterm_as_interrupt() -> Callable[[], None]:
    """Treat SIGTERM (``kill``, ``timeout``, a scheduler's pre-emption) like Ctrl-C while training.

    The run then stops with status ``interrupted`` and its last epoch checkpoint, so ``--resume``
    continues it.  Returns the function that restores the previous handler (a no-op off the main thread).
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)
