"""Free Spoken Digit Dataset (Jackson et al., CC BY-SA 4.0): 3000 8 kHz wavs, 6 speakers x 10 digits x 50.

The openly available stand-in for TIDIGITS (same audio pipeline and params, see
:mod:`snnrepro.data.audio.audio_features`); rows that use it in place of TIDIGITS must say so.
Layout ``<root>/FSDD/recordings/{digit}_{speaker}_{index}.wav``; official split: index 0-4 test
(300), 5-49 train (2700).  Download: the GitHub repository's release zip (the recordings/ folder
is moved into place).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from snnrepro.data.audio.audio_source import AudioSource
from snnrepro.data.base import Availability, DatasetCorrupt, DatasetMissing
from snnrepro.data.fetch import RemoteFile, ensure_files, extract_once
from snnrepro.notice import notice
from snnrepro.registry import DATASETS

_GH = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/"
ARCHIVE = RemoteFile("free-spoken-digit-dataset-1.0.10.zip", None,
                     (_GH + "refs/tags/v1.0.10.zip", _GH + "v1.0.10.zip"))
EXPECTED = 3000


def parse_name(path: Path) -> tuple[int, str, int]:
    digit, speaker, index = path.stem.split("_")
    return int(digit), speaker, int(index)


class FsddSource(AudioSource):
    name = "fsdd"
    downloadable = True

    def num_classes(self, own: dict[str, Any]) -> int:
        return 10

    def recordings(self, root: Path) -> Path:
        return Path(root) / "FSDD" / "recordings"

    def ensure(self, root: Path, download: bool) -> Path:
        rec = self.recordings(root)
        if any(rec.glob("*.wav")):
            return rec
        folder = rec.parent
        ensure_files(self.name, folder, [ARCHIVE], download,
                     hint="or place the 3000 wav files of the repository's recordings/ folder in " + str(rec))
        extract_once(folder / ARCHIVE.name, folder)
        found = [d for d in folder.glob("*/recordings") if d.is_dir()]
        if not found:
            raise DatasetMissing(self.name, rec, ["{digit}_{speaker}_{index}.wav (3000 files)"],
                                 f"{ARCHIVE.name} did not contain a recordings/ folder")
        shutil.move(str(found[0]), str(rec))
        return rec

    def files(self, root: Path, download: bool, own: dict[str, Any]) -> tuple[list, list, dict[str, Any], Path]:
        rec = self.ensure(root, download)
        train, test = [], []
        wavs = sorted(rec.glob("*.wav"))
        for f in wavs:
            try:
                digit, _, index = parse_name(f)
            except ValueError:
                raise DatasetCorrupt(f, "not an FSDD recording name: expected {digit}_{speaker}_{index}.wav") from None
            (test if index < 5 else train).append((f, digit))
        if len(wavs) != EXPECTED:  # no md5 is published: the count is the check
            notice(f"FSDD: {len(wavs)} wav files in {rec}, the published corpus has {EXPECTED}; results will differ")
        info = {"split": "official: index 0-4 test, 5-49 train",
                "note": "FSDD is an openly available substitute for TIDIGITS, not TIDIGITS"}
        return train, test, info, rec

    def check(self, root: Path) -> Availability:
        rec = self.recordings(root)
        n = len(list(rec.glob("*.wav")))
        if n:
            note = "" if n == EXPECTED else f"{n} wav files, expected {EXPECTED}"
            return Availability(self.name, "present", rec, note=note)
        return Availability(self.name, "downloadable", rec.parent, [ARCHIVE.describe()],
                            note="or place the recordings/ folder (3000 wavs) there")


DATASETS.register("fsdd")(FsddSource())
