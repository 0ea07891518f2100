"""Atomic, checksummed checkpoints with fallback to the previous good one.

Each save writes ``<name>.pt`` via a temporary file and ``os.replace`` (never a torn
file), records its SHA-256 beside it, and keeps the previous checkpoint as
``<name>.prev.pt``.  Loading verifies the checksum and falls back to the previous one
with a warning when the newest is truncated or corrupted.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from pathlib import Path
from typing import Any

import torch


class CheckpointError(RuntimeError):
    """No usable checkpoint (missing, truncated or corrupted)."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    if path.exists() and path.with_suffix(".sha256").exists():
        shutil.copyfile(path, path.with_suffix(".prev.pt"))
        shutil.copyfile(path.with_suffix(".sha256"), path.with_suffix(".prev.sha256"))
    atomic_write_bytes(path, data)
    atomic_write_bytes(path.with_suffix(".sha256"), _digest(data).encode())


def _read_verified(path: Path, sums: Path) -> dict[str, Any]:
    if not path.exists():
        raise CheckpointError(f"{path}: no checkpoint")
    data = path.read_bytes()
    if not sums.exists():
        raise CheckpointError(f"{path}: checksum file {sums.name} is missing")
    if _digest(data) != sums.read_text().strip():
        raise CheckpointError(f"{path}: checksum mismatch (truncated or corrupted file)")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)


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
