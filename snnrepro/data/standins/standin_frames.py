"""``standin_frames``: smoke-profile stand-in for an event or audio dataset that is not on disk.

Real images, not fake events: scikit-learn's bundled 8x8 handwritten digits (1797 images, fixed
stratified 75/25 split, seed 0), each resized (bilinear) to the last two axes of ``shape`` and
repeated over the leading axes, e.g. ``[T, 2, H, W]`` for an event dataset (every frame and both
polarity channels carry the same image) or ``[1, n_features, n_frames]`` for an audio one.  Values
in [0, 1].  With ``classes`` < 10 only digits below ``classes`` are kept; with more, labels stay
0..9.  It only checks that a pipeline runs; run records mark it ``data_source = "standin:..."``.

:func:`frames_standin_for` maps a dataset name + params to this dataset with the same sample shape
(:mod:`snnrepro.data.standins.standin` registers it for the event and audio datasets; this module imports
nothing from there, so the two form no cycle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from snnrepro.data.base import Availability, DataBundle, DatasetSource
from snnrepro.registry import DATASETS


class _Resized(Dataset):
    def __init__(self, images: torch.Tensor, labels: torch.Tensor, shape: tuple[int, ...]) -> None:
        self.images, self.labels, self.shape = images, labels, shape

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = F.interpolate(self.images[i][None, None], size=self.shape[-2:], mode="bilinear", align_corners=False)
        return img[0, 0].clamp(0, 1).expand(*self.shape).contiguous(), int(self.labels[i])


class StandinFrames(DatasetSource):
    name = "standin_frames"
    downloadable = True

    def params(self, shape: Any = (16, 2, 34, 34), classes: int = 10) -> tuple[tuple[int, ...], int]:
        s = tuple(int(v) for v in shape)
        if len(s) < 2 or min(s) < 1 or int(classes) < 2:
            raise ValueError(f"standin_frames: shape needs >= 2 positive dims and classes >= 2; got {shape}, {classes}")
        return s, int(classes)

    def shape(self, **params: Any) -> tuple[tuple[int, ...], int]:
        return self.params(**params)

    def load(self, root: Path, download: bool, **params: Any) -> DataBundle:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        shape, classes = self.params(**params)
        d = load_digits()
        x = torch.tensor(d.images, dtype=torch.float32) / 16.0
        y = torch.tensor(d.target)
        keep = y < classes
        x, y = x[keep], y[keep]
        tr, te = train_test_split(range(len(y)), test_size=0.25, stratify=y.numpy(), random_state=0)
        mk = lambda idx: _Resized(x[idx], y[idx], shape)  # noqa: E731
        info = {"standin": True, "source": "sklearn digits 8x8, resized and repeated", "shape": list(shape)}
        return DataBundle(mk(tr), mk(te), shape, classes, time_steps=shape[0] if len(shape) == 4 else None,
                          info=info)

    def check(self, root: Path) -> Availability:
        return Availability(self.name, "present", Path(root), note="stand-in generated from sklearn's bundled digits")


def frames_standin_for(name: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``("standin_frames", {"shape": ..., "classes": ...})`` matching ``name``'s sample shape (no disk access)."""
    shape, classes = DATASETS.get(name).shape(**params)
    return "standin_frames", {"shape": list(shape), "classes": int(classes)}


DATASETS.register("standin_frames")(StandinFrames())
