"""Build a spec's model, loss, rule, optimizer and schedule once (torchvision's "create model" step).

Loading a spec checks only what needs no code; here, before any training or writing, each factory's
complaint becomes the :class:`~snnrepro.spec.SpecError` (file, key path, message) that
:mod:`snnrepro.spec.deep` gives: the network's shape and size (built on the meta device first), the
encoder's, loss's and rule's params, the analyses' parameters.
"""

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
from snnrepro.engine.speed import runner, to_memory_format
from snnrepro.registry import ENCODERS, LOSSES, MODELS, RULES
from snnrepro.spec import Spec, SpecError
from snnrepro.spec.deep import check_analyses, check_size, meta_network, model_errors, param_errors, weights_bytes


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
    """Everything a run trains with: ``model`` is ``nn.Sequential(encoder, net)`` on the device.

    ``runner`` is the module evaluation calls: ``model`` itself, or with the spec's GPU options
    (:mod:`snnrepro.engine.speed`: autocast, channels_last inputs, ``torch.compile``) around it; the rule
    trains the same (under DDP: around the wrapped model); checkpoints and analyses use ``model``.
    """

    model: nn.Module
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    rule: Any
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    runner: nn.Module | None = None

    def __post_init__(self) -> None:
        if self.runner is None:
            self.runner = self.model


def build(spec: Spec, bundle: DataBundle, device: torch.device, dist: ddp.DistInfo | None = None) -> Built:
    """The spec's pieces from the registries; under DDP the rule trains the wrapped model.

    A factory's complaint about the spec raises :class:`SpecError` before anything is trained or written.
    """
    where = spec.source or spec.id
    with param_errors(where, "encoder.params"):
        encoder = ENCODERS.get(spec.encoder.name)(**spec.encoder.params)
    net = _network(spec, bundle, where)
    model = nn.Sequential()
    model.add_module("encoder", encoder)
    model.add_module("net", net)
    model.to(device)
    to_memory_format(model, spec.train)
    with param_errors(where, "loss.params"):
        loss_fn = LOSSES.get(spec.loss.name)(**spec.loss.params)
    trained = evaluated = runner(model, spec.train, device)
    if dist is not None and dist.enabled:
        from torch.nn.parallel import DistributedDataParallel

        ddp_model = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
        trained = runner(ddp_model, spec.train, device)
    with param_errors(where, "rule.params"):
        rule = RULES.get(spec.rule.name)(trained, loss_fn, **spec.rule.params)
    check_analyses(spec, where)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = build_optimizer(params, spec.optimizer)
    scheduler = build_scheduler(optimizer, spec.schedule, spec.train.epochs)
    return Built(model, loss_fn, rule, optimizer, scheduler, evaluated)


def _network(spec: Spec, bundle: DataBundle, where: str) -> nn.Module:
    """The family's network; a :class:`SpecError` for what it refuses and for weights that cannot fit in memory."""
    family = MODELS.get(spec.model.family)
    args = (spec.model.arch, tuple(bundle.input_shape), bundle.num_classes)
    # built on the meta device first (no memory): the family's checks, the size limit, the memory needed
    meta = meta_network(spec, args[1], args[2], where)
    need = 0 if meta is None else weights_bytes(meta)  # None: data-dependent init, the real build is the check
    have = available_memory()
    if have is not None and need > have:
        raise SpecError(where, "model.arch", f"{spec.model.arch!r} needs {need / 2**30:.1f} GiB "
                        f"for its weights alone; this machine has {have / 2**30:.1f} GiB available")
    with model_errors(spec, where):
        try:
            net = family(*args, **spec.model.params)
        except (MemoryError, RuntimeError) as exc:
            if not isinstance(exc, MemoryError) and "alloc" not in str(exc) and "memory" not in str(exc):
                raise
            raise SpecError(where, "model.arch", f"cannot allocate {spec.model.arch!r}: "
                            f"{' '.join(str(exc).split())[:200]}") from None
    if meta is None:
        check_size(spec, net, where)
    return net
