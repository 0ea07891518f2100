"""Van-Rossum-style spike-train distance of the IIR-SNN paper (Eq. 8) and the associative-memory readout.

``E_dist = 1/(2T) sum_i sum_t (k * O_i[t] - k * S_i[t])^2``: both trains are passed through a synapse
filter ``k`` (dual exponential; the authors' code uses ``tau_m = 8``, ``tau_s = 2`` normalised to unit
peak, with the current input, i.e. delay 0) and the squared difference of the traces is summed.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from snnrepro.neurons.iir import SynapseFilter, dual_exp_peak_norm, preset_coefficients
from snnrepro.registry import LOSSES


def trace_filter(n: int, tau_m: float = 8.0, tau_s: float = 2.0, normalize: bool = True) -> SynapseFilter:
    """The fixed kernel ``k`` of Eq. 8 as a (non-trainable) dual-exponential synapse filter over ``n`` trains."""
    a, b = preset_coefficients("dual_exp", tau_m, tau_s, delay=0)
    if normalize:
        b = [v * dual_exp_peak_norm(tau_m, tau_s) for v in b]
    return SynapseFilter((n,), a, b, trainable=False)


def van_rossum_distance(out: torch.Tensor, target: torch.Tensor, kernel: SynapseFilter) -> torch.Tensor:
    """Eq. 8 per sample: ``out``, ``target`` ``[T, B, N]`` -> ``[B]``."""
    steps = out.shape[0]
    diff = kernel(out) - kernel(target)
    return diff.pow(2).sum(dim=(0, 2)) / (2.0 * steps)


def pairwise_distance(trace: torch.Tensor, target_traces: torch.Tensor) -> torch.Tensor:
    """Eq. 8 between filtered outputs ``[T, B, N]`` and filtered patterns ``[T, K, N]`` -> ``[B, K]``."""
    steps = trace.shape[0]
    a = trace.transpose(0, 1).reshape(trace.shape[1], -1)
    b = target_traces.transpose(0, 1).reshape(target_traces.shape[1], -1).to(a.dtype)
    sq = a.pow(2).sum(1, keepdim=True) - 2.0 * a @ b.T + b.pow(2).sum(1)[None, :]
    return sq.clamp_min(0.0) / (2.0 * steps)


class PatternMemoryReadout(nn.Module):
    """Scores ``[B, K] = -E_dist(O, S_k)`` for the ``K`` stored clean patterns (section 5.1).

    The patterns come from :func:`snnrepro.data.assoc_patterns.make_patterns` with the same pattern
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
        from snnrepro.data.assoc_patterns import make_patterns

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


@LOSSES.register("van_rossum")
def van_rossum():
    """Eq. 8 against the sample's own target pattern.

    Expects the ``pattern_distance`` readout of the ``iir`` family, whose scores are
    ``-E_dist(O, S_k)`` for every stored pattern ``k``; the loss is the mean over the batch of
    ``E_dist(O, S_y)``, ``y`` the pattern index (the label), i.e. exactly Eq. 8.
    """

    def loss(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return -scores.gather(1, target.view(-1, 1)).mean()

    return loss
