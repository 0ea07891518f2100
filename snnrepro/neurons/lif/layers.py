"""The multi-step LIF layer around the kernel of :mod:`snnrepro.neurons.lif.kernel`.

Per step ``h_t = lambda * u_{t-1} + x_t``, ``o_t = H(h_t - theta)``, ``u_t = reset(h_t, o_t)``; the
dynamics, resets, refractoriness and gradient modes (surrogate, BPSA, BPTA) are described there.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from snnrepro.neurons.lif.kernel import BACKENDS, LIFConfig, lif_multistep


class LIF(nn.Module):
    """Multi-step LIF layer ``[T, B, ...] -> spikes [T, B, ...]`` (equations in :mod:`snnrepro.neurons.lif.kernel`).

    Keyword arguments are those of :func:`lif_multistep` (``backend`` and the :class:`LIFConfig` fields).
    Analyses read firing rates with forward hooks on these modules (``snnrepro.analyses.energy``).

    ``bypass = True`` makes the layer the identity *in training mode* (its input currents pass
    unchanged): the TSSL-BP "ANN warm-up" of the BPSA/BPTA authors' code (``HTGLIFNode.warm_up``), set
    by :meth:`snnrepro.models.multistep.MultiStepNet.set_ann_mode`.  In eval mode the layer always
    spikes, so every test accuracy is the spiking network's.
    """

    def __init__(self, backend: str = "fused", **kwargs: Any) -> None:
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"LIF: backend must be one of {BACKENDS}, got {backend!r}")
        self.cfg = LIFConfig(**kwargs)
        self.backend = backend
        self.bypass = False

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if self.bypass and self.training:
            return x_seq
        spikes = lif_multistep(x_seq, config=self.cfg, backend=self.backend)
        return spikes  # type: ignore[return-value]

    def extra_repr(self) -> str:
        c = self.cfg
        return (
            f"decay={c.decay:g}, threshold={c.threshold:g}, reset={c.reset}, v_reset={c.v_reset:g}, "
            f"detach_reset={c.detach_reset}, refractory={c.refractory}, surrogate={c.surrogate!r}, "
            f"adjust={c.adjust}" + (f", alpha={c.alpha:g}" if c.residual else "") + f", backend={self.backend}"
            + (", bypass=True" if self.bypass else "")
        )
