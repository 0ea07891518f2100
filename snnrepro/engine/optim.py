"""Optimizers and learning-rate schedules used by the five papers.

Schedules step once per epoch.  ``warmup_epochs`` > 0 prepends a linear warm-up from
lr/warmup to lr (the BPSA/BPTA code uses lr/(5 - epoch) for five epochs; a linear ramp is
the common reading and is what is implemented here).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snnrepro.spec import OptimizerSpec, ScheduleSpec


def build_optimizer(params: list[nn.Parameter], spec: OptimizerSpec) -> torch.optim.Optimizer:
    if spec.name == "adam":
        return torch.optim.Adam(params, lr=spec.lr, betas=tuple(spec.betas), weight_decay=spec.weight_decay)
    if spec.name == "adamw":
        return torch.optim.AdamW(params, lr=spec.lr, betas=tuple(spec.betas), weight_decay=spec.weight_decay)
    if spec.name == "sgd":
        return torch.optim.SGD(
            params, lr=spec.lr, momentum=spec.momentum, nesterov=spec.nesterov, weight_decay=spec.weight_decay
        )
    raise ValueError(f"unknown optimizer {spec.name!r}")


def lr_factor(spec: ScheduleSpec, epoch: int, total_epochs: int) -> float:
    """Multiplier of the base lr for 0-based ``epoch``."""
    w = spec.warmup_epochs
    if w > 0 and epoch < w:
        return (epoch + 1) / w
    e = epoch - w
    span = max(1, total_epochs - w)
    if spec.name == "constant":
        return 1.0
    if spec.name == "step":
        return spec.gamma ** (e // spec.step_size)
    if spec.name == "multistep":
        return spec.gamma ** sum(1 for m in spec.milestones if epoch >= m)
    floor = spec.eta_min
    if spec.name == "cosine":
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * e / span))
    if spec.name == "cosine_restarts":  # SGDR (Loshchilov & Hutter): period t0, growing by t_mult
        period, start = spec.t0, 0
        while e >= start + period:
            start += period
            period *= spec.t_mult
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (e - start) / period))
    raise ValueError(f"unknown schedule {spec.name!r}")


def build_scheduler(
    optimizer: torch.optim.Optimizer, spec: ScheduleSpec, total_epochs: int
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda ep: lr_factor(spec, ep, total_epochs))
