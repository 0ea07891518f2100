"""A torch Dataset of event recordings served as float frames ``[T, 2, H, W]`` (event counts).

Conversion (:mod:`snnrepro.data.events.frames`) runs once per recording and parameter set; the frames
are cached on disk as ``.npy`` under a key that hashes *every* parameter that changes them
(reader/format version, source file, sensor size, T, split_by, output size, resize mode), so
a changed parameter can never reuse stale frames.  Augmentation (training split only) runs
after the cache, on the frames, with torchvision.transforms.v2 (one random draw per sample,
shared by all T frames).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from snnrepro.data.events.event_io import Events
from snnrepro.data.events.frames import SPLITS, events_to_frames, resize_frames

#: bump when the conversion itself changes: every cached frame then misses.
FRAMES_VERSION = 1


def cache_root(data_root: Path) -> Path:
    """``$SNNREPRO_CACHE``, else ``$XDG_CACHE_HOME/snnrepro`` (``~/.cache/snnrepro``).

    Never inside the data root: that may be a shared, read-only copy of the datasets.
    ``data_root`` is accepted so that a future per-root policy needs no caller change.
    """
    env = os.environ.get("SNNREPRO_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "snnrepro"


@dataclass(frozen=True)
class FrameSpec:
    """Everything that changes the frames of one recording."""

    sensor: tuple[int, int]  # (H, W) of the sensor
    T: int
    split_by: str
    size: tuple[int, int] | None = None  # output (H, W); None = sensor size
    resize_mode: str = "nearest"

    def __post_init__(self) -> None:
        if int(self.T) < 1:
            raise ValueError(f"T must be a positive integer, got {self.T}")
        if self.split_by not in SPLITS:
            raise ValueError(f"split_by must be one of {SPLITS}, got {self.split_by!r}")

    @property
    def out_hw(self) -> tuple[int, int]:
        return tuple(self.size) if self.size is not None else tuple(self.sensor)  # type: ignore[return-value]

    def key(self, dataset: str, source: str) -> str:
        blob = json.dumps({"v": FRAMES_VERSION, "dataset": dataset, "source": source, **asdict(self)}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()


def atomic_save_npy(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npy", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, arr)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def build_augment(crop_padding: int = 0, hflip: bool = False, rotation: float = 0.0) -> Callable | None:
    """The papers' frame augmentations (pixels of the *output* frames); None when all are off."""
    from torchvision.transforms import v2

    ops: list[Any] = []
    if int(crop_padding) > 0:
        ops.append(_SameSizeCrop(int(crop_padding)))
    if hflip:
        ops.append(v2.RandomHorizontalFlip())
    if float(rotation) > 0:
        ops.append(v2.RandomRotation(float(rotation)))
    return v2.Compose(ops) if ops else None


class _SameSizeCrop(torch.nn.Module):
    """RandomCrop(H x W, padding) whose size is read from the input (frames keep their size)."""

    def __init__(self, padding: int) -> None:
        super().__init__()
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torchvision.transforms import v2

        return v2.RandomCrop(tuple(x.shape[-2:]), padding=self.padding)(x)


class EventFrames(Dataset):
    """``(frames [T, 2, H, W] float32, label)`` for each ``(path, label)`` of ``samples``."""

    def __init__(
        self,
        dataset: str,
        samples: Sequence[tuple[Path, int]],
        reader: Callable[[Path], Events],
        spec: FrameSpec,
        cache_dir: Path | None,
        base: Path,
        augment: Callable | None = None,
    ) -> None:
        self.dataset, self.samples, self.reader, self.spec = dataset, list(samples), reader, spec
        self.cache_dir, self.base, self.augment = cache_dir, Path(base), augment
        self.targets = [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def cache_path(self, index: int) -> Path | None:
        if self.cache_dir is None:
            return None
        path = self.samples[index][0]
        try:
            rel = str(Path(path).relative_to(self.base))
        except ValueError:
            rel = str(path)
        key = self.spec.key(self.dataset, rel)
        return self.cache_dir / key[:2] / f"{key}.npy"

    def convert(self, index: int) -> torch.Tensor:
        path = self.samples[index][0]
        x, y, p, t = self.reader(path)
        frames = events_to_frames(x, y, p, t, self.spec.sensor, int(self.spec.T), self.spec.split_by)
        out = resize_frames(torch.from_numpy(frames), self.spec.size, self.spec.resize_mode)
        return out.contiguous()

    def frames(self, index: int) -> torch.Tensor:
        cp = self.cache_path(index)
        if cp is not None and cp.is_file():
            try:
                frames = np.load(cp)  # allow_pickle is off: a cache file cannot run code
                if frames.ndim != 4 or frames.dtype != np.float32:
                    raise ValueError(f"array {frames.dtype} {frames.shape}, expected float32 [T, 2, H, W]")
                return torch.from_numpy(frames)
            except (OSError, ValueError, EOFError) as exc:  # truncated or foreign file: converted again
                from snnrepro.notice import notice

                notice(f"frame cache {cp} is damaged ({' '.join(str(exc).split())[:120]}); rebuilding it")
                cp.unlink(missing_ok=True)
        out = self.convert(index)
        if cp is not None:
            atomic_save_npy(cp, out.numpy())
        return out

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = self.frames(index)
        if self.augment is not None:
            x = self.augment(x)
        return x, self.samples[index][1]
