"""``train.data_on_device``: a run's splits held on the device, batches drawn by index.

The whole training, test (and validation) sets are collated once and moved to the device; every epoch
then draws its batches by indexing those tensors, in the order the DataLoader path would give: the
indices come from a ``DataLoader`` over ``range(n)`` with the same ``shuffle=True`` and the same
:func:`~snnrepro.engine.seeding.epoch_generator` (so it consumes that generator exactly as the sample
loader does), evaluation in the loader's fixed order.  A run therefore sees the same batches, and trains
the same weights, either way; what it saves is the per-sample ``__getitem__``, collation and the
host-to-device copy of every batch.

Only for datasets that fit in device memory and have no per-sample random augmentation (a dataset
whose items carry a ``transform`` or ``augment``: one draw frozen for the whole run would change the
method), and not under ``torchrun`` (each rank shards its loader there).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from snnrepro.engine.seeding import epoch_generator
from snnrepro.spec import SpecError

#: share of the device's free memory the splits may take (the rest is for the model and its activations)
MEMORY_SHARE = 0.5
KEY = "train.data_on_device"


def _augmented(ds: Dataset) -> bool:
    """Whether ``ds`` (through any ``Subset``) draws a random augmentation per item."""
    while ds is not None:
        if getattr(ds, "transform", None) is not None or getattr(ds, "augment", None) is not None:
            return True
        ds = getattr(ds, "dataset", None)
    return False


@dataclass
class DeviceSplit:
    """One split's samples ``x`` and labels ``y``, collated and on the device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    @classmethod
    def collate(cls, ds: Dataset, where: str) -> DeviceSplit:
        """Every item of ``ds`` collated as the loader collates a batch (on the host)."""
        n = len(ds)  # type: ignore[arg-type]
        x, y = default_collate([ds[i] for i in range(n)])
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise SpecError(where, KEY, f"needs samples that collate to tensors, got {type(x).__name__}")
        return cls(x, y)

    def to(self, device: torch.device) -> DeviceSplit:
        return DeviceSplit(self.x.to(device), self.y.to(device))

    def nbytes(self) -> int:
        return self.x.nbytes + self.y.nbytes


class IndexBatches:
    """An iterable of ``(x, y)`` batches of a :class:`DeviceSplit`: shuffled per (seed, epoch), or in order."""

    def __init__(self, split: DeviceSplit, batch_size: int, seed: int | None = None, epoch: int = 0) -> None:
        self.split, self.batch_size, self.seed, self.epoch = split, batch_size, seed, epoch

    def __len__(self) -> int:
        return -(-len(self.split) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        s, bs = self.split, self.batch_size
        if self.seed is None:  # the evaluation loaders' fixed order: contiguous slices
            for i in range(0, len(s), bs):
                yield s.x[i : i + bs], s.y[i : i + bs]
            return
        # the train loader's sampler over indices: the same generator draws, hence the same permutation
        order = DataLoader(range(len(s)), batch_size=bs, shuffle=True,  # type: ignore[arg-type]
                           generator=epoch_generator(self.seed, self.epoch))  # fmt: skip
        for idx in order:
            idx = idx.to(s.x.device, non_blocking=True)
            yield s.x[idx], s.y[idx]


@dataclass
class DeviceData:
    """The run's splits on the device (``val`` when ``train.val_split`` holds some out)."""

    train: DeviceSplit
    test: DeviceSplit
    val: DeviceSplit | None

    @classmethod
    def load(
        cls, train: Dataset, test: Dataset, val: Dataset | None, device: torch.device, where: str
    ) -> DeviceData:
        """Collate and move the splits; a :class:`SpecError` for augmented data or data too large for the device."""
        if _augmented(train):
            raise SpecError(where, KEY, "the training set draws a random augmentation per sample (dataset params "
                            "crop_padding/hflip/rotation); on the device one draw would be frozen for the run: "
                            "set train.data_on_device: false or turn the augmentation off")  # fmt: skip
        splits = [DeviceSplit.collate(ds, where) if ds is not None else None for ds in (train, test, val)]
        need = sum(s.nbytes() for s in splits if s is not None)
        if device.type == "cuda":
            free = torch.cuda.mem_get_info(device)[0]
            if need > MEMORY_SHARE * free:
                raise SpecError(where, KEY, f"the splits take {need / 2**30:.2f} GiB, more than "
                                f"{MEMORY_SHARE:.0%} of the device's {free / 2**30:.2f} GiB free")  # fmt: skip
        on = [s.to(device) if s is not None else None for s in splits]
        return cls(on[0], on[1], on[2])  # type: ignore[arg-type]

    def train_batches(self, batch_size: int, seed: int, epoch: int) -> IndexBatches:
        return IndexBatches(self.train, batch_size, seed, epoch)

    def eval_batches(self, batch_size: int, split: str = "test") -> IndexBatches | None:
        s = self.test if split == "test" else self.val
        return None if s is None else IndexBatches(s, batch_size)
