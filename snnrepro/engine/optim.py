"""Optimizers and learning-rate schedules used by the five papers.

Each is registered by name in :data:`snnrepro.registry.OPTIMIZERS` / :data:`snnrepro.registry.SCHEDULES`
(the names specs may use are listed, without torch, in :mod:`snnrepro.spec.optim_names`).
Schedules step once per epoch.  ``warmup_epochs`` > 0 prepends a linear warm-up from
lr/warmup to lr (the BPSA/BPTA code uses lr/(5 - epoch) for five epochs; a linear ramp is
the common reading and is what is implemented here).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snnrepro.registry import OPTIMIZERS, SCHEDULES
from snnrepro.spec import OptimizerSpec, ScheduleSpec


@OPTIMIZERS.register("adam")
def _adam(params: list[nn.Parameter], spec: OptimizerSpec) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=spec.lr, betas=tuple(spec.betas), weight_decay=spec.weight_decay)


@OPTIMIZERS.register("adamw")
def _adamw(params: list[nn.Parameter], spec: OptimizerSpec) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=spec.lr, betas=tuple(spec.betas), weight_decay=spec.weight_decay)


@OPTIMIZERS.register("sgd")
def _sgd(params: list[nn.Parameter], spec: OptimizerSpec) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        params, lr=spec.lr, momentum=spec.momentum, nesterov=spec.nesterov, weight_decay=spec.weight_decay
    )


def build_optimizer(params: list[nn.Parameter], spec: OptimizerSpec) -> torch.optim.Optimizer:
    if spec.name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {spec.name!r}")
    return OPTIMIZERS.get(spec.name)(params, spec)


@SCHEDULES.register("constant")
def _constant(spec: ScheduleSpec, epoch: int, e: int, span: int) -> float:
    return 1.0


@SCHEDULES.register("step")
def _step(spec: ScheduleSpec, epoch: int, e: int, span: int) -> float:
    return spec.gamma ** (e // spec.step_size)


@SCHEDULES.register("multistep")
def _multistep(spec: ScheduleSpec, epoch: int, e: int, span: int) -> float:
    return spec.gamma ** sum(1 for m in spec.milestones if epoch >= m)


@SCHEDULES.register("cosine")
def _cosine(spec: ScheduleSpec, epoch: int, e: int, span: int) -> float:
    floor = spec.eta_min
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * e / span))


@SCHEDULES.register("cosine_restarts")
def _cosine_restarts(spec: ScheduleSpec, epoch: int, e: int, span: int) -> float:
    """SGDR (Loshchilov & Hutter): period t0, growing by t_mult."""
    floor = spec.eta_min
    period, start = spec.t0, 0
    while e >= start + period:
        start += period
        period *= spec.t_mult
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (e - start) / period))


def lr_factor(spec: ScheduleSpec, epoch: int, total_epochs: int) -> float:
    """Multiplier of the base lr for 0-based ``epoch``."""
    w = spec.warmup_epochs
    if w > 0 and epoch < w:
        return (epoch + 1) / w
    e = epoch - w
    span = max(1, total_epochs - w)
    if spec.name not in SCHEDULES:
        raise ValueError(f"unknown schedule {spec.name!r}")
    return SCHEDULES.get(spec.name)(spec, epoch, e, span)


def build_scheduler(
    optimizer: torch.optim.Optimizer, spec: ScheduleSpec, total_epochs: int
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda ep: lr_factor(spec, ep, total_epochs))
