"""CIFAR10-DVS (Li et al. 2017): 10 000 128x128 DVS recordings of CIFAR-10 images, no official split.

Layout ``<root>/CIFAR10DVS/<class>/<file>``: the original release (figshare 4724671, one zip per
class holding AEDAT 2.0 ``.aedat`` files: what SpikingJelly and so the BPSA/BPTA code read) or
tonic 1.7's re-encoded ``.aedat4`` files (reading those needs ``pip install aedat``).

Split (param ``train_ratio``, default 0.9): within each class, files in sorted file-name order
(SpikingJelly's DatasetFolder order, which the BPSA/BPTA code splits), the first
``ceil(train_ratio * n)`` are training samples and the rest test samples.  The split is
recorded in ``info['split']``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from snnrepro.data.events.event_io import Events, read_aedat2_dvs128, read_aedat4
from snnrepro.data.events.event_source import EventFrameSource
from snnrepro.data.fetch import RemoteFile, extract_once
from snnrepro.registry import DATASETS

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_FIGSHARE = {  # figshare article 4724671 "CIFAR10-DVS New": file id, md5 (as SpikingJelly lists them)
    "airplane": ("7712788", "0afd5c4bf9ae06af762a77b180354fdd"),
    "automobile": ("7712791", "8438dfeba3bc970c94962d995b1b9bdd"),
    "bird": ("7712794", "a9c207c91c55b9dc2002dc21c684d785"),
    "cat": ("7712812", "52c63c677c2b15fa5146a8daf4d56687"),
    "deer": ("7712815", "b6bf21f6c04d21ba4e23fc3e36c8a4a3"),
    "dog": ("7712818", "f379ebdf6703d16e0a690782e62639c3"),
    "frog": ("7712842", "cad6ed91214b1c7388a5f6ee56d08803"),
    "horse": ("7712851", "e7cbbf77bec584ffbf913f00e682782a"),
    "ship": ("7712836", "41c7bd7d6b251be82557c6cce9a7d5c9"),
    "truck": ("7712839", "89f3922fd147d9aeff89e76a2b0b70a7"),
}
SUFFIXES = (".aedat", ".aedat4")


def class_files(folder: Path, cls: str) -> list[Path]:
    d = folder / cls
    return sorted((f for f in d.glob("*") if f.suffix in SUFFIXES), key=lambda f: f.name) if d.is_dir() else []


def per_class_split(files: list[list[Path]], train_ratio: float) -> tuple[list, list]:
    train, test = [], []
    for label, fs in enumerate(files):
        cut = math.ceil(len(fs) * train_ratio)
        train += [(f, label) for f in fs[:cut]]
        test += [(f, label) for f in fs[cut:]]
    return train, test


class Cifar10DvsSource(EventFrameSource):
    name = "cifar10dvs"
    sensor = (128, 128)
    folder_name = "CIFAR10DVS"
    archives = tuple(
        RemoteFile(f"{c}.zip", md5, (f"https://ndownloader.figshare.com/files/{fid}",
                                     f"https://figshare.com/ndownloader/files/{fid}"))
        for c, (fid, md5) in _FIGSHARE.items()
    )

    def own_params(self) -> dict[str, Any]:
        return {"train_ratio": 0.9}

    def hint(self) -> str:
        return ("CIFAR10-DVS original release (figshare article 4724671); or place the unpacked <class>/ folders "
                "of .aedat (or tonic's .aedat4) files here")

    def num_classes(self, own: dict[str, Any]) -> int:
        r = float(own["train_ratio"])
        if not 0.0 < r < 1.0:
            raise ValueError(f"cifar10dvs: train_ratio must be in (0, 1), got {r}")
        return 10

    def extracted(self, folder: Path) -> bool:
        return all(class_files(folder, c) for c in CLASSES)

    def ensure(self, root: Path, download: bool) -> Path:
        folder = super().ensure(root, download)
        for c in CLASSES:  # tonic's CIFAR10DVS.zip holds per-class zips: unpack those too
            inner = folder / f"{c}.zip"
            if not class_files(folder, c) and inner.is_file():
                extract_once(inner, folder)
        return folder

    def splits(self, folder: Path, own: dict[str, Any]) -> tuple[list, list, dict[str, Any]]:
        r = float(own["train_ratio"])
        train, test = per_class_split([class_files(folder, c) for c in CLASSES], r)
        info = {"split": f"per-class first ceil({r:g}*n) by sorted file name = train, rest = test",
                "sample_count": {"train": len(train), "test": len(test)}}
        return train, test, info

    def reader(self, path: Path) -> Events:
        return read_aedat4(path) if path.suffix == ".aedat4" else read_aedat2_dvs128(path)


DATASETS.register("cifar10dvs")(Cifar10DvsSource())
