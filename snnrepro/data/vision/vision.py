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
MNIST and Fashion-MNIST files may also be placed as distributed, ``*.gz`` in ``raw/``.

Placed files are checked before they are read: the md5 of every file whose md5 is known
(:data:`KNOWN_MD5`: the archives as distributed, the uncompressed MNIST files, the CIFAR
batches), the IDX header and length of every IDX file; a damaged file raises
:class:`DatasetCorrupt` naming it and its md5.  CIFAR batches are unpickled by an unpickler
that builds plain containers and numpy arrays only, so even a file that slipped past the md5
check cannot run code.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from snnrepro.data.base import Availability, DataBundle, DatasetCorrupt, DatasetMissing, DatasetSource
from snnrepro.data.vision.images import ImageTensorDataset, augmentation
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


#: md5 of each file, as torchvision lists them (the archives as distributed, the CIFAR batches) and of the
#: uncompressed MNIST files.  A placed file with a known md5 must match it.
KNOWN_MD5: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    "cifar10": {
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    },
    "cifar100": {
        "train": "16019d7e3df5f24257cddd939b257f8d",
        "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
        "meta": "7973b15100ade9c7d40fb424638fde48",
    },
}
_IDX_MAGIC = {"images": (0x08, 3), "labels": (0x08, 1)}  # (data type code: unsigned byte, number of dimensions)


def _torchvision_class(name: str):
    from torchvision import datasets

    return {
        "mnist": datasets.MNIST,
        "fashion_mnist": datasets.FashionMNIST,
        "cifar10": datasets.CIFAR10,
        "cifar100": datasets.CIFAR100,
    }[name]


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles containers, numbers, strings and numpy arrays only: any other global is refused, never called."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):  # type: ignore[override]
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to import {module}.{name}")


def _checked_bytes(path: Path, md5: str | None) -> bytes:
    data = path.read_bytes()
    if md5 is not None:
        got = hashlib.md5(data).hexdigest()
        if got != md5:
            raise DatasetCorrupt(path, f"md5 {got} does not match ({len(data):,} bytes)", md5)
    return data


def _read_cifar(folder: Path, files: list[str], md5s: dict[str, str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The CIFAR pickle batches: ``data`` uint8 [N, 3072] (RGB planes), ``labels`` or ``fine_labels``."""
    images, labels = [], []
    for f in files:
        path = folder / f
        data = _checked_bytes(path, md5s.get(f))
        try:
            entry = _ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()
            arr = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            lab = list(entry["labels"] if "labels" in entry else entry["fine_labels"])
        except Exception as exc:  # refused global, truncated pickle, missing keys, wrong shapes
            raise DatasetCorrupt(path, f"not a CIFAR batch ({type(exc).__name__}: {exc})", md5s.get(f)) from None
        if len(lab) != len(arr):
            raise DatasetCorrupt(path, f"{len(arr)} images but {len(lab)} labels", md5s.get(f))
        images.append(arr)
        labels.extend(lab)
    return torch.from_numpy(np.concatenate(images)), torch.tensor(labels, dtype=torch.long)


def _placed(folder: Path, name: str) -> Path | None:
    """``folder/name``, else the file as distributed, ``folder/name.gz`` (None: neither is there)."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_idx_file(path: Path, kind: str, md5s: dict[str, str]) -> np.ndarray:
    """One IDX file (raw or ``.gz``), its md5 (when known), header and length checked."""
    md5 = md5s.get(path.name)
    data = _checked_bytes(path, md5)
    hint = ""
    if md5 is None and f"{path.name}.gz" in md5s:
        hint = f"the uncompressed {path.name}.gz, md5 {md5s[path.name + '.gz']}"
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetCorrupt(path, f"not a complete gzip file ({exc})", md5) from None
    code, ndim = _IDX_MAGIC[kind]
    if len(data) < 4 + 4 * ndim or data[:2] != b"\0\0" or data[2] != code or data[3] != ndim:
        raise DatasetCorrupt(path, f"not an IDX {kind} file (bad magic number {data[:4].hex() or 'none'}, "
                             f"expected 0000{code:02x}{ndim:02x})", md5, hint)
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if len(data) != expected:
        raise DatasetCorrupt(path, f"truncated or padded: {len(data):,} bytes, its header {dims} says {expected:,}",
                             md5, hint)
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _read_idx(folder: Path, split: str, md5s: dict[str, str]) -> tuple[torch.Tensor, torch.Tensor]:
    prefix = "train" if split == "train" else "t10k"
    paths = [_placed(folder, f"{prefix}-{k}-idx{n}-ubyte") for k, n in (("images", 3), ("labels", 1))]
    assert paths[0] is not None and paths[1] is not None  # load() checked that every file is placed
    images = _read_idx_file(paths[0], "images", md5s)
    labels = _read_idx_file(paths[1], "labels", md5s)
    if len(images) != len(labels):
        raise DatasetCorrupt(paths[1], f"{len(labels)} labels for {len(images)} images in {paths[0].name}",
                             md5s.get(paths[1].name))
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


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
        if self.info.folder.endswith("raw"):  # IDX files: uncompressed or as distributed (.gz)
            return [f for f in self.info.files if _placed(folder, f) is None]
        return [f for f in self.info.files if not (folder / f).is_file()]

    def _describe(self, names: list[str]) -> list[str]:
        """What to place for each missing file: both names of an IDX file, and the md5s."""
        md5s = KNOWN_MD5.get(self.name, {})
        out = []
        for f in names:
            if self.info.folder.endswith("raw"):
                raw = f" (md5 {md5s[f]})" if f in md5s else ""
                gz = f" (md5 {md5s[f + '.gz']})" if f + ".gz" in md5s else ""
                out.append(f"{f}{raw} or, as distributed, {f}.gz{gz}")
            else:
                out.append(f"{f} (md5 {md5s[f]})" if f in md5s else f)
        return out

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
                raise DatasetMissing(self.name, root / self.info.folder, self._describe(missing), hint) from None
            missing = self._missing(root)
        if missing:
            hint = f"(torchvision downloads them from {self.info.url} when online and SNNREPRO_OFFLINE is unset)"
            raise DatasetMissing(self.name, root / self.info.folder, self._describe(missing), hint)
        folder = root / self.info.folder
        md5s = KNOWN_MD5.get(self.name, {})
        if self.info.folder.endswith("raw"):
            (xtr, ytr), (xte, yte) = _read_idx(folder, "train", md5s), _read_idx(folder, "test", md5s)
        else:
            test_file = "test_batch" if "test_batch" in self.info.files else "test"
            train_files = [f for f in self.info.files if f.startswith("data_batch") or f == "train"]
            (xtr, ytr), (xte, yte) = _read_cifar(folder, train_files, md5s), _read_cifar(folder, [test_file], md5s)
        for y in (ytr, yte):
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= classes):
                raise DatasetCorrupt(folder, f"a label file holds labels outside 0..{classes - 1}")
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
        return Availability(self.name, "downloadable", folder, self._describe(missing),
                            note=f"torchvision: {self.info.url}")


for _info in INFOS.values():
    DATASETS.register(_info.name)(VisionSource(_info))
