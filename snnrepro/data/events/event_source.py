"""Shared parameters and loading of the event-camera datasets (N-MNIST, DVS128 Gesture, CIFAR10-DVS).

Spec params (all optional):

- ``T`` (16): frames per sample; ``split_by``: ``count`` (SpikingJelly's "number", the BPSA/BPTA
  code) or ``time`` (equal time windows);
- ``size``: output frame size, an int (square) or ``[H, W]``; default the sensor size;
  ``resize_mode``: ``nearest`` (what the BPSA/BPTA code does with ``F.interpolate``) or ``area``;
- ``crop_padding`` (0), ``hflip`` (false), ``rotation`` (0 degrees): training-split augmentation,
  in pixels/degrees of the output frames;
- ``cache`` (true): keep converted frames on disk (see :mod:`snnrepro.data.events.event_frames`).

Samples are float32 ``[T, 2, H, W]``: channel 0 = OFF (polarity 0) event counts, channel 1 = ON.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any

from snnrepro.data.base import Availability, DataBundle, DatasetMissing, DatasetSource
from snnrepro.data.events.event_frames import EventFrames, FrameSpec, build_augment, cache_root
from snnrepro.data.events.event_io import Events
from snnrepro.data.fetch import RemoteFile, ensure_files, extract_once

FRAME_KEYS = {"T", "split_by", "size", "resize_mode", "crop_padding", "hflip", "rotation", "cache"}


def parse_size(size: Any) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, int | float):
        return int(size), int(size)
    if isinstance(size, list | tuple) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"size must be an int or [H, W], got {size!r}")


class EventFrameSource(DatasetSource):
    """Base of the event datasets: subclasses give the sensor, archives, layout and readers."""

    sensor: tuple[int, int] = (128, 128)
    folder_name: str = ""
    archives: tuple[RemoteFile, ...] = ()
    default_T = 16

    # ------------------------------------------------------------------ params
    def frame_params(self, params: dict[str, Any]) -> tuple[FrameSpec, dict[str, Any], dict[str, Any]]:
        """(FrameSpec, augmentation kwargs, the subclass's own params); unknown keys raise ValueError."""
        own = {k: v for k, v in params.items() if k not in FRAME_KEYS}
        extra = set(own) - set(self.own_params())
        if extra:
            allowed = sorted(FRAME_KEYS | set(self.own_params()))
            raise ValueError(f"{self.name}: unknown dataset params {sorted(extra)}; allowed: {allowed}")
        spec = FrameSpec(
            sensor=self.sensor,
            T=int(params.get("T", self.default_T)),
            split_by=str(params.get("split_by", "count")),
            size=parse_size(params.get("size")),
            resize_mode=str(params.get("resize_mode", "nearest")),
        )
        aug = {
            "crop_padding": int(params.get("crop_padding", 0)),
            "hflip": bool(params.get("hflip", False)),
            "rotation": float(params.get("rotation", 0.0)),
        }
        return spec, aug, {**self.own_params(), **own}

    def own_params(self) -> dict[str, Any]:
        """The subclass's extra params and their defaults."""
        return {}

    @abstractmethod
    def num_classes(self, own: dict[str, Any]) -> int:
        """Number of classes given the subclass's own params."""

    def shape(self, **params: Any) -> tuple[tuple[int, ...], int]:
        spec, _, own = self.frame_params(params)
        H, W = spec.out_hw
        return (spec.T, 2, H, W), self.num_classes(own)

    # ------------------------------------------------------------------ disk
    def folder(self, root: Path) -> Path:
        return Path(root) / self.folder_name

    @abstractmethod
    def extracted(self, folder: Path) -> bool:
        """True when the extracted recordings are present (then the archives are not needed)."""

    def hint(self) -> str:
        return ""

    def ensure(self, root: Path, download: bool) -> Path:
        folder = self.folder(root)
        if self.extracted(folder):
            return folder
        ensure_files(self.name, folder, self.archives, download, hint=self.hint())
        for rf in self.archives:
            extract_once(folder / rf.name, folder)
        if not self.extracted(folder):
            raise DatasetMissing(self.name, folder, [rf.describe() for rf in self.archives],
                                 "the archives are present but did not unpack to the expected layout\n" + self.hint())
        return folder

    def check(self, root: Path) -> Availability:
        folder = self.folder(root)
        if self.extracted(folder):
            return Availability(self.name, "present", folder)
        absent = [rf for rf in self.archives if not (folder / rf.name).is_file()]
        if not absent:
            return Availability(self.name, "present", folder, note="archives present; unpacked on first load")
        return Availability(self.name, "downloadable", folder, missing=[rf.describe() for rf in absent],
                            note="fetched on first load unless SNNREPRO_OFFLINE=1; " + self.hint())

    @abstractmethod
    def splits(self, folder: Path, own: dict[str, Any]) -> tuple[list, list, dict[str, Any]]:
        """(train [(path, label)], test [(path, label)], info)."""

    @abstractmethod
    def reader(self, path: Path) -> Events: ...

    def load(self, root: Path, download: bool, **params: Any) -> DataBundle:
        spec, aug, own = self.frame_params(params)
        folder = self.ensure(root, download)
        train, test, info = self.splits(folder, own)
        use_cache = bool(params.get("cache", True))
        cdir = cache_root(root) / "frames" / self.name if use_cache else None
        augment = build_augment(**aug)
        mk = lambda s, a: EventFrames(self.name, s, self.reader, spec, cdir, folder, a)  # noqa: E731
        H, W = spec.out_hw
        info.update(
            {
                "frames": {"T": spec.T, "split_by": spec.split_by, "size": [H, W], "resize_mode": spec.resize_mode,
                           "channels": "0=OFF,1=ON event counts"},
                "augment_train": aug,
                "n_train": len(train),
                "n_test": len(test),
            }
        )
        return DataBundle(mk(train, augment), mk(test, None), (spec.T, 2, H, W), self.num_classes(own),
                          time_steps=spec.T, info=info)
