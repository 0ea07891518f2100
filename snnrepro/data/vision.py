"""MNIST, Fashion-MNIST, CIFAR10 and CIFAR100 in their official on-disk formats, downloaded by torchvision.

Layout under the data root (what ``torchvision.datasets`` writes, so an existing torchvision
folder is used as it is)::

    MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte           (IDX files)
    FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
    cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}     (pickled batches)
    cifar-100-python/{train,test,meta}

Samples are float tensors ``[C, H, W]`` in [0, 1] (``normalize: true`` subtracts the dataset's
channel mean and divides by its std); augmentation params apply to the train split only.
Files already present are read without any network access; a missing file with ``download``
off (``SNNREPRO_OFFLINE=1``) or a failed download raises :class:`DatasetMissing` naming it.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from snnrepro.data.base import Availability, DataBundle, DatasetMissing, DatasetSource
from snnrepro.data.images import ImageTensorDataset, augmentation
from snnrepro.registry import DATASETS


@dataclass(frozen=True)
class VisionInfo:
    name: str
    folder: str  # below the data root
    files: tuple[str, ...]
    shape: tuple[int, int, int]
    classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    url: str


_IDX = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
INFOS = {
    "mnist": VisionInfo(
        "mnist", "MNIST/raw", _IDX, (1, 28, 28), 10, (0.1307,), (0.3081,), "http://yann.lecun.com/exdb/mnist/"
    ),
    "fashion_mnist": VisionInfo(
        "fashion_mnist",
        "FashionMNIST/raw",
        _IDX,
        (1, 28, 28),
        10,
        (0.2860,),
        (0.3530,),
        "https://github.com/zalandoresearch/fashion-mnist",
    ),
    "cifar10": VisionInfo(
        "cifar10",
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta"),
        (3, 32, 32),
        10,
        (0.4914, 0.4822, 0.4465),
        (0.2470, 0.2435, 0.2616),
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    ),
    "cifar100": VisionInfo(
        "cifar100",
        "cifar-100-python",
        ("train", "test", "meta"),
        (3, 32, 32),
        100,
        (0.5071, 0.4865, 0.4409),
        (0.2673, 0.2564, 0.2762),
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    ),
}


def _torchvision_class(name: str):
    from torchvision import datasets

    return {
        "mnist": datasets.MNIST,
        "fashion_mnist": datasets.FashionMNIST,
        "cifar10": datasets.CIFAR10,
        "cifar100": datasets.CIFAR100,
    }[name]


def _read_cifar(folder: Path, files: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The CIFAR pickle batches: ``data`` uint8 [N, 3072] (RGB planes), ``labels`` or ``fine_labels``."""
    images, labels = [], []
    for f in files:
        with open(folder / f, "rb") as fh:
            entry = pickle.load(fh, encoding="latin1")
        images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
    return torch.from_numpy(np.concatenate(images)), torch.tensor(labels, dtype=torch.long)


def _read_idx(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets.mnist import read_image_file, read_label_file

    prefix = "train" if split == "train" else "t10k"
    images = read_image_file(str(folder / f"{prefix}-images-idx3-ubyte"))
    labels = read_label_file(str(folder / f"{prefix}-labels-idx1-ubyte"))
    return images.unsqueeze(1), labels


class VisionSource(DatasetSource):
    """params: ``normalize`` (channel mean/std), ``crop_padding``, ``hflip``, ``rotation`` (train split)."""

    downloadable = True

    def __init__(self, info: VisionInfo) -> None:
        self.info = info
        self.name = info.name

    def shape(
        self, normalize: bool = False, crop_padding: int = 0, hflip: bool = False, rotation: float = 0.0
    ) -> tuple[tuple[int, ...], int]:
        if int(crop_padding) < 0 or float(rotation) < 0:
            raise ValueError(f"{self.name}: crop_padding and rotation must be >= 0")
        return self.info.shape, self.info.classes

    def _missing(self, root: Path) -> list[str]:
        folder = Path(root) / self.info.folder
        return [f for f in self.info.files if not (folder / f).is_file()]

    def _download(self, root: Path) -> None:
        """torchvision's download + extraction, one process at a time (runs started together share the files)."""
        import fcntl

        cls = _torchvision_class(self.name)
        root.mkdir(parents=True, exist_ok=True)
        with open(root / f".{self.name}.download.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self._missing(root):  # another process may have finished while this one waited
                for train in (True, False):
                    cls(str(root), train=train, download=True)

    def load(
        self,
        root: Path,
        download: bool,
        normalize: bool = False,
        crop_padding: int = 0,
        hflip: bool = False,
        rotation: float = 0.0,
    ) -> DataBundle:
        shape, classes = self.shape(normalize, crop_padding, hflip, rotation)
        root = Path(root)
        missing = self._missing(root)
        if missing and download:
            try:
                self._download(root)
            except Exception as exc:  # no network, moved host, bad checksum: all end in the same message
                missing = self._missing(root)
                hint = f"download from {self.info.url} failed ({type(exc).__name__}: {exc})"
                raise DatasetMissing(self.name, root / self.info.folder, missing, hint) from None
            missing = self._missing(root)
        if missing:
            hint = f"(torchvision downloads them from {self.info.url} when online and SNNREPRO_OFFLINE is unset)"
            raise DatasetMissing(self.name, root / self.info.folder, missing, hint)
        folder = root / self.info.folder
        if self.info.folder.endswith("raw"):
            (xtr, ytr), (xte, yte) = _read_idx(folder, "train"), _read_idx(folder, "test")
        else:
            test_file = "test_batch" if "test_batch" in self.info.files else "test"
            train_files = [f for f in self.info.files if f.startswith("data_batch") or f == "train"]
            (xtr, ytr), (xte, yte) = _read_cifar(folder, train_files), _read_cifar(folder, [test_file])
        norm = (self.info.mean, self.info.std) if normalize else (None, None)
        aug = augmentation(crop_padding, hflip, rotation, shape[-1])
        return DataBundle(
            train=ImageTensorDataset(xtr, ytr, aug, *norm),
            test=ImageTensorDataset(xte, yte, None, *norm),
            input_shape=shape,
            num_classes=classes,
            info={"folder": str(folder), "train": len(ytr), "test": len(yte), "normalize": bool(normalize)},
        )

    def check(self, root: Path) -> Availability:
        missing = self._missing(root)
        folder = Path(root) / self.info.folder
        if not missing:
            return Availability(self.name, "present", folder)
        return Availability(self.name, "downloadable", folder, missing, note=f"torchvision: {self.info.url}")


for _info in INFOS.values():
    DATASETS.register(_info.name)(VisionSource(_info))
