"""Static image datasets read from fixtures written in their real on-disk formats (IDX, CIFAR pickles)."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from snnrepro.data.base import DatasetMissing
from snnrepro.data.standin import standin_for
from snnrepro.registry import DATASETS


def write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    """The IDX format: big-endian magic 2051/2049, counts and sizes, then raw uint8."""
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, h, w) + images.tobytes())
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())


def write_cifar(folder: Path, name: str, images: np.ndarray, labels: list[int], key: str = "labels") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / name, "wb") as fh:
        pickle.dump({"data": images.reshape(len(images), 3072), key: labels, "batch_label": name}, fh)


def write_meta(path: Path, key: str, classes: int) -> None:
    with open(path, "wb") as fh:
        pickle.dump({key: [f"class{i}" for i in range(classes)], "num_vis": 3072}, fh)


def test_mnist_reads_idx_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "MNIST" / "raw", "train", train, np.arange(12, dtype=np.uint8) % 10)
    write_idx(tmp_path / "MNIST" / "raw", "t10k", train[:5], np.arange(5, dtype=np.uint8))
    bundle = DATASETS.get("mnist").load(tmp_path, download=False)
    assert len(bundle.train) == 12 and len(bundle.test) == 5 and bundle.num_classes == 10
    x, y = bundle.train[3]
    assert x.shape == (1, 28, 28) and y == 3
    assert torch.allclose(x[0], torch.from_numpy(train[3]).float() / 255)
    assert DATASETS.get("mnist").check(tmp_path).status == "present"


def test_cifar10_and_100_read_pickle_batches(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-10-batches-py"
    imgs = rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    for i in range(1, 6):
        write_cifar(folder, f"data_batch_{i}", imgs, [i, 1, 2, 3])
    write_cifar(folder, "test_batch", imgs[:2], [7, 8])
    write_meta(folder / "batches.meta", "label_names", 10)
    bundle = DATASETS.get("cifar10").load(tmp_path, download=False, normalize=True)
    assert len(bundle.train) == 20 and len(bundle.test) == 2
    x, y = bundle.test[1]
    mean = torch.tensor([0.4914, 0.4822, 0.4465]).view(3, 1, 1)
    std = torch.tensor([0.2470, 0.2435, 0.2616]).view(3, 1, 1)
    assert y == 8 and torch.allclose(x, (torch.from_numpy(imgs[1]).float() / 255 - mean) / std, atol=1e-6)

    folder = tmp_path / "cifar-100-python"
    write_cifar(folder, "train", imgs, [99, 0, 5, 6], key="fine_labels")
    write_cifar(folder, "test", imgs[:1], [42], key="fine_labels")
    write_meta(folder / "meta", "fine_label_names", 100)
    b100 = DATASETS.get("cifar100").load(tmp_path, download=False, crop_padding=4, hflip=True)
    assert b100.num_classes == 100 and b100.train[0][1] == 99 and b100.train[0][0].shape == (3, 32, 32)


def test_missing_dataset_names_every_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetMissing) as info:
        DATASETS.get("cifar10").load(tmp_path, download=False)
    msg = str(info.value)
    assert str(tmp_path / "cifar-10-batches-py") in msg and "data_batch_5" in msg and "test_batch" in msg
    assert DATASETS.get("fashion_mnist").check(tmp_path).status == "downloadable"


def test_digits_is_real_stratified_and_upsamples() -> None:
    small = DATASETS.get("digits").load(Path("."), download=False)
    big = DATASETS.get("digits").load(Path("."), download=False, size=28, channels=3)
    assert len(small.train) + len(small.test) == 1797 and len(small.test) == 360
    labels = torch.tensor([int(small.test[i][1]) for i in range(len(small.test))])
    assert torch.bincount(labels).tolist() == [36] * 10
    x, _ = big.train[0]
    assert x.shape == (3, 28, 28) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert standin_for("cifar10", {}) == ("digits", {"size": 32, "channels": 3})
    assert standin_for("mnist", {}) == ("digits", {"size": 28, "channels": 1})
