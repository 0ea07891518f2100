"""N-TIDIGITS18 (Anumula et al. 2018): TIDIGITS played to a 64-channel silicon cochlea, through tonic.

Single-digit utterances only (tonic's ``single_digits=True``), 11 classes (tonic's map: o=0,
1..9, z=10).  Samples are float32 ``[1, 64, T]``: spike counts per cochlea channel in ``T`` (100) bins
(``split_by`` ``time`` (default) or ``count``, the same integration as the event cameras),
time on the last axis like the other audio datasets.  File: ``<root>/NTIDIGITS18/n-tidigits.hdf5``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from snnrepro.data.base import Availability, DataBundle, DatasetCorrupt, DatasetSource
from snnrepro.data.events.frames import SPLITS, events_to_frames
from snnrepro.data.fetch import RemoteFile, ensure_files
from snnrepro.registry import DATASETS

FILE = RemoteFile(
    "n-tidigits.hdf5",
    "360a2d11e5429555c9197381cf6b58e0",
    ("https://www.dropbox.com/scl/fi/1x4lxt9yyw25sc3tez8oi/n-tidigits.hdf5?e=2&rlkey=w8gi5udvib2zqzosusa5tr3wq&dl=1",),
)
CHANNELS = 64


class CochleaBins(Dataset):
    """tonic's NTIDIGITS18 split -> ``([1, 64, T] counts, label)``."""

    def __init__(self, tonic_ds: Any, T: int, split_by: str) -> None:
        self.ds, self.T, self.split_by = tonic_ds, T, split_by

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        ev, label = self.ds[i]
        order = np.argsort(ev["t"], kind="stable")
        x, t = ev["x"][order], ev["t"][order]
        zeros = np.zeros_like(x)
        fr = events_to_frames(x, zeros, zeros, t, (1, CHANNELS), self.T, self.split_by)  # [T, 2, 1, 64]
        return torch.from_numpy(fr[:, 0, 0, :].T.copy()).unsqueeze(0), int(label)


class NTidigitsSource(DatasetSource):
    name = "ntidigits"
    downloadable = True
    folder_name = "NTIDIGITS18"

    def _params(self, T: int = 100, split_by: str = "time") -> tuple[int, str]:
        if int(T) < 1 or split_by not in SPLITS:
            raise ValueError(f"ntidigits: T must be >= 1, split_by one of {SPLITS}; got {T}, {split_by!r}")
        return int(T), split_by

    def shape(self, **params: Any) -> tuple[tuple[int, ...], int]:
        T, _ = self._params(**params)
        return (1, CHANNELS, T), 11

    def load(self, root: Path, download: bool, **params: Any) -> DataBundle:
        T, split_by = self._params(**params)
        folder = Path(root) / self.folder_name
        ensure_files(self.name, folder, [FILE], download, hint="N-TIDIGITS18 (tonic's source)", check_md5=False)
        from tonic.datasets import NTIDIGITS18

        try:
            tr = NTIDIGITS18(str(root), train=True, single_digits=True)
            te = NTIDIGITS18(str(root), train=False, single_digits=True)
        except (OSError, KeyError, ValueError) as exc:  # h5py on a damaged or foreign file
            raise DatasetCorrupt(folder / FILE.name, f"not the N-TIDIGITS18 HDF5 file ({type(exc).__name__}: {exc})",
                                 FILE.md5) from None
        info = {"split": "official train/test (single digits)", "bins": {"T": T, "split_by": split_by},
                "layout": "[1, 64 channels, T bins] spike counts", "n_train": len(tr), "n_test": len(te)}
        return DataBundle(CochleaBins(tr, T, split_by), CochleaBins(te, T, split_by), (1, CHANNELS, T), 11, info=info)

    def check(self, root: Path) -> Availability:
        folder = Path(root) / self.folder_name
        if (folder / FILE.name).is_file():
            return Availability(self.name, "present", folder)
        return Availability(self.name, "downloadable", folder, [FILE.describe()])


DATASETS.register("ntidigits")(NTidigitsSource())
