"""Non-leaky spiking neurons with the rectified-linear PSP (ReL-PSP) and exact first-spike times (STDBP).

:mod:`.kernel` holds the first-spike kernel (scan, sort, Eq. 12 forward and Eq. 14-15 backward);
:mod:`.kernel_numba` the same kernel compiled for CPUs with numba; :mod:`.layers` the modules built on them
and the choice between the two (``resolve_kernel``).  The public names are re-exported here.
"""

from snnrepro.neurons.relpsp import kernel_numba
from snnrepro.neurons.relpsp.kernel import backward_mode, first_spike_times, first_spike_times_reference
from snnrepro.neurons.relpsp.kernel_numba import first_spike_times_numba
from snnrepro.neurons.relpsp.layers import MinPool2d, RelPspConfig, RelPspConv2d, RelPspDense, resolve_kernel

__all__ = [
    "MinPool2d",
    "RelPspConfig",
    "RelPspConv2d",
    "RelPspDense",
    "backward_mode",
    "first_spike_times",
    "first_spike_times_numba",
    "first_spike_times_reference",
    "kernel_numba",
    "resolve_kernel",
]
