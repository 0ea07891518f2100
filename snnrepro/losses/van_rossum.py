"""Van-Rossum-style spike-train distance of the IIR-SNN paper (Eq. 8) and the ``van_rossum`` loss.

``E_dist = 1/(2T) sum_i sum_t (k * O_i[t] - k * S_i[t])^2``: both trains are passed through a synapse
filter ``k`` (dual exponential; the authors' code uses ``tau_m = 8``, ``tau_s = 2`` normalised to unit
peak, with the current input, i.e. delay 0) and the squared difference of the traces is summed.  The
associative-memory readout that scores outputs against the stored patterns with it is
:class:`snnrepro.models.iir_readout.PatternMemoryReadout`.
"""

from __future__ import annotations

import torch

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
