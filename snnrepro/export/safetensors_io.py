"""Weights as safetensors, with the spec and the run's provenance in the file's metadata.

The tensors are the checkpoint's ``model`` state dict as it is (keys ``encoder.*`` and ``net.*`` of
``nn.Sequential(encoder, net)``), so ``model.load_state_dict(safetensors.torch.load_file(path))``
restores a model built from the stored spec.  The metadata (string to string, as the format requires)
holds ``snnrepro.spec`` (the resolved spec, JSON), ``snnrepro.provenance`` (id, profile, seed, epoch,
spec hash, commit, versions, accuracies, ... JSON) and ``format: pt``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

SPEC_KEY = "snnrepro.spec"
PROVENANCE_KEY = "snnrepro.provenance"


def write_safetensors(
    path: Path, state: dict[str, torch.Tensor], spec: dict[str, Any], provenance: dict[str, Any]
) -> Path:
    """Write ``state`` (tensors only; each copied contiguous, so shared storage is fine) to ``path``."""
    from safetensors.torch import save_file

    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"state entries {bad[:3]} are not tensors; safetensors holds tensors only")
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    metadata = {
        "format": "pt",
        SPEC_KEY: json.dumps(spec, sort_keys=True, default=str),
        PROVENANCE_KEY: json.dumps(provenance, sort_keys=True, default=str),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
    return path


def read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """``(tensors, spec, provenance)`` from a file written by :func:`write_safetensors`."""
    from safetensors import safe_open

    tensors: dict[str, torch.Tensor] = {}
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
        for key in fh.keys():  # noqa: SIM118 (safe_open has keys(), not iteration)
            tensors[key] = fh.get_tensor(key)
    spec = json.loads(meta.get(SPEC_KEY, "{}"))
    provenance = json.loads(meta.get(PROVENANCE_KEY, "{}"))
    return tensors, spec, provenance
