"""Non-leaky spiking neurons with the rectified-linear PSP (ReL-PSP) and exact first-spike times (STDBP).

:mod:`.kernel` holds the first-spike kernel (scan, sort, Eq. 12 forward and Eq. 14-15 backward);
:mod:`.layers` the modules built on it.  The public names of both are re-exported here.
"""

from snnrepro.neurons.relpsp.kernel import backward_mode, first_spike_times, first_spike_times_reference
from snnrepro.neurons.relpsp.layers import MinPool2d, RelPspConfig, RelPspConv2d, RelPspDense

__all__ = [
    "MinPool2d",
    "RelPspConfig",
    "RelPspConv2d",
    "RelPspDense",
    "backward_mode",
    "first_spike_times",
    "first_spike_times_reference",
]
