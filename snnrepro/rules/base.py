"""The learning-rule interface the engine drives."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Rule(ABC):
    """One optimisation step of a model on a batch.

    Subclasses change how gradients reach the parameters (end-to-end backprop, or a
    local rule such as BRP); the engine only calls :meth:`step`.
    """

    def __init__(self, model: nn.Module, loss_fn: LossFn, **params: object) -> None:
        if params:
            raise TypeError(f"{type(self).__name__} takes no parameters, got {sorted(params)}")
        self.model = model
        self.loss_fn = loss_fn

    @abstractmethod
    def compute_grads(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward, loss and gradients into ``.grad``; returns (loss, scores)."""

    def step(
        self, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer, grad_clip: float | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """zero grads, :meth:`compute_grads`, optional global-norm clipping, optimizer step."""
        optimizer.zero_grad(set_to_none=True)
        loss, scores = self.compute_grads(x, y)
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), grad_clip)
        optimizer.step()
        return loss.detach(), scores.detach()
