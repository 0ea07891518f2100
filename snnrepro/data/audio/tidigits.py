"""TIDIGITS (LDC93S10, licensed by the LDC: cannot be downloaded), isolated digits.

Place the corpus under ``<root>/TIDIGITS/`` in its standard layout
``.../{train,test}/{man,woman,boy,girl}/<speaker>/<utterance>.wav`` (any folders above
``train``/``test`` are fine, e.g. the CD's ``tidigits/``).  Files are NIST SPHERE (named ``.wav``);
shorten-compressed SPHERE must be converted to PCM first (``sph2pipe``), and the error says so.
Isolated digits are the utterances ``<d><a|b>`` with d in 1-9, z, o.

Params (besides the audio features of :mod:`snnrepro.data.audio.audio_features`):
``classes`` 11 (z=0, 1..9, o=10) or 10 ("oh" dropped, as the BRP code); ``speakers`` ``adults``
(man, woman: default) or ``all``; ``split`` ``official`` (the corpus's train/test) or ``random70``
(all isolated digits shuffled with seed 42, 70 % train / 30 % test: the BRP code's recipe; its
exact permutation is not recoverable).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from snnrepro.data.audio.audio_source import AudioSource
from snnrepro.data.base import Availability, DatasetMissing
from snnrepro.registry import DATASETS

ADULTS = ("man", "woman")
GROUPS = ("man", "woman", "boy", "girl")
DIGITS = "z123456789o"
LAYOUT = "TIDIGITS/.../{train,test}/{man,woman,boy,girl}/<speaker>/<d><a|b>.wav  (d in 1-9, z, o)"


def isolated_digits(folder: Path) -> list[tuple[Path, str, str, str]]:
    """(path, split, group, digit char) of every isolated-digit utterance under ``folder``."""
    out = []
    for f in sorted(folder.rglob("*")):
        if f.suffix.lower() not in (".wav", ".sph") or len(f.stem) != 2:
            continue
        d, rep = f.stem[0].lower(), f.stem[1].lower()
        parts = [p.lower() for p in f.parts]
        if d in DIGITS and rep in "ab" and len(parts) >= 4 and parts[-4] in ("train", "test") and parts[-3] in GROUPS:
            out.append((f, parts[-4], parts[-3], d))
    return out


class TidigitsSource(AudioSource):
    name = "tidigits"
    downloadable = False

    def own_params(self) -> dict[str, Any]:
        return {"classes": 11, "speakers": "adults", "split": "official"}

    def num_classes(self, own: dict[str, Any]) -> int:
        c = int(own["classes"])
        if c not in (10, 11):
            raise ValueError(f"tidigits: classes must be 11 (oh kept) or 10 (oh dropped), got {c}")
        if own["speakers"] not in ("adults", "all") or own["split"] not in ("official", "random70"):
            raise ValueError(f"tidigits: speakers adults|all, split official|random70; got {own}")
        return c

    def folder(self, root: Path) -> Path:
        return Path(root) / "TIDIGITS"

    def hint(self) -> str:
        return ("TIDIGITS is licensed (LDC93S10, https://catalog.ldc.upenn.edu/LDC93S10) and cannot be downloaded: "
                f"place your copy as {LAYOUT}. FSDD (dataset 'fsdd') is the open substitute.")

    def files(self, root: Path, download: bool, own: dict[str, Any]) -> tuple[list, list, dict[str, Any], Path]:
        classes = self.num_classes(own)
        folder = self.folder(root)
        found = isolated_digits(folder) if folder.is_dir() else []
        if not found:
            raise DatasetMissing(self.name, folder, [LAYOUT], self.hint())
        groups = ADULTS if own["speakers"] == "adults" else GROUPS
        items = []
        for f, split, group, d in found:
            if group not in groups or (d == "o" and classes == 10):
                continue
            items.append((f, split, DIGITS.index(d)))
        if own["split"] == "official":
            train = [(f, y) for f, s, y in items if s == "train"]
            test = [(f, y) for f, s, y in items if s == "test"]
        else:
            perm = np.random.RandomState(42).permutation(len(items))
            cut = int(round(0.7 * len(items)))
            train = [(items[i][0], items[i][2]) for i in perm[:cut]]
            test = [(items[i][0], items[i][2]) for i in perm[cut:]]
        info = {"split": own["split"], "classes": classes, "speakers": own["speakers"],
                "labels": "z=0, 1..9" + (", o=10" if classes == 11 else " (oh dropped)")}
        return train, test, info, folder

    def check(self, root: Path) -> Availability:
        folder = self.folder(root)
        n = len(isolated_digits(folder)) if folder.is_dir() else 0
        if n:
            return Availability(self.name, "present", folder, note=f"{n} isolated-digit files")
        return Availability(self.name, "licensed", folder, [LAYOUT], note=self.hint())


DATASETS.register("tidigits")(TidigitsSource())
