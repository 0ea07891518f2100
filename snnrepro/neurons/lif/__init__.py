"""Multi-step leaky integrate-and-fire (LIF) neurons with surrogate, BPSA and BPTA gradients.

:mod:`.kernel` holds the time loop (``h_t = lambda u_{t-1} + x_t``, ``o_t = H(h_t - theta)``, reset; the
fused :class:`LIFFunction` and its backward, the autograd reference, :func:`lif_multistep`, :class:`LIFConfig`);
:mod:`.layers` the :class:`LIF` module built on it; :mod:`.triton_kernel` the same loop as Triton
kernels (``backend="triton"``/``"auto"``, imported lazily by :func:`lif_multistep`, not here).  The
public names of the first two are re-exported here.
"""

from snnrepro.neurons.lif.kernel import (
    ADJUSTMENTS,
    BACKENDS,
    GRADIENT_MODES,
    RESETS,
    LIFConfig,
    LIFFunction,
    lif_multistep,
)
from snnrepro.neurons.lif.layers import LIF

__all__ = [
    "ADJUSTMENTS",
    "BACKENDS",
    "GRADIENT_MODES",
    "LIF",
    "RESETS",
    "LIFConfig",
    "LIFFunction",
    "lif_multistep",
]
