"""End-to-end backpropagation through each family's own gradients."""

from __future__ import annotations

import torch

from snnrepro.registry import RULES
from snnrepro.rules.base import Rule


@RULES.register("backprop")
class Backprop(Rule):
    """loss = L(model(x), y); loss.backward() — the family decides what backward means."""

    def compute_grads(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.model(x)
        loss = self.loss_fn(scores, y)
        loss.backward()
        return loss, scores
