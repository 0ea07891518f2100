"""The associative-memory readout of the IIR-SNN paper (section 5.1): scores = minus the Eq. 8 distance.

The ``pattern_distance`` readout of the ``iir`` family (:mod:`snnrepro.models.iir`); the distance itself
and the ``van_rossum`` loss on these scores are in :mod:`snnrepro.losses.van_rossum`.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from snnrepro.losses.van_rossum import pairwise_distance, trace_filter


class PatternMemoryReadout(nn.Module):
    """Scores ``[B, K] = -E_dist(O, S_k)`` for the ``K`` stored clean patterns (section 5.1).

    The patterns come from :func:`snnrepro.data.synthetic.assoc_patterns.make_patterns` with the same pattern
    parameters (``**pattern``: ``rate``, ``pattern_seed``, ``kind``, ... -- its keywords) as the dataset
    (both default to the module defaults; keep them equal -- the ``assoc_memory`` analysis checks it),
    delayed by ``target_delay`` steps (the authors' code delays the target by 4 steps, the latency of
    the 4-layer network).
    argmax of the scores = the stored pattern nearest to the output.
    """

    def __init__(
        self,
        num_patterns: int,
        n_trains: int,
        steps: int,
        target_delay: int = 4,
        tau_m: float = 8.0,
        tau_s: float = 2.0,
        normalize: bool = True,
        **pattern: Any,
    ) -> None:
        super().__init__()
        from snnrepro.data.synthetic.assoc_patterns import make_patterns

        if not 0 <= target_delay < steps:
            raise ValueError(f"target_delay must be in [0, {steps}), got {target_delay}")
        known = set(inspect.signature(make_patterns).parameters) - {"num_patterns", "n_trains", "steps"}
        unknown = sorted(set(pattern) - known)
        if unknown:
            raise ValueError(f"pattern_distance memory: unknown parameter {unknown[0]!r}; expected {sorted(known)}")
        pats = make_patterns(num_patterns, n_trains, steps, **pattern)  # [K, T, N]
        delayed = torch.zeros_like(pats)
        delayed[:, target_delay:] = pats[:, : steps - target_delay]
        self.target_delay = target_delay
        self.kernel = trace_filter(n_trains, tau_m, tau_s, normalize)
        self.register_buffer("targets", delayed.transpose(0, 1).contiguous(), persistent=False)  # [T, K, N]
        with torch.no_grad():
            self.register_buffer("target_traces", self.kernel(self.targets), persistent=False)

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        if spikes.shape[0] != self.targets.shape[0] or spikes.shape[2] != self.targets.shape[2]:
            raise ValueError(
                f"memory readout: output spikes {tuple(spikes.shape)} do not match the stored patterns"
                f" [T={self.targets.shape[0]}, B, N={self.targets.shape[2]}]"
            )
        return -pairwise_distance(self.kernel(spikes), self.target_traces)
