"""Atomic, checksummed checkpoints with fallback to the previous good one.

Each save writes ``<name>.pt`` via :func:`snnrepro.io.atomic_write_bytes` (never a torn
file, and no temporary file left behind when the write fails, e.g. on a full disk), records
its SHA-256 beside it, and keeps the previous checkpoint as ``<name>.prev.pt``.  Loading
verifies the checksum and falls back to the previous one with a warning when the newest is
truncated or corrupted.

A checkpoint holds tensors and plain data only (dicts, lists, numbers, strings: the RNG
states too, see :func:`snnrepro.engine.seeding.rng_state`) and is read with
``torch.load(weights_only=True)``: the checksum only detects damage (anyone can recompute
it), so a checkpoint whose pickle would import or call anything is refused, never run.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from snnrepro.io import atomic_copy, atomic_write_bytes


class CheckpointError(RuntimeError):
    """No usable checkpoint (missing, truncated or corrupted)."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    if path.exists() and path.with_suffix(".sha256").exists():
        atomic_copy(path, path.with_suffix(".prev.pt"))
        atomic_copy(path.with_suffix(".sha256"), path.with_suffix(".prev.sha256"))
    atomic_write_bytes(path, data)
    atomic_write_bytes(path.with_suffix(".sha256"), _digest(data).encode())


#: What stays of a run's checkpoints once it finished ``ok``: ``all`` (the last epoch's and its ``.prev``
#: fallback), ``last`` (the last epoch's only: ``evaluate``/``export`` need it, the fallback no longer serves),
#: ``none`` (nothing: a finished run is not resumed; smoke batches and CI keep no model files).
KEEP_CHECKPOINTS = ("all", "last", "none")


def check_keep(keep: str) -> None:
    """Refuse a ``keep`` that is not one of :data:`KEEP_CHECKPOINTS` (before a run starts, and before pruning)."""
    if keep not in KEEP_CHECKPOINTS:
        raise ValueError(f"keep checkpoints: {keep!r} is not one of {', '.join(KEEP_CHECKPOINTS)}")


def prune_checkpoints(path: Path, keep: str) -> list[Path]:
    """Remove what ``keep`` (one of :data:`KEEP_CHECKPOINTS`) does not keep of the checkpoint at ``path``;
    returns the files removed.  Only for a run that finished: an unfinished run needs both to resume."""
    check_keep(keep)
    doomed = [] if keep == "all" else [path.with_suffix(".prev.pt"), path.with_suffix(".prev.sha256")]
    if keep == "none":
        doomed += [path, path.with_suffix(".sha256")]
    removed = [p for p in doomed if p.exists()]
    for p in removed:
        p.unlink()
    return removed


def _read_verified(path: Path, sums: Path) -> dict[str, Any]:
    if not path.exists():
        raise CheckpointError(f"{path}: no checkpoint")
    data = path.read_bytes()
    if not sums.exists():
        raise CheckpointError(f"{path}: checksum file {sums.name} is missing")
    if _digest(data) != sums.read_text().strip():
        raise CheckpointError(f"{path}: checksum mismatch (truncated or corrupted file)")
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+)", str(exc))
        why = f" (it would import {found.group(1)})" if found else ""
        raise CheckpointError(
            f"{path}: refused to load: it holds objects other than tensors and plain data{why}; an older"
            " snnrepro or someone else wrote it: remove it or run without --resume"
        ) from None
    except Exception as exc:  # a valid checksum over bytes that are not a torch checkpoint
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None


def load_checkpoint(path: Path) -> tuple[dict[str, Any], list[str]]:
    """Return (state, warnings). Falls back to ``.prev.pt`` if the newest is bad."""
    try:
        return _read_verified(path, path.with_suffix(".sha256")), []
    except CheckpointError as newest:
        prev = path.with_suffix(".prev.pt")
        if not prev.exists():
            raise
        state = _read_verified(prev, path.with_suffix(".prev.sha256"))
        return state, [f"{newest}; resumed from the previous checkpoint {prev.name} instead"]
