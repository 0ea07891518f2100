"""Build a spec's model, loss, rule, optimizer and schedule once (torchvision's "create model" step)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from snnrepro.data.base import DataBundle
from snnrepro.engine import distributed as ddp
from snnrepro.engine.optim import build_optimizer, build_scheduler
from snnrepro.registry import ENCODERS, LOSSES, MODELS, RULES
from snnrepro.spec import Spec, SpecError


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), None when unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass
class Built:
    """Everything a run trains with: ``model`` is ``nn.Sequential(encoder, net)`` on the device."""

    model: nn.Module
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    rule: Any
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler


def build(spec: Spec, bundle: DataBundle, device: torch.device, dist: ddp.DistInfo | None = None) -> Built:
    """The spec's pieces from the registries; under DDP the rule trains the wrapped model."""
    encoder = ENCODERS.get(spec.encoder.name)(**spec.encoder.params)
    net = _network(spec, bundle)
    model = nn.Sequential()
    model.add_module("encoder", encoder)
    model.add_module("net", net)
    model.to(device)
    loss_fn = LOSSES.get(spec.loss.name)(**spec.loss.params)
    trained: nn.Module = model
    if dist is not None and dist.enabled:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    rule = RULES.get(spec.rule.name)(trained, loss_fn, **spec.rule.params)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = build_optimizer(params, spec.optimizer)
    scheduler = build_scheduler(optimizer, spec.schedule, spec.train.epochs)
    return Built(model, loss_fn, rule, optimizer, scheduler)


def _network(spec: Spec, bundle: DataBundle) -> nn.Module:
    """The family's network, refused with a :class:`SpecError` when its weights cannot fit in memory."""
    family = MODELS.get(spec.model.family)
    args = (spec.model.arch, tuple(bundle.input_shape), bundle.num_classes)
    try:  # the weights must fit in memory: built on the meta device first, they cost nothing
        with torch.device("meta"):
            meta = family(*args, **spec.model.params)
        need = sum(t.numel() * t.element_size() for t in (*meta.parameters(), *meta.buffers()))
    except Exception:  # a factory that does data-dependent work: its real build below is the check
        need = 0
    have = available_memory()
    if have is not None and need > have:
        raise SpecError(spec.source or spec.id, "model.arch", f"{spec.model.arch!r} needs {need / 2**30:.1f} GiB "
                        f"for its weights alone; this machine has {have / 2**30:.1f} GiB available")
    try:
        return family(*args, **spec.model.params)
    except (MemoryError, RuntimeError) as exc:
        if not isinstance(exc, MemoryError) and "alloc" not in str(exc) and "memory" not in str(exc):
            raise
        raise SpecError(spec.source or spec.id, "model.arch", f"cannot allocate {spec.model.arch!r}: "
                        f"{' '.join(str(exc).split())[:200]}") from None
