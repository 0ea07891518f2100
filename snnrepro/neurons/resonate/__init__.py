"""Resonate Spiking Neurons (RSN, Chen et al. AAAI 2021) in closed form.

:mod:`.kernel` holds the closed form (phasor spikes ``a exp(i omega t)``, ``Z_j = sum_i w_ij a_i exp(i omega (t_i +
d_ij))``, amount ``|Z_j|`` with its safe backward, Gauss's complex product, the simulated :func:`membrane`);
:mod:`.layers` the modules built on it.  The public names of both are re-exported here.
"""

from snnrepro.neurons.resonate.kernel import (
    LATE_KINDS,
    PSP_KINDS,
    TWO_PI,
    amount,
    fire_time,
    membrane,
    phase,
    spikes,
)
from snnrepro.neurons.resonate.layers import (
    ResonateConfig,
    ResonateConv2d,
    ResonateDense,
    SpikeDropout,
    SpikePool2d,
)

__all__ = [
    "LATE_KINDS",
    "PSP_KINDS",
    "TWO_PI",
    "ResonateConfig",
    "ResonateConv2d",
    "ResonateDense",
    "SpikeDropout",
    "SpikePool2d",
    "amount",
    "fire_time",
    "membrane",
    "phase",
    "spikes",
]
