"""What a dataset factory returns, and the error a missing dataset raises."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset


class DatasetMissing(FileNotFoundError):
    """A dataset is not on disk and may not (or could not) be downloaded.

    The message names every missing file and the folder it belongs in.
    """

    def __init__(self, dataset: str, folder: Path, files: list[str], hint: str = "") -> None:
        self.dataset, self.folder, self.files = dataset, Path(folder), list(files)
        lines = [f"dataset {dataset!r} is not available offline; place these files in {self.folder}:"]
        lines += [f"  - {f}" for f in self.files]
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))


class DatasetCorrupt(ValueError):
    """A placed or cached dataset file is damaged or not what it should be; the message is one line.

    It names the file, what is wrong with it and, when known, the md5 the file must have.
    """

    def __init__(self, path: Path | str, reason: str, md5: str | None = None, hint: str = "") -> None:
        self.path = Path(path)
        expect = f"; expected md5 {md5}" if md5 else ""
        super().__init__(f"{path}: {reason}{expect}; replace the file{f' ({hint})' if hint else ''}")


@dataclass
class DataBundle:
    """Train and test splits plus what a model factory needs to know about them.

    ``input_shape`` is the shape of one sample as the loader yields it, without batch
    (and without time for frame datasets: those yield ``[T, C, H, W]`` and set
    ``time_steps``).
    """

    train: Dataset
    test: Dataset
    input_shape: tuple[int, ...]
    num_classes: int
    time_steps: int | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Availability:
    """What ``snnrepro data check`` reports for one dataset under one data root."""

    dataset: str
    status: str  # "present" | "missing" | "downloadable" | "licensed"
    folder: Path
    missing: list[str] = field(default_factory=list)
    note: str = ""


class DatasetSource(ABC):
    """A registered dataset: static shape facts, a loader, and an on-disk check.

    Subclasses set ``name`` and implement :meth:`shape`, :meth:`load` and :meth:`check`.
    ``shape`` must not touch the disk: spec validation uses it to build the model
    before any data is read.
    """

    name: str = ""
    #: True when the files can be fetched by code (torchvision/tonic); False for
    #: licensed corpora the user must place by hand.
    downloadable: bool = True

    @abstractmethod
    def shape(self, **params: Any) -> tuple[tuple[int, ...], int]:
        """(input_shape of one sample as the loader yields it, number of classes)."""

    @abstractmethod
    def load(self, root: Path, download: bool, **params: Any) -> DataBundle:
        """Both splits; raises :class:`DatasetMissing` when files are absent and download is off/failed."""

    @abstractmethod
    def check(self, root: Path) -> Availability:
        """Which files are present under ``root`` and which are missing."""
