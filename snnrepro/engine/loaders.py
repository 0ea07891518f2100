"""A run's data: the spec's splits (subsets, validation split, DDP shard) and their loaders.

On CUDA every loader pins its batches (``pin_memory``) and the engine copies them with ``non_blocking``
(:func:`~snnrepro.engine.device.to_device`); with ``train.data_on_device`` the splits live on the device
instead (:mod:`snnrepro.engine.device_data`) and the loaders below only give the order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from snnrepro.data.base import DataBundle
from snnrepro.data.loading import deterministic_subset, load_data, split_validation
from snnrepro.engine import distributed as ddp
from snnrepro.engine.device_data import DeviceData
from snnrepro.engine.seeding import epoch_generator
from snnrepro.spec import Spec, SpecError


@dataclass
class RunData:
    """The splits one run trains and evaluates on; ``source`` and ``info`` go into its record."""

    bundle: DataBundle
    train: Dataset
    test: Dataset
    val: Dataset | None
    source: str
    info: dict[str, Any]


@dataclass
class EvalLoaders:
    """The fixed-order loaders, and how many batches of ``local_batch`` make one training epoch.

    ``on_device``: the splits on the device (``train.data_on_device``); then :meth:`test_batches`,
    :meth:`val_batches` and :meth:`train_batches` draw from it, in the loaders' order.
    """

    test: DataLoader
    val: DataLoader | None
    local_batch: int
    batches: int
    pin: bool
    on_device: DeviceData | None = None

    def test_batches(self) -> Iterable[Any]:
        """The test batches evaluation iterates (the loader, or the same batches from the device)."""
        if self.on_device is not None:
            return self.on_device.eval_batches(self.test.batch_size or 1)  # type: ignore[return-value]
        return self.test

    def val_batches(self) -> Iterable[Any] | None:
        if self.on_device is not None and self.val is not None:
            return self.on_device.eval_batches(self.val.batch_size or 1, "val")
        return self.val

    def train_batches(self, data: RunData, seed: int, epoch: int, dist: ddp.DistInfo, workers: int) -> Iterable[Any]:
        """One epoch's shuffled training batches (:func:`train_loader`, or the same batches from the device)."""
        if self.on_device is not None:
            return self.on_device.train_batches(self.local_batch, seed, epoch)
        return train_loader(data.train, self.local_batch, seed, epoch, dist, workers, self.pin)


def load_run_data(spec: Spec, data_dir: Path, allow_standin: bool, dist: ddp.DistInfo) -> RunData:
    """The spec's dataset cut to its subsets and validation split; under DDP each rank tests on its shard."""
    tr = spec.train
    bundle, source = load_data(spec, data_dir, allow_standin)
    info: dict[str, Any] = {k: v for k, v in bundle.info.items() if isinstance(v, str | int | float | bool)}
    train_ds = deterministic_subset(bundle.train, tr.train_subset)
    test_ds = deterministic_subset(bundle.test, tr.test_subset)
    train_ds, val_ds = split_validation(train_ds, tr.val_split)
    info.update(train_size=len(train_ds), test_size=len(test_ds))  # type: ignore[arg-type]
    if val_ds is not None:
        info["val_size"] = len(val_ds)  # type: ignore[arg-type]
    if dist.enabled:  # each rank evaluates a disjoint shard; counts are summed in evaluate()
        test_ds = Subset(test_ds, list(range(dist.rank, len(test_ds), dist.world)))  # type: ignore[arg-type]
    return RunData(bundle, train_ds, test_ds, val_ds, source, info)


def eval_loaders(spec: Spec, data: RunData, device: torch.device, dist: ddp.DistInfo) -> EvalLoaders:
    """Test (and validation) loaders in a fixed order, and the epoch's batch count for this rank."""
    tr = spec.train
    pin = device.type == "cuda"
    test = DataLoader(data.test, batch_size=tr.eval_batch_size, shuffle=False, num_workers=tr.num_workers,
                      pin_memory=pin)  # fmt: skip
    val = None
    if data.val is not None:
        val = DataLoader(data.val, batch_size=tr.eval_batch_size, shuffle=False, num_workers=tr.num_workers,
                         pin_memory=pin)  # fmt: skip
    local_batch = max(1, tr.batch_size // dist.world)
    batches = math.ceil(len(data.train) / (local_batch * dist.world))  # type: ignore[arg-type]
    if tr.max_batches is not None:
        batches = min(batches, tr.max_batches)
    on_device = None
    if tr.data_on_device:
        where = spec.source or spec.id
        if dist.enabled:
            raise SpecError(where, "train.data_on_device", "not under torchrun (each rank shards its loader); "
                            "set it to false")  # fmt: skip
        on_device = DeviceData.load(data.train, data.test, data.val, device, where)
    return EvalLoaders(test, val, local_batch, batches, pin, on_device)


def train_loader(
    ds: Dataset, batch_size: int, seed: int, epoch: int, dist: ddp.DistInfo, workers: int, pin: bool
) -> DataLoader:
    """Shuffled per (seed, epoch) only, so a resumed run sees the same order; sharded under DDP."""
    if dist.enabled:
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(ds, num_replicas=dist.world, rank=dist.rank, shuffle=True, seed=seed)
        sampler.set_epoch(epoch)
        return DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=workers, pin_memory=pin)
    return DataLoader(
        ds, batch_size=batch_size, shuffle=True, generator=epoch_generator(seed, epoch), num_workers=workers,
        pin_memory=pin,
    )
