"""N-MNIST (Orchard et al. 2015): 34x34 DVS recordings of MNIST digits, standard 60k/10k split.

Layout (tonic 1.7's, ``<root>/NMNIST/``): ``Train/<digit>/*.bin`` and ``Test/<digit>/*.bin``, as the
Mendeley archives ``train.zip``/``test.zip`` unpack.  Samples ``[T, 2, 34, 34]`` (or ``size``).
Files are sorted by path within each split, like tonic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnrepro.data.events.event_io import Events, read_nmnist
from snnrepro.data.events.event_source import EventFrameSource
from snnrepro.data.fetch import RemoteFile
from snnrepro.registry import DATASETS

_MENDELEY = "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/"


def digit_files(split_dir: Path) -> list[tuple[Path, int]]:
    out: list[tuple[Path, int]] = []
    for d in range(10):
        out += [(f, d) for f in sorted((split_dir / str(d)).glob("*.bin"))]
    return out


class NMnistSource(EventFrameSource):
    name = "nmnist"
    sensor = (34, 34)
    folder_name = "NMNIST"
    archives = (
        RemoteFile("train.zip", "20959b8e626244a1b502305a9e6e2031",
                   (_MENDELEY + "39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded",)),
        RemoteFile("test.zip", "69ca8762b2fe404d9b9bad1103e97832",
                   (_MENDELEY + "05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded",)),
    )

    def hint(self) -> str:
        return "N-MNIST (Mendeley Data doi 10.17632/468j46mzdv.1): or place the unpacked Train/ and Test/ folders here"

    def num_classes(self, own: dict[str, Any]) -> int:
        return 10

    def extracted(self, folder: Path) -> bool:
        return all(any((folder / s / str(d)).glob("*.bin")) for s in ("Train", "Test") for d in range(10))

    def splits(self, folder: Path, own: dict[str, Any]) -> tuple[list, list, dict[str, Any]]:
        return digit_files(folder / "Train"), digit_files(folder / "Test"), {"split": "official Train/Test"}

    def reader(self, path: Path) -> Events:
        return read_nmnist(path)


DATASETS.register("nmnist")(NMnistSource())
