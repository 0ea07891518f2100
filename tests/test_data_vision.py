"""Static image datasets read from fixtures written in their real on-disk formats (IDX, CIFAR pickles)."""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from snnrepro.data.base import DatasetCorrupt, DatasetMissing
from snnrepro.data.standins.standin import standin_for
from snnrepro.data.vision import vision
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


def trust(monkeypatch: pytest.MonkeyPatch, dataset: str, folder: Path) -> None:
    """Fixture files are not the published ones: make their md5s the known ones (the md5 check stays on)."""
    md5s = {f.name: hashlib.md5(f.read_bytes()).hexdigest() for f in folder.iterdir() if f.is_file()}
    monkeypatch.setitem(vision.KNOWN_MD5, dataset, md5s)


def test_mnist_reads_idx_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "MNIST" / "raw", "train", train, np.arange(12, dtype=np.uint8) % 10)
    write_idx(tmp_path / "MNIST" / "raw", "t10k", train[:5], np.arange(5, dtype=np.uint8))
    trust(monkeypatch, "mnist", tmp_path / "MNIST" / "raw")
    bundle = DATASETS.get("mnist").load(tmp_path, download=False)
    assert len(bundle.train) == 12 and len(bundle.test) == 5 and bundle.num_classes == 10
    x, y = bundle.train[3]
    assert x.shape == (1, 28, 28) and y == 3
    assert torch.allclose(x[0], torch.from_numpy(train[3]).float() / 255)
    assert DATASETS.get("mnist").check(tmp_path).status == "present"


def test_cifar10_and_100_read_pickle_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-10-batches-py"
    imgs = rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    for i in range(1, 6):
        write_cifar(folder, f"data_batch_{i}", imgs, [i, 1, 2, 3])
    write_cifar(folder, "test_batch", imgs[:2], [7, 8])
    write_meta(folder / "batches.meta", "label_names", 10)
    trust(monkeypatch, "cifar10", folder)
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
    trust(monkeypatch, "cifar100", folder)
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


# --------------------------------------------------------------------------- placed files: .gz, damage, hostile pickles
def test_mnist_gz_files_as_distributed_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    raw = tmp_path / "raw"
    write_idx(raw, "train", rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), np.arange(6, dtype=np.uint8))
    write_idx(raw, "t10k", rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), np.arange(3, dtype=np.uint8))
    folder = tmp_path / "FashionMNIST" / "raw"
    folder.mkdir(parents=True)
    for f in raw.iterdir():
        (folder / f"{f.name}.gz").write_bytes(gzip.compress(f.read_bytes()))
    with pytest.raises(DatasetCorrupt, match="md5 .* does not match"):
        DATASETS.get("fashion_mnist").load(tmp_path, download=False)  # not the published .gz files
    trust(monkeypatch, "fashion_mnist", folder)  # read once their md5s are the known ones
    bundle = DATASETS.get("fashion_mnist").load(tmp_path, download=False)
    assert len(bundle.train) == 6 and len(bundle.test) == 3 and bundle.train[4][1] == 4
    assert DATASETS.get("fashion_mnist").check(tmp_path).status == "present"


def test_missing_mnist_lists_both_names_and_md5s(tmp_path: Path) -> None:
    with pytest.raises(DatasetMissing) as info:
        DATASETS.get("mnist").load(tmp_path, download=False)
    msg = str(info.value)
    assert "train-images-idx3-ubyte (md5 6bbc9ace898e44ae57da46a324031adb)" in msg
    assert "train-images-idx3-ubyte.gz (md5 f68b3c2dcbeaaa9fbdd348bbdeb94873)" in msg


@pytest.mark.parametrize(
    ("damage", "phrase"),
    [
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: b"\x00\x00\x09\x03" + b[4:], "bad magic number"),
        (lambda b: b"", "bad magic number"),
    ],
)
def test_damaged_idx_file_is_one_line_naming_file_and_md5(tmp_path: Path, monkeypatch, damage, phrase) -> None:
    folder = tmp_path / "MNIST" / "raw"
    write_idx(folder, "train", np.zeros((4, 28, 28), np.uint8), np.arange(4, dtype=np.uint8))
    write_idx(folder, "t10k", np.zeros((2, 28, 28), np.uint8), np.arange(2, dtype=np.uint8))
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    monkeypatch.setitem(vision.KNOWN_MD5, "mnist", {})  # structure checks alone
    with pytest.raises(DatasetCorrupt, match=phrase) as info:
        DATASETS.get("mnist").load(tmp_path, download=False)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    monkeypatch.undo()  # with the real md5s the damaged file is refused by its md5, named with it
    with pytest.raises(DatasetCorrupt, match="expected md5 6bbc9ace898e44ae57da46a324031adb"):
        DATASETS.get("mnist").load(tmp_path, download=False)


class _Touch:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_cifar_batch_that_would_run_code_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    imgs = np.zeros((2, 3, 32, 32), np.uint8)
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        write_cifar(folder, name, imgs, [0, 1])
    write_meta(folder / "batches.meta", "label_names", 10)
    victim = tmp_path / "pwned"
    with open(folder / "data_batch_3", "wb") as fh:
        pickle.dump({"data": imgs.reshape(2, 3072), "labels": [0, 1], "x": _Touch(victim)}, fh)
    with pytest.raises(DatasetCorrupt, match="data_batch_1: md5 .* does not match.*expected md5 c99cafc1"):
        DATASETS.get("cifar10").load(tmp_path, download=False)  # the published md5s: refused before unpickling
    trust(monkeypatch, "cifar10", folder)  # even with a matching md5 the unpickler imports nothing
    with pytest.raises(DatasetCorrupt, match="data_batch_3: not a CIFAR batch.*refusing to import"):
        DATASETS.get("cifar10").load(tmp_path, download=False)
    assert not victim.exists()


def test_real_mnist_gz_placed_alone_is_read(tmp_path: Path) -> None:
    """The published MNIST .gz files (from $SNNREPRO_DATA when it has them), placed without their unpacked copies."""
    import os
    import shutil

    src = Path(os.environ.get("SNNREPRO_DATA", "data")) / "MNIST" / "raw"
    gz = sorted(src.glob("*-ubyte.gz"))
    if len(gz) != 4:
        pytest.skip(f"no MNIST .gz files under {src}")
    folder = tmp_path / "MNIST" / "raw"
    folder.mkdir(parents=True)
    for f in gz:
        shutil.copyfile(f, folder / f.name)
    bundle = DATASETS.get("mnist").load(tmp_path, download=False)
    assert len(bundle.train) == 60000 and len(bundle.test) == 10000 and not list(folder.glob("*-ubyte"))
