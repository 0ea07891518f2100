"""DVS128 Gesture (Amir et al. 2017): 128x128 recordings of 11 hand gestures, official user split.

Layout (tonic 1.7's preprocessed release, ``<root>/DVSGesture/``): ``ibmGestureTrain/`` and
``ibmGestureTest/``, each ``userNN_<lighting>/<label>.npy`` (x, y, p, t[ms]), as
``ibmGestureTrain.tar.gz``/``ibmGestureTest.tar.gz`` unpack.  Users 1-23 train, 24-29 test.

Sample counts differ between distributions: tonic's preprocessed release cuts the recordings
its own way, SpikingJelly cuts the original ``DvsGesture.tar.gz`` into 1176 train / 288 test
samples (the 1464 the BRP paper counts).  Every run records the counts it actually used
(``info['sample_count']``).  ``classes: 10`` drops class 10 ("other gestures") as the IIR
paper's "10 gestures" suggests; default 11.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snnrepro.data.events.event_io import Events, read_gesture_npy
from snnrepro.data.events.event_source import EventFrameSource
from snnrepro.data.fetch import RemoteFile
from snnrepro.registry import DATASETS

SPLIT_DIRS = {"train": "ibmGestureTrain", "test": "ibmGestureTest"}


def gesture_files(split_dir: Path, classes: int) -> list[tuple[Path, int]]:
    out = []
    for f in sorted(split_dir.glob("user*/*.npy")):
        label = int(f.stem)
        if label < classes:
            out.append((f, label))
    return out


class DvsGestureSource(EventFrameSource):
    name = "dvsgesture"
    sensor = (128, 128)
    folder_name = "DVSGesture"
    archives = (
        RemoteFile("ibmGestureTrain.tar.gz", "3a8f0d4120a166bac7591f77409cb105",
                   ("https://figshare.com/ndownloader/files/38022171",)),
        RemoteFile("ibmGestureTest.tar.gz", "56070e45dadaa85fff82e0fbfbc06de5",
                   ("https://figshare.com/ndownloader/files/38020584",)),
    )

    def own_params(self) -> dict[str, Any]:
        return {"classes": 11}

    def hint(self) -> str:
        return ("DVS128 Gesture in tonic 1.7's preprocessed form; or place the unpacked ibmGestureTrain/ and "
                "ibmGestureTest/ folders here")

    def num_classes(self, own: dict[str, Any]) -> int:
        c = int(own["classes"])
        if c not in (10, 11):
            raise ValueError(f"dvsgesture: classes must be 10 or 11, got {c}")
        return c

    def extracted(self, folder: Path) -> bool:
        return all(any((folder / d).glob("user*/*.npy")) for d in SPLIT_DIRS.values())

    def splits(self, folder: Path, own: dict[str, Any]) -> tuple[list, list, dict[str, Any]]:
        c = self.num_classes(own)
        train = gesture_files(folder / SPLIT_DIRS["train"], c)
        test = gesture_files(folder / SPLIT_DIRS["test"], c)
        info = {
            "split": "official (users 1-23 train, 24-29 test)",
            "sample_count": {"train": len(train), "test": len(test), "classes": c,
                             "distribution": "tonic 1.7 preprocessed npy (ibmGestureTrain/ibmGestureTest)"},
        }
        return train, test, info

    def reader(self, path: Path) -> Events:
        return read_gesture_npy(path)


DATASETS.register("dvsgesture")(DvsGestureSource())
