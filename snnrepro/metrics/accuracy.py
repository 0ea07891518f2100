"""Classification accuracy with ties counted as wrong.

A prediction is correct only when the target's score is strictly greater than every other class's
score.  ``argmax`` would break a tie towards the lowest class index, so a network whose outputs are all
silent (every score equal: all ``-t_max`` for the temporal codes, all zero spike counts for the rate
codes) would score 10 % on a balanced set by always "predicting" class 0.  NaN scores are wrong too.
"""

from __future__ import annotations

import torch


def correct_mask(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``[B]`` bool: the target's score is the unique maximum of ``scores`` ``[B, classes]``."""
    idx = target.view(-1, 1)
    mine = scores.gather(1, idx).squeeze(1)
    others = scores.scatter(1, idx, float("-inf"))
    return mine > others.max(1).values


def count_correct(scores: torch.Tensor, target: torch.Tensor) -> int:
    """How many rows of ``scores`` ``[B, classes]`` pick ``target`` ``[B]`` without a tie."""
    return int(correct_mask(scores.detach(), target).sum())
