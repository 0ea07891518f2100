"""Google Speech Commands v2 (Warden 2018), all 35 words, official validation/testing lists.

Layout ``<root>/SpeechCommands/speech_commands_v0.02/<word>/<file>.wav`` with
``validation_list.txt`` and ``testing_list.txt`` (as ``speech_commands_v0.02.tar.gz`` unpacks).
Train = every clip in neither list (``_background_noise_`` excluded); test = ``testing_list.txt``
(param ``test_list: validation`` evaluates on the validation list instead).  Clips are
zero-padded / cropped to exactly 1 s (16 000 samples).  Labels: the 35 words in sorted order.

BPSA/BPTA paper: "The training datasets are rebalanced by repeating random samples to make the
number of samples the same in each class": with ``rebalance: true`` (default) every class of the
training split is topped up to the largest class's count by repeating randomly drawn samples of
that class (without replacement while possible; generator seed 0, the same for every run).

Default features: 40 log-mel bands, 25 ms window, 10 ms hop, 98 frames (= a 1 s clip), z-scored
per band with training statistics -> ``[1, 40, 98]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from snnrepro.data.audio.audio_io import read_audio
from snnrepro.data.audio.audio_source import AudioSource
from snnrepro.data.base import Availability, DatasetMissing
from snnrepro.data.fetch import RemoteFile, ensure_files, extract_once
from snnrepro.registry import DATASETS

ARCHIVE = RemoteFile(
    "speech_commands_v0.02.tar.gz",
    "6b74f3901214cb2c2934e98196829835",
    ("https://storage.googleapis.com/download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
     "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"),
)
WORDS = (
    "backward bed bird cat dog down eight five follow forward four go happy house learn left marvin nine no off "
    "on one right seven sheila six stop three tree two up visual wow yes zero"
).split()
SR = 16000


def balanced_indices(y: np.ndarray, seed: int = 0) -> np.ndarray:
    """Indices that repeat random samples of each class until all classes have the largest class's count."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(y)
    target = counts.max()
    out = [np.arange(len(y))]
    for c, n in enumerate(counts):
        if 0 < n < target:
            idx = np.flatnonzero(y == c)
            need = target - n
            reps = np.concatenate([rng.permutation(idx) for _ in range(-(-need // n))])[:need]
            out.append(reps)
    return np.concatenate(out)


class GscSource(AudioSource):
    name = "gsc"
    downloadable = True
    default_features = "fbank"

    def feature_defaults(self, kind: str) -> dict[str, Any]:
        if kind == "fbank":
            return {"features": "fbank", "n_features": 40, "n_frames": 98, "framing": "fixed", "log": True,
                    "normalize": "zscore"}
        return {"features": kind, "n_features": 20, "n_frames": 98, "framing": "fixed", "normalize": "zscore"}

    def own_params(self) -> dict[str, Any]:
        return {"rebalance": True, "test_list": "testing"}

    def num_classes(self, own: dict[str, Any]) -> int:
        if own["test_list"] not in ("testing", "validation"):
            raise ValueError(f"gsc: test_list must be testing or validation, got {own['test_list']!r}")
        return len(WORDS)

    def folder(self, root: Path) -> Path:
        return Path(root) / "SpeechCommands" / "speech_commands_v0.02"

    def present(self, folder: Path) -> bool:
        return (folder / "testing_list.txt").is_file() and (folder / "validation_list.txt").is_file() and all(
            (folder / w).is_dir() for w in WORDS)

    def ensure(self, root: Path, download: bool) -> Path:
        folder = self.folder(root)
        if self.present(folder):
            return folder
        ensure_files(self.name, folder.parent, [ARCHIVE], download,
                     hint=f"or unpack it yourself into {folder}")
        extract_once(folder.parent / ARCHIVE.name, folder)
        if not self.present(folder):
            raise DatasetMissing(self.name, folder, ["<word>/*.wav for 35 words", "testing_list.txt",
                                                     "validation_list.txt"], "the archive did not unpack as expected")
        return folder

    def files(self, root: Path, download: bool, own: dict[str, Any]) -> tuple[list, list, dict[str, Any], Path]:
        self.num_classes(own)
        folder = self.ensure(root, download)
        val = set((folder / "validation_list.txt").read_text().split())
        tst = set((folder / "testing_list.txt").read_text().split())
        held = tst if own["test_list"] == "testing" else val
        train, test = [], []
        for label, w in enumerate(WORDS):
            for f in sorted((folder / w).glob("*.wav")):
                rel = f"{w}/{f.name}"
                if rel in held:
                    test.append((f, label))
                elif rel not in val and rel not in tst:
                    train.append((f, label))
        info = {"split": f"official lists; test = {own['test_list']}_list.txt, train = clips in neither list",
                "clip": "1 s, zero-padded/cropped to 16000 samples",
                "rebalance": "train classes topped up to the largest by repeating random samples (seed 0)"
                if own["rebalance"] else "none"}
        return train, test, info, folder

    def read(self, path: Path, own: dict[str, Any]) -> tuple[np.ndarray, int]:
        x, sr = read_audio(path)
        if sr != SR:
            raise ValueError(f"{path}: expected {SR} Hz, got {sr}")
        out = np.zeros(SR, np.float32)
        out[: min(SR, len(x))] = x[:SR]
        return out, sr

    def rebalance(self, x: torch.Tensor, y: torch.Tensor, own: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        if not own["rebalance"]:
            return x, y
        idx = torch.from_numpy(balanced_indices(y.numpy()))
        return x[idx], y[idx]

    def check(self, root: Path) -> Availability:
        folder = self.folder(root)
        if self.present(folder):
            return Availability(self.name, "present", folder)
        return Availability(self.name, "downloadable", folder.parent, [ARCHIVE.describe()])


DATASETS.register("gsc")(GscSource())
