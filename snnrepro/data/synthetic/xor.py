"""The XOR truth table as a (synthetic, always available) dataset for the RSN XOR experiments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import TensorDataset

from snnrepro.data.base import Availability, DataBundle, DatasetSource
from snnrepro.registry import DATASETS

#: the four input patterns (False = 0, True = 1) and their XOR labels
XOR_INPUTS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_LABELS = torch.tensor([0, 1, 1, 0])


class XorSource(DatasetSource):
    """Samples ``x in {0, 1}^2`` (truth values), label ``x1 XOR x2``.

    The spike code is the encoder's job (``amount_phase``): absolute XOR uses amounts
    0.1/0.9 at equal times, relative XOR equal amounts half a period apart.  ``repeats``
    copies of the truth table form one training epoch (default 1: an epoch is the four
    patterns); the test split is the truth table once.
    """

    name = "xor"
    downloadable = True

    def shape(self, repeats: int = 1) -> tuple[tuple[int, ...], int]:
        if int(repeats) < 1:
            raise ValueError(f"xor: repeats must be a positive integer, got {repeats}")
        return (2,), 2

    def load(self, root: Path, download: bool, repeats: int = 1) -> DataBundle:
        self.shape(repeats)
        train = TensorDataset(XOR_INPUTS.repeat(int(repeats), 1), XOR_LABELS.repeat(int(repeats)))
        test = TensorDataset(XOR_INPUTS.clone(), XOR_LABELS.clone())
        info: dict[str, Any] = {"synthetic": True, "repeats": int(repeats)}
        return DataBundle(train=train, test=test, input_shape=(2,), num_classes=2, info=info)

    def check(self, root: Path) -> Availability:
        return Availability(self.name, "present", Path(root), note="synthetic: generated in memory")


DATASETS.register("xor")(XorSource())
