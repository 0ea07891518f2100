"""Resonate Spiking Neurons (RSN, Chen et al. AAAI 2021) in closed form.

The neuron and its layers are in :mod:`.kernel`; their public names are re-exported here.
"""

from snnrepro.neurons.resonate.kernel import (
    LATE_KINDS,
    PSP_KINDS,
    TWO_PI,
    ResonateConfig,
    ResonateConv2d,
    ResonateDense,
    SpikeDropout,
    SpikePool2d,
    amount,
    fire_time,
    membrane,
    phase,
    spikes,
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
