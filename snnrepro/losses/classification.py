"""Losses named in specs. Every model returns *scores* [B, classes] (argmax = prediction)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from snnrepro.registry import LOSSES


@LOSSES.register("cross_entropy")
def cross_entropy(label_smoothing: float = 0.0):
    """Softmax cross-entropy on the scores.

    For STDBP the scores are ``-t_out`` so this is exactly Eq. 13, -ln softmax(-t)[g];
    for the IIR SNN the scores are spike counts (Eq. 6-7); for the RSN output amounts (Eq. 13).
    """

    def loss(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(scores, target, label_smoothing=label_smoothing)

    return loss


@LOSSES.register("mse_onehot")
def mse_onehot(on: float = 1.0, off: float = 0.0):
    """Mean squared error between scores (e.g. output firing rates) and a one-hot target."""

    def loss(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        onehot = torch.full_like(scores, off)
        onehot.scatter_(1, target.view(-1, 1), on)
        return F.mse_loss(scores, onehot)

    return loss
