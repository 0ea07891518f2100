"""scikit-learn's bundled handwritten digits: real data that ships with the package (no download).

1797 grey 8x8 images of the digits 0-9 (UCI "Optical Recognition of Handwritten Digits", 16 grey
levels).  Used for the demo, the quick profiles and the tests.  ``size: 28`` upsamples each image
bilinearly to 28x28 so that the papers' MNIST architectures run unchanged; ``channels: 3`` repeats
the grey channel (a stand-in shape for colour datasets).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

from snnrepro.data.base import Availability, DataBundle, DatasetSource
from snnrepro.data.vision.images import ImageTensorDataset, augmentation
from snnrepro.registry import DATASETS

#: images per class held out for the test split (stratified, fixed): 36 x 10 = 360 test, 1437 train
TEST_PER_CLASS = 36


@lru_cache(maxsize=1)
def _raw() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = torch.tensor(d.images, dtype=torch.float32).div_(16.0).unsqueeze(1)  # [1797, 1, 8, 8] in [0, 1]
    return images, torch.tensor(d.target, dtype=torch.long)


def split_indices(labels: torch.Tensor, test_per_class: int = TEST_PER_CLASS) -> tuple[list[int], list[int]]:
    """A fixed stratified split: ``test_per_class`` images of each class, drawn by a seed-0 permutation, are test."""
    g = torch.Generator().manual_seed(0)
    train, test = [], []
    for c in labels.unique().tolist():
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)].tolist()
        train += idx[test_per_class:]
        test += idx[:test_per_class]
    return sorted(train), sorted(test)


class DigitsSource(DatasetSource):
    """params: ``size`` (8 = native, or any larger edge, bilinear upsampling), ``channels`` (1 or 3),
    ``crop_padding``/``hflip``/``rotation`` (train-split augmentation)."""

    name = "digits"
    downloadable = True

    def shape(
        self, size: int = 8, channels: int = 1, crop_padding: int = 0, hflip: bool = False, rotation: float = 0.0
    ) -> tuple[tuple[int, ...], int]:
        if int(size) < 8:
            raise ValueError(f"digits: size must be >= 8 (the native 8x8), got {size}")
        if channels not in (1, 3):
            raise ValueError(f"digits: channels must be 1 or 3, got {channels}")
        return (int(channels), int(size), int(size)), 10

    def load(
        self,
        root: Path,
        download: bool,
        size: int = 8,
        channels: int = 1,
        crop_padding: int = 0,
        hflip: bool = False,
        rotation: float = 0.0,
    ) -> DataBundle:
        shape, classes = self.shape(size, channels, crop_padding, hflip, rotation)
        images, labels = _raw()
        if size != 8:
            images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False).clamp_(0, 1)
        images = images.expand(-1, channels, -1, -1).contiguous()
        tr, te = split_indices(labels)
        aug = augmentation(crop_padding, hflip, rotation, size)
        return DataBundle(
            train=ImageTensorDataset(images[tr], labels[tr], transform=aug),
            test=ImageTensorDataset(images[te], labels[te]),
            input_shape=shape,
            num_classes=classes,
            info={"source": "sklearn.datasets.load_digits", "size": size, "train": len(tr), "test": len(te)},
        )

    def check(self, root: Path) -> Availability:
        return Availability(self.name, "present", Path(root), note="bundled with scikit-learn (no files needed)")


DATASETS.register("digits")(DigitsSource())
