"""Where data lives and how a spec's dataset is loaded: the data root, offline mode, fixed subsets.

``data_root`` resolves ``--data-root`` / ``$SNNREPRO_DATA`` / ``./data``; ``offline`` reads
``$SNNREPRO_OFFLINE``; ``load_data`` loads the spec's dataset (a ``smoke`` run falls back to the
dataset's digits stand-in when the real one is missing); ``deterministic_subset`` and
``split_validation`` cut the same subset / validation split for every run and seed.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import Dataset, Subset

from snnrepro.data.base import DataBundle, DatasetMissing
from snnrepro.registry import DATASETS
from snnrepro.spec import Spec


def data_root(path: str | Path | None = None) -> Path:
    """``--data-root DIR``, else ``$SNNREPRO_DATA``, else ``./data`` (a folder, or not there yet)."""
    root = Path(path or os.environ.get("SNNREPRO_DATA") or "data")
    if root.exists() and not root.is_dir():
        raise ValueError(f"data root {root} is a file, not a folder (set by --data-root or $SNNREPRO_DATA)")
    return root


def offline() -> bool:
    return os.environ.get("SNNREPRO_OFFLINE", "") not in ("", "0", "false", "no")


def deterministic_subset(ds: Dataset, n: int | None, seed: int = 0) -> Dataset:
    """The first ``n`` items of a fixed permutation (same subset for every run and seed)."""
    total = len(ds)  # type: ignore[arg-type]
    if n is None or n >= total:
        return ds
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(total, generator=g)[:n].sort().values.tolist()
    return Subset(ds, idx)


def split_validation(ds: Dataset, fraction: float | None, seed: int = 1) -> tuple[Dataset, Dataset | None]:
    """``(train, val)``: a fixed random ``fraction`` of ``ds`` held out (the same for every run and seed)."""
    if not fraction:
        return ds, None
    total = len(ds)  # type: ignore[arg-type]
    n_val = min(total - 1, max(1, round(fraction * total)))
    perm = torch.randperm(total, generator=torch.Generator().manual_seed(seed)).tolist()
    return Subset(ds, sorted(perm[n_val:])), Subset(ds, sorted(perm[:n_val]))


def load_data(spec: Spec, root: Path, allow_standin: bool) -> tuple[DataBundle, str]:
    """Load the spec's dataset; in ``smoke`` runs a missing dataset falls back to its digits stand-in."""
    source = DATASETS.get(spec.dataset.name)
    try:
        return source.load(root, download=not offline(), **spec.dataset.params), "real"
    except DatasetMissing:
        if not allow_standin:
            raise
    from snnrepro.data.standins.standin import standin_for

    name, params = standin_for(spec.dataset.name, spec.dataset.params)
    bundle = DATASETS.get(name).load(root, download=False, **params)
    return bundle, f"standin:{name}"
