"""The one place that picks the device."""

from __future__ import annotations

from typing import Any

import torch


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` -> first CUDA device when present, else CPU; ``cpu``, ``cuda``, ``cuda:1`` as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"--device {name!r}: expected auto, cpu, cuda, cuda:N or mps") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device {name!r}: expected auto, cpu, cuda, cuda:N or mps")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {name}: MPS is not available on this machine (use auto or cpu)")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: CUDA is not available on this machine (use auto or cpu)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present")
    return dev


def describe(dev: torch.device) -> str:
    """``cpu``, or the CUDA device with its name (a record's ``device``)."""
    if dev.type == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    return "cpu"


def to_device(x: Any, device: torch.device) -> Any:
    """A batch's tensors (also inside lists and tuples, e.g. event streams) on ``device``."""
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, list | tuple):
        return type(x)(to_device(v, device) for v in x)
    return x
