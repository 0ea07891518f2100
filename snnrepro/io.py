"""The one place files are written safely: all at once, never torn, no temporary file left behind.

Every writer of records, checkpoints, tables, plots and measurements goes through
:func:`atomic_write_bytes` (a temporary file, fsync, rename) or :func:`atomic_copy`.
Pure file I/O: no torch, no knowledge of what the bytes mean.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``path`` all at once: a temporary file, fsync, rename; on failure the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:  # name the file meant, not its temporary
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise


def atomic_copy(src: Path, dst: Path) -> None:
    """``dst`` becomes a copy of ``src`` at once (a hard link where possible: no space needed)."""
    tmp = _tmp_name(dst)
    try:
        tmp.unlink(missing_ok=True)
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
