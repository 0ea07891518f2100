"""Australian Sign Language signs, High Quality (Kadous 2002; UCI #115, "tctodd"): 95 signs, 22 channels.

Layout ``<root>/AUSLAN/.../tctodd<day>/<sign>-<k>.tsd`` (9 recording days, 3 recordings of each
sign per day; each ``.tsd`` row = 22 tab-separated sensor values at 100 Hz).  Labels: the 95 sign
names in sorted order.

Split (``test_days``, default ``[7, 8, 9]``): recordings of those days are the test set, the rest
(days 1-6) the training set: a split by recording session, so no test recording shares a session
with training data.  The IIR paper does not state its split.

Fixed length (``length``, default 45: the paper's mean sign duration; ``fit``): ``resample``
(linear interpolation of every channel onto ``length`` points) or ``pad`` (zero-pad / crop at
the end).  ``normalize``: ``zscore`` (per channel, training statistics) or ``none``.
Samples: float32 ``[1, 22, length]`` (time on the last axis).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from snnrepro.data.base import Availability, DataBundle, DatasetCorrupt, DatasetMissing, DatasetSource
from snnrepro.data.fetch import RemoteFile, ensure_files, extract_once
from snnrepro.notice import notice
from snnrepro.registry import DATASETS

CHANNELS = 22
N_SIGNS = 95
#: recordings in the published corpus: 95 signs x 3 per day x 9 days (no md5 is published: the count is the check)
EXPECTED = N_SIGNS * 3 * 9
ARCHIVE = RemoteFile(
    "australian+sign+language+signs+high+quality.zip",
    None,
    ("https://archive.ics.uci.edu/static/public/115/australian+sign+language+signs+high+quality.zip",),
)


def read_tsd(path: Path) -> np.ndarray:
    """[time, 22] float32 of one .tsd recording."""
    try:
        rows = [r.split("\t") for r in Path(path).read_text().splitlines() if r.strip()]
        arr = np.asarray(rows, dtype=np.float32)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DatasetCorrupt(path, f"not a .tsd recording ({type(exc).__name__}: {exc})") from None
    if arr.ndim != 2 or arr.shape[1] != CHANNELS:
        raise DatasetCorrupt(path, f"expected {CHANNELS} tab-separated columns, got shape {arr.shape}")
    return arr


def fix_length(a: np.ndarray, length: int, fit: str) -> np.ndarray:
    """[time, C] -> [C, length] by linear resampling or zero-padding/cropping."""
    if fit == "resample":
        src = np.linspace(0.0, 1.0, len(a))
        dst = np.linspace(0.0, 1.0, length)
        return np.stack([np.interp(dst, src, a[:, c]) for c in range(a.shape[1])]).astype(np.float32)
    out = np.zeros((a.shape[1], length), np.float32)
    n = min(length, len(a))
    out[:, :n] = a[:n].T
    return out


def recordings(folder: Path) -> list[tuple[Path, int, str]]:
    """(path, day, sign) of every ``tctodd<day>/<sign>-<k>.tsd`` under ``folder``."""
    out = []
    for f in sorted(folder.rglob("*.tsd")):
        day = f.parent.name
        if day.startswith("tctodd") and day[6:].isdigit() and "-" in f.stem:
            out.append((f, int(day[6:]), f.stem.rsplit("-", 1)[0]))
    return out


class AuslanSource(DatasetSource):
    name = "auslan"
    downloadable = True

    def params(self, length: int = 45, fit: str = "resample", test_days: Any = (7, 8, 9),
               normalize: str = "zscore") -> dict[str, Any]:
        if int(length) < 2 or fit not in ("resample", "pad") or normalize not in ("zscore", "none"):
            raise ValueError(f"auslan: length >= 2, fit resample|pad, normalize zscore|none; got {length}, {fit}, "
                             f"{normalize}")
        days = sorted(int(d) for d in test_days)
        if not days or any(not 1 <= d <= 9 for d in days) or len(days) >= 9:
            raise ValueError(f"auslan: test_days must be a non-empty proper subset of 1..9, got {test_days}")
        return {"length": int(length), "fit": fit, "test_days": days, "normalize": normalize}

    def shape(self, **params: Any) -> tuple[tuple[int, ...], int]:
        p = self.params(**params)
        return (1, CHANNELS, p["length"]), N_SIGNS

    def folder(self, root: Path) -> Path:
        return Path(root) / "AUSLAN"

    def ensure(self, root: Path, download: bool) -> list[tuple[Path, int, str]]:
        folder = self.folder(root)
        found = recordings(folder) if folder.is_dir() else []
        if found:
            return found
        ensure_files(self.name, folder, [ARCHIVE], download,
                     hint="UCI 'Australian Sign Language signs (High Quality)'; or place the tctodd1..9 folders here")
        extract_once(folder / ARCHIVE.name, folder)
        for inner in folder.rglob("*.tar.gz"):  # the UCI zip wraps tctodd.tar.gz
            extract_once(inner, inner.parent)
        found = recordings(folder)
        if not found:
            raise DatasetMissing(self.name, folder, ["tctodd1/ ... tctodd9/ with <sign>-<k>.tsd files"],
                                 "the archive did not contain tctodd<day>/*.tsd")
        return found

    def load(self, root: Path, download: bool, **params: Any) -> DataBundle:
        p = self.params(**params)
        found = self.ensure(root, download)
        if len(found) != EXPECTED:
            notice(f"AUSLAN: {len(found)} recordings under {self.folder(root)}, the published corpus has {EXPECTED}; "
                   "results will differ")
        signs = sorted({s for _, _, s in found})
        if len(signs) != N_SIGNS:
            raise DatasetMissing(self.name, self.folder(root), [f"recordings of all {N_SIGNS} signs"],
                                 f"found {len(signs)} distinct signs under the tctodd folders")
        index = {s: i for i, s in enumerate(signs)}
        split: dict[str, list[np.ndarray]] = {"train": [], "test": []}
        labels: dict[str, list[int]] = {"train": [], "test": []}
        for f, day, sign in found:
            k = "test" if day in p["test_days"] else "train"
            split[k].append(fix_length(read_tsd(f), p["length"], p["fit"]))
            labels[k].append(index[sign])
        xtr, xte = (torch.from_numpy(np.stack(split[k]))[:, None] for k in ("train", "test"))
        if p["normalize"] == "zscore":
            mean = xtr.mean(dim=(0, 1, 3), keepdim=True)
            std = xtr.std(dim=(0, 1, 3), keepdim=True).clamp_min(1e-6)
            xtr, xte = (xtr - mean) / std, (xte - mean) / std
        ytr, yte = (torch.tensor(labels[k]) for k in ("train", "test"))
        info = {"split": f"by recording day: test days {p['test_days']}, train the others", **p,
                "layout": "[1, 22 channels, length], time on the last axis", "n_train": len(ytr), "n_test": len(yte)}
        return DataBundle(TensorDataset(xtr, ytr), TensorDataset(xte, yte), (1, CHANNELS, p["length"]), N_SIGNS,
                          info=info)

    def check(self, root: Path) -> Availability:
        folder = self.folder(root)
        n = len(recordings(folder)) if folder.is_dir() else 0
        if n:
            return Availability(self.name, "present", folder, note=f"{n} .tsd recordings")
        return Availability(self.name, "downloadable", folder, [ARCHIVE.describe()],
                            note="or place the tctodd1..9 folders there")


DATASETS.register("auslan")(AuslanSource())
