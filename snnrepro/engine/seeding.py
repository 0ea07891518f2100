"""Seeds, deterministic mode, and RNG state capture for exact resume."""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

#: cuBLAS's documented setting for reproducible GEMMs (read when a cuBLAS handle is created, so it must be
#: set before the first CUDA matrix product; ``seed_everything`` runs before the model is built).
CUBLAS_WORKSPACE = ":4096:8"


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (CPU and every CUDA device), and set deterministic mode to ``deterministic``.

    See :func:`set_deterministic`; the mode is set either way, so a run never inherits another's.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    set_deterministic(deterministic)


def set_deterministic(on: bool) -> None:
    """``train.deterministic``: every operation runs a deterministic algorithm, or the run stops.

    On: ``torch.use_deterministic_algorithms(True)`` (an operation that has no deterministic implementation
    raises ``RuntimeError`` naming it, and the run ends ``failed`` -- never a silent warning), cuDNN picks
    deterministic convolution algorithms without benchmarking, and when CUDA is present
    ``CUBLAS_WORKSPACE_CONFIG`` is set to :data:`CUBLAS_WORKSPACE` unless the environment sets it already.
    Off: all of these back to PyTorch's defaults (the environment variable, once set, stays).
    """
    if on and torch.cuda.is_available():
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(on)
    torch.backends.cudnn.deterministic = on
    torch.backends.cudnn.benchmark = False


def rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    # tensors and plain numbers only, so checkpoints load with torch.load(weights_only=True)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(gauss),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))  # a list after a JSON round trip
    npy = state["numpy"]
    if isinstance(npy, dict):
        keys = np.asarray(npy["keys"].numpy() if isinstance(npy["keys"], torch.Tensor) else npy["keys"])
        npy = (npy["name"], keys.astype(np.uint32), npy["pos"], npy["has_gauss"], npy["cached_gaussian"])
    np.random.set_state(npy)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """Shuffling generator that depends only on (seed, epoch): a resumed run sees the same order."""
    g = torch.Generator()
    g.manual_seed(seed * 1_000_003 + epoch)
    return g
